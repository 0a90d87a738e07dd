"""ctrlgen: controllable text generation with diffusion language models.

The public names load on first use (PEP 562): ``import ctrlgen`` and ``ctrlgen --help`` stay fast, and torch,
Lightning, transformers and numba are imported only by what needs them. The constraint classes and the
errors are light and imported at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .constraints import (
    CompileTimeoutError,
    Constraint,
    ConstraintError,
    ConstraintTooLargeError,
    InvalidConstraintError,
    InvalidSchemaError,
    InvalidStyleError,
    JsonSchema,
    Length,
    NarrowedSchemaWarning,
    Regex,
    Slot,
    Style,
    Template,
    UnsatisfiableConstraintError,
    UnsupportedPatternError,
    UnsupportedSchemaError,
    UnsupportedTokenizerError,
)
from .errors import (
    CtrlgenError,
    DataError,
    InvalidArgumentError,
    ModelNotFoundError,
    PromptTooLongError,
    TokenizerMismatchError,
    UnknownSamplerError,
    UnsupportedModelError,
)

#: Public name -> the module that defines it, imported when the name is first read.
_LAZY = {
    "DenoiserConfig": ".config",
    "TextDataModule": ".data",
    "TextSource": ".data",
    "Denoiser": ".denoisers",
    "DreamDenoiser": ".denoisers",
    "DiffusionGemmaDenoiser": ".denoisers.diffusion_gemma",
    "LLaDADenoiser": ".denoisers",
    "MaskedLMDenoiser": ".denoisers",
    "NativeDenoiser": ".denoisers",
    "load_denoiser": ".denoisers",
    "register_denoiser": ".denoisers",
    "StyleClassifier": ".guidance.classifier",
    "compile_budget": ".guidance.index_builder",
    "DenoiserLightningModule": ".lightning_module",
    "MaskingProcess": ".masking",
    "UniformProcess": ".uniform",
    "DenoiserModel": ".model",
    "DiffusionLM": ".pipeline",
    "GenerationDefaults": ".generation_defaults",
    "AutoregressiveLM": ".autoregressive_lm",
    "load": ".pipeline",
    "AncestralSampler": ".sampling",
    "ConfidenceSampler": ".sampling",
    "RemaskingSampler": ".sampling",
    "Sampler": ".sampling",
    "SemiAutoregressiveSampler": ".sampling",
    "EntropyBoundSampler": ".sampling",
    "UniformAncestralSampler": ".sampling",
    "CosineSchedule": ".schedules",
    "LogLinearSchedule": ".schedules",
    "NoiseSchedule": ".schedules",
    "train_tokenizer": ".tokenizer",
    "TrainConfig": ".training",
    "train": ".training",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the names as if imported at once
    from .autoregressive_lm import AutoregressiveLM
    from .config import DenoiserConfig
    from .data import TextDataModule, TextSource
    from .denoisers import (
        Denoiser,
        DreamDenoiser,
        LLaDADenoiser,
        MaskedLMDenoiser,
        NativeDenoiser,
        load_denoiser,
        register_denoiser,
    )
    from .denoisers.diffusion_gemma import DiffusionGemmaDenoiser
    from .generation_defaults import GenerationDefaults
    from .guidance.classifier import StyleClassifier
    from .guidance.index_builder import compile_budget
    from .lightning_module import DenoiserLightningModule
    from .masking import MaskingProcess
    from .model import DenoiserModel
    from .pipeline import DiffusionLM, load
    from .sampling import (
        AncestralSampler,
        ConfidenceSampler,
        EntropyBoundSampler,
        RemaskingSampler,
        Sampler,
        SemiAutoregressiveSampler,
        UniformAncestralSampler,
    )
    from .schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule
    from .tokenizer import train_tokenizer
    from .training import TrainConfig, train
    from .uniform import UniformProcess


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ctrlgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # read once; later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "load",
    "compile_budget",
    "Constraint",
    "Length",
    "Regex",
    "JsonSchema",
    "Template",
    "Slot",
    "Style",
    "StyleClassifier",
    "ConstraintError",
    "ConstraintTooLargeError",
    "CompileTimeoutError",
    "InvalidConstraintError",
    "InvalidStyleError",
    "UnsupportedPatternError",
    "UnsupportedTokenizerError",
    "NarrowedSchemaWarning",
    "InvalidSchemaError",
    "UnsatisfiableConstraintError",
    "UnsupportedSchemaError",
    "DiffusionLM",
    "GenerationDefaults",
    "AutoregressiveLM",
    "DenoiserConfig",
    "DenoiserModel",
    "DenoiserLightningModule",
    "MaskingProcess",
    "UniformProcess",
    "NoiseSchedule",
    "LogLinearSchedule",
    "CosineSchedule",
    "Sampler",
    "AncestralSampler",
    "ConfidenceSampler",
    "SemiAutoregressiveSampler",
    "RemaskingSampler",
    "EntropyBoundSampler",
    "UniformAncestralSampler",
    "Denoiser",
    "NativeDenoiser",
    "MaskedLMDenoiser",
    "LLaDADenoiser",
    "DreamDenoiser",
    "DiffusionGemmaDenoiser",
    "load_denoiser",
    "register_denoiser",
    "PromptTooLongError",
    "UnsupportedModelError",
    "TextDataModule",
    "TextSource",
    "TrainConfig",
    "train",
    "train_tokenizer",
    "CtrlgenError",
    "DataError",
    "InvalidArgumentError",
    "ModelNotFoundError",
    "TokenizerMismatchError",
    "UnknownSamplerError",
]
