"""The common base of constraint objects."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Constraint"]


@dataclass(frozen=True)
class Constraint:
    """A rule generated text must obey. Subclasses are frozen dataclasses describing the rule, nothing more."""

    def describe(self) -> str:
        """A short human-readable form, used in error messages."""
        return repr(self)
