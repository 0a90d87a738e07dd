"""Declarative, model-agnostic constraints on generated text.

This package holds only descriptions (frozen dataclasses, no torch, no tokenizer); ``guidance`` compiles
them against a model's tokenizer. ``a & b`` is the exact intersection.
"""

from .base import Constraint, Intersection
from .errors import (
    CompileTimeoutError,
    ConstraintError,
    ConstraintTooLargeError,
    InvalidConstraintError,
    InvalidSchemaError,
    NarrowedSchemaWarning,
    UnsatisfiableConstraintError,
    UnsupportedSchemaError,
    UnsupportedTokenizerError,
)
from .json_schema import JsonSchema
from .length import Length
from .regex import Regex, UnsupportedPatternError
from .style import InvalidStyleError, Style
from .template import Slot, Template

__all__ = [
    "Constraint",
    "Intersection",
    "Length",
    "Regex",
    "JsonSchema",
    "Template",
    "Slot",
    "Style",
    "InvalidStyleError",
    "ConstraintError",
    "ConstraintTooLargeError",
    "CompileTimeoutError",
    "InvalidConstraintError",
    "UnsupportedPatternError",
    "InvalidSchemaError",
    "UnsatisfiableConstraintError",
    "UnsupportedSchemaError",
    "UnsupportedTokenizerError",
    "NarrowedSchemaWarning",
]
