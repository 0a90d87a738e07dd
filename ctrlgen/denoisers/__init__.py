"""The denoiser seam and its adapters: ctrlgen's own model, Hugging Face masked LMs, LLaDA- and Dream-style
checkpoints."""

from .base import Denoiser
from .bidirectional_lm import DreamDenoiser, LLaDADenoiser
from .masked_lm import MaskedLMDenoiser
from .native import NativeDenoiser
from .registry import load_denoiser, register_denoiser

__all__ = [
    "Denoiser",
    "NativeDenoiser",
    "MaskedLMDenoiser",
    "LLaDADenoiser",
    "DreamDenoiser",
    "load_denoiser",
    "register_denoiser",
]
