"""The masking (absorbing-state) forward process and its training objective, MDLM-style.

Forward: each token of the clean canvas ``x0`` is independently replaced by ``[MASK]`` with probability
``1 - alpha(t)``. Reverse model: the SUBS parameterization (MDLM sec. 3.2), which puts no mass on ``[MASK]``
and copies unmasked tokens through. Objective: the continuous-time negative ELBO (MDLM eq. 10),

    NELBO = E_t [ w(t) * sum_{i masked} -log p_theta(x0_i | x_t) ],   w(t) = -alpha'(t) / (1 - alpha(t)),

estimated with antithetic (low-discrepancy) time samples to cut its variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .schedules import NoiseSchedule

__all__ = ["MaskingProcess", "DiffusionLoss", "subs_log_probs", "antithetic_times"]


def _without_mask(logits: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """float32 copy of ``logits`` with ``[MASK]`` at ``-inf`` (out of place: autograd may need the input)."""
    index = torch.tensor([mask_token_id], device=logits.device)
    return logits.float().index_fill(-1, index, float("-inf"))


def subs_log_probs(
    logits: torch.Tensor, x_t: torch.Tensor, mask_token_id: int, banned: torch.Tensor | None = None
) -> torch.Tensor:
    """Log-probabilities of the clean token under SUBS.

    Parameters
    ----------
    logits:
        ``(B, L, V)`` raw logits from the denoiser.
    x_t:
        ``(B, L)`` int64 noisy canvas.
    banned:
        Token ids that are never text (a pretrained model's ``[CLS]``, ``[UNK]``...): no mass either.

    Returns
    -------
    torch.Tensor
        ``(B, L, V)`` float32 log-probabilities: ``-inf`` on ``[MASK]`` everywhere, and a point mass on the
        current token at unmasked positions.
    """
    log_probs = _without_mask(logits, mask_token_id)
    if banned is not None and banned.numel():
        log_probs.index_fill_(-1, banned.to(log_probs.device), float("-inf"))
    log_probs = log_probs.log_softmax(-1)
    fixed = x_t != mask_token_id
    if fixed.any():
        point = torch.full_like(log_probs[fixed], float("-inf"))
        point.scatter_(-1, x_t[fixed].unsqueeze(-1), 0.0)
        log_probs[fixed] = point
    return log_probs


def antithetic_times(batch: int, t_min: float, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Antithetic times: one uniform offset, then evenly spaced, in ``[t_min, 1]`` (MDLM appendix); every
    forward process samples its training times this way."""
    u = torch.rand(1, generator=generator).item()
    t = (u + torch.arange(batch, dtype=torch.float32) / batch) % 1.0
    return (t_min + (1.0 - t_min) * t).to(device)


@dataclass
class DiffusionLoss:
    """What one evaluation of the objective returns."""

    loss: torch.Tensor  #: scalar, NELBO per token (what is minimised)
    nll_masked: torch.Tensor  #: scalar, plain cross-entropy per masked token (easier to read)
    n_tokens: int  #: tokens the NELBO was averaged over


class MaskingProcess:
    """Corrupts clean canvases and scores a denoiser on them."""

    def __init__(self, schedule: NoiseSchedule, mask_token_id: int, t_min: float = 1e-3) -> None:
        self.schedule = schedule
        self.mask_token_id = mask_token_id
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
        """``x_t``: each token masked with probability ``1 - alpha(t)``; ``t`` is ``(B,)``. With ``noisable``
        (``(B, L)`` bool), only those positions can be masked: a prompt stays clean."""
        move = 1.0 - self.schedule.alpha(t)[:, None]
        u = torch.rand(x0.shape, generator=generator).to(x0.device)
        hit = u < move
        if noisable is not None:
            hit &= noisable
        return torch.where(hit, torch.full_like(x0, self.mask_token_id), x0)

    def loss(
        self,
        model: torch.nn.Module,
        x0: torch.Tensor,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        noisable: torch.Tensor | None = None,
    ) -> DiffusionLoss:
        """Monte-Carlo NELBO of ``model`` (a :class:`~ctrlgen.denoisers.Denoiser` or anything called as
        ``model(x_t, labels=...)``) on the clean batch ``x0`` (``(B, L)`` int64), optionally conditioned on
        ``labels`` (``(B,)``). With ``noisable`` (``(B, L)`` bool) only the response is noised and scored, as
        in LLaDA's supervised fine-tuning; the NELBO is then per response token."""
        t = self.sample_times(x0.shape[0], generator, x0.device)
        x_t = self.corrupt(x0, t, generator, noisable)
        logits = model(x_t) if labels is None else model(x_t, labels=labels)
        masked = x_t == self.mask_token_id
        if noisable is not None:
            masked &= noisable  # a prompt token that happens to be the mask token is not a noised one
        # Cross-entropy at masked positions only; SUBS makes the unmasked terms exactly zero.
        logits = _without_mask(logits, self.mask_token_id)
        ce = F.cross_entropy(logits.transpose(1, 2), x0, reduction="none") * masked
        weighted = self.schedule.weight(t)[:, None] * ce
        n_tokens = int(noisable.sum()) if noisable is not None else x0.numel()
        n_tokens = max(n_tokens, 1)
        n_masked = masked.sum().clamp_min(1)
        return DiffusionLoss(loss=weighted.sum() / n_tokens, nll_masked=ce.sum() / n_masked, n_tokens=n_tokens)
