"""The uniform-noise forward process and its continuous-time ELBO (UDLM; the process DiffusionGemma uses).

Forward: each token of the clean canvas ``x0`` is independently replaced by a token drawn uniformly from the
``N`` tokens of the noise support with probability ``1 - alpha(t)``, so that

    q(z_t | x) = alpha(t) * onehot(x) + (1 - alpha(t)) / N,

every position always holds a token, and at ``alpha(1) = 0`` the canvas is uniform noise (the prior). This is
a continuous-time Markov chain with rate ``beta(t) = -alpha'(t) / alpha(t)`` towards the uniform distribution.

Reverse model: the denoiser's distribution ``x_theta(z_t)`` over the clean token plugged into the same
marginal ("mean parameterisation", Schiff et al. 2024, "Simple Guidance Mechanisms for Discrete Diffusion
Models", sec. 3): with ``xbar = N alpha x + (1 - alpha)`` and ``xbar_theta = N alpha x_theta + (1 - alpha)``
(vectors over the support), the reverse rates from the current token ``i = z_t`` to ``j`` are
``beta / N * xbar_j / xbar_i`` (true, given ``x``) and ``beta / N * xbar_theta_j / xbar_theta_i`` (model).

Objective: the continuous-time negative ELBO of that chain (UDLM eq. 10; the CTMC bound of Campbell et al.
2022 written for uniform rates), per token,

    NELBO = E_t E_{z_t ~ q(.|x)} [ -alpha'(t) / (N alpha(t)) * sum_{j != i} ( r^_j - r_j - r_j log(r^_j / r_j) ) ]

with ``r_j = xbar_j / xbar_i`` and ``r^_j = xbar_theta_j / xbar_theta_i``. Each summand is a Bregman divergence
(``>= 0``, zero exactly when the model's ratios are the true ones); the prior term vanishes because
``alpha(1) = 0``, and the reconstruction term at ``t_min`` is dropped, as MDLM drops its own. The sums over the
vocabulary are taken in closed form (``xbar`` takes two values), so a step costs one ``log`` over ``(B, L, V)``.
"""

from __future__ import annotations

import torch

from .masking import DiffusionLoss, antithetic_times
from .schedules import NoiseSchedule

__all__ = ["UniformProcess", "uniform_nelbo_terms"]


def uniform_nelbo_terms(
    log_probs: torch.Tensor, x0: torch.Tensor, z_t: torch.Tensor, alpha: torch.Tensor, n: int
) -> torch.Tensor:
    """The bracketed sum of the NELBO at every position, ``(B, L)`` float32 (before the time weight).

    Parameters
    ----------
    log_probs:
        ``(B, L, V)`` the model's log-probabilities of the clean token, ``-inf`` outside the noise support.
    x0, z_t:
        ``(B, L)`` the clean and the noisy canvas (tokens of the support).
    alpha:
        ``(B,)`` ``alpha(t)`` of each row.
    n:
        Size ``N`` of the noise support.
    """
    a = alpha.clamp(1e-6, 1.0)[:, None]  # (B, 1)
    g = n * a / (1.0 - a).clamp_min(1e-12)  # xbar / (1 - alpha) = 1 + g * onehot: ratios only need g
    p = log_probs.exp()
    # u_y = 1 + g p_y (model), v_y = 1 + g [y == x0] (truth); their sums over the support are N + g
    sum_log_u = torch.log1p(g[..., None] * p).sum(-1)  # (B, L)
    p_i = p.gather(-1, z_t[..., None]).squeeze(-1)
    p_k = p.gather(-1, x0[..., None]).squeeze(-1)
    u_i, u_k = 1.0 + g * p_i, 1.0 + g * p_k
    same = (z_t == x0).float()
    v_i = 1.0 + g * same
    log_u_i, log_v_i = torch.log(u_i), torch.log(v_i)
    total = n + g
    sum_r_hat = (total - u_i) / u_i
    sum_r = (total - v_i) / v_i
    # sum_{j != i} v_j log u_j = sum_{j != i} log u_j + g [x0 != i] log u_k
    sum_v_log_u = (sum_log_u - log_u_i) + g * (1.0 - same) * torch.log(u_k)
    sum_r_log_r_hat = sum_v_log_u / v_i - sum_r * log_u_i
    sum_r_log_r = (1.0 + g) * (1.0 - same) * torch.log1p(g) / v_i - sum_r * log_v_i
    return sum_r_hat - sum_r - sum_r_log_r_hat + sum_r_log_r


