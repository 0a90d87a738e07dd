"""What every token of a model's vocabulary writes into the text, as real bytes.

Regexes are about text, but tokens are strings in the tokenizer's own notation: byte-level BPE writes each
byte as a printable stand-in (``"Ġthe"`` is ``b" the"``), WordPiece puts a space before every token but the
``"##"`` continuations, SentencePiece writes spaces as ``"▁"`` and may fall back to byte tokens
``"<0xAB>"``. A token automaton must read what the text will really contain, so this module reads the
tokenizer's *decoder* (from ``tokenizer.json``) and works out, for every token id, the bytes the decoder
writes for it (:class:`TokenVocabulary`).

Decoders are not always a plain concatenation of per-token strings, and the departures are kept as rules
rather than approximated:

* a forced leading space (``prefix``): WordPiece and SentencePiece put a space before every word, and the
  decoder drops the one before the first word; an automaton reads ``prefix + text`` and ``decode`` drops it;
* the first token can be written differently from elsewhere (Metaspace removes *every* ``"▁"`` of the first
  token, WordPiece keeps ``"##"`` there); such tokens are never placed first by an automaton;
* byte-fallback tokens are decoded run by run (an invalid run becomes one U+FFFD per byte), and decoder
  steps after the byte fallback rewrite the decoded runs; byte sequences those steps would rewrite are kept
  out of automata (:attr:`TokenVocabulary.forbidden_sequences`).

A decoder that cannot be read token by token exactly raises :class:`UnsupportedTokenizerError` naming the
model and decoder: guessing would let through text that does not match a constraint.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import groupby
from typing import Any

from ..constraints.errors import UnsupportedTokenizerError
from ._decoders import DecodeRules, _read_tokenizer, _rules_and_bytes

__all__ = [
    "TokenVocabulary",
    "DecodeRules",
    "token_vocabulary",
    "as_vocabulary",
    "token_bytes",
    "outlines_vocabulary",
    "tokenizer_fingerprint",
    "UnsupportedTokenizerError",
]

_REPLACEMENT = "\ufffd"


# --------------------------------------------------------------------------------------------------------
# The vocabulary
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TokenVocabulary:
    """The real bytes each token id writes into the text, with the ids that end it.

    Attributes
    ----------
    token_bytes:
        Bytes of each token id; None for tokens that never appear in text (special tokens, mask, end, pad).
    end_ids:
        Tokens that end the text: ``(end,)``, or ``(end, pad)`` when the pad token is distinct; end first.
    mask_id:
        The mask token, never allowed in generated text (None when the tokenizer has none).
    prefix:
        ``b" "`` for tokenizers whose texts always start with a forced space that the decoder drops
        (WordPiece, SentencePiece/Metaspace); ``b""`` for byte-level BPE.
    fingerprint:
        Stable hash of everything above (and of :attr:`rules`), used in cache keys.
    rules:
        Where decoding departs from plain concatenation (:class:`DecodeRules`).
    tokenizer_ref:
        Weak reference to the tokenizer, so :meth:`encode_exact` can try its own encoding first.
    """

    token_bytes: tuple[bytes | None, ...]
    end_ids: tuple[int, ...]
    mask_id: int | None
    prefix: bytes
    fingerprint: str
    rules: DecodeRules = field(default_factory=DecodeRules, repr=False)
    tokenizer_ref: Callable[[], Any] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        token_bytes: Sequence[bytes | None],
        end_ids: Sequence[int],
        mask_id: int | None = None,
        prefix: bytes = b"",
        rules: DecodeRules | None = None,
        tokenizer_ref: Callable[[], Any] | None = None,
    ) -> TokenVocabulary:
        """A vocabulary with its fingerprint computed; end, pad and mask tokens are made None here."""
        rules = rules or DecodeRules()
        table = list(token_bytes)
        for i in [*end_ids, *([] if mask_id is None else [mask_id])]:
            table[i] = None
        ends = tuple(dict.fromkeys(int(i) for i in end_ids))
        if not ends:
            raise ValueError("a vocabulary needs at least one end token")
        fp = _fingerprint(table, ends, mask_id, prefix, rules)
        return cls(tuple(table), ends, mask_id, prefix, fp, rules, tokenizer_ref)

    @property
    def end_id(self) -> int:
        """The canonical end token (the one written after content)."""
        return self.end_ids[0]

    def __len__(self) -> int:
        return len(self.token_bytes)

    @cached_property
    def not_first(self) -> frozenset[int]:
        """Tokens an automaton must never place first: read as ``prefix + text`` they would decode to
        something else at the start of the text (Metaspace's ``"▁▁"``, a byte token for the space)."""
        if self.rules.scope != "token" or not self.prefix:
            return frozenset()
        out = {i for i in self.rules.first_bytes if (self.token_bytes[i] or b"").startswith(self.prefix)}
        out |= {i for i in self.rules.byte_ids if self.prefix.startswith(self.token_bytes[i])}
        return frozenset(out)

    @cached_property
    def forbidden_sequences(self) -> tuple[bytes, ...]:
        """Byte strings no text may contain: the decoder would rewrite them inside a byte-fallback run."""
        seqs = {p.encode() for p, c, fc in self.rules.run_steps if p and (c != p or fc != p)}
        return tuple(sorted(seqs))

    def decode(self, ids: Sequence[int], at_start: bool = True) -> str:
        """The text of a canvas: cut at the first end token, special tokens skipped, as the tokenizer's own
        ``decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)`` writes it.

        With ``at_start=False`` the ids are read as a piece from the middle of a text: nothing is dropped
        (a WordPiece or SentencePiece word keeps its leading space), the inverse of
        ``encode_exact(text, at_start=False)``.
        """
        ends = set(self.end_ids)
        content: list[int] = []
        for raw in ids:
            i = int(raw)
            if i in ends:
                break
            if not 0 <= i < len(self.token_bytes):
                raise ValueError(f"token id {i} is outside the vocabulary of {len(self.token_bytes)}")
            if self.token_bytes[i] is not None:
                content.append(i)
        return self._render(content, first=at_start).decode("utf-8", errors="replace")

    def encode_exact(self, text: str, at_start: bool = False) -> list[int] | None:
        """Token ids whose bytes spell ``text`` exactly, None when no token sequence can.

        With ``at_start`` the ids spell ``prefix + text`` and :meth:`decode` gives back ``text``; without it
        they spell ``text`` alone (a piece in the middle of a text). The tokenizer's own encoding is used
        when it spells the text (it is what the model saw in training); otherwise the spelling with the
        fewest tokens, by dynamic programming over the vocabulary's byte strings.
        """
        if text == "":
            return []
        try:
            target = (self.prefix if at_start else b"") + text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: not text any tokenizer writes
            return None
        own = self._own_encoding(text)
        if own is not None and self._spells(own, text, target, at_start):
            return own
        ids = self._fewest_tokens(target, at_start)
        return ids if ids is not None and self._spells(ids, text, target, at_start) else None

    # -- internals ---------------------------------------------------------------------------------------

    def _first_token_bytes(self, i: int) -> bytes:
        if i in self.rules.first_bytes:
            return self.rules.first_bytes[i]
        b = self.token_bytes[i] or b""
        return b[len(self.prefix) :] if self.prefix and b.startswith(self.prefix) else b

    def _run_text(self, s: str, lead: bool) -> str:
        for pattern, content, first_content in self.rules.run_steps:
            s = s.replace(pattern, first_content if lead else content)
        return s

    def _run_bytes(self, raw: bytes, lead: bool) -> bytes:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # the byte fallback writes one U+FFFD per byte of an invalid run
            return "".join(self._run_text(_REPLACEMENT, lead and k == 0) for k in range(len(raw))).encode()
        return self._run_text(text, lead).encode()

    def _render(self, content: Sequence[int], first: bool) -> bytes:
        """Bytes of content tokens (no None among them); ``first``: they open the text."""
        scope, pieces = self.rules.scope, []
        for k, (is_byte, group) in enumerate(groupby(content, key=self.rules.byte_ids.__contains__)):
            members = list(group)
            lead = first and k == 0
            if is_byte:
                pieces.append(self._run_bytes(b"".join(self.token_bytes[i] for i in members), lead))
                continue
            head = self._first_token_bytes(members[0]) if lead and scope == "token" else self.token_bytes[members[0]]
            pieces.append(head)
            pieces.extend(self.token_bytes[i] for i in members[1:])
        out = b"".join(pieces)
        if first and scope == "text" and self.prefix and out.startswith(self.prefix):
            out = out[len(self.prefix) :]
        return out

    def _own_encoding(self, text: str) -> list[int] | None:
        tokenizer = self.tokenizer_ref() if self.tokenizer_ref is not None else None
        if tokenizer is None:
            return None
        try:
            return [int(i) for i in tokenizer.encode(text, add_special_tokens=False)]
        except Exception:  # a tokenizer that cannot encode this text: the dynamic programme still can
            return None

    def _spells(self, ids: Sequence[int], text: str, target: bytes, at_start: bool) -> bool:
        """Whether ``ids`` spell ``target`` and decode (in place) to ``text``."""
        if not all(0 <= i < len(self.token_bytes) and self.token_bytes[i] for i in ids):
            return False
        if b"".join(self.token_bytes[i] for i in ids) != target:
            return False
        if at_start and ids and ids[0] in self.not_first:
            return False
        return self._render(ids, first=at_start) == text.encode("utf-8")

    @cached_property
    def _spelling_tables(self) -> tuple[dict[bytes, int], dict[bytes, int], tuple[int, ...]]:
        """bytes -> preferred token (a regular token before a byte-fallback one, then the lowest id), the
        same for the first position, and the distinct token lengths, longest first."""
        ranked = sorted((i for i, b in enumerate(self.token_bytes) if b), key=lambda i: (i in self.rules.byte_ids, i))
        anywhere: dict[bytes, int] = {}
        first: dict[bytes, int] = {}
        for i in ranked:
            b = self.token_bytes[i]
            anywhere.setdefault(b, i)
            if i not in self.not_first:
                first.setdefault(b, i)
        lengths = tuple(sorted({len(b) for b in anywhere}, reverse=True))
        return anywhere, first, lengths

    def _fewest_tokens(self, target: bytes, at_start: bool) -> list[int] | None:
        anywhere, first, lengths = self._spelling_tables
        n = len(target)
        unreachable = n + 1
        best = [unreachable] * (n + 1)  # best[i]: fewest tokens spelling target[i:]
        step: list[tuple[int, int] | None] = [None] * (n + 1)
        best[n] = 0
        for i in range(n - 1, -1, -1):
            table = first if at_start and i == 0 else anywhere
            for length in lengths:
                j = i + length
                if j > n or best[j] + 1 >= best[i]:
                    continue
                tok = table.get(target[i:j])
                if tok is not None:
                    best[i], step[i] = best[j] + 1, (tok, j)
        if best[0] >= unreachable:
            return None
        ids, i = [], 0
        while i < n:
            tok, i = step[i]
            ids.append(tok)
        return ids

    def _outlines_map(self) -> dict[bytes, list[int]]:
        excluded = {*self.end_ids, self.mask_id}
        mapping: dict[bytes, list[int]] = {}
        for i, b in enumerate(self.token_bytes):
            if b and i not in excluded:
                mapping.setdefault(b, []).append(i)
        return mapping

    @cached_property
    def _outlines(self):
        from outlines_core import Vocabulary

        return Vocabulary(self.end_id, self._outlines_map())

    @cached_property
    def probe(self) -> tuple[str, int, int | None, Any]:
        """``(sentinel, sentinel_id, prefix_id, outlines vocabulary)``: the content tokens plus two tokens
        outside the vocabulary: ``sentinel_id = len(self)`` spells ``sentinel``, a private-use character no
        token contains, and ``prefix_id = len(self) + 1`` spells :attr:`prefix` (None when it is empty).

        Compiling ``R + sentinel`` tells exactly where ``R`` is complete (where the sentinel token leads to a
        match) without outlines-core ever treating a state as final: its index drops transitions out of a
        final state when the text before the token's last byte already matched (``[a-z]+( [a-z]+)?`` loses
        a lone space token after the first word). The prefix token tells whether ``R`` accepts the empty
        text after a forced prefix, in outlines-core's own regex dialect.
        """
        from outlines_core import Vocabulary

        size = len(self.token_bytes)
        sentinel = next(
            ch for ch in map(chr, range(0xF0000, 0x10FFFE)) if not any(b and ch.encode() in b for b in self.token_bytes)
        )
        mapping = self._outlines_map()
        mapping.setdefault(sentinel.encode(), []).append(size)
        if self.prefix:
            mapping.setdefault(self.prefix, []).append(size + 1)
        return sentinel, size, size + 1 if self.prefix else None, Vocabulary(self.end_id, mapping)

    @cached_property
    def max_token_bytes(self) -> int:
        """The most bytes one token writes (at least 1): what bounds how much text a canvas can hold."""
        return max((len(b) for b in self.token_bytes if b), default=1)

    @cached_property
    def probe_with_bytes(self) -> Any:
        """:attr:`probe`'s outlines vocabulary plus a token for every single byte (ids ``len(self) + 2 + b``).

        outlines-core refuses a regex when some state it reaches has no token to go on with (half of a
        character whose other bytes no token spells); with every byte available no state is stuck, and the
        states that only the extra tokens could leave are pruned afterwards.
        """
        from outlines_core import Vocabulary

        sentinel, size, prefix_id, _ = self.probe
        mapping = self._outlines_map()
        mapping.setdefault(sentinel.encode(), []).append(size)
        if prefix_id is not None:
            mapping.setdefault(self.prefix, []).append(prefix_id)
        for b in range(256):
            mapping.setdefault(bytes([b]), []).append(size + 2 + b)
        return Vocabulary(self.end_id, mapping)


def _fingerprint(
    table: Sequence[bytes | None], end_ids: tuple[int, ...], mask_id: int | None, prefix: bytes, rules: DecodeRules
) -> str:
    h = hashlib.sha256()
    header = (
        end_ids,
        mask_id,
        prefix,
        rules.scope,
        sorted(rules.byte_ids),
        rules.run_steps,
        sorted(rules.first_bytes.items()),
    )
    h.update(repr(header).encode())
    for b in table:
        if b is None:
            h.update(b"\xff\xff\xff\xff")
        else:
            h.update(len(b).to_bytes(4, "little"))
            h.update(b)
    return h.hexdigest()[:24]


# --------------------------------------------------------------------------------------------------------
# From a tokenizer
# --------------------------------------------------------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_BY_FINGERPRINT: dict[tuple, TokenVocabulary] = {}


def _resolve_ids(tokenizer, end_id, pad_id, mask_id) -> tuple[int, int, int | None]:
    if end_id is None:
        end_id = next(
            (i for i in (tokenizer.eos_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id) if i is not None),
            None,
        )
    if end_id is None:
        raise UnsupportedTokenizerError("the tokenizer has no end, separator or pad token: pass end_id")
    if pad_id is None:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id
    if mask_id is None:
        mask_id = getattr(tokenizer, "mask_token_id", None)
    return int(end_id), int(pad_id), None if mask_id is None else int(mask_id)


def _tokenizer_size(tokenizer) -> int:
    """Ids run up to the largest of ``len(tokenizer)``, the backend's size and the added tokens' ids."""
    backend = tokenizer.backend_tokenizer
    added = backend.get_added_tokens_decoder()
    return max(len(tokenizer), backend.get_vocab_size(with_added_tokens=True), max(added, default=-1) + 1)


def _build(tokenizer, end: int, pad: int, mask: int | None, size: int) -> TokenVocabulary:
    program, strings = _read_tokenizer(tokenizer, size)
    backend = tokenizer.backend_tokenizer
    special = {int(i) for i in tokenizer.all_special_ids}
    special |= {int(i) for i, tok in backend.get_added_tokens_decoder().items() if tok.special}
    special |= {end, pad} | ({mask} if mask is not None else set())
    table, rules = _rules_and_bytes(program, strings, special)
    try:
        ref = weakref.ref(tokenizer)
    except TypeError:
        ref = None
    end_ids = (end,) if pad == end else (end, pad)
    return TokenVocabulary.build(table, end_ids, mask, program.prefix, rules, ref)


def token_vocabulary(
    tokenizer,
    end_id: int | None = None,
    pad_id: int | None = None,
    mask_id: int | None = None,
    vocab_size: int | None = None,
) -> TokenVocabulary:
    """The :class:`TokenVocabulary` of a Hugging Face fast tokenizer.

    Parameters
    ----------
    tokenizer:
        A ``PreTrainedTokenizerFast`` (its ``tokenizer.json`` decoder is read).
    end_id, pad_id, mask_id:
        Default to the tokenizer's end (eos, else sep, else pad) token, its pad token (else the end token)
        and its mask token. End and pad both end the text; all three are never content.
    vocab_size:
        The model's number of logits, when it has more rows than the tokenizer has tokens (padded
        embeddings): the extra ids are never allowed. Defaults to the tokenizer's size.

    Raises
    ------
    UnsupportedTokenizerError
        The decoder cannot be read token by token exactly, or there is no end token.

    Results are cached per tokenizer object (and its size and ids): vocabularies of tens of thousands of
    tokens are asked for at every compile.
    """
    end, pad, mask = _resolve_ids(tokenizer, end_id, pad_id, mask_id)
    size = _tokenizer_size(tokenizer)
    if vocab_size is not None:
        if vocab_size < size:
            raise ValueError(f"vocab_size {vocab_size} is smaller than the tokenizer's {size} tokens")
        size = vocab_size
    key = (size, end, pad, mask)
    try:
        per_tokenizer = _CACHE.setdefault(tokenizer, {})
    except TypeError:  # not weakly referenceable: key on the vocabulary's content instead
        key = (tokenizer_fingerprint(tokenizer), *key)
        per_tokenizer = _CACHE_BY_FINGERPRINT
    vocab = per_tokenizer.get(key)
    if vocab is None:
        vocab = per_tokenizer[key] = _build(tokenizer, end, pad, mask, size)
    return vocab


def as_vocabulary(vocab_or_tokenizer) -> TokenVocabulary:
    """A :class:`TokenVocabulary` as is; a tokenizer through :func:`token_vocabulary` with its defaults."""
    if isinstance(vocab_or_tokenizer, TokenVocabulary):
        return vocab_or_tokenizer
    return token_vocabulary(vocab_or_tokenizer)


def token_bytes(tokenizer) -> list[bytes | None]:
    """Bytes of each token id of ``tokenizer`` (or of a :class:`TokenVocabulary`); None for special tokens."""
    return list(as_vocabulary(tokenizer).token_bytes)


def outlines_vocabulary(vocab_or_tokenizer):
    """An ``outlines_core.Vocabulary`` of the content tokens, the end token as EOS (every end id left out of
    the map, as outlines-core requires). Built once per vocabulary."""
    return as_vocabulary(vocab_or_tokenizer)._outlines


def tokenizer_fingerprint(tokenizer) -> str:
    """A stable hash of the vocabulary and merges, used to key caches and to detect mismatches."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    payload = json.dumps({"model": state.get("model"), "added": state.get("added_tokens")}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
