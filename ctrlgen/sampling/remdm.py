"""ReMDM: a self-correcting sampler that remasks committed tokens (Wang, Schiff, Sahoo and Kuleshov 2025,
"Remasking Discrete Diffusion Models with Inference-Time Scaling", arXiv:2503.00307).

ReMDM replaces MDLM's reverse posterior by one with a remasking probability ``sigma_t`` (paper §3):

* a committed token (``z_t != m``) stays with probability ``1 - sigma_t`` and is masked again with ``sigma_t``;
* a masked token (``z_t = m``) is unmasked with ``(alpha_s - (1 - sigma_t) alpha_t) / (1 - alpha_t)`` and stays
  masked with ``(1 - alpha_s - sigma_t alpha_t) / (1 - alpha_t)``;

which keeps MDLM's marginals ``q(z_t | x)`` for any ``0 <= sigma_t <= sigma_t^max = min(1, (1 - alpha_s) /
alpha_t)``; ``sigma_t = 0`` is MDLM. The paper's schedules for ``sigma_t`` (§4.1) are max-capped
``min(eta_cap, sigma_t^max)``, rescaled ``eta_rescale * sigma_t^max`` and confidence-based (committed tokens
that were drawn with low probability are remasked first); §4.2 turns remasking on only part of the way:
ReMDM-switch (from ``t_switch`` on) and ReMDM-loop (MDLM down to ``alpha(t_on)``, then remasking at a constant
``alpha(t_on)`` until ``t_off``, then MDLM to the end).

Formulas are cited in the comments by the paper's section and written out in full; its equation numbers were
not checked against the PDF, so none is quoted. The arithmetic follows the authors' sampler code
(kuleshov-group/remdm) where the text leaves a choice: the loop's piecewise-linear alpha, and ``"conf"``
spending ``sigma_t^max`` and leaving masked positions to MDLM's unmasking probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import InvalidArgumentError
from ..guidance.interface import StepState
from .base import Sampler, remaskable

__all__ = ["RemaskingSampler", "REMASKING_SCHEDULES"]

#: The remasking schedules of ReMDM §4.1.
REMASKING_SCHEDULES = ("cap", "rescale", "conf")


@dataclass
class RemaskingSampler(Sampler):
    """ReMDM (arXiv:2503.00307): ancestral unmasking plus remasking of committed tokens, so early mistakes can
    be redrawn with more context. Registered as ``"remdm"``.

    Default: the paper's recommended setting for text when the step budget is at least the canvas length
    (our default, one step per position): **ReMDM-loop with the max-capped schedule, eta_cap = 0.02,
    t_on = 0.55, t_off = 0.05, alpha(t_on) = 0.9** -- the paper's OpenWebText setting for its
    inference-time-scaling experiments (T >= L; §5.1), with the values of the authors'
    ``scripts/remdm-loop.sh`` (kuleshov-group/remdm). With fewer steps than positions (T < L) the paper uses
    the max-capped schedule without the loop, eta_cap = 0.04: ``RemaskingSampler(loop=False, eta=0.04)``.

    Each step (t -> s): every committed token that was not fixed from the start is remasked with probability
    ``sigma_t`` (never at the last step), every masked one is unmasked with probability
    ``(alpha_s - (1 - sigma_t) alpha_t) / (1 - alpha_t)`` (clamped to [0, 1]); the last step unmasks all.
    Committed tokens are drawn as by the other samplers (a hard-constraint guide draws them jointly), and
    the hard-constraint guide recomputes feasibility from the canvas each step, so a remasked position is
    free again for it. Deterministic under the seed (float64 uniforms from the CPU generator).

    Parameters
    ----------
    eta:
        eta_cap of the max-capped schedule or eta_rescale of the rescaled one, in [0, 1]; 0 is MDLM. Not
        used by ``"conf"`` (its budget is ``sigma_t^max``, as in the authors' code).
    remasking:
        ``"cap"`` (sigma_t = min(eta, sigma_t^max)), ``"rescale"`` (sigma_t = eta * sigma_t^max) or ``"conf"``
        (committed token l remasked with probability softmax_l(-psi) * sigma_t^max, psi_l the probability it
        was drawn with, over the committed positions of its row; masked positions then unmask as in MDLM).
    loop:
        ReMDM-loop (§4.2). Its alpha(t) is the paper's piecewise-linear one (0 -> alpha_on over [1, t_on],
        alpha_on on [t_off, t_on], alpha_on -> 1 over [t_off, 0]); ``schedule`` is then not used.
    t_on, t_off, alpha_on:
        The loop's window ``0 < t_off < t_on < 1`` and the constant ``alpha(t_on)`` in (0, 1) inside it.
    t_switch:
        ReMDM-switch (§4.2, without the loop): remask only at steps with ``t <= t_switch``; None remasks at
        every step. Cannot be combined with ``loop``.
    """

    eta: float = 0.02
    remasking: str = "cap"
    loop: bool = True
    t_on: float = 0.55
    t_off: float = 0.05
    alpha_on: float = 0.9
    t_switch: float | None = None

    remasks: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.eta) and 0.0 <= self.eta <= 1.0):
            raise InvalidArgumentError(f"eta must be in [0, 1], got {self.eta}")
        if self.remasking not in REMASKING_SCHEDULES:
            raise InvalidArgumentError(
                f"unknown remasking schedule {self.remasking!r}; choose one of {', '.join(REMASKING_SCHEDULES)}"
            )
        if not 0.0 < self.t_off < self.t_on < 1.0:
            raise InvalidArgumentError(f"the loop needs 0 < t_off < t_on < 1, got t_off={self.t_off}, t_on={self.t_on}")
        if not 0.0 < self.alpha_on < 1.0:
            raise InvalidArgumentError(f"alpha_on must be in (0, 1), got {self.alpha_on}")
        if self.t_switch is not None:
            if not 0.0 < self.t_switch <= 1.0:
                raise InvalidArgumentError(f"t_switch must be in (0, 1], got {self.t_switch}")
            if self.loop:
                raise InvalidArgumentError("t_switch (ReMDM-switch) and loop (ReMDM-loop) exclude each other")

    # -- the schedule ----------------------------------------------------------------------------------------

    def _loop_alpha(self, t: float) -> float:
        """ReMDM-loop's alpha(t) (§4.2): linear 0 -> alpha_on on [1, t_on], constant alpha_on on [t_off, t_on],
        linear alpha_on -> 1 on [t_off, 0]."""
        if t >= self.t_on:
            return self.alpha_on * (1.0 - t) / (1.0 - self.t_on)
        if t > self.t_off:
            return self.alpha_on
        return 1.0 - (1.0 - self.alpha_on) * t / self.t_off

    def _alphas(self, state: StepState) -> tuple[float, float]:
        if self.loop:
            return self._loop_alpha(state.t), self._loop_alpha(state.s)
        return self._alpha(state.t), self._alpha(state.s)

    def _remasking_on(self, state: StepState) -> bool:
        if state.s <= 0:
            return False  # the last step leaves no mask
        if self.loop:
            return state.t <= self.t_on and state.s >= self.t_off  # inside the loop window: alpha_t = alpha_s
        return self.t_switch is None or state.t <= self.t_switch

    def rates(self, state: StepState) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, L)`` float64 probabilities of this step: unmasking each masked position, and remasking each
        committed one (zero where a position may not be remasked)."""
        shape, device = state.masked.shape, state.masked.device
        if state.s <= 0:
            return torch.ones(shape, dtype=torch.float64, device=device), torch.zeros(
                shape, dtype=torch.float64, device=device
            )
        a_t, a_s = self._alphas(state)
        # sigma_t^max = min(1, (1 - alpha_s) / alpha_t): the largest sigma_t that keeps MDLM's marginals (§3)
        sigma_max = 1.0 if a_t <= 0 else min(1.0, (1.0 - a_s) / a_t)
        eligible = remaskable(state)
        sigma_masked = 0.0  # sigma_t used in the unmasking probability of masked positions
        if not self._remasking_on(state):
            sigma = torch.zeros(shape, dtype=torch.float64, device=device)
        elif self.remasking == "conf":
            # §4.1 confidence-based: eta_conf^l = exp(-psi_l) / sum_l' exp(-psi_l') over the committed positions,
            # sigma_t^l = eta_conf^l * sigma_t^max; psi_l = probability of token l when it was committed
            psi = state.commit_probs if state.commit_probs is not None else torch.ones(shape, dtype=torch.float64)
            score = torch.where(eligible, -psi.to(device=device, dtype=torch.float64), -math.inf)
            weight = torch.softmax(score, dim=-1).nan_to_num(0.0)  # a row with nothing eligible: all -inf -> 0
            sigma = weight * sigma_max
        else:
            # §4.1 max-capped: sigma_t = min(eta_cap, sigma_t^max); rescaled: sigma_t = eta_rescale * sigma_t^max
            sigma_masked = min(self.eta, sigma_max) if self.remasking == "cap" else self.eta * sigma_max
            sigma = torch.full(shape, sigma_masked, dtype=torch.float64, device=device)
        sigma = torch.where(eligible, sigma, torch.zeros_like(sigma))
        # §3, the remasking posterior at a masked position: unmask with (alpha_s - (1 - sigma_t) alpha_t)/(1 - alpha_t)
        unmask = (a_s - (1.0 - sigma_masked) * a_t) / max(1.0 - a_t, 1e-12)
        unmask_p = torch.full(shape, max(0.0, min(1.0, unmask)), dtype=torch.float64, device=device)
        return unmask_p, sigma

    # -- the step's choices ----------------------------------------------------------------------------------

    def select(self, state: StepState, candidate_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        unmask_p, _ = self.rates(state)
        u = torch.rand(state.masked.shape, generator=generator, dtype=torch.float64).to(state.masked.device)
        return state.masked & (u < unmask_p)

    def remask(self, state: StepState, generator: torch.Generator) -> torch.Tensor:
        # §3, the remasking posterior at a committed position: masked again with probability sigma_t
        _, sigma = self.rates(state)
        if not (sigma > 0).any():
            return torch.zeros_like(state.masked)  # no draw: with sigma_t = 0 the step is MDLM's, draw for draw
        u = torch.rand(state.masked.shape, generator=generator, dtype=torch.float64).to(state.masked.device)
        return remaskable(state) & (u < sigma)
