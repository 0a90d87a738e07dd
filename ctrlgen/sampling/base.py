"""The sampler step and the reverse loop every sampler shares.

A reverse step (:meth:`Sampler.step`, diffusers-style) takes the guided log-probabilities of one step and
returns a :class:`~ctrlgen.guidance.StepOutput`: the masked positions it committed (drawn jointly by a guide if
one wants to) and the committed positions it remasked. :meth:`Sampler.run` is a thin loop around it: denoise
(skipped when the canvas did not change), let the guides reshape the distribution, step, tell the guides.

The default step draws a candidate for every masked position, asks :meth:`Sampler.select` which to commit and
:meth:`Sampler.remask` which committed ones to free again (none, unless a subclass says so), and lets the guides
draw the committed tokens. Positions fixed from the start (non-mask at the first step: template literals, the
kept words of a rewrite) are never remasked, and nothing is remasked at the last step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from tqdm.auto import tqdm

from ..errors import InvalidArgumentError
from ..guidance.categorical import draw_categorical, sampling_probs
from ..guidance.interface import Guide, StepOutput, StepState
from ..schedules import LogLinearSchedule, NoiseSchedule

__all__ = ["Sampler", "Denoise", "remaskable"]

Denoise = Callable[[torch.Tensor], torch.Tensor]


def remaskable(state: StepState) -> torch.Tensor:
    """``(B, L)`` bool: the positions a step may remask: committed before it, not fixed from the start, and
    none at the last step (nor any when the state does not say which positions are fixed)."""
    if state.fixed is None or state.s <= 0:
        return torch.zeros_like(state.masked)
    return ~state.masked & ~state.fixed


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

    #: Whether :meth:`step` may remask: :meth:`run` then keeps stepping when no position is masked.
    remasks: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise InvalidArgumentError(f"steps must be at least 1, got {self.steps}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise InvalidArgumentError(f"temperature must be positive and finite, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {self.top_p}")

    # -- what subclasses choose ------------------------------------------------------------------------------

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(B, L)`` bool: masked positions to commit at this step. The last step must commit all of them."""
        raise NotImplementedError

    def remask(self, state: StepState, generator: torch.Generator) -> torch.Tensor:
        """``(B, L)`` bool: committed positions to mask again at this step; only those in
        :func:`remaskable` count. None by default (the sampler only unmasks)."""
        return torch.zeros_like(state.masked)

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

    # -- one reverse step ------------------------------------------------------------------------------------

    def step(self, state: StepState, guides: Sequence[Guide] = ()) -> StepOutput:
        """One reverse step from the guided ``state``: commit some masked positions, remask some committed ones.

        Draws one candidate per position from the sampling distribution (temperature, top-p; float64), picks
        the positions to commit (:meth:`select`) and to remask (:meth:`remask`), then lets each guide redraw
        the committed tokens jointly (:meth:`Guide.sample`). Remasked positions simply become masked again.
        Every draw comes from ``state.generator``, in a fixed order, so a seed fixes the outcome.
        """
        generator = state.generator
        probs = sampling_probs(state.log_probs, self.temperature, self.top_p)
        candidates = draw_categorical(probs, generator)
        candidate_probs = probs.gather(-1, candidates.unsqueeze(-1)).squeeze(-1)
        commit = self.select(state, candidate_probs, generator) & state.masked
        remasked = self.remask(state, generator) & remaskable(state)
        for guide in guides:
            drawn = guide.sample(state, probs, commit, candidates)
            if drawn is not None:
                candidates = drawn
        tokens = torch.where(commit, candidates, state.tokens)
        if remasked.any():
            if state.mask_token_id is None:
                raise InvalidArgumentError("a step that remasks needs state.mask_token_id")
            tokens = tokens.masked_fill(remasked, state.mask_token_id)
        return StepOutput(tokens, commit, probs, state.step, remasked)

    # -- the reverse loop ------------------------------------------------------------------------------------

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
            ``(B, L)`` int64; positions holding ``mask_token_id`` are generated, the others kept (never remasked).
        guides:
            Hooks called at every step (see :class:`guidance.Guide`).
        """
        generator = generator or torch.Generator().manual_seed(0)
        x = canvas.clone()
        fixed = x != mask_token_id
        for guide in guides:
            guide.prepare(x, ~fixed)
        num_steps = self.total_steps(x.shape[1])
        commit_probs = torch.ones(x.shape, dtype=torch.float64, device=x.device)
        can_remask = self.remasks and bool((~fixed).any())
        cached_x, cached = None, None
        for step in tqdm(range(num_steps), disable=not progress, desc="denoising", leave=False):
            masked = x == mask_token_id
            if not masked.any() and not can_remask:
                break
            if cached_x is None or not torch.equal(cached_x, x):
                cached_x, cached = x.clone(), denoise(x)  # nothing changed: skip the network
            t, s = 1.0 - step / num_steps, 1.0 - (step + 1) / num_steps
            state = StepState(x, masked, cached, step, num_steps, t, s, generator, fixed, mask_token_id, commit_probs)
            for guide in guides:
                if guide.is_active(step, num_steps):
                    state.log_probs = guide.process_logits(state)
            output = self.step(state, guides)
            _check_step(state, output, fixed)
            x = output.tokens
            if output.committed.any():
                drawn_p = output.probs.gather(-1, x.unsqueeze(-1)).squeeze(-1).to(commit_probs.dtype)
                commit_probs = torch.where(output.committed, drawn_p, commit_probs)
            for guide in guides:
                guide.update(output)
        if (x == mask_token_id).any():
            raise RuntimeError("sampler finished with masked positions left; its step must commit all at s=0")
        return x


def _check_step(state: StepState, output: StepOutput, fixed: torch.Tensor) -> None:
    """The contract of :meth:`Sampler.step`, checked for overrides: commits only masked positions, remasks
    only committed ones that were not fixed from the start, and nothing at the last step."""
    if (output.committed & ~state.masked).any():
        raise RuntimeError(f"step {state.step} committed a position that was not masked")
    if output.remasked.any():
        if (output.remasked & (state.masked | fixed)).any():
            raise RuntimeError(f"step {state.step} remasked a masked position or one fixed from the start")
        if state.s <= 0:
            raise RuntimeError("the last step must not remask")
