"""Regular expressions as byte automata (:mod:`.byte_automata`), with JSON Schema's pattern semantics.

A JSON Schema ``pattern`` is an ECMA-262 regex that *searches*: ``"b"`` matches ``"abc"`` unless anchored. The
patterns compiled here are those Python's ``re`` and ECMA-262 read alike, parsed by the standard library's own
parser (``re._parser``). Where the two read a construct differently, a text is allowed only if both would match
it (jsonschema checks patterns with Python's ``re``, the specification says ECMA-262): ``\\d`` is ``[0-9]`` and
``\\D`` is no Unicode digit, ``\\w``/``\\W`` likewise, ``\\s`` the white space both count, ``.`` any character but
the four ECMA line terminators, ``$`` the end of the string only; a class is read in each dialect, negated in
each, and the characters both allow are kept. ``^`` and ``$`` may stand anywhere (``(^a|b$)``, ``a^`` which
matches nothing): they are zero-width moves that the subset construction only follows at the start and end of
the text.

Refused by name (:class:`PatternNotCompiled`, which the JSON Schema compiler reports with the schema path):
backreferences, lookaround, word boundaries (``\\b``, ``\\B``), atomic groups and possessive repeats, inline
flags (``(?i)``...), Python-only anchors (``\\A``, ``\\Z``) and anything the parser rejects (ECMA-only syntax such
as ``\\p{L}`` or ``[^]``).

The characters a pattern reads are written through an *encoding*: :data:`UTF8` spells each character as its
UTF-8 bytes (plain text); :data:`JSON_STRING` as it appears inside a JSON string literal, escaped where JSON
requires (``"``, ``\\``, control characters; one spelling per character), so the automaton of a pattern is the
language of JSON string *contents* whose decoded value matches it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from .byte_automata import DEFAULT_BYTE_STATE_BUDGET, DFA, MAX_CODE_POINT, NFA, utf8_sequences

__all__ = [
    "PatternNotCompiled",
    "dialect_sensitive",
    "dialect_safe_content_dfa",
    "Ranges",
    "UTF8",
    "JSON_STRING",
    "pattern_dfa",
    "string_content_dfa",
    "json_escape",
]

Ranges = list[tuple[int, int]]  #: sorted, disjoint, inclusive code point ranges
Encoding = Callable[[NFA, int, Ranges, int], None]  #: adds paths for one character of ``Ranges``

_ALL: Ranges = [(0, 0xD7FF), (0xE000, MAX_CODE_POINT)]
_DIGIT: Ranges = [(0x30, 0x39)]
_WORD: Ranges = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
#: ECMA-262 WhiteSpace and LineTerminator
_SPACE: Ranges = [
    (0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
    (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF),
]  # fmt: skip
_LINE_TERMINATORS: Ranges = [(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)]


class PatternNotCompiled(ValueError):
    """A pattern this compiler does not turn into an automaton exactly; the message names the construct."""


# -- code point sets ---------------------------------------------------------------------------------------------


def _normalised(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return _without_surrogates(out)


def _without_surrogates(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in ranges:
        if hi < 0xD800 or lo > 0xDFFF:
            out.append((lo, hi))
            continue
        if lo < 0xD800:
            out.append((lo, 0xD7FF))
        if hi > 0xDFFF:
            out.append((0xE000, hi))
    return out


def _intersection(a: Ranges, b: Ranges) -> Ranges:
    return _complement(_complement(a) + _complement(b))


@functools.cache
def _python_category(kind: str) -> Ranges:
    """The code points Python's ``re`` puts in ``\\d``, ``\\w`` or ``\\s`` (``kind`` DIGIT, WORD, SPACE) for str
    patterns: what jsonschema's pattern check reads, where ECMA-262 reads less (``\\d``) or other characters."""
    found = re.compile({"DIGIT": r"\d+", "WORD": r"\w+", "SPACE": r"\s+"}[kind])
    out: Ranges = []
    for lo, hi in _ALL:
        text = "".join(map(chr, range(lo, hi + 1)))
        out += [(lo + m.start(), lo + m.end() - 1) for m in found.finditer(text)]
    return _normalised(out)


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    at = 0
    for lo, hi in _normalised(ranges):
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= MAX_CODE_POINT:
        out.append((at, MAX_CODE_POINT))
    return _without_surrogates(out)


# -- encodings ---------------------------------------------------------------------------------------------------


def UTF8(nfa: NFA, src: int, chars: Ranges, dst: int) -> None:  # noqa: N802 - a constant-like callable
    """One character of ``chars`` as its UTF-8 bytes."""
    nfa.add_sequences(src, [seq for lo, hi in chars for seq in utf8_sequences(lo, hi)], dst)


