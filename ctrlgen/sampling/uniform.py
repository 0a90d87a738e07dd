"""Samplers of the uniform-noise process: every position always holds a token.

Both run the reverse loop of :class:`~ctrlgen.sampling.base.Sampler`. Inside the loop a position not yet
accepted is *free*: it holds a placeholder id in the loop's canvas (the mask token of a vocabulary that has
one, never noise), and the network reads a noisy token there instead (:meth:`Sampler.network_input`). For the
guides a free position is simply not fixed, whatever noisy token the network saw: a hard constraint stays
exact, because accepted tokens are drawn jointly by the guides, as when unmasking.

* :class:`EntropyBoundSampler`: DiffusionGemma's reverse process (``transformers``' ``generation_diffusion_gemma``):
  every step re-noises all free positions with fresh uniform tokens, predicts every position, and accepts the
  free positions of lowest entropy, each while the entropies of those before it sum to at most
  ``entropy_bound`` (so at least one per step); the temperature is ``end + (start - end) * remaining / steps``
  (0.8 at the first step, falling towards 0.4); a row whose free positions have a mean entropy within
  ``confidence`` and the same most probable tokens as at the step before is accepted whole. Defaults: the
  published ones (48 steps, bound 0.1, temperature 0.8 -> 0.4, confidence 0.005), and the last step commits
  the most probable tokens (DiffusionGemma returns the argmax canvas of its last step). One difference, for
  exactness: an accepted position stays accepted (DiffusionGemma predicts it again at every step and may
  re-noise it); its token was drawn jointly with the others under the constraints, so the canvas stays
  completable. Its distribution is then a point mass, of entropy 0, so the bound is spent on the free
  positions alone, as DiffusionGemma's would be if its accepted positions were certain. A row accepted whole
  because it is stable and confident is drawn at that step's temperature, not argmaxed (its mean entropy is at
  most ``confidence``, so the two rarely differ).
* :class:`UniformAncestralSampler`: the plain ancestral sampler of the process (UDLM): the free positions hold
  ``z_t`` and move to ``z_s`` drawn from the posterior ``q(z_s | z_t, x_theta)`` at every step; the last step
  draws the clean tokens, all at once, jointly under the guides.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InvalidArgumentError
from ..guidance.categorical import draw_from_uniforms, sampling_probs
from ..guidance.interface import StepOutput, StepState
from .base import Sampler, _masked_rows

__all__ = ["UniformSampler", "EntropyBoundSampler", "UniformAncestralSampler"]


@dataclass
class UniformSampler(Sampler):
    """Base of the uniform-process samplers. ``noise_ids``: the tokens noise is drawn from (the process's
    support; :class:`ctrlgen.DiffusionLM` sets it)."""

    noise_ids: torch.Tensor | None = None

    def _noise(self, count: int, generator: torch.Generator, device) -> torch.Tensor:
        if self.noise_ids is None or not len(self.noise_ids):
            raise InvalidArgumentError(f"{type(self).__name__} needs noise_ids: the tokens uniform noise is drawn from")
        pick = torch.randint(len(self.noise_ids), (count,), generator=generator)
        return self.noise_ids[pick].to(device)


@dataclass
class EntropyBoundSampler(UniformSampler):
    """DiffusionGemma's entropy-bounded acceptance with re-noising (see the module docstring).

    ``temperature`` scales the linear schedule (1: the published one). ``argmax_last``: the last step takes
    the most probable tokens, as DiffusionGemma's output is the argmax canvas of its last step (under hard
    constraints: the most probable valid assignment of the positions still free)."""

    steps: int | None = 48
    entropy_bound: float = 0.1
    temperature_start: float = 0.8
    temperature_end: float = 0.4
    confidence: float = 0.005
    argmax_last: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("entropy_bound", "confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int | float) and value >= 0):
                raise InvalidArgumentError(f"{name} must be a number >= 0, got {value!r}")
        for name in ("temperature_start", "temperature_end"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise InvalidArgumentError(f"{name} must be positive, got {value!r}")
        self._previous: torch.Tensor | None = None

    def total_steps(self, length: int) -> int:
        return self.steps or 48

    def temperature_at(self, state: StepState) -> float:
        remaining = (state.num_steps - state.step) / state.num_steps
        return self.temperature * (self.temperature_end + (self.temperature_start - self.temperature_end) * remaining)

    def greedy_at(self, state: StepState) -> bool:
        return self.argmax_last and state.s <= 0

    def network_input(self, x: torch.Tensor, free: torch.Tensor, step: int, generator: torch.Generator):
        if step == 0:
            self._previous = None
        inputs = x.clone()
        inputs[free] = self._noise(int(free.sum()), generator, x.device)
        return inputs

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        masked = state.masked
        if state.s <= 0:
            return masked.clone()
        rows = _masked_rows(state)
        # entropy of the tempered distribution, in the rows' own precision (a ranking, not a draw)
        lp = (rows.values / self.temperature_at(state)).log_softmax(-1)
        p = lp.exp()
        entropy = torch.zeros(masked.shape, dtype=torch.float64, device=masked.device)
        entropy[rows.rows, rows.cols] = -torch.where(p > 0, p * lp, torch.zeros_like(p)).sum(-1).double()
        best = torch.full(masked.shape, -1, dtype=torch.long, device=masked.device)
        best[rows.rows, rows.cols] = lp.argmax(-1)
        # lowest entropy first; a position is accepted when the entropies before it sum to at most the bound
        score = torch.where(masked, entropy, torch.full_like(entropy, float("inf")))
        order = score.argsort(dim=-1, stable=True)
        ranked = score.gather(-1, order)
        before = ranked.cumsum(-1) - ranked
        take = (before <= self.entropy_bound) & torch.isfinite(ranked)
        accept = torch.zeros_like(masked).scatter(-1, order, take) & masked
        count = masked.sum(-1).clamp_min(1)
        confident = (entropy * masked).sum(-1) / count <= self.confidence
        stable = torch.zeros_like(confident)
        if self._previous is not None and self._previous.shape == best.shape:
            stable = ((best == self._previous) | ~masked).all(-1)
        self._previous = best
        return accept | (masked & (confident & stable)[:, None])


@dataclass
class UniformAncestralSampler(UniformSampler):
    """The ancestral sampler of the uniform process (UDLM): posterior draws at the free positions, the clean
    tokens at the last step."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._z: torch.Tensor | None = None

    def network_input(self, x: torch.Tensor, free: torch.Tensor, step: int, generator: torch.Generator):
        if step == 0 or self._z is None or self._z.shape != x.shape:
            self._z = x.clone()
            self._z[free] = self._noise(int(free.sum()), generator, x.device)  # z_1: the uniform prior
        inputs = torch.where(free, self._z, x)
        return inputs

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return state.masked.clone() if state.s <= 0 else torch.zeros_like(state.masked)

    def step(self, state: StepState, guides=()) -> StepOutput:
        rows = _masked_rows(state)
        n = len(self.noise_ids)
        a_t = self._alpha(state.t)
        z_t = self._z[rows.rows, rows.cols]
        if state.s <= 0:
            # the clean token given z_t: x_theta reweighted by q(z_t | x0) = a_t [x0 = z_t] + (1 - a_t) / N
            boost = torch.log1p(torch.tensor(a_t * n / max(1.0 - a_t, 1e-12), dtype=rows.values.dtype))
            rows.values[torch.arange(len(z_t)), z_t] += boost.to(rows.values.device)
            state.log_probs = rows
            return super().step(state, guides)
        a_s = self._alpha(state.s)
        a_ts = a_t / max(a_s, 1e-12)
        g = state.generator
        probs = sampling_probs(rows.values, self.temperature_at(state), self.top_p)  # (M, V), guided
        # q(z_s = j | z_t, x) ~ [a_ts [j = z_t] + (1 - a_ts) / N] [a_s x_j + (1 - a_s) / N]: stay at z_t with
        # the weight of the first term's point mass, else draw from a_s x + (1 - a_s) / N
        stay_w = a_ts * (a_s * probs.gather(-1, z_t[:, None]).squeeze(-1) + (1.0 - a_s) / n)
        move_w = (1.0 - a_ts) / n
        u = torch.rand(len(z_t), generator=g, dtype=torch.float64).to(probs.device)
        stay = u * (stay_w + move_w) < stay_w
        from_model = torch.rand(len(z_t), generator=g, dtype=torch.float64).to(probs.device) < a_s
        has_mass = probs.sum(-1) > 0
        drawn = draw_from_uniforms(probs, torch.rand(len(z_t), 1, generator=g, dtype=torch.float64).to(probs.device))
        noise = self._noise(len(z_t), g, probs.device)
        z_s = torch.where(stay, z_t, torch.where(from_model & has_mass, drawn, noise))
        self._z[rows.rows, rows.cols] = z_s
        nothing = torch.zeros_like(state.masked)
        return StepOutput(state.tokens.clone(), nothing, probs.new_zeros(0), state.step, nothing)
