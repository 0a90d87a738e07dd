"""The unmasking samplers (MDLM ancestral, LLaDA confidence order, semi-autoregressive blocks), the
self-correcting ReMDM sampler, and the registry the facade looks names up in.

All of them run the one reverse loop of :class:`~ctrlgen.sampling.base.Sampler`; they differ in *which*
positions a step commits (:meth:`Sampler.select`) and, for ReMDM, which committed ones it remasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InvalidArgumentError
from ..guidance.interface import StepState
from .base import Denoise, Sampler
from .remdm import RemaskingSampler
from .uniform import EntropyBoundSampler, UniformAncestralSampler

__all__ = [
    "Sampler",
    "Denoise",
    "AncestralSampler",
    "ConfidenceSampler",
    "SemiAutoregressiveSampler",
    "RemaskingSampler",
    "SAMPLERS",
    "SAMPLERS_BY_PROCESS",
    "DEFAULT_SAMPLER",
]


@dataclass
class AncestralSampler(Sampler):
    """MDLM's ancestral sampler: each masked position is unmasked with probability
    (alpha_s - alpha_t) / (1 - alpha_t), independently."""

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        frac = self._commit_fraction(state.t, state.s)
        u = torch.rand(state.masked.shape, generator=generator, dtype=torch.float64).to(state.masked.device)
        return state.masked & (u < frac)


def _top_k_mask(score: torch.Tensor, eligible: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` bool: the ``k[b]`` highest-scoring eligible positions of each row."""
    score = torch.where(eligible, score, torch.full_like(score, -1.0))
    order = score.argsort(dim=-1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(
        -1, order, torch.arange(score.shape[1], device=score.device).expand_as(order)
    )
    return eligible & (rank < k[:, None])


@dataclass
class ConfidenceSampler(Sampler):
    """LLaDA's low-confidence remasking: draw a candidate for every masked position, keep the most confident
    ones (the probability of the drawn candidate) and leave the rest masked. The number committed per step
    follows the schedule: the expected count of the ancestral sampler, at least one."""

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self._select_in(candidate_probs, state.masked, self._commit_fraction(state.t, state.s))

    def _select_in(self, candidate_probs: torch.Tensor, eligible: torch.Tensor, frac: float) -> torch.Tensor:
        n = eligible.sum(-1)
        k = torch.where(n > 0, (n.double() * frac).round().long().clamp_min(1), n)
        return _top_k_mask(candidate_probs, eligible, k)


@dataclass
class SemiAutoregressiveSampler(ConfidenceSampler):
    """Semi-autoregressive blocks (as in LLaDA): the canvas is cut into blocks of ``block_size`` positions,
    filled left to right; inside a block, confidence-ordered unmasking over its share of the steps."""

    block_size: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.block_size < 1:
            raise InvalidArgumentError(f"block_size must be at least 1, got {self.block_size}")

    def total_steps(self, length: int) -> int:
        # a whole number of steps per block, at least one
        n_blocks = math.ceil(length / self.block_size)
        return n_blocks * max(math.ceil((self.steps or length) / n_blocks), 1)

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        length = state.tokens.shape[1]
        n_blocks = math.ceil(length / self.block_size)
        steps_per_block = state.num_steps // n_blocks
        pos = torch.arange(length, device=state.tokens.device)
        # the current block of each row: the first block that still holds a masked position
        block_of = (pos // self.block_size).expand_as(state.masked)
        first = torch.where(state.masked, block_of, torch.full_like(block_of, n_blocks)).min(-1).values
        eligible = state.masked & (block_of == first[:, None])
        inner = state.step % steps_per_block
        last_of_block = inner == steps_per_block - 1
        t = 1.0 - inner / steps_per_block
        s = 0.0 if last_of_block else 1.0 - (inner + 1) / steps_per_block
        # the block's own schedule; no StepState is built, so the dense log-probabilities are never read
        return self._select_in(candidate_probs, eligible, self._commit_fraction(t, s))


SAMPLERS: dict[str, type[Sampler]] = {
    "ancestral": AncestralSampler,
    "confidence": ConfidenceSampler,
    "semi-ar": SemiAutoregressiveSampler,
    "remdm": RemaskingSampler,
}

#: The samplers of each forward process, by name; a model's ``process_name`` picks the table.
SAMPLERS_BY_PROCESS: dict[str, dict[str, type[Sampler]]] = {
    "masking": SAMPLERS,
    "uniform": {"entropy-bound": EntropyBoundSampler, "ancestral": UniformAncestralSampler},
}


def _register_latent() -> None:
    # the embedding process's sampler builds on ConfidenceSampler (defined above): registered after it
    from .latent import LatentSampler

    SAMPLERS_BY_PROCESS["embedding"] = {"clamped": LatentSampler}


_register_latent()

#: What ``sampler=None`` means for each process (``rewrite`` prefers confidence order where it exists), unless the
#: denoiser names its own (``Denoiser.default_sampler``: DiffusionGemma's is its published ``entropy-bound``).
#: For ctrlgen's own uniform-noise models the default is ``ancestral``: ``entropy-bound`` accepts the end padding
#: first (its entropy is lowest) and, right to left, writes empty texts (``benchmarks/processes.py``).
DEFAULT_SAMPLER: dict[str, str] = {"masking": "ancestral", "uniform": "ancestral", "embedding": "clamped"}
