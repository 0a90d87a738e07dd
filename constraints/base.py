"""The common base of constraint objects, and exact composition with ``&``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Constraint", "Intersection"]


@dataclass(frozen=True)
class Constraint:
    """A rule generated text must obey. Subclasses are frozen dataclasses describing the rule, nothing more.

    ``a & b`` is the exact intersection: compiled as the product of the two automata, not as an AND of two
    per-position masks (which can admit dead ends).
    """

    def __and__(self, other: Constraint) -> Intersection:
        if not isinstance(other, Constraint):
            return NotImplemented
        left = self.parts if isinstance(self, Intersection) else (self,)
        right = other.parts if isinstance(other, Intersection) else (other,)
        return Intersection(left + right)

    def describe(self) -> str:
        """A short human-readable form, used in error messages."""
        return repr(self)


@dataclass(frozen=True)
class Intersection(Constraint):
    """Text that satisfies every one of ``parts``."""

    parts: tuple[Constraint, ...]

    def describe(self) -> str:
        return " & ".join(p.describe() for p in self.parts)