class UniformProcess:
    """Corrupts clean canvases with uniformly drawn tokens and scores a denoiser on the uniform NELBO.

    Parameters
    ----------
    schedule:
        ``alpha(t)``; the same schedules as masking.
    vocab_size:
        The denoiser's output size ``V``.
    excluded:
        Token ids outside the noise support (the mask token of a vocabulary that has one): never drawn as
        noise, and given no mass by the model's distribution of the clean token.
    """

    def __init__(
        self, schedule: NoiseSchedule, vocab_size: int, excluded: tuple[int, ...] = (), t_min: float = 1e-3
    ) -> None:
        self.schedule = schedule
        self.vocab_size = vocab_size
        self.t_min = t_min
        support = torch.ones(vocab_size, dtype=torch.bool)
        for tok in excluded:
            if tok is not None and 0 <= tok < vocab_size:
                support[tok] = False
        self.support = support
        self.support_ids = torch.nonzero(support).squeeze(-1)
        self.n = int(support.sum())

    def sample_times(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return antithetic_times(batch, self.t_min, generator, device)

    def random_tokens(self, shape: tuple[int, ...], generator: torch.Generator | None = None, device=None):
        """Tokens drawn uniformly from the support."""
        pick = torch.randint(self.n, shape, generator=generator)
        return self.support_ids[pick].to(device)

    def corrupt(
        self,
        x0: torch.Tensor,
        t: torch.Tensor,
        generator: torch.Generator | None = None,
        noisable: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``z_t``: each token replaced by a uniform draw with probability ``1 - alpha(t)`` (the draw may be the
        token itself, as in ``q``); only ``noisable`` positions when given."""
        move = 1.0 - self.schedule.alpha(t)[:, None]
        u = torch.rand(x0.shape, generator=generator).to(x0.device)
        noise = self.random_tokens(tuple(x0.shape), generator, x0.device)
        hit = u < move.to(x0.device)
        if noisable is not None:
            hit &= noisable
        return torch.where(hit, noise, x0)

    def log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """float32 log-probabilities of the clean token over the support (``-inf`` elsewhere)."""
        masked = logits.float().masked_fill(~self.support.to(logits.device), float("-inf"))
        return masked.log_softmax(-1)

    def loss(
        self,
        model: torch.nn.Module,
        x0: torch.Tensor,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        noisable: torch.Tensor | None = None,
    ) -> DiffusionLoss:
        """Monte-Carlo NELBO per token (per response token with ``noisable``), the same contract as
        :meth:`ctrlgen.masking.MaskingProcess.loss`; ``nll_masked`` is the plain cross-entropy of the clean
        token at the positions the noise changed."""
        if not bool(self.support[x0.cpu()].all()):
            raise ValueError("the clean canvas holds tokens outside the noise support (the mask token?)")
        t = self.sample_times(x0.shape[0], generator, x0.device)
        z_t = self.corrupt(x0, t, generator, noisable)
        logits = model(z_t) if labels is None else model(z_t, labels=labels)
        log_probs = self.log_probs(logits)
        alpha = self.schedule.alpha(t).to(log_probs.device)
        weight = (-self.schedule.dalpha(t).to(log_probs.device) / (self.n * alpha.clamp_min(1e-6)))[:, None]
        terms = uniform_nelbo_terms(log_probs, x0, z_t, alpha, self.n) * weight
        scored = torch.ones_like(x0, dtype=torch.bool) if noisable is None else noisable
        terms = terms * scored
        n_tokens = max(int(scored.sum()), 1)
        changed = (z_t != x0) & scored
        ce = -log_probs.gather(-1, x0[..., None]).squeeze(-1)
        nll = (ce * changed).sum() / changed.sum().clamp_min(1)
        return DiffusionLoss(loss=terms.sum() / n_tokens, nll_masked=nll, n_tokens=n_tokens)
