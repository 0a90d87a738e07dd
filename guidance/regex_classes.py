"""Shorthand character classes (``\\d``, ``\\w``, ``\\s`` and their negations) spelled out explicitly.

outlines-core compiles regexes with Rust's ``regex-syntax``, whose Unicode tables are newer than those of the
Python that checks the output (``re.fullmatch``): a digit or letter added to Unicode since then would be
accepted by the automaton and rejected by Python. The shorthands are therefore rewritten into explicit
classes before compiling, built from the running Python's own ``re`` (for ``Regex``), or, for JSON Schema
``pattern`` (ECMA-262 dialect, where ``\\d`` is ``[0-9]`` and ``\\w`` is ``[A-Za-z0-9_]``), from ECMA's
definitions.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

__all__ = ["python_shorthands", "ecma_shorthands"]

#: ECMA-262 WhiteSpace and LineTerminator code points (what ``\s`` matches there).
_ECMA_SPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_ECMA_SPACE += "\u2028\u2029\u202f\u205f\u3000\ufeff"


def _ranges(codes: list[int]) -> str:
    """A class body (no brackets) of ``\\x{..}`` ranges covering the sorted code points."""
    parts, i = [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = codes[i], codes[j]
        parts.append(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}")
        i = j + 1
    return "".join(parts)


@lru_cache(maxsize=3)
def _python_class(letter: str) -> str:
    probe = re.compile(f"\\{letter}")
    codes = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF and probe.match(chr(c))]
    return _ranges(codes)


def _ecma_class(letter: str) -> str:
    if letter == "d":
        return "0-9"
    if letter == "w":
        return "A-Za-z0-9_"
    return _ranges(sorted(map(ord, _ECMA_SPACE)))


#: characters that are literal in a Python class but an operator (nested class, set operation, range) in a
#: regex-syntax class: escaped when they stand for themselves
_CLASS_META = "[&~-"


def _escape_end(pattern: str, i: int) -> int:
    """Index past the escape at ``pattern[i] == "\\"`` as Python's ``re`` reads it in a class."""
    n = len(pattern)
    if i + 1 >= n:
        return n
    kind = pattern[i + 1]
    width = {"x": 2, "u": 4, "U": 8}.get(kind)
    if width is not None:
        return min(n, i + 2 + width)
    if kind == "N" and i + 2 < n and pattern[i + 2] == "{":
        close = pattern.find("}", i + 3)
        return n if close < 0 else close + 1
    if kind.isdigit():
        j = i + 1
        while j < n and j < i + 4 and pattern[j] in "01234567":
            j += 1
        return max(j, i + 2)
    return i + 2


def _class(pattern: str, i: int, body_of) -> tuple[str, int]:
    """The Python class opening at ``pattern[i] == "["`` in regex-syntax's dialect, and the index past it.

    Python reads ``[`` inside a class, ``&&``, ``--``, ``~~`` and a ``-`` that ends no range as literal
    characters; regex-syntax reads them as a nested class, set operations and ranges. Each item is read as
    ``sre_parse`` reads it (an escape or a character, then ``-`` and an end point for a range) and written back
    with those characters escaped, so both read the same set."""
    n = len(pattern)
    out = ["["]
    j = i + 1
    if j < n and pattern[j] == "^":
        out.append("^")
        j += 1
    first = True

    def item(k: int) -> tuple[str, int, bool]:
        """(text, end, single character?) of the class item at ``k``."""
        if pattern[k] == "\\":
            end = _escape_end(pattern, k)
            letter = pattern[k + 1 : k + 2]
            if letter in ("d", "w", "s", "D", "W", "S"):
                negate = "^" if letter.isupper() else ""
                return f"[{negate}{body_of(letter.lower())}]", end, False
            return pattern[k:end], end, True
        ch = pattern[k]
        return ("\\" + ch if ch in _CLASS_META or ch == "]" else ch), k + 1, True

    while j < n:
        if pattern[j] == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        text, j, single = item(j)
        first = False
        if j + 1 < n and pattern[j] == "-" and pattern[j + 1] != "]" and single:
            end_text, j, _ = item(j + 1)
            out.append(f"{text}-{end_text}")
        else:
            out.append(text)
    raise ValueError(f"unterminated character class in {pattern!r}")  # re.compile has refused it already


def _rewrite(pattern: str, body_of) -> str:
    out, i, n = [], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "dwsDWS":
                negate = "^" if nxt.isupper() else ""
                out.append(f"[{negate}{body_of(nxt.lower())}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            text, i = _class(pattern, i, body_of)
            out.append(text)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def python_shorthands(pattern: str) -> str:
    """``pattern`` with every ``\\d \\w \\s \\D \\W \\S`` replaced by the class Python's ``re`` matches, and its
    bracketed classes written so that regex-syntax reads the same set as Python (see :func:`_class`)."""
    if "\\" not in pattern and "[" not in pattern:
        return pattern
    return _rewrite(pattern, _python_class)


def ecma_shorthands(pattern: str) -> str:
    """``pattern`` with the shorthands replaced by their ECMA-262 meaning (JSON Schema's regex dialect), and its
    classes written for regex-syntax (ECMA, like Python, reads ``[`` and ``&&`` in a class as characters)."""
    if "\\" not in pattern and "[" not in pattern:
        return pattern
    return _rewrite(pattern, _ecma_class)
