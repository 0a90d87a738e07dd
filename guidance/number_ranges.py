"""Regexes for JSON ``number`` ranges: decimals with fractions, exclusive bounds, exponents where exact.

A bounded ``{"type": "number"}`` must admit fractions (``0.25`` under ``minimum: 0``), not only integers.
:func:`number_range_regex` matches JSON number texts whose value lies in the range, judged two ways at once,
so that a document it admits is valid whichever way a reader compares:

* as JSON Schema defines it, on the decimal value (a bound read from the schema as a float counts as its
  shortest decimal form: ``0.1`` is one tenth);
* as ``jsonschema`` does in Python, where a text with a fraction is parsed to a double and compared with
  the bound (``0.09999999999999999999`` parses to ``0.1``, so it is *not* below an exclusive maximum of 0.1).

What is left out, and why:

* *Spellings*, never values: a bounded side is written in plain decimal notation. Exponents (``5e-1``)
  appear only on a side with no bound, where every spelling of that sign is in range: comparing
  ``0.000…01e{k}`` with a bound needs counting zeros against the exponent, which no regular language does.
  Negative zero (``-0``, ``-0.0``) is left out; ``0`` and ``0.0`` are in.
* Texts within half a double's spacing of an exclusive bound, which parse to the bound itself (invalid
  for ``jsonschema``), and, when that boundary has more than 120 significant digits, the few texts between
  the shortest decimal of the double just inside the bound and that boundary: they parse to the same
  double, so no *parsed* value is lost.

Integers (no fraction, no exponent) are compared exactly, as Python compares an ``int`` with a bound.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from fractions import Fraction

from .ranges import integer_range_regex

__all__ = ["Bound", "number_range_regex", "integer_bounds", "read_bounds"]

#: Longest threshold, in significant digits, written out exactly (the regex grows with its square).
_MAX_DIGITS = 120
#: The double range's edge: every finite text at or above it parses to infinity.
_OVERFLOW = Fraction(2**1024 - 2**970)


@dataclass(frozen=True)
class Bound:
    """One side of a range: ``value`` (an int or float, as read from the schema) and whether it is strict."""

    value: int | float
    strict: bool = False


def read_bounds(node: dict) -> tuple[Bound | None, Bound | None]:
    """The lower and upper :class:`Bound` of a schema node, from ``minimum``/``maximum`` and
    ``exclusiveMinimum``/``exclusiveMaximum`` (numbers since draft 6, booleans in draft 4), the tighter of
    each pair."""
    lo = hi = None
    if _is_number(node.get("minimum")):
        lo = Bound(node["minimum"], node.get("exclusiveMinimum") is True)
    if _is_number(node.get("maximum")):
        hi = Bound(node["maximum"], node.get("exclusiveMaximum") is True)
    if _is_number(node.get("exclusiveMinimum")):
        x = node["exclusiveMinimum"]
        if lo is None or x >= lo.value:
            lo = Bound(x, True)
    if _is_number(node.get("exclusiveMaximum")):
        x = node["exclusiveMaximum"]
        if hi is None or x <= hi.value:
            hi = Bound(x, True)
    return lo, hi


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def integer_bounds(lo: Bound | None, hi: Bound | None) -> tuple[int | None, int | None]:
    """The integer range ``[a, b]`` of integers inside the bounds (None: unbounded), compared exactly with the
    bound as Python compares an int and a float, and with its shortest decimal form (the tighter wins)."""
    a = b = None
    if lo is not None:
        a = max(_first_int_above(Fraction(lo.value), lo.strict), _first_int_above(_decimal_value(lo.value), lo.strict))
    if hi is not None:
        b = -max(
            _first_int_above(-Fraction(hi.value), hi.strict), _first_int_above(-_decimal_value(hi.value), hi.strict)
        )
    return a, b


def _first_int_above(x: Fraction, strict: bool) -> int:
    n = math.ceil(x)
    return n + 1 if strict and n == x else n


def _decimal_value(x: int | float) -> Fraction:
    """The value of a bound as JSON Schema reads it: an int exactly, a float as its shortest decimal."""
    return Fraction(x) if isinstance(x, int) else Fraction(repr(x))


def _check_finite(bound: Bound | None) -> None:
    if bound is not None and isinstance(bound.value, float) and not math.isfinite(bound.value):
        raise ValueError(f"a number bound must be finite, got {bound.value!r}")


# -- thresholds for texts with a fraction, which Python parses to a double --------------------------------------


def _next_up(x: float) -> Fraction:
    y = math.nextafter(x, math.inf)
    return Fraction(2**1024) if math.isinf(y) else Fraction(y)


def _largest_double_below(bound: Fraction, strict: bool) -> float | None:
    """The largest double ``g`` with ``g <= bound`` (``< bound`` when strict); None if there is none."""
    if bound >= _OVERFLOW:
        return sys.float_info.max
    try:
        g = float(bound)
    except OverflowError:
        return None
    if g == -math.inf:
        return None
    if Fraction(g) > bound or (strict and Fraction(g) == bound):
        g = math.nextafter(g, -math.inf)
    return None if math.isinf(g) else g


def _even(g: float) -> bool:
    """Whether ``g``'s significand is even (ties round to it)."""
    return (Fraction(abs(g)) / Fraction(math.ulp(g))) % 2 == 0


