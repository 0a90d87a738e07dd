"""The reverse process: samplers and float64 categorical draws."""

from ..guidance.categorical import draw_categorical, sampling_probs
from .samplers import SAMPLERS, AncestralSampler, ConfidenceSampler, Sampler, SemiAutoregressiveSampler

__all__ = [
    "Sampler",
    "AncestralSampler",
    "ConfidenceSampler",
    "SemiAutoregressiveSampler",
    "SAMPLERS",
    "draw_categorical",
    "sampling_probs",
]
