"""Regular-expression constraints."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Constraint

__all__ = ["Regex"]


@dataclass(frozen=True)
class Regex(Constraint):
    """The whole generated text matches ``pattern`` (full match).

    The syntax is that of outlines-core (Rust's ``regex`` crate); an invalid pattern is reported when the
    constraint is compiled against a tokenizer."""

    pattern: str

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str):
            raise TypeError(f"Regex pattern must be a string, got {type(self.pattern).__name__}")

    def describe(self) -> str:
        return f"Regex({self.pattern!r})"
