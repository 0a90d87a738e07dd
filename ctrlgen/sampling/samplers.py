"""Reverse-process samplers for masked diffusion.

All samplers share one loop (:meth:`Sampler.run`): denoise, let the guides reshape the distribution, draw a
candidate token for every masked position, pick which positions to commit, let a guide draw the committed
tokens jointly if it wants to, commit, tell the guides. Subclasses differ only in *which* positions they
commit at a step (:meth:`Sampler.select`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..errors import InvalidArgumentError
from ..guidance.categorical import draw_categorical, sampling_probs
from ..guidance.interface import Guide, StepOutput, StepState
from ..schedules import LogLinearSchedule, NoiseSchedule

__all__ = ["Sampler", "AncestralSampler", "ConfidenceSampler", "SemiAutoregressiveSampler", "SAMPLERS"]

Denoise = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Sampler:
    """Base sampler.

    Parameters
    ----------
    steps:
        Number of reverse steps; None uses one step per canvas position.
    temperature:
        Divides the log-probabilities before drawing; must be positive.
    top_p:
        Nucleus sampling: keep the smallest set of tokens with this much mass; 1 disables it.
    schedule:
        Noise schedule that spaces the steps; None uses the model's own.
    """

    steps: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    schedule: NoiseSchedule | None = None

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise InvalidArgumentError(f"steps must be at least 1, got {self.steps}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise InvalidArgumentError(f"temperature must be positive and finite, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {self.top_p}")

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(B, L)`` bool: masked positions to commit at this step. The last step must commit all of them."""
        raise NotImplementedError

    def total_steps(self, length: int) -> int:
        """Reverse steps for a canvas of ``length`` positions."""
        return self.steps or length

    def _alpha(self, t: float) -> float:
        schedule = self.schedule or LogLinearSchedule()
        return float(schedule.alpha(torch.tensor(t, dtype=torch.float64)))

    def _commit_fraction(self, state: StepState) -> float:
        """Probability that a masked token is unmasked between ``t`` and ``s``: (alpha_s - alpha_t)/(1 - alpha_t)
        (MDLM eq. 7, the reverse posterior's weight on the clean token)."""
        a_t, a_s = self._alpha(state.t), self._alpha(state.s)
        return 1.0 if state.s <= 0 else max(0.0, min(1.0, (a_s - a_t) / max(1.0 - a_t, 1e-12)))

    def run(
        self,
        denoise: Denoise,
        canvas: torch.Tensor,
        mask_token_id: int,
        guides: Sequence[Guide] = (),
        generator: torch.Generator | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Denoise ``canvas`` until no position is masked.

        Parameters
        ----------
        denoise:
            Maps a ``(B, L)`` canvas to ``(B, L, V)`` float32 SUBS log-probabilities.
        canvas:
            ``(B, L)`` int64; positions holding ``mask_token_id`` are generated, the others kept.
        guides:
            Hooks called at every step (see :class:`guidance.Guide`).
        """
        generator = generator or torch.Generator().manual_seed(0)
        x = canvas.clone()
        for guide in guides:
            guide.prepare(x, x == mask_token_id)
        num_steps = self.total_steps(x.shape[1])
        cached_x, cached = None, None
        for step in tqdm(range(num_steps), disable=not progress, desc="denoising", leave=False):
            masked = x == mask_token_id
            if not masked.any():
                break
            if cached_x is None or not torch.equal(cached_x, x):
                cached_x, cached = x.clone(), denoise(x)  # nothing changed: skip the network
            t, s = 1.0 - step / num_steps, 1.0 - (step + 1) / num_steps
            state = StepState(x, masked, cached, step, num_steps, t, s, generator)
            for guide in guides:
                if guide.is_active(step, num_steps):
                    state.log_probs = guide.process_logits(state)
            probs = sampling_probs(state.log_probs, self.temperature, self.top_p)
            candidates = draw_categorical(probs, generator)
            candidate_probs = probs.gather(-1, candidates.unsqueeze(-1)).squeeze(-1)
            commit = self.select(state, candidate_probs, generator) & masked
            for guide in guides:
                drawn = guide.sample(state, probs, commit, candidates)
                if drawn is not None:
                    candidates = drawn
            x = torch.where(commit, candidates, x)
            output = StepOutput(x, commit, probs, step)
            for guide in guides:
                guide.update(output)
        if (x == mask_token_id).any():
            raise RuntimeError("sampler finished with masked positions left; its select() must commit all at s=0")
        return x


@dataclass
class AncestralSampler(Sampler):
    """MDLM's ancestral sampler: each masked position is unmasked with probability
    (alpha_s - alpha_t) / (1 - alpha_t), independently."""

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        frac = self._commit_fraction(state)
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
        return self._select_in(state, candidate_probs, state.masked)

    def _select_in(self, state: StepState, candidate_probs: torch.Tensor, eligible: torch.Tensor) -> torch.Tensor:
        n = eligible.sum(-1)
        frac = self._commit_fraction(state)
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
        local = StepState(state.tokens, eligible, state.log_probs, inner, steps_per_block, t, s, state.generator)
        return self._select_in(local, candidate_probs, eligible)


SAMPLERS: dict[str, type[Sampler]] = {
    "ancestral": AncestralSampler,
    "confidence": ConfidenceSampler,
    "semi-ar": SemiAutoregressiveSampler,
}
