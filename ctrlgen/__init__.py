"""ctrlgen: controllable text generation with diffusion language models."""

from .config import DenoiserConfig
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
    Regex,
    Slot,
    Style,
    Template,
    UnsatisfiableConstraintError,
    UnsupportedPatternError,
    UnsupportedSchemaError,
    UnsupportedTokenizerError,
)
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
from .guidance.classifier import StyleClassifier
from .guidance.index_builder import compile_budget
from .lightning_module import DenoiserLightningModule
from .masking import MaskingProcess
from .model import DenoiserModel
from .pipeline import DiffusionLM, load
from .sampling import AncestralSampler, ConfidenceSampler, RemaskingSampler, Sampler, SemiAutoregressiveSampler
from .schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule
from .tokenizer import train_tokenizer
from .training import TrainConfig, train

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
    "InvalidSchemaError",
    "UnsatisfiableConstraintError",
    "UnsupportedSchemaError",
    "DiffusionLM",
    "DenoiserConfig",
    "DenoiserModel",
    "DenoiserLightningModule",
    "MaskingProcess",
    "NoiseSchedule",
    "LogLinearSchedule",
    "CosineSchedule",
    "Sampler",
    "AncestralSampler",
    "ConfidenceSampler",
    "SemiAutoregressiveSampler",
    "RemaskingSampler",
    "Denoiser",
    "NativeDenoiser",
    "MaskedLMDenoiser",
    "LLaDADenoiser",
    "DreamDenoiser",
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
