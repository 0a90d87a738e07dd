"""Errors raised when a constraint is malformed, cannot be compiled, or cannot be satisfied.

All derive from :class:`ctrlgen.CtrlgenError` (a ``ValueError``), so one ``except`` catches every user error.
"""

from __future__ import annotations

from ..errors import CtrlgenError

__all__ = [
    "ConstraintError",
    "InvalidConstraintError",
    "CompileTimeoutError",
    "UnsatisfiableConstraintError",
    "UnsupportedSchemaError",
    "InvalidSchemaError",
    "ConstraintTooLargeError",
    "UnsupportedTokenizerError",
    "NarrowedSchemaWarning",
]


class ConstraintError(CtrlgenError):
    """Base class of constraint errors."""


class InvalidConstraintError(ConstraintError, TypeError):
    """A constraint built with a bad argument: a count that is not a whole number, a negative or reversed range,
    a pattern that is not a valid regular expression, a feature the automata cannot express. Also a
    ``TypeError``, since some of these are values of the wrong type."""


class UnsatisfiableConstraintError(ConstraintError):
    """No text on this canvas satisfies the constraints.

    Attributes
    ----------
    shortest:
        The shortest canvas (in tokens) on which the constraints can be met, or None if none can.
    """

    def __init__(self, message: str, shortest: int | None = None) -> None:
        super().__init__(message)
        self.shortest = shortest


class UnsupportedSchemaError(ConstraintError):
    """A JSON-schema keyword that cannot be compiled exactly; ``keywords`` names them (with their paths)."""

    def __init__(self, message: str, keywords: list[str]) -> None:
        super().__init__(message)
        self.keywords = keywords


class InvalidSchemaError(ConstraintError):
    """The schema itself is not valid JSON Schema; the message carries ``jsonschema``'s."""


class ConstraintTooLargeError(ConstraintError):
    """The compiled automaton would exceed the state budget."""


class CompileTimeoutError(ConstraintTooLargeError):
    """Compiling took longer than its time budget (``compile_timeout``)."""


class UnsupportedTokenizerError(ConstraintError):
    """A tokenizer whose decoding cannot be read off token by token exactly, so no exact automaton exists.

    Raised instead of guessing: an automaton built on a wrong reading of the tokens would let through text
    that does not match the constraint. ``model`` and ``decoder`` name the tokenizer's model type and the
    decoder (or decoder step) that could not be interpreted.
    """

    def __init__(self, message: str, model: str | None = None, decoder: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.decoder = decoder


class NarrowedSchemaWarning(UserWarning):
    """A JSON schema compiled with values cut at a depth bound (``JsonSchema(free_depth=..., ref_depth=...)``):
    documents nesting deeper there are valid but outside the constraint. ``paths`` names where."""

    def __init__(self, message: str, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths
