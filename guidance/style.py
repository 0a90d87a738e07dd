"""Classifier guidance at every reverse step.

First-order estimate (as in gradient-based discrete guidance): with ``x`` the current canvas as one-hot rows
and ``g = d log p(y | x) / d x`` (``(B, L, V)``), replacing the token at position ``i`` by ``v`` changes
``log p(y | x)`` by about ``g[i, v] - g[i, x_i]``; that, times ``scale``, is added to the denoiser's
log-probabilities at every masked position. One forward and one backward pass of the classifier per step.
A hard constraint's mask stays exact: ``-inf`` plus anything is ``-inf``.

Exact re-scoring (``top_k > 0``) evaluates the classifier on the canvas with each of the k most likely tokens
put in at each masked position, and uses the exact change instead of the estimate (others are dropped).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .classifier import StyleClassifier
from .interface import Guide, StepState

__all__ = ["StyleGuide", "target_log_prob_gradient"]


def target_log_prob_gradient(
    classifier: StyleClassifier, tokens: torch.Tensor, target: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p(target | tokens)`` ``(B,)`` and its gradient with respect to the one-hot input ``(B, L, V)``."""
    model = classifier.model
    device = next(model.parameters()).device
    with torch.enable_grad():
        one_hot = F.one_hot(tokens.to(device), model.config.vocab_size).float().requires_grad_(True)
        logp = model(one_hot=one_hot).log_softmax(-1)[:, target]
        (grad,) = torch.autograd.grad(logp.sum(), one_hot)
    return logp.detach().to(tokens.device), grad.to(tokens.device)


class StyleGuide(Guide):
    """Adds ``scale`` times the classifier's estimated change of ``log p(target)`` to the log-probabilities."""

    def __init__(
        self,
        classifier: StyleClassifier,
        target: int,
        scale: float,
        top_k: int = 0,
        start: float = 0.0,
        stop: float = 1.0,
    ) -> None:
        self.classifier, self.target, self.scale, self.top_k = classifier, target, float(scale), top_k
        self.start, self.stop = start, stop
        self.trace: list[torch.Tensor] = []  #: p(target | canvas) per step, (B,) each: what a notebook plots

    follows_cut = True  # each step reads only that step's canvas

    def prepare(self, tokens: torch.Tensor, masked: torch.Tensor) -> None:
        self.trace = []

    def process_logits(self, state: StepState) -> torch.Tensor:
        if self.scale == 0 or self.top_k:  # no gradient needed: p(target) for the trace (and the re-scoring)
            logp = self._log_prob(state.tokens)
            self.trace.append(logp.exp().cpu())
            return state.log_probs if self.scale == 0 else self._rescore(state, logp)
        logp, grad = target_log_prob_gradient(self.classifier, state.tokens, self.target)
        self.trace.append(logp.exp().cpu())
        delta = grad - grad.gather(-1, state.tokens.unsqueeze(-1))
        return state.log_probs + self.scale * delta * state.masked.unsqueeze(-1)

    @torch.no_grad()
    def _log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        device = next(self.classifier.model.parameters()).device
        return self.classifier.model(tokens.to(device)).log_softmax(-1)[:, self.target].to(tokens.device)

    @torch.no_grad()
    def _rescore(self, state: StepState, logp: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        lp = state.log_probs
        out = torch.full_like(lp, float("-inf"))
        out[~state.masked] = lp[~state.masked]
        rows, cols = state.masked.nonzero(as_tuple=True)
        k = min(self.top_k, lp.shape[-1])
        top_lp, top_tok = lp[rows, cols].topk(k, dim=-1)  # (M, k)
        canvases = state.tokens[rows].unsqueeze(1).repeat(1, k, 1)  # (M, k, L)
        canvases[torch.arange(len(rows))[:, None], torch.arange(k)[None, :], cols[:, None]] = top_tok
        flat = canvases.reshape(-1, canvases.shape[-1])
        device = next(self.classifier.model.parameters()).device
        scores = torch.cat(
            [
                self.classifier.model(flat[i : i + chunk].to(device)).log_softmax(-1)[:, self.target].to(lp.device)
                for i in range(0, len(flat), chunk)
            ]
        ).view(-1, k)
        gain = self.scale * (scores - logp[rows].unsqueeze(1))
        out[rows.unsqueeze(1), cols.unsqueeze(1), top_tok] = top_lp + gain
        return out
