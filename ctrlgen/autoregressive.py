"""The autoregressive objective: the same network with a causal mask, trained on next-token loss.

It exists to be compared with: ``ctrlgen train --objective autoregressive`` builds the same-size model from
the same code, tokenizer, data, steps and optimiser as the diffusion denoiser, so the head-to-head
(``benchmarks/vs_autoregressive.py``) measures the objective and the decoding, nothing else.

The canvas of a training example is ``prefix + response + end + padding``; the prefix is the prompt and an
end token (or only the end token, as a start-of-text, for an unprompted document). Each response token and
the first end token after it are predicted from everything before them; padding after that end is not text
and is not scored (a denoiser must predict it, since it fills a fixed canvas; a left-to-right decoder stops).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .masking import DiffusionLoss

__all__ = ["AutoregressiveObjective"]


class AutoregressiveObjective:
    """Next-token cross-entropy over the response, per scored token."""

    def __init__(self, end_token_id: int) -> None:
        self.end_token_id = end_token_id

    def scored(self, x0: torch.Tensor, noisable: torch.Tensor | None) -> torch.Tensor:
        """``(B, L)`` bool: the targets scored, the response up to and including its first end token."""
        response = torch.ones_like(x0, dtype=torch.bool) if noisable is None else noisable.bool()
        is_end = (x0 == self.end_token_id) & response
        ended_before = (is_end.long().cumsum(1) - is_end.long()) > 0
        scored = response & ~ended_before
        scored[:, 0] = False  # nothing precedes the first position
        return scored

    def corrupt(self, x0: torch.Tensor, t: torch.Tensor, generator=None, noisable=None) -> torch.Tensor:
        return x0  # nothing is noised: the causal mask hides the future instead

    def loss(self, model, x0: torch.Tensor, generator=None, labels=None, noisable=None) -> DiffusionLoss:
        logits = model(x0) if labels is None else model(x0, labels=labels)
        scored = self.scored(x0, noisable)[:, 1:]
        ce = F.cross_entropy(logits[:, :-1].transpose(1, 2).float(), x0[:, 1:], reduction="none") * scored
        n = scored.sum().clamp_min(1)
        mean = ce.sum() / n
        return DiffusionLoss(loss=mean, nll_masked=mean, n_tokens=int(n))
