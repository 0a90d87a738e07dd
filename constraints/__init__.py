"""Declarative, model-agnostic constraints on generated text.

This package holds only descriptions (frozen dataclasses, no torch, no tokenizer); ``guidance`` compiles
them against a model's tokenizer. ``Constraint`` is the common base; concrete constraints (length, regex,
JSON schema, templates, style) build on it.
"""

from .base import Constraint

__all__ = ["Constraint"]
