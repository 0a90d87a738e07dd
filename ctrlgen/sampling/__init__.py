"""The reverse process: the sampler step, the samplers and float64 categorical draws."""

from ..guidance.categorical import draw_categorical, sampling_probs
from .base import Denoise, Sampler, remaskable
from .remdm import REMASKING_SCHEDULES, RemaskingSampler
from .samplers import SAMPLERS, AncestralSampler, ConfidenceSampler, SemiAutoregressiveSampler

__all__ = [
    "Sampler",
    "Denoise",
    "remaskable",
    "AncestralSampler",
    "ConfidenceSampler",
    "SemiAutoregressiveSampler",
    "RemaskingSampler",
    "REMASKING_SCHEDULES",
    "SAMPLERS",
    "draw_categorical",
    "sampling_probs",
]
