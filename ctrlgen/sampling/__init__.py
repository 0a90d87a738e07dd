"""The reverse process: the sampler step, the samplers and float64 categorical draws."""

from ..guidance.categorical import draw_categorical, sampling_probs
from .base import Denoise, Sampler, remaskable
from .remdm import REMASKING_SCHEDULES, RemaskingSampler
from .samplers import (
    DEFAULT_SAMPLER,
    SAMPLERS,
    SAMPLERS_BY_PROCESS,
    AncestralSampler,
    ConfidenceSampler,
    SemiAutoregressiveSampler,
)
from .uniform import EntropyBoundSampler, UniformAncestralSampler, UniformSampler

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
    "SAMPLERS_BY_PROCESS",
    "DEFAULT_SAMPLER",
    "UniformSampler",
    "EntropyBoundSampler",
    "UniformAncestralSampler",
    "draw_categorical",
    "sampling_probs",
]
