"""Reading a tokenizer's decoder token by token: what each token id writes, and where that depends on context.

:mod:`.vocabulary` needs, for every token, the bytes it adds to the text. ``tokenizer.json`` gives token
strings in the tokenizer's own notation and a decoder (a sequence of steps) that turns a list of them into
text; this module interprets those steps one token at a time (:func:`_read_decoder` gives a :class:`_Program`)
and records every place where a token's bytes depend on its position or neighbours as a :class:`DecodeRules`,
instead of approximating them. A decoder whose steps cannot be read that way exactly raises
:class:`UnsupportedTokenizerError`: guessing would let through text that does not match a constraint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from ..constraints.errors import UnsupportedTokenizerError


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """GPT-2's byte-level table, reversed: printable stand-in character -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {chr(b): b for b in printable}
    shift = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + shift)] = b
            shift += 1
    return mapping


@dataclass(frozen=True, eq=False)
class DecodeRules:
    """Where the decoder departs from concatenating :attr:`~.vocabulary.TokenVocabulary.token_bytes`.

    Attributes
    ----------
    scope:
        ``"text"``: the prefix is dropped from the start of the whole text (a ``Strip`` step after ``Fuse``);
        ``"token"``: only the first token (or byte run) can lose it, written as :attr:`first_bytes` says.
    first_bytes:
        Token id -> its bytes when it is the first token of the text, for the tokens where that differs from
        their bytes with the prefix dropped (``"token"`` scope only).
    byte_ids:
        Byte-fallback tokens (``"<0xAB>"``): consecutive ones are decoded together, as one UTF-8 string, or
        one U+FFFD per byte when the run is not valid UTF-8.
    run_steps:
        ``(pattern, content, first_content)`` string replacements the decoder applies to each decoded byte
        run after the byte fallback (``first_content`` when the run opens the text).
    """

    scope: str = "text"
    first_bytes: Mapping[int, bytes] = field(default_factory=lambda: MappingProxyType({}))
    byte_ids: frozenset[int] = frozenset()
    run_steps: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class _Replace:
    """Replace ``pattern`` by ``content`` (by ``first_content`` in the first token or run)."""

    pattern: str
    content: str
    first_content: str

    def __call__(self, s: str, first: bool) -> str:
        return s.replace(self.pattern, self.first_content if first else self.content)


def _wordpiece_cleanup(s: str) -> str:
    """The WordPiece decoder's ``cleanup``, applied to each token on its own."""
    for dirty, clean in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" do not", " don't"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        s = s.replace(dirty, clean)
    return s


@dataclass(frozen=True)
class _WordPiece:
    """A space before every token but continuations (``prefix``) and the first token."""

    prefix: str
    cleanup: bool

    def __call__(self, s: str, first: bool) -> str:
        if not first:
            s = s[len(self.prefix) :] if s.startswith(self.prefix) else " " + s
        return _wordpiece_cleanup(s) if self.cleanup else s


@dataclass(frozen=True)
class _Program:
    """A decoder, read as per-token steps. ``pre`` runs on token strings before the byte fallback, ``post``
    on tokens and decoded byte runs after it; ``prefix``/``scope`` as in :class:`~.vocabulary.TokenVocabulary`."""

    family: str
    byte_level: bool = False
    pre: tuple = ()
    byte_fallback: bool = False
    post: tuple[_Replace, ...] = ()
    prefix: bytes = b""
    scope: str = "token"


def _steps(decoder: dict | None) -> list[dict]:
    if decoder is None:
        return []
    if decoder.get("type") == "Sequence":
        return [s for d in decoder.get("decoders", []) for s in _steps(d)]
    return [decoder]


def _describe(decoder: dict | None) -> str:
    return "none" if decoder is None else "+".join(s.get("type", "?") for s in _steps(decoder)) or "empty Sequence"


def _metaspace_prepends(step: dict) -> bool:
    if "prepend_scheme" in step:
        return step["prepend_scheme"] != "never"
    return bool(step.get("add_prefix_space", True))


