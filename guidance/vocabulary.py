"""The real bytes of every token of a byte-level BPE tokenizer, and the outlines-core vocabulary built from
them.

Byte-level BPE stores each byte as a printable stand-in character (GPT-2's reversible byte-to-unicode map:
printable Latin-1 bytes stand for themselves, the other bytes are shifted past U+0100). Regexes are about
real bytes, so the automaton must see ``b" the"``, not ``"Ġthe"``.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

__all__ = ["token_bytes", "outlines_vocabulary", "tokenizer_fingerprint"]


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {chr(b): b for b in printable}
    shift = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + shift)] = b
            shift += 1
    return mapping


def token_bytes(tokenizer) -> list[bytes | None]:
    """Bytes of each token id; None for special tokens (mask, end) and anything not byte-level."""
    table = _unicode_to_byte()
    special = set(tokenizer.all_special_ids)
    out: list[bytes | None] = []
    for i, tok in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        if i in special or tok is None or not all(ch in table for ch in tok):
            out.append(None)
        else:
            out.append(bytes(table[ch] for ch in tok))
    if sum(b is not None for b in out) < 256:
        raise ValueError("tokenizer is not byte-level BPE: fewer than 256 tokens map to bytes")
    return out


def outlines_vocabulary(tokenizer):
    """An ``outlines_core.Vocabulary`` of the tokenizer's content tokens, the end token as EOS."""
    from outlines_core import Vocabulary

    mapping: dict[bytes, list[int]] = {}
    for i, b in enumerate(token_bytes(tokenizer)):
        if b:
            mapping.setdefault(b, []).append(i)
    return Vocabulary(tokenizer.pad_token_id, mapping)


def tokenizer_fingerprint(tokenizer) -> str:
    """A stable hash of the vocabulary and merges, used to key caches and to detect mismatches."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    payload = json.dumps({"model": state.get("model"), "added": state.get("added_tokens")}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
