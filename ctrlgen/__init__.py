"""ctrlgen: controllable text generation with diffusion language models."""

from .config import DenoiserConfig
from .constraints import (
    Constraint,
    ConstraintError,
    InvalidSchemaError,
    JsonSchema,
    Length,
    Regex,
    Slot,
    Style,
    Template,
    UnsatisfiableConstraintError,
    UnsupportedSchemaError,
)
from .data import TextDataModule, TextSource
from .errors import (
    CtrlgenError,
    DataError,
    InvalidArgumentError,
    ModelNotFoundError,
    TokenizerMismatchError,
    UnknownSamplerError,
)
from .guidance.classifier import StyleClassifier
from .lightning_module import DenoiserLightningModule
from .masking import MaskingProcess
from .model import DenoiserModel
from .pipeline import DiffusionLM, load
from .sampling import AncestralSampler, ConfidenceSampler, Sampler, SemiAutoregressiveSampler
from .schedules import CosineSchedule, LogLinearSchedule, NoiseSchedule
from .tokenizer import train_tokenizer
from .training import TrainConfig, train

__all__ = [
    "load",
    "Constraint",
    "Length",
    "Regex",
    "JsonSchema",
    "Template",
    "Slot",
    "Style",
    "StyleClassifier",
    "ConstraintError",
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
