"""Gaussian noise on token embeddings (Diffusion-LM, Li et al. 2022): the design's second forward process.

Each token ``w`` is mapped to a learned embedding ``x = EMB(w)`` of small dimension; the forward process is the
variance-preserving Gaussian diffusion on those vectors,

    z_t = sqrt(abar(t)) * x + sqrt(1 - abar(t)) * eps,     eps ~ N(0, I),

with ``abar`` falling from about 1 at ``t = 0`` to about 0 at ``t = 1``. The network predicts ``x`` from
``z_t`` (the "x0" parameterisation Diffusion-LM found necessary for text), and a rounding head
``p(w | x) = softmax(EMB x)`` (the embedding matrix, tied) turns a vector back into a token.

Training minimises Diffusion-LM's ``L_simple`` plus its rounding term: the squared error of the predicted
embedding, and the cross-entropy of rounding the clean embedding (noised to the first step) to its token,
which keeps the learned embeddings apart so they never collapse to one point. Validation reports the
variational bound on ``-log p(w)`` per token in nats, in continuous time (Kingma et al. 2021, "Variational
Diffusion Models", eq. 17): the rounding cross-entropy at ``t_min``, the diffusion term, the integral of
``-1/2 * SNR'(t) * ||x - x_hat||^2`` over ``t`` in ``[t_min, 1]`` (estimated with times drawn uniformly in
``log(1 + SNR)``, which keeps its variance low), and the prior's KL at ``t = 1``.
With the embeddings deterministic given the token, this bounds the same quantity as the masking NELBO, so the
two processes compare on one scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .masking import DiffusionLoss, antithetic_times

__all__ = [
    "GaussianSchedule",
    "SqrtSchedule",
    "CosineGaussianSchedule",
    "GAUSSIAN_SCHEDULES",
    "gaussian_schedule_from_name",
    "EmbeddingProcess",
    "timestep_features",
]

#: the smallest and largest signal fraction a schedule may report (finite log-SNR at both ends)
_ABAR_MIN, _ABAR_MAX = 1e-5, 1.0 - 1e-5


class GaussianSchedule:
    """``abar(t)``, the fraction of signal variance left at time ``t`` in ``[0, 1]``, and its derivative."""

    name: str = ""

    def abar(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dabar(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        a = self.abar(t)
        return a / (1.0 - a)

    def dsnr(self, t: torch.Tensor) -> torch.Tensor:
        """``d SNR / dt`` (negative: the signal-to-noise ratio falls with time)."""
        a = self.abar(t)
        return self.dabar(t) / (1.0 - a) ** 2

    def log1p_snr(self, t: torch.Tensor) -> torch.Tensor:
        """``u(t) = log(1 + SNR(t)) = -log(1 - abar(t))``, falling from its largest value at ``t = 0``."""
        return -torch.log1p(-self.abar(t))

    def time_at(self, u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        """The time in ``[lo, hi]`` where ``log1p_snr`` equals ``u`` (bisection: it is monotone for every
        schedule, clamps included, and 60 halvings reach float64 resolution)."""
        a = torch.full_like(u, lo, dtype=torch.float64)
        b = torch.full_like(u, hi, dtype=torch.float64)
        u = u.double()
        for _ in range(60):
            mid = 0.5 * (a + b)
            above = self.log1p_snr(mid) > u  # still too early: the answer lies later
            a, b = torch.where(above, mid, a), torch.where(above, b, mid)
        return (0.5 * (a + b)).float()


@dataclass(frozen=True)
class SqrtSchedule(GaussianSchedule):
    """Diffusion-LM's schedule, ``abar(t) = 1 - sqrt(t + s)``: noise rises fast at first, so that even small
    ``t`` makes the embedding ambiguous, which a discrete target needs (Li et al. 2022, sec. 4.3)."""

    s: float = 1e-4
    name: str = "sqrt"

    def abar(self, t: torch.Tensor) -> torch.Tensor:
        return (1.0 - torch.sqrt(t + self.s)).clamp(_ABAR_MIN, _ABAR_MAX)

    def dabar(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 / torch.sqrt(t + self.s)


@dataclass(frozen=True)
class CosineGaussianSchedule(GaussianSchedule):
    """Nichol & Dhariwal's cosine schedule, ``abar(t) = cos^2(pi/2 (t + s) / (1 + s)) / cos^2(pi/2 s / (1 + s))``."""

    s: float = 0.008
    name: str = "cosine"

    def _f(self, t: torch.Tensor) -> torch.Tensor:
        return torch.cos(0.5 * math.pi * (t + self.s) / (1.0 + self.s)) ** 2

    def abar(self, t: torch.Tensor) -> torch.Tensor:
        f0 = math.cos(0.5 * math.pi * self.s / (1.0 + self.s)) ** 2
        return (self._f(t) / f0).clamp(_ABAR_MIN, _ABAR_MAX)

    def dabar(self, t: torch.Tensor) -> torch.Tensor:
        f0 = math.cos(0.5 * math.pi * self.s / (1.0 + self.s)) ** 2
        angle = 0.5 * math.pi * (t + self.s) / (1.0 + self.s)
        return -(math.pi / (1.0 + self.s)) * torch.sin(angle) * torch.cos(angle) / f0


