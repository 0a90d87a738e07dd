"""Length constraints: in generated tokens, or in what a reader counts (words, characters)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .base import Constraint
from .errors import InvalidConstraintError

__all__ = ["Length"]


def _count(x: object, what: str) -> int:
    """``x`` as a count: a whole number (not a bool), at least 0."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise InvalidConstraintError(f"{what} must be a whole number of {_UNITS.get(what, 'units')}, got {x!r}")
    if x < 0:
        raise InvalidConstraintError(f"{what} must be at least 0, got {x!r}")
    return int(x)


_UNITS = {"tokens": "tokens", "words": "words", "chars": "characters"}


def _bounds(value: object, name: str) -> tuple[int, int | None]:
    if isinstance(value, tuple) and len(value) == 2:
        lo, hi = value
    elif isinstance(value, tuple | list):
        raise InvalidConstraintError(f"Length({name}=...) takes a count or a (min, max) pair, got {value!r}")
    else:
        lo = hi = value
    lo = 0 if lo is None else _count(lo, name)
    hi = None if hi is None else _count(hi, name)
    if hi is not None and hi < lo:
        raise InvalidConstraintError(f"Length({name}=...) needs min <= max, got {value!r}")
    return lo, hi


@dataclass(frozen=True, init=False)
class Length(Constraint):
    """Length of the generated text.

    ``Length(24)`` is exactly 24 generated tokens; ``Length(min=10, max=20)`` a token range;
    ``Length(words=12)`` / ``Length(chars=80)`` count what a reader counts (whitespace-separated words, Unicode
    characters of the decoded text), exactly or as a ``(min, max)`` pair, whatever the tokenization.
    """

    unit: str
    min: int
    max: int | None

    def __init__(
        self,
        tokens: int | None = None,
        *,
        min: int | None = None,  # noqa: A002 - the natural keyword for users
        max: int | None = None,  # noqa: A002
        words: int | tuple[int | None, int | None] | None = None,
        chars: int | tuple[int | None, int | None] | None = None,
    ) -> None:
        given = [x is not None for x in (tokens, words, chars)]
        if sum(given) > 1 or (sum(given) == 1 and (min is not None or max is not None) and tokens is not None):
            raise InvalidConstraintError("Length takes one of: tokens (or min/max), words=..., chars=...")
        if words is not None or chars is not None:
            unit, value = ("words", words) if words is not None else ("chars", chars)
        elif tokens is not None:
            unit, value = "tokens", tokens
        elif min is not None or max is not None:
            unit, value = "tokens", (min, max)
        else:
            raise InvalidConstraintError(
                "Length needs a count: Length(n), Length(min=..., max=...), words=... or chars=..."
            )
        if (words is not None or chars is not None) and (min is not None or max is not None):
            raise InvalidConstraintError("give a (min, max) pair to words=/chars= instead of min=/max=")
        lo, hi = _bounds(value, unit)
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)

    def describe(self) -> str:
        span = str(self.min) if self.min == self.max else f"{self.min}..{'' if self.max is None else self.max}"
        return f"Length({self.unit}={span})"
