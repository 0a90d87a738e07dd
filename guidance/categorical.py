"""Categorical draws and sampling distributions in float64.

A float32 inverse-CDF draw can land on a zero-weight candidate when cumulative sums round; in float64, with
``searchsorted(..., right=True)``, a candidate whose weight is exactly zero occupies an empty interval of the
CDF and is never returned.
"""

from __future__ import annotations

import torch

__all__ = ["sampling_probs", "draw_categorical"]


def sampling_probs(log_probs: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0) -> torch.Tensor:
    """``(..., V)`` float64 probabilities after temperature and nucleus (top-p) truncation.

    A row with no finite entry (every token forbidden) comes back all zero, which callers treat as an error.
    """
    logits = log_probs.double() / temperature
    finite = torch.isfinite(logits).any(-1, keepdim=True)
    logits = torch.where(finite, logits, torch.zeros_like(logits))
    probs = torch.softmax(logits, dim=-1) * finite
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p
        # keep the smallest prefix whose mass reaches top_p (the first token is always kept)
        sorted_p = torch.where(before < top_p, sorted_p, torch.zeros_like(sorted_p))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-300)
    return probs


def draw_categorical(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row of ``(..., V)`` non-negative weights (need not sum to 1), drawn by inverse CDF in
    float64 with uniforms from ``generator`` (a CPU generator, so a seed gives the same draws on any device).
    Rows of zero total weight return index 0; callers mask them out."""
    weights = probs.double()
    cdf = weights.cumsum(-1)
    total = cdf[..., -1:]
    u = torch.rand(weights.shape[:-1] + (1,), generator=generator, dtype=torch.float64).to(weights.device)
    idx = torch.searchsorted(cdf, u * total, right=True)
    return idx.clamp_max(weights.shape[-1] - 1).squeeze(-1)