GAUSSIAN_SCHEDULES: dict[str, type[GaussianSchedule]] = {"sqrt": SqrtSchedule, "cosine": CosineGaussianSchedule}


def gaussian_schedule_from_name(name: str) -> GaussianSchedule:
    """The Gaussian schedule registered under ``name`` (``"sqrt"``, ``"cosine"``)."""
    try:
        return GAUSSIAN_SCHEDULES[name]()
    except KeyError:
        raise ValueError(
            f"unknown noise schedule {name!r} for the embedding process; known: {sorted(GAUSSIAN_SCHEDULES)}"
        ) from None


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``(B,)`` times in ``[0, 1]`` -> ``(B, dim)`` sinusoidal features (Transformer positions of ``1000 t``):
    a Gaussian latent does not tell the network how noisy it is the way a count of masks does."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = 1000.0 * t.float()[:, None] * freqs[None, :]
    out = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return F.pad(out, (0, dim - 2 * half))


class EmbeddingProcess:
    """Corrupts token embeddings with Gaussian noise and scores a denoiser that predicts the clean embedding.

    The model is reached through three methods of ctrlgen's own network (:class:`~ctrlgen.model.DenoiserModel`
    built with ``process="embedding"``): ``latent_embedding(ids)``, ``predict_latent(z, t, labels)`` and
    ``round_logits(x)``; other families do not have them (training refuses them by name first).
    """

    def __init__(self, schedule: GaussianSchedule, t_min: float = 1e-3) -> None:
        self.schedule = schedule
        self.t_min = t_min

    def sample_times(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return antithetic_times(batch, self.t_min, generator, device)

    def corrupt(
        self,
        x0: torch.Tensor,
        t: torch.Tensor,
        generator: torch.Generator | None = None,
        noisable: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``z_t`` from clean embeddings ``x0`` (``(B, L, D)``); positions outside ``noisable`` stay clean (a
        prompt's embeddings are fixed)."""
        a = self.schedule.abar(t).to(x0.device, x0.dtype)[:, None, None]
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
        z = a.sqrt() * x0 + (1.0 - a).sqrt() * eps
        return z if noisable is None else torch.where(noisable[..., None], z, x0)

    @staticmethod
    def _network(model):
        """The network behind a denoiser wrapper (``NativeDenoiser.model``), or the network itself."""
        return model if hasattr(model, "predict_latent") else model.model

    def _terms(self, model, ids, t, generator, labels, noisable, attention_mask=None):
        net = self._network(model)
        x0 = net.latent_embedding(ids)
        z = self.corrupt(x0, t, generator, noisable)
        x_hat = net.predict_latent(z, t, labels=labels, attention_mask=attention_mask)
        scored = torch.ones_like(ids, dtype=torch.bool) if noisable is None else noisable
        sq_err = ((x_hat.float() - x0.float()) ** 2).sum(-1)  # (B, L)
        # rounding: the clean embedding at the first step's noise level back to its token
        t0 = torch.full_like(t, self.t_min)
        z0 = self.corrupt(x0, t0, generator, noisable)
        round_ce = F.cross_entropy(net.round_logits(z0).float().transpose(1, 2), ids, reduction="none")
        hat_ce = F.cross_entropy(net.round_logits(x_hat).float().transpose(1, 2), ids, reduction="none")
        return x0, sq_err, round_ce, hat_ce, scored

    def loss(
        self,
        model,
        x0: torch.Tensor,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        noisable: torch.Tensor | None = None,
    ) -> DiffusionLoss:
        """Diffusion-LM's training loss per scored token: squared error of the predicted embedding plus the
        rounding cross-entropy (``x0`` here is the clean *token* canvas, as for the other processes).
        ``nll_masked`` is the cross-entropy of rounding the *predicted* embedding: what sampling will read."""
        t = self.sample_times(x0.shape[0], generator, x0.device)
        emb, sq_err, round_ce, hat_ce, scored = self._terms(model, x0, t, generator, labels, noisable)
        return _averaged(sq_err / emb.shape[-1] + round_ce, hat_ce, scored)

    def bound(
        self,
        model,
        x0: torch.Tensor,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        noisable: torch.Tensor | None = None,
    ) -> DiffusionLoss:
        """The continuous-time variational bound on ``-log p(w)`` per scored token, in nats: rounding + diffusion
        + prior terms, one Monte-Carlo draw per row.

        The diffusion term ``int -1/2 SNR'(t) ||x - x_hat||^2 dt`` is estimated with times drawn uniformly in
        ``u = log(1 + SNR)`` rather than in ``t``: then it reads ``(u_max - u_min) * E_u[1/2 (1 + SNR) ||x -
        x_hat||^2]``, and since a good denoiser's error shrinks like ``1 / (1 + SNR)`` the draws are about
        equal; drawn uniformly in ``t``, the weight grows without limit towards ``t_min`` and a few draws there
        decide the estimate."""
        u_hi = float(self.schedule.log1p_snr(torch.tensor([self.t_min], dtype=torch.float64)))
        u_lo = float(self.schedule.log1p_snr(torch.tensor([1.0], dtype=torch.float64)))
        u = u_lo + (u_hi - u_lo) * antithetic_times(x0.shape[0], 0.0, generator).double()
        t = self.schedule.time_at(u, self.t_min, 1.0).to(x0.device)
        emb, sq_err, round_ce, hat_ce, scored = self._terms(model, x0, t, generator, labels, noisable)
        one_plus_snr = torch.exp(u).float().to(sq_err.device)
        weight = (0.5 * (u_hi - u_lo) * one_plus_snr)[:, None]
        a1 = self.schedule.abar(torch.ones(1, device=emb.device))
        mean_sq = (emb.float() ** 2).sum(-1)
        d = emb.shape[-1]
        prior_kl = 0.5 * (a1 * mean_sq + d * (1.0 - a1) - d - d * torch.log(1.0 - a1))  # KL(q(z_1|x) || N(0, I))
        return _averaged(round_ce + weight * sq_err + prior_kl, hat_ce, scored)


def _averaged(per_token: torch.Tensor, hat_ce: torch.Tensor, scored: torch.Tensor) -> DiffusionLoss:
    """Both objectives' per-token terms (and the rounding cross-entropy) averaged over the scored positions."""
    n = max(int(scored.sum()), 1)
    return DiffusionLoss(loss=(per_token * scored).sum() / n, nll_masked=(hat_ce * scored).sum() / n, n_tokens=n)