def _read_decoder(decoder: dict | None, model: str) -> _Program:
    """Interpret the decoder's steps, or raise :class:`UnsupportedTokenizerError`."""
    steps = _steps(decoder)
    described = _describe(decoder)

    def unsupported(why: str) -> UnsupportedTokenizerError:
        return UnsupportedTokenizerError(
            f"cannot read the {model} tokenizer's decoder ({described}) token by token exactly: {why}",
            model=model,
            decoder=described,
        )

    if decoder is None:
        raise unsupported("it has no decoder (tokens would be joined with spaces, as written in the vocabulary)")
    kinds = [s.get("type") for s in steps if s.get("type") != "Fuse"]
    if not kinds:  # Fuse alone: the token strings, concatenated
        return _Program("plain")
    if "ByteLevel" in kinds or "WordPiece" in kinds:
        if len(kinds) != 1:
            raise unsupported(f"{'ByteLevel' if 'ByteLevel' in kinds else 'WordPiece'} combined with other steps")
        step = next(s for s in steps if s.get("type") != "Fuse")
        if step["type"] == "ByteLevel":
            return _Program("byte-level", byte_level=True)
        wp = _WordPiece(step.get("prefix", "##"), bool(step.get("cleanup", True)))
        return _Program("wordpiece", pre=(wp,), prefix=b" ")
    pre: list = []
    post: list[_Replace] = []
    fused = byte_fallback = False
    first_rule = False
    strip: str | None = None
    for step in steps:
        kind = step.get("type")
        if strip is not None and kind != "Fuse":
            raise unsupported(f"a {kind} step after Strip")
        if kind == "Fuse":
            fused = True
        elif kind == "ByteFallback":
            if fused or byte_fallback:
                raise unsupported("a byte fallback after Fuse, or twice")
            byte_fallback = True
        elif kind in ("Replace", "Metaspace"):
            if kind == "Replace":
                pattern = step.get("pattern", {})
                if "String" not in pattern:
                    raise unsupported("a Replace with a regex pattern")
                rep = _Replace(pattern["String"], step.get("content", ""), step.get("content", ""))
            else:
                marker, prepends = step.get("replacement", "▁"), _metaspace_prepends(step)
                if fused:  # the whole text is the first token: every marker is dropped (or made a space)
                    rep = _Replace(marker, "" if prepends else " ", "" if prepends else " ")
                else:
                    if prepends and first_rule:
                        raise unsupported("two Metaspace steps that each drop the first marker")
                    first_rule |= prepends
                    rep = _Replace(marker, " ", "" if prepends else " ")
            if fused and len(rep.pattern) != 1:
                raise unsupported(f"a replacement of {rep.pattern!r} over the whole text (it can span tokens)")
            (post if byte_fallback else pre).append(rep)
        elif kind == "Strip":
            start, stop = int(step.get("start", 0)), int(step.get("stop", 0))
            if start == 0 and stop == 0:
                continue
            if not fused or stop != 0 or start != 1 or len(step.get("content", "")) != 1:
                raise unsupported("a Strip other than one leading character of the whole text")
            strip = step["content"]
        else:
            raise unsupported(f"the {kind} step")
    if strip is not None and first_rule:
        raise unsupported("both Metaspace and Strip drop a leading space")
    family = "sentencepiece" + ("+byte-fallback" if byte_fallback else "")
    if strip is not None:
        prefix, scope = strip.encode(), "text"
    else:
        prefix, scope = (b" " if first_rule else b""), "token"
    return _Program(family, False, tuple(pre), byte_fallback, tuple(post), prefix, scope)


_BYTE_DIGITS = re.compile(r"\+?[0-9A-Fa-f]+")


def _byte_value(s: str) -> int | None:
    """The byte of a byte-fallback token ``"<0xAB>"``, as the ByteFallback decoder parses it."""
    if len(s.encode()) == 6 and s.startswith("<0x") and s.endswith(">") and _BYTE_DIGITS.fullmatch(s[3:5]):
        return int(s[3:5], 16)
    return None


def _byte_level_bytes(s: str) -> bytes:
    table = _unicode_to_byte()
    if all(ch in table for ch in s):
        return bytes(table[ch] for ch in s)
    return s.encode()  # the ByteLevel decoder passes other tokens (added ones) through as UTF-8


def _render_token(program: _Program, s: str) -> tuple[bytes, bytes, int | None]:
    """(bytes elsewhere, bytes as the first token, byte value if a byte-fallback token)."""
    if program.byte_level:
        b = _byte_level_bytes(s)
        return b, b, None
    later, first = s, s
    for step in program.pre:
        later, first = step(later, False), step(first, True)
    if program.byte_fallback:
        value = _byte_value(later)
        if value != _byte_value(first):
            raise UnsupportedTokenizerError(
                f"token {s!r} reads as a byte only in some positions", decoder=program.family
            )
        if value is not None:
            return bytes([value]), bytes([value]), value
    for step in program.post:
        later, first = step(later, False), step(first, True)
    return later.encode(), first.encode(), None


def _rules_and_bytes(
    program: _Program, strings: Sequence[str | None], special: set[int]
) -> tuple[list[bytes | None], DecodeRules]:
    table: list[bytes | None] = []
    first_bytes: dict[int, bytes] = {}
    byte_ids: set[int] = set()
    for i, s in enumerate(strings):
        if s is None or i in special:
            table.append(None)
            continue
        later, first, value = _render_token(program, s)
        table.append(later)
        if value is not None:
            byte_ids.add(i)
            continue
        default = later[len(program.prefix) :] if program.prefix and later.startswith(program.prefix) else later
        if program.scope == "token" and first != default:
            first_bytes[i] = first
    run_steps = tuple((r.pattern, r.content, r.first_content) for r in program.post)
    rules = DecodeRules(program.scope, MappingProxyType(first_bytes), frozenset(byte_ids), run_steps)
    return table, rules


def _backend_state(tokenizer) -> dict:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise UnsupportedTokenizerError(
            f"{type(tokenizer).__name__} has no backend tokenizer (a fast tokenizer is needed to read its decoder)"
        )
    return json.loads(backend.to_str())


def _read_tokenizer(tokenizer, size: int) -> tuple[_Program, list[str | None]]:
    """The tokenizer's decoder as a :class:`_Program`, and the token string of each id below ``size``."""
    state = _backend_state(tokenizer)
    model = (state.get("model") or {}).get("type", "unknown")
    program = _read_decoder(state.get("decoder"), model)
    backend = tokenizer.backend_tokenizer
    return program, [backend.id_to_token(i) for i in range(size)]