def _upper_threshold(bound: Bound) -> tuple[Fraction, bool, bool]:
    """``(t, strict, exact)``: a text with a fraction is in range on the upper side iff its decimal value is
    ``<= t`` (``< t`` when strict). ``exact`` is False when a shorter threshold stood in for a long boundary
    (see the module docstring)."""
    spec, spec_strict = _decimal_value(bound.value), bound.strict
    g = _largest_double_below(Fraction(bound.value), bound.strict)
    if g is None:  # no double is inside: every text with a fraction parses out of range
        return Fraction(-(2**1100)), True, True
    # texts below the midpoint between g and the next double parse to at most g (past the largest double,
    # that midpoint is where texts start to parse to infinity); the midpoint itself rounds to the double
    # with an even significand
    boundary, boundary_strict = (Fraction(g) + _next_up(g)) / 2, not _even(g)
    if spec < boundary:
        t, strict = spec, spec_strict
    elif boundary < spec:
        t, strict = boundary, boundary_strict
    else:
        t, strict = spec, spec_strict or boundary_strict
    if _significant_digits(t) <= _MAX_DIGITS:
        return t, strict, True
    short = Fraction(repr(g))  # parses to g itself, and is short
    if short < t or (short == t and not strict):
        return short, False, False
    return t, strict, True


def _significant_digits(x: Fraction) -> int:
    text = _decimal_text(abs(x))
    return len(text.replace(".", "").lstrip("0")) or 1


