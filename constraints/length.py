"""Length constraints: in generated tokens, or in what a reader counts (words, characters)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Constraint

__all__ = ["Length"]


def _bounds(value: int | tuple[int | None, int | None] | None, name: str) -> tuple[int, int | None] | None:
    if value is None:
        return None
    lo, hi = (value, value) if isinstance(value, int) else value
    lo = 0 if lo is None else lo
    if not isinstance(lo, int) or lo < 0 or (hi is not None and (not isinstance(hi, int) or hi < lo)):
        raise ValueError(f"Length({name}=...) needs 0 <= min <= max, got {value!r}")
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
            raise ValueError("Length takes one of: tokens (or min/max), words=..., chars=...")
        if words is not None or chars is not None:
            unit, value = ("words", words) if words is not None else ("chars", chars)
        elif tokens is not None:
            unit, value = "tokens", tokens
        elif min is not None or max is not None:
            unit, value = "tokens", (min, max)
        else:
            raise ValueError("Length needs a count: Length(n), Length(min=..., max=...), words=... or chars=...")
        if (words is not None or chars is not None) and (min is not None or max is not None):
            raise ValueError("give a (min, max) pair to words=/chars= instead of min=/max=")
        lo, hi = _bounds(value, unit)
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)

    def describe(self) -> str:
        span = str(self.min) if self.min == self.max else f"{self.min}..{'' if self.max is None else self.max}"
        return f"Length({self.unit}={span})"
