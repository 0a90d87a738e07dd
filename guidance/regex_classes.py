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


def _rewrite(pattern: str, body_of) -> str:
    out, i, n = [], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "dwsDWS":
                negate = "^" if nxt.isupper() else ""
                # a nested class is valid inside a class too ([\d_] -> [[0-9]_]) in regex-syntax
                out.append(f"[{negate}{body_of(nxt.lower())}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def python_shorthands(pattern: str) -> str:
    """``pattern`` with every ``\\d \\w \\s \\D \\W \\S`` replaced by the class Python's ``re`` matches."""
    if "\\" not in pattern:
        return pattern
    return _rewrite(pattern, _python_class)


def ecma_shorthands(pattern: str) -> str:
    """``pattern`` with the shorthands replaced by their ECMA-262 meaning (JSON Schema's regex dialect)."""
    if "\\" not in pattern:
        return pattern
    return _rewrite(pattern, _ecma_class)
