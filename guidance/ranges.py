"""Regexes for integer ranges, which outlines-core's JSON-schema compiler does not produce.

``integer_range_regex(lo, hi)`` matches exactly the decimal integers in ``[lo, hi]`` (None = unbounded),
in JSON's canonical form (no leading zeros, ``-0`` excluded).
"""

from __future__ import annotations

__all__ = ["integer_range_regex"]


def _same_length(lo: str, hi: str) -> list[str]:
    """Patterns for the digit strings of equal length in [lo, hi] (lexicographic = numeric here)."""
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]" if lo != hi else lo]
    # common prefix
    i = 0
    while lo[i] == hi[i]:
        i += 1
    prefix, lo_rest, hi_rest = lo[:i], lo[i:], hi[i:]
    n = len(lo_rest) - 1
    out = []
    if lo_rest[1:] == "0" * n:
        first_lo = lo_rest[0]
    else:
        out += [prefix + lo_rest[0] + p for p in _same_length(lo_rest[1:], "9" * n)]
        first_lo = str(int(lo_rest[0]) + 1)
    if hi_rest[1:] == "9" * n:
        first_hi = hi_rest[0]
    else:
        first_hi = str(int(hi_rest[0]) - 1)
    if int(first_lo) <= int(first_hi):
        digit = first_lo if first_lo == first_hi else f"[{first_lo}-{first_hi}]"
        out.append(prefix + digit + ("[0-9]" + (f"{{{n}}}" if n > 1 else "") if n else ""))
    if hi_rest[1:] != "9" * n:
        out += [prefix + hi_rest[0] + p for p in _same_length("0" * n, hi_rest[1:])]
    return out


def _nonneg(lo: int, hi: int | None) -> list[str]:
    """Patterns for the integers in [lo, hi], 0 <= lo, hi None = unbounded."""
    out: list[str] = []
    if hi is not None and hi < lo:
        return out
    if lo == 0:
        out.append("0")
        lo = 1
        if hi is not None and hi < 1:
            return out
    d = len(str(lo))
    while True:
        top = 10**d - 1
        if hi is not None and hi <= top:
            out += _same_length(str(lo), str(hi))
            return out
        out += _same_length(str(lo), str(top))
        lo = 10**d
        d += 1
        if hi is None:
            out.append(f"[1-9][0-9]{{{d - 1},}}")
            return out


def integer_range_regex(lo: int | None, hi: int | None) -> str:
    """A regex matching exactly the JSON integers in ``[lo, hi]``; raises ValueError for an empty range."""
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"empty integer range [{lo}, {hi}]")
    parts: list[str] = []
    if hi is None or hi >= 0:
        parts += _nonneg(max(lo, 0) if lo is not None else 0, hi)
    if lo is None or lo < 0:
        # negatives: -x with x in [max(1, -hi), -lo]
        neg_lo = 1 if hi is None or hi >= 0 else -hi
        neg_hi = None if lo is None else -lo
        parts += ["-" + p for p in _nonneg(neg_lo, neg_hi)]
    return "(" + "|".join(f"({p})" for p in parts) + ")"
