"""The per-step hook interface between a sampler (in ``ctrlgen``) and a guide (a compiled constraint).

A sampler knows nothing of constraint types: at every reverse step it hands each guide a :class:`StepState`,
lets it reshape the log-probabilities, optionally lets one guide draw the tokens it is about to commit (a
hard constraint must draw jointly, so that the committed canvas stays completable), and finally tells every
guide what was committed and what was remasked (:class:`StepOutput`). This mirrors diffusers' per-step
callbacks and outlines-core's immutable index + small mutable guide, adapted to a canvas that is filled in any
order.

For a guide a position is either fixed (it holds a token) or free (it holds the mask): a sampler may free a
committed position again (remasking), but never one fixed from the start (prompt, template literal, kept
word). Guides that derive everything from the canvas at each step, as the hard-constraint guide does, need no
special handling of remasking.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["StepState", "StepOutput", "Guide"]


@dataclass
class StepState:
    """What a guide sees before the sampler commits tokens at one reverse step.

    Attributes
    ----------
    tokens:
        ``(B, L)`` int64 canvas; masked positions hold the mask token id.
    masked:
        ``(B, L)`` bool, True where the position is still masked.
    log_probs:
        ``(B, L, V)`` float32 log-probabilities of the clean token (SUBS: ``-inf`` on the mask token, a point
        mass at fixed positions). Guides return a modified copy from :meth:`Guide.process_logits`.
    step, num_steps:
        Index of this step (0-based) and the total number of steps.
    t, s:
        Diffusion time now and after this step (``1 >= t > s >= 0``).
    generator:
        The sampler's random generator (CPU); guides that draw use it, so a seed fixes everything.
    fixed:
        ``(B, L)`` bool, the positions that held a token at the first step (prompt, template literals, kept
        words): they are never remasked. None when the caller did not say (then nothing is remasked).
    mask_token_id:
        The mask token, for samplers that remask; None when the caller did not say.
    commit_probs:
        ``(B, L)`` float64: at each committed position, the probability its token had in the distribution
        it was drawn from when it was committed (1 at fixed positions; meaningless at masked ones). What a
        confidence-based remasking schedule ranks by. None when the caller did not track it.
    greedy:
        True when this step commits the most probable tokens instead of drawing them (a sampler whose last step
        takes the argmax, as DiffusionGemma's does); a guide that draws jointly then takes the most probable
        valid assignment.
    """

    tokens: torch.Tensor
    masked: torch.Tensor
    log_probs: torch.Tensor
    step: int
    num_steps: int
    t: float
    s: float
    generator: torch.Generator
    fixed: torch.Tensor | None = None
    mask_token_id: int | None = None
    commit_probs: torch.Tensor | None = None
    greedy: bool = False


@dataclass
class StepOutput:
    """What the sampler did at one reverse step (diffusers-style: :meth:`Sampler.step` returns it).

    Attributes
    ----------
    tokens:
        ``(B, L)`` int64 canvas after the step.
    committed:
        ``(B, L)`` bool, the positions unmasked at this step (any order, possibly several per row).
    probs:
        ``(B, L, V)`` float64 distribution the tokens were drawn from (after temperature and top-p).
    step:
        Index of the step.
    remasked:
        ``(B, L)`` bool, the positions that held a committed token before this step and are masked again after
        it (never a position fixed from the start, never at the last step, disjoint from ``committed``).
        Defaults to all False: a sampler that only unmasks need not set it.
    """

    tokens: torch.Tensor
    committed: torch.Tensor
    probs: torch.Tensor
    step: int
    remasked: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.remasked is None:
            self.remasked = torch.zeros_like(self.committed, dtype=torch.bool)


class Guide:
    """Base class of per-step hooks; every method has a neutral default.

    ``start`` and ``stop`` bound the fraction of the reverse process (0 = first step, 1 = last) during which
    :meth:`process_logits` is applied: soft guidance may act only part of the way, a hard constraint always.
    """

    start: float = 0.0
    stop: float = 1.0
    #: True for a guide that keeps no per-position state between steps, so the sampler may cut finished
    #: padding off the canvas while it runs (see :meth:`ctrlgen.sampling.Sampler.run`)
    follows_cut: bool = False

    def is_active(self, step: int, num_steps: int) -> bool:
        frac = step / max(num_steps, 1)
        return self.start <= frac <= self.stop

    def prepare(self, tokens: torch.Tensor, masked: torch.Tensor) -> None:
        """Called once with the initial canvas, before the first step; may raise if it cannot be completed."""

    def process_logits(self, state: StepState) -> torch.Tensor:
        """Return adjusted ``(B, L, V)`` log-probabilities (unnormalised is fine; ``-inf`` forbids a token)."""
        return state.log_probs

    def sample(
        self, state: StepState, probs: torch.Tensor, commit: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor | None:
        """Optionally redraw the tokens for the positions in ``commit`` (``(B, L)`` bool) jointly.

        ``probs`` is the ``(B, L, V)`` float64 sampling distribution and ``candidates`` the ``(B, L)`` tokens
        drawn so far (independently, or by an earlier guide). Return ``candidates`` with the positions this
        guide owns replaced, or None to leave them as they are. Guides are applied in order. The draw is made
        against the canvas of ``state``: positions the same step remasks are still fixed there, so the
        committed canvas stays completable once they are freed (freeing a position never removes a completion).
        """
        return None

    def update(self, output: StepOutput) -> None:
        """Told what was committed (and remasked), so the guide can advance its per-canvas state."""