_SHORT_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}


def json_escape(cp: int) -> bytes | None:
    """How JSON writes the character inside a string when it must be escaped; None when it is written as is."""
    if cp in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[cp]
    if cp < 0x20:
        return b"\\u%04x" % cp
    return None


def JSON_STRING(nfa: NFA, src: int, chars: Ranges, dst: int) -> None:  # noqa: N802
    """One character of ``chars`` as JSON writes it inside a string literal: raw UTF-8, or its one escape."""
    raw = _normalised(
        (max(lo, a), min(hi, b)) for lo, hi in chars for a, b in ((0x20, 0x21), (0x23, 0x5B), (0x5D, MAX_CODE_POINT))
    )
    raw = [(lo, hi) for lo, hi in raw if lo <= hi]
    UTF8(nfa, src, raw, dst)
    for lo, hi in chars:
        for cp in range(lo, min(hi, 0x5C) + 1):
            escaped = json_escape(cp)
            if escaped is not None:
                nfa.add_bytes(src, escaped, dst)


# -- the pattern compiler ------------------------------------------------------------------------------------------

_ALLOWED_FLAGS = re.UNICODE


def _parse(pattern: str):
    import re._parser as sre_parse  # the standard library's own parser: the syntax Python accepts

    try:
        parsed = sre_parse.parse(pattern)
    except re.error as e:
        raise PatternNotCompiled(
            f"pattern {pattern!r} is not in the syntax Python's re and ECMA-262 share: {e}"
        ) from None
    if parsed.state.flags & ~_ALLOWED_FLAGS:
        raise PatternNotCompiled(f"pattern {pattern!r}: inline flags ((?i), (?m), (?s), (?x)...) are not compiled")
    return parsed


class _Builder:
    """Adds the paths of parsed regex items to an NFA."""

    def __init__(self, nfa: NFA, pattern: str, encoding: Encoding) -> None:
        self.nfa, self.pattern, self.encoding = nfa, pattern, encoding

    def refuse(self, what: str) -> PatternNotCompiled:
        return PatternNotCompiled(f"pattern {self.pattern!r}: {what} cannot be compiled exactly")

    def sequence(self, items, src: int, dst: int) -> None:
        items = list(items)
        if not items:
            self.nfa.add_empty(src, dst)
            return
        q = src
        for k, item in enumerate(items):
            nxt = dst if k == len(items) - 1 else self.nfa.state()
            self.item(item, q, nxt)
            q = nxt

    def item(self, item, src: int, dst: int) -> None:
        op, av = item
        name = str(op)
        if name == "LITERAL":
            self.encoding(self.nfa, src, [(av, av)], dst)
        elif name == "NOT_LITERAL":
            self.encoding(self.nfa, src, _complement([(av, av)]), dst)
        elif name == "ANY":
            self.encoding(self.nfa, src, _complement(_LINE_TERMINATORS), dst)
        elif name == "IN":
            self.encoding(self.nfa, src, self.char_set(av), dst)
        elif name == "CATEGORY":
            self.encoding(self.nfa, src, self.category(av), dst)
        elif name == "BRANCH":
            for branch in av[1]:
                self.sequence(branch, src, dst)
        elif name == "SUBPATTERN":
            _group, add_flags, del_flags, body = av
            if add_flags or del_flags:
                raise self.refuse("a group with inline flags")
            self.sequence(body, src, dst)
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):  # a lazy repeat matches the same strings
            self.repeat(av, src, dst)
        elif name == "AT":
            self.anchor(av, src, dst)
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise self.refuse("a backreference")
        elif name in ("ASSERT", "ASSERT_NOT"):
            raise self.refuse("a lookaround")
        elif name in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT"):
            raise self.refuse("an atomic group or possessive repeat")
        else:
            raise self.refuse(f"the construct {name}")

    def repeat(self, av, src: int, dst: int) -> None:
        import re._constants as sre_constants

        lo, hi, body = av
        hi = None if hi == sre_constants.MAXREPEAT else hi
        q = src
        for _ in range(lo):
            nxt = self.nfa.state()
            self.sequence(body, q, nxt)
            q = nxt
        if hi is None:
            hub = self.nfa.state()
            self.nfa.add_empty(q, hub)
            back = self.nfa.state()
            self.sequence(body, hub, back)
            self.nfa.add_empty(back, hub)
            self.nfa.add_empty(hub, dst)
            return
        for _ in range(hi - lo):
            self.nfa.add_empty(q, dst)
            nxt = self.nfa.state()
            self.sequence(body, q, nxt)
            q = nxt
        self.nfa.add_empty(q, dst)

    def anchor(self, av, src: int, dst: int) -> None:
        name = str(av)
        if name == "AT_BEGINNING":
            self.nfa.add_begin(src, dst)
        elif name == "AT_END":
            self.nfa.add_end(src, dst)
        elif name in ("AT_BOUNDARY", "AT_NON_BOUNDARY"):
            raise self.refuse("a word boundary (\\b, \\B)")
        else:
            raise self.refuse(f"the anchor {name} (Python-only, not ECMA-262)")

    def category(self, av, dialect: str = "both") -> Ranges:
        """A shorthand's characters: ECMA-262's (``dialect="ecma"``), Python's (``"python"``, what jsonschema's
        ``re.search`` reads), or (``"both"``) those in both, so that a text the automaton allows passes either."""
        name = str(av)
        kind = name.removeprefix("CATEGORY_").removeprefix("NOT_")
        if kind not in ("DIGIT", "WORD", "SPACE"):
            raise self.refuse(f"the class {name}")
        if dialect == "both":
            return _intersection(self.category(av, "ecma"), self.category(av, "python"))
        chars = (
            _python_category(kind) if dialect == "python" else {"DIGIT": _DIGIT, "WORD": _WORD, "SPACE": _SPACE}[kind]
        )
        return _complement(chars) if name.startswith("CATEGORY_NOT_") else _normalised(chars)

    def char_set(self, items) -> Ranges:
        """The set's characters in both dialects (see :meth:`category`): read in each, negated in each, then the
        characters both allow."""
        both = []
        for dialect in ("ecma", "python"):
            negate = False
            ranges: Ranges = []
            for op, av in items:
                name = str(op)
                if name == "NEGATE":
                    negate = True
                elif name == "LITERAL":
                    ranges.append((av, av))
                elif name == "RANGE":
                    ranges.append(av)
                elif name == "CATEGORY":
                    ranges += self.category(av, dialect)
                else:
                    raise self.refuse(f"the class item {name}")
            both.append(_complement(ranges) if negate else _normalised(ranges))
        return _intersection(*both)