def _decimal_text(x: Fraction) -> str:
    """The finite decimal expansion of ``x >= 0`` (its denominator has only the factors 2 and 5)."""
    den, twos, fives = x.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        raise ValueError(f"{x} has no finite decimal expansion")
    k = max(twos, fives)
    digits = str(x.numerator * 10**k // x.denominator).rjust(k + 1, "0")
    return digits if k == 0 else f"{digits[:-k]}.{digits[-k:]}"


def _split(x: Fraction) -> tuple[int, str]:
    """``x >= 0`` as its integer part and its fraction digits, trailing zeros dropped."""
    text = _decimal_text(x)
    whole, _, frac = text.partition(".")
    return int(whole), frac.rstrip("0")


# -- regexes over digit strings ----------------------------------------------------------------------------------


def _digit_class(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"[{lo}-{hi}]"


def _runs(t: str) -> list[tuple[int, str, int]]:
    """``t`` as runs of one digit: ``(start, digit, length)``."""
    out, i = [], 0
    while i < len(t):
        j = i
        while j < len(t) and t[j] == t[i]:
            j += 1
        out.append((i, t[i], j - i))
        i = j
    return out


def _lit(t: str) -> str:
    """The digit string ``t`` as a regex, runs of four or more written as one repetition."""
    return "".join(d * n if n < 4 else f"{d}{{{n}}}" for _, d, n in _runs(t))


def _rep(d: str, most: int) -> str:
    """``d`` repeated 0 to ``most`` times."""
    return "" if most == 0 else (f"{d}?" if most == 1 else f"{d}{{0,{most}}}")


def _group(alts: list[str]) -> str:
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


# Every regex below is a flat alternation, one branch per run of digits of the bound: a bound of 50 digits
# nested one group per digit would pass the nesting limits of the regex engines (and 1e-300 has 300).


def _at_least(t: str, strict: bool) -> str:
    """Digit strings ``s`` (possibly empty) with ``0.s >= 0.t`` (``>`` when strict)."""
    alts = []
    for i, d, n in _runs(t):
        if d != "9":  # leave the run early with a larger digit
            alts.append(f"{_lit(t[:i])}{_rep(d, n - 1)}[{int(d) + 1}-9][0-9]*")
    alts.append(_lit(t) + (r"0*[1-9][0-9]*" if strict else r"[0-9]*"))
    return _group(alts)


def _at_most(t: str, strict: bool, nonempty: bool = False) -> str:
    """Digit strings ``s`` with ``0.s <= 0.t`` (``<`` when strict), ``t`` not empty; the empty string is one
    of them unless ``nonempty``."""
    alts = []
    for i, d, n in _runs(t):
        # stop inside the run, or leave it with a smaller digit
        smaller = None if d == "0" else f"{_digit_class(0, int(d) - 1)}[0-9]*"
        if i > 0 or not nonempty:
            alts.append(f"{_lit(t[:i])}{_rep(d, n - 1)}" + ("" if smaller is None else f"(?:{smaller})?"))
            continue
        if n > 1:  # the first run, at least one digit: some of the run, then maybe a smaller digit
            alts.append(f"{d}{{1,{n - 1}}}" + ("" if smaller is None else f"(?:{smaller})?"))
        if smaller is not None:
            alts.append(smaller)
    if not strict:
        alts.append(_lit(t) + "0*")
    return _group(alts)


def _digits(a: str, a_strict: bool, b: str | None, b_strict: bool, nonempty: bool) -> str | None:
    """Regex for the digit strings ``s`` with ``0.a <= 0.s <= 0.b`` (``<`` on a strict side; ``b`` None: no
    upper side), ``a`` and ``b`` without trailing zeros (``0.a < 0.b``). None when no string qualifies.
    With ``nonempty`` the empty string is left out."""
    if b is None:
        if not a:
            return r"0*[1-9][0-9]*" if a_strict else (r"[0-9]+" if nonempty else r"[0-9]*")
        return _at_least(a, a_strict)
    if not b:  # 0.s <= 0: only zeros, and only if 0 is in range
        if b_strict or a or a_strict:
            return None
        return "0+" if nonempty else "0*"
    if not a and not a_strict:
        return _at_most(b, b_strict, nonempty)
    # the common prefix, then the first digit where the bounds part
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    prefix, a_rest, b_rest = _lit(b[:k]), a[k:], b[k:]
    if not a_rest:  # 0.s' in [0, 0.b'] (or (0, 0.b'])
        if not a_strict:
            return prefix + _at_most(b_rest, b_strict)
        zeros = len(b_rest) - len(b_rest.lstrip("0"))
        top = b_rest[zeros:]
        first = int(top[0])
        alts = [r"0+[1-9][0-9]*"]
        if first > 1:
            alts.append(f"{_digit_class(1, first - 1)}[0-9]*")
        if top[1:]:
            alts.append(f"{first}{_at_most(top[1:], b_strict)}")
        elif not b_strict:
            alts.append(f"{first}0*")
        return f"{prefix}{_lit('0' * zeros)}{_group(alts)}"
    a0, b0 = int(a_rest[0]), int(b_rest[0])
    alts = [f"{a0}{_at_least(a_rest[1:], a_strict)}"]
    if a0 + 1 <= b0 - 1:
        alts.append(f"{_digit_class(a0 + 1, b0 - 1)}[0-9]*")
    tail = b_rest[1:]
    if tail:
        alts.append(f"{b0}{_at_most(tail, b_strict)}")
    elif not b_strict:
        alts.append(f"{b0}0*")
    return prefix + _group(alts)


# -- the range --------------------------------------------------------------------------------------------------


def _nonneg_fractions(a: Fraction, a_strict: bool, b: Fraction | None, b_strict: bool) -> list[str]:
    """Texts ``I.S`` (``I`` a JSON integer part, ``S`` non-empty digits) with ``a <= value <= b``, ``a >= 0``."""
    na, fa = _split(a)
    out: list[str] = []
    if b is None:
        tail = _digits(fa, a_strict, None, False, True)
        if tail is not None:
            out.append(rf"{na}\.{tail}")
        out.append(rf"{integer_range_regex(na + 1, None)}\.[0-9]+")
        return out
    nb, fb = _split(b)
    if na == nb:
        tail = _digits(fa, a_strict, fb, b_strict, True)
        if tail is not None:
            out.append(rf"{na}\.{tail}")
        return out
    tail = _digits(fa, a_strict, None, False, True)
    if tail is not None:
        out.append(rf"{na}\.{tail}")
    if na + 1 <= nb - 1:
        out.append(rf"{integer_range_regex(na + 1, nb - 1)}\.[0-9]+")
    tail = _digits("", False, fb, b_strict, True)
    if tail is not None:
        out.append(rf"{nb}\.{tail}")
    return out


def _fraction_texts(lo: Bound | None, hi: Bound | None) -> list[str]:
    """Texts with a fraction (and no exponent) in range, on both sides of zero."""
    upper = None if hi is None else _upper_threshold(hi)
    lower = None if lo is None else _upper_threshold(Bound(-lo.value, lo.strict))  # on the negated value
    out: list[str] = []
    # non-negative values: a = max(0, lower)
    a, a_strict = Fraction(0), False
    if lower is not None:
        t, strict, _ = lower
        if -t > 0 or (-t == 0 and strict):
            a, a_strict = -t, strict
    if upper is None or upper[0] > a or (upper[0] == a and not upper[1] and not a_strict):
        b, b_strict = (None, False) if upper is None else (upper[0], upper[1])
        if b is None or b >= 0:
            out += _nonneg_fractions(a, a_strict, b, b_strict)
    # negative values -x, x > 0: x >= -upper and x <= -lower
    xa, xa_strict = Fraction(0), True
    if upper is not None and -upper[0] > 0:
        xa, xa_strict = -upper[0], upper[1]
    xb = None if lower is None else lower[0]
    xb_strict = False if lower is None else lower[1]
    if xb is None or xb > xa or (xb == xa and not xb_strict and not xa_strict):
        out += ["-" + p for p in _nonneg_fractions(xa, xa_strict, xb, xb_strict)]
    return out


def number_range_regex(lo: Bound | None, hi: Bound | None) -> str:
    """A regex of JSON number texts in the range (see the module docstring for what it leaves out).

    Raises ValueError when a bound is not finite, and when no number is in range.
    """
    _check_finite(lo)
    _check_finite(hi)
    parts: list[str] = []
    a, b = integer_bounds(lo, hi)
    if a is None or b is None or a <= b:
        parts.append(integer_range_regex(a, b))
    parts += _fraction_texts(lo, hi)
    mantissa = r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE][+-]?[0-9]+"
    if hi is None and (lo is None or lo.value < 0 or (lo.value == 0 and not lo.strict)):
        parts.append(mantissa)  # every non-negative spelling is in range
    if lo is None and (hi is None or hi.value > 0 or (hi.value == 0 and not hi.strict)):
        parts.append("-" + mantissa)
    if not parts:
        raise ValueError(f"no number in the range {_describe(lo, hi)}")
    return "(?:" + "|".join(f"(?:{p})" for p in parts) + ")"


def _describe(lo: Bound | None, hi: Bound | None) -> str:
    left = "(-inf" if lo is None else ("(" if lo.strict else "[") + repr(lo.value)
    right = "inf)" if hi is None else repr(hi.value) + (")" if hi.strict else "]")
    return f"{left}, {right}"
