"""The common base of constraint objects, and exact composition with ``&``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .errors import ConstraintError

__all__ = ["Constraint", "Intersection", "CompositionError"]


class CompositionError(ConstraintError, TypeError):
    """``a & b`` of constraints that have no exact intersection (a soft ``Style``, a ``Template`` that lays
    out the whole canvas)."""


@dataclass(frozen=True)
class Constraint:
    """A rule generated text must obey. Subclasses are frozen dataclasses describing the rule, nothing more.

    ``a & b`` is the exact intersection: compiled as the product of the two automata, not as an AND of two
    per-position masks (which can admit dead ends).
    """

    #: Whether ``&`` can intersect it exactly (regular constraints: a product automaton).
    composable: ClassVar[bool] = True

    def __and__(self, other: Constraint) -> Intersection:
        if not isinstance(other, Constraint):
            return NotImplemented
        for c in (self, other):
            if not c.composable:
                raise CompositionError(
                    f"{c.describe()} cannot be intersected with &: {c.composition_hint()}; pass constraints as a "
                    "list instead, e.g. constraints=[a, b]"
                )
        left = self.parts if isinstance(self, Intersection) else (self,)
        right = other.parts if isinstance(other, Intersection) else (other,)
        return Intersection(left + right)

    def describe(self) -> str:
        """A short human-readable form, used in error messages."""
        return repr(self)

    def composition_hint(self) -> str:
        """Why ``&`` refuses this constraint (only asked when :attr:`composable` is False)."""
        return "it has no exact intersection"


@dataclass(frozen=True)
class Intersection(Constraint):
    """Text that satisfies every one of ``parts``."""

    parts: tuple[Constraint, ...]

    def describe(self) -> str:
        return " & ".join(p.describe() for p in self.parts)
