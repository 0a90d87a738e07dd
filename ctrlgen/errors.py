"""Typed errors raised on bad input.

Every error a user can provoke by passing something wrong derives from :class:`CtrlgenError`, which is also
a :class:`ValueError`, so callers may catch either. Each message names the offending value.
"""

from __future__ import annotations

__all__ = [
    "CtrlgenError",
    "InvalidArgumentError",
    "UnknownSamplerError",
    "ModelNotFoundError",
    "TokenizerMismatchError",
    "DataError",
    "UnsupportedModelError",
    "PromptTooLongError",
]


class CtrlgenError(ValueError):
    """Base class of the library's errors."""


class InvalidArgumentError(CtrlgenError):
    """An argument is outside its valid range (``n < 1``, ``length < 1``, a temperature of zero...)."""


class UnknownSamplerError(CtrlgenError):
    """A sampler name that is not registered."""


class ModelNotFoundError(CtrlgenError, FileNotFoundError):
    """A path or hub id that holds no ctrlgen model."""


class TokenizerMismatchError(CtrlgenError):
    """A tokenizer whose vocabulary or special tokens do not match the model's configuration."""


class DataError(CtrlgenError):
    """Training data that cannot be read: a missing file, a missing CSV column, no text at all."""


class UnsupportedModelError(CtrlgenError):
    """A checkpoint no registered adapter reads, or one whose code may only run with ``trust_remote_code``."""


class PromptTooLongError(InvalidArgumentError):
    """A prompt that leaves no room for the response in the model's longest sequence."""