def pattern_dfa(
    pattern: str, encoding: Encoding = UTF8, search: bool = True, budget: int = DEFAULT_BYTE_STATE_BUDGET
) -> DFA:
    """The byte automaton of the texts ``pattern`` matches: with ``search`` (JSON Schema's semantics) the texts
    that contain a match, anchored by ``^``/``$`` where the pattern has them; otherwise the texts it matches
    whole. Characters are written through ``encoding``."""
    parsed = _parse(pattern)
    nfa = NFA()
    start, end = nfa.state(), nfa.state()
    builder = _Builder(nfa, pattern, encoding)
    if not search:
        builder.sequence(parsed, start, end)
        return nfa.determinize(start, [end], budget)
    before, after = nfa.state(), nfa.state()
    nfa.add_empty(start, before)
    encoding(nfa, before, _ALL, before)  # any text before the match
    builder.sequence(parsed, before, after)
    encoding(nfa, after, _ALL, after)  # and after it
    nfa.add_empty(after, end)
    return nfa.determinize(start, [end], budget)


def dialect_sensitive(pattern: str) -> bool:
    """Whether ECMA-262 and Python's ``re`` may read ``pattern`` differently: it has ``.``, ``$`` or a shorthand
    (checked on the text, so an escaped ``\\.`` counts too: a cautious answer)."""
    return bool(re.search(r"[.$]|\\[dDwWsS]", pattern))


@functools.cache
def _dialect_safe() -> Ranges:
    """Characters on which the two dialects read every construct alike: not a line terminator (``.``, and Python's
    ``$`` before a final newline), not in one dialect's shorthand only."""
    out = _complement(_LINE_TERMINATORS)
    for kind, ecma in (("DIGIT", _DIGIT), ("WORD", _WORD), ("SPACE", _SPACE)):
        python = _python_category(kind)
        differ = _complement(_intersection(_normalised(ecma), python) + _complement(_normalised(ecma + python)))
        out = _intersection(out, _complement(differ))
    return out


def dialect_safe_content_dfa(budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """JSON string contents over :func:`_dialect_safe` characters: where every pattern's two readings agree, so a
    text outside a pattern (a key no ``patternProperties`` pattern matches, a subtracted ``pattern``) is outside it
    for jsonschema too."""
    nfa = NFA()
    s = nfa.state()
    JSON_STRING(nfa, s, _dialect_safe(), s)
    return nfa.determinize(s, [s], budget)


def string_content_dfa(budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """Every JSON string content (what stands between the quotes), one spelling per value."""
    nfa = NFA()
    s = nfa.state()
    JSON_STRING(nfa, s, _ALL, s)
    return nfa.determinize(s, [s], budget)
