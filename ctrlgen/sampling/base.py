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
from ..guidance.categorical import MaskedRows, draw_from_uniforms, sampling_probs
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
        steps, temperature, top_p = self.steps, self.temperature, self.top_p
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise InvalidArgumentError(f"steps must be a whole number >= 1, got {steps!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise InvalidArgumentError(f"temperature must be a number, got {temperature!r}")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise InvalidArgumentError(f"temperature must be positive and finite, got {temperature}")
        if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {top_p!r}")

    # -- what subclasses choose ------------------------------------------------------------------------------

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(B, L)`` bool: masked positions to commit at this step. The last step must commit all of them."""
        raise NotImplementedError

    def remask(self, state: StepState, generator: torch.Generator) -> torch.Tensor:
        """``(B, L)`` bool: committed positions to mask again at this step; only those in
        :func:`remaskable` count. None by default (the sampler only unmasks)."""
        return torch.zeros_like(state.masked)

    def temperature_at(self, state: StepState) -> float:
        """The temperature of this step (constant by default; a schedule in subclasses)."""
        return self.temperature

    def greedy_at(self, state: StepState) -> bool:
        """Whether this step commits the most probable tokens (and, under hard constraints, the most probable
        valid assignment) instead of drawing them. Never, by default."""
        return False

    def network_input(self, x: torch.Tensor, free: torch.Tensor, step: int, generator: torch.Generator):
        """What the network reads at this step: None, the canvas itself (masked positions hold the mask
        token, and the forward pass is skipped when the canvas did not change); or, for a process without a
        mask state (uniform noise), ``(B, L)`` tokens that hold a noisy token at every free position."""
        return None

    def total_steps(self, length: int) -> int:
        """Reverse steps for a canvas of ``length`` positions."""
        return self.steps or length

    def _alpha(self, t: float) -> float:
        schedule = self.schedule or LogLinearSchedule()
        return float(schedule.alpha(torch.tensor(t, dtype=torch.float64)))

    def _commit_fraction(self, t: float, s: float) -> float:
        """Probability that a masked token is unmasked between ``t`` and ``s``: (alpha_s - alpha_t)/(1 - alpha_t)
        (MDLM eq. 7, the reverse posterior's weight on the clean token)."""
        a_t, a_s = self._alpha(t), self._alpha(s)
        return 1.0 if s <= 0 else max(0.0, min(1.0, (a_s - a_t) / max(1.0 - a_t, 1e-12)))

    # -- one reverse step ------------------------------------------------------------------------------------

    def step(self, state: StepState, guides: Sequence[Guide] = ()) -> StepOutput:
        """One reverse step from the guided ``state``: commit some masked positions, remask some committed ones.

        Draws one candidate per masked position from the sampling distribution (temperature, top-p; float64),
        picks the positions to commit (:meth:`select`) and to remask (:meth:`remask`), then lets each guide redraw
        the committed tokens jointly (:meth:`Guide.sample`). Remasked positions simply become masked again.
        Every draw comes from ``state.generator``, in a fixed order, so a seed fixes the outcome.

        Only the masked positions' rows of the distribution are computed (:class:`MaskedRows`): the work scales
        with the masked positions, not with ``B * L * V``. A uniform is still drawn for every position, so the
        random stream is the one of a draw over the whole canvas; at a position that is not masked the candidate
        is its own token, with probability 1 (what the SUBS point mass there gives). Guides that declare
        ``takes_masked_rows`` get the rows as ``probs`` in :meth:`Guide.sample`, others the dense ``(B, L, V)``
        tensor; the returned :class:`StepOutput` builds its dense ``probs`` only if someone reads it.
        """
        generator = state.generator
        lp = _masked_rows(state)
        scratch = getattr(state, "_scratch", None)  # the loop's buffers (a plain StepState has none)
        f64 = None if scratch is None else scratch("logits", *lp.values.shape, torch.float64, lp.values.device)
        temperature = self.temperature_at(state)
        probs = sampling_probs(lp.values, temperature, self.top_p, f64)  # (M, V) float64, a new tensor
        u = torch.rand(state.masked.shape + (1,), generator=generator, dtype=torch.float64)
        state.greedy = self.greedy_at(state)
        if state.greedy:
            drawn = probs.argmax(-1)
        else:
            drawn = draw_from_uniforms(probs, u.to(probs.device)[lp.rows, lp.cols], f64)  # (M,); f64 is free again
        candidates = state.tokens.clone()
        candidates[lp.rows, lp.cols] = drawn
        candidate_probs = torch.ones(state.masked.shape, dtype=torch.float64, device=state.masked.device)
        candidate_probs[lp.rows, lp.cols] = probs.gather(-1, drawn.unsqueeze(-1)).squeeze(-1)
        commit = self.select(state, candidate_probs, generator) & state.masked
        remasked = self.remask(state, generator) & remaskable(state)
        rows = MaskedRows(lp.rows, lp.cols, probs, _OtherRows(lp, state.masked, temperature, self.top_p))
        dense = None  # the (B, L, V) distribution, built only for a guide that wants it
        for guide in guides:
            if getattr(guide, "takes_masked_rows", False):
                drawn_by_guide = guide.sample(state, rows, commit, candidates)
            elif _overrides_sample(guide):
                dense = rows.dense() if dense is None else dense
                drawn_by_guide = guide.sample(state, dense, commit, candidates)
            else:
                continue  # Guide.sample: leaves the candidates alone
            if drawn_by_guide is not None:
                candidates = drawn_by_guide
        tokens = torch.where(commit, candidates, state.tokens)
        if remasked.any():
            if state.mask_token_id is None:
                raise InvalidArgumentError("a step that remasks needs state.mask_token_id")
            tokens = tokens.masked_fill(remasked, state.mask_token_id)
        return _RowsStepOutput(tokens, commit, rows if dense is None else dense, state.step, remasked)

    # -- the reverse loop ------------------------------------------------------------------------------------

    def run(
        self,
        denoise: Denoise,
        canvas: torch.Tensor,
        mask_token_id: int,
        guides: Sequence[Guide] = (),
        generator: torch.Generator | None = None,
        progress: bool = False,
        end_token_id: int | None = None,
    ) -> torch.Tensor:
        """Denoise ``canvas`` until no position is masked.

        Parameters
        ----------
        denoise:
            Maps a ``(B, L)`` canvas to ``(B, L, V)`` float32 SUBS log-probabilities; for a sampler of the
            uniform process, called as ``denoise(canvas, inputs)`` (see :meth:`network_input`).
        canvas:
            ``(B, L)`` int64; positions holding ``mask_token_id`` are generated, the others kept (never remasked).
        guides:
            Hooks called at every step (see :class:`guidance.Guide`).
        end_token_id:
            Given, and with no guide (other than those that follow a cut, ``Guide.follows_cut``), no
            remasking and a masking process, the canvas is cut after the first
            committed end token of every row as soon as each row has one: what follows an end token is padding
            that never reaches the text, so later steps run the network on fewer positions. Only for models
            trained with padding of any length after the end token (ctrlgen's own, whose training canvases
            vary in length), for which the shorter canvas is an input like those they were trained on. The
            result is padded back with end tokens to the canvas's length.
        """
        generator = generator or torch.Generator().manual_seed(0)
        x = canvas.clone()
        fixed = x != mask_token_id
        full_length = x.shape[1]
        trim = (
            end_token_id is not None
            and all(getattr(g, "follows_cut", False) for g in guides)
            and not self.remasks
            and type(self).network_input is Sampler.network_input
        )
        for guide in guides:
            guide.prepare(x, ~fixed)
        num_steps = self.total_steps(x.shape[1])
        commit_probs = torch.ones(x.shape, dtype=torch.float64, device=x.device)
        can_remask = self.remasks and bool((~fixed).any())
        cached_x, cached = None, None
        scratch = _Scratch()
        for step in tqdm(range(num_steps), disable=not progress, desc="denoising", leave=False):
            masked = x == mask_token_id
            if not masked.any() and not can_remask:
                break
            inputs = self.network_input(x, masked, step, generator)
            if inputs is not None:
                cached = denoise(x, inputs)  # fresh noise at the free positions: always a new forward pass
            elif cached_x is None or not torch.equal(cached_x, x):
                cached_x, cached = x.clone(), denoise(x)  # nothing changed: skip the network
            t, s = 1.0 - step / num_steps, 1.0 - (step + 1) / num_steps
            state = _LoopStepState(
                x, masked, cached, step, num_steps, t, s, generator, fixed, mask_token_id, commit_probs
            )
            state._scratch = scratch
            state.private_output = inputs is not None  # no later step reuses this output: guides may write it
            for guide in guides:
                if guide.is_active(step, num_steps):
                    state.log_probs = guide.process_logits(state)
            output = self.step(state, guides)
            _check_step(state, output, fixed)
            x = output.tokens
            if output.committed.any():
                commit_probs = _record_commit_probs(output, x, commit_probs)
            for guide in guides:
                guide.update(output)
            if trim:
                ends = (x == end_token_id) & ~fixed
                if bool(ends.any(1).all()):
                    keep = int(ends.int().argmax(1).max()) + 1  # through the latest of the rows' first end tokens
                    if keep < x.shape[1]:
                        x, fixed, commit_probs = x[:, :keep], fixed[:, :keep], commit_probs[:, :keep]
                        cached_x = None
        if (x == mask_token_id).any():
            raise RuntimeError("sampler finished with masked positions left; its step must commit all at s=0")
        if x.shape[1] < full_length:
            x = torch.cat([x, x.new_full((x.shape[0], full_length - x.shape[1]), end_token_id)], dim=1)
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


# -- the rows of the masked positions -------------------------------------------------------------------------


def _masked_rows(state: StepState) -> MaskedRows:
    """The guided log-probabilities at ``state.masked``: the loop's own rows, or gathered from a plain state."""
    rows = getattr(state, "masked_rows", None)
    return rows if rows is not None else MaskedRows.gather(state.log_probs, state.masked)


def _overrides_sample(guide: Guide) -> bool:
    return getattr(guide.sample, "__func__", None) is not Guide.sample


class _LoopStepState(StepState):
    """The :class:`StepState` of :meth:`Sampler.run`: the log-probabilities are held either as the dense
    ``(B, L, V)`` tensor or as the rows of the masked positions (:class:`MaskedRows`), whichever the last guide
    returned, and converted only when read the other way.

    ``state.log_probs`` reads the dense tensor, built on first read from the rows (never written: the denoiser
    output stays as it was, for the loop's cache); ``state.masked_rows`` reads the rows, gathered on first
    read (this step's own copy, in a buffer the loop reuses at the next step; a guide may change it in place
    and return it). Guides that work on rows
    (``ConstraintGuide``, ``BanTokens``) return them, so a step with only such guides never touches all of
    ``B * L * V``; any other guide sees exactly the dense tensor it saw before.
    """

    __slots__ = ("_dense", "_rows", "_scratch", "private_output")

    @property
    def log_probs(self) -> torch.Tensor:
        if self._dense is None:
            self._dense = self._rows.dense()
        return self._dense

    @log_probs.setter
    def log_probs(self, value: torch.Tensor | MaskedRows) -> None:
        if isinstance(value, MaskedRows):
            self._dense, self._rows = None, value
        else:
            self._dense, self._rows = value, None

    @property
    def masked_rows(self) -> MaskedRows:
        if self._rows is None:
            scratch, device = getattr(self, "_scratch", None), self._dense.device
            buffer = None if scratch is None else (lambda m, v, dtype: scratch("rows", m, v, dtype, device))
            self._rows = MaskedRows.gather(self._dense, self.masked, buffer)
        return self._rows


class _Scratch:
    """Buffers of one :meth:`Sampler.run`, reused from step to step for what does not outlive a step (the
    log-probability rows, the float64 logits, the CDF): a fresh ``(M, V)`` allocation each step costs more in
    page faults than the arithmetic done on it. ``scratch(key, rows, cols, dtype, device)``: a contiguous
    ``(rows, cols)`` view of the buffer ``key``, grown when needed; its previous contents are overwritten."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def __call__(self, key: str, rows: int, cols: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = f"{key}/{dtype}"
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < rows * cols or buffer.device != torch.device(device):
            buffer = self._buffers[key] = torch.empty(rows * cols, dtype=dtype, device=device)
        return buffer[: rows * cols].view(rows, cols)


class _OtherRows:
    """The ``base`` of a step's :class:`MaskedRows` of sampling probabilities: a new ``(B, L, V)`` float64
    tensor holding, at the positions that were not masked, ``sampling_probs`` of the guided log-probabilities
    there (what the whole-canvas computation gave); :meth:`MaskedRows.dense` writes the masked rows in."""

    def __init__(self, lp: MaskedRows, masked: torch.Tensor, temperature: float, top_p: float) -> None:
        self.lp, self.masked, self.temperature, self.top_p = lp, masked, temperature, top_p

    def __call__(self) -> torch.Tensor:
        b, n = self.masked.shape
        v, device = self.lp.values.shape[-1], self.lp.values.device
        out = torch.zeros(b, n, v, dtype=torch.float64, device=device)
        other = ~self.masked
        if isinstance(self.lp.base, torch.Tensor) and bool(other.any()):
            out[other] = sampling_probs(self.lp.base[other], self.temperature, self.top_p)
        return out


class _RowsStepOutput(StepOutput):
    """The :class:`StepOutput` of :meth:`Sampler.step`: ``probs`` is kept as the rows of the masked positions
    and built dense (``(B, L, V)`` float64, the same values as a whole-canvas computation) on first read."""

    __slots__ = ("_probs", "_rows")

    @property
    def probs(self) -> torch.Tensor:
        if self._probs is None:
            self._probs = self._rows.dense()
        return self._probs

    @probs.setter
    def probs(self, value: torch.Tensor | MaskedRows) -> None:
        if isinstance(value, MaskedRows):
            self._probs, self._rows = None, value
        else:
            self._probs, self._rows = value, None

    @property
    def masked_probs(self) -> MaskedRows | None:
        """The rows of ``probs`` at the step's masked positions (None if ``probs`` was set dense)."""
        return self._rows


def _record_commit_probs(output: StepOutput, x: torch.Tensor, commit_probs: torch.Tensor) -> torch.Tensor:
    """``commit_probs`` with, at each position committed by ``output``, the probability its token ``x`` had."""
    rows = getattr(output, "masked_probs", None)
    if rows is None:
        drawn_p = output.probs.gather(-1, x.unsqueeze(-1)).squeeze(-1).to(commit_probs.dtype)
        return torch.where(output.committed, drawn_p, commit_probs)
    k = output.committed[rows.rows, rows.cols].nonzero().squeeze(1)  # committed positions are masked ones
    r, c = rows.rows[k], rows.cols[k]
    out = commit_probs.clone()
    out[r, c] = rows.values[k, x[r, c]].to(commit_probs.dtype)
    return out
