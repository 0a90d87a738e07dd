"""Gradient guidance on the latents of an embedding-process model (Diffusion-LM's plug-and-play control).

At every reverse step, before the network reads the latents, a few gradient-ascent steps move the free
positions' latents ``z`` towards what the style classifiers want:

    maximise   sum_k scale_k * log p_k(target_k | soft rounding of x_hat(z))  -  fluency / 2 * ||z - z_0||^2 / var

where ``z_0`` is the draw of the reverse process at this step and ``var`` the variance of that step's Gaussian
posterior: the second term is the log-density of the reverse step, so the latents stay where the model would
have put them, only tilted (Li et al. 2022, sec. 5.2, "fluency" term). Each ascent step is preconditioned by
``var`` (``z += lr * var * gradient``, as classifier guidance shifts a Gaussian step's mean by its covariance
times the gradient): the fluency pull is then ``lr * fluency`` of the distance whatever the step's variance, so
the iteration is stable (it diverges for ``lr * fluency / var > 2`` without it, and late steps' variances are
tiny), and the classifier's push shrinks as the reverse steps grow surer.

The classifier reads the *soft rounding*: the rounding distribution of the predicted clean embeddings (under the
run's label, the mask token excluded), as a relaxed one-hot canvas, the same input the classifier's gradient is
taken through for a masked model. A committed position is a point mass and does not move. With every scale 0
nothing is computed and the latents are exactly the unguided ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .latent import LatentCanvas

__all__ = ["LatentStyleGuidance"]


@dataclass
class LatentStyleGuidance:
    """Callable ``(canvas, z, t, free, var) -> z``: the guided latents of one step.

    Parameters
    ----------
    denoise:
        The :class:`~ctrlgen.denoising.CanvasDenoiser` of the run (prompt and label included).
    styles:
        The style guides (:class:`guidance.style.StyleGuide`): classifier, target and scale of each.
    steps, lr, fluency:
        Gradient steps per reverse step, their size, and the weight of staying near the reverse step's draw.
    """

    denoise: object
    styles: Sequence
    steps: int = 3
    lr: float = 0.5
    fluency: float = 1.0

    @property
    def active(self) -> bool:
        return any(g.scale != 0 for g in self.styles)

    def __call__(
        self, canvas: torch.Tensor, z: torch.Tensor, t: torch.Tensor, free: torch.Tensor, var: float
    ) -> torch.Tensor:
        if not self.active or not bool(free.any()):
            return z
        prior = z.detach()
        moving = free[..., None].to(z.dtype)
        z = prior.clone()
        for _ in range(self.steps):
            z.requires_grad_(True)
            with torch.enable_grad():
                soft = self._soft_rounding(canvas, z, t, free)
                objective = z.new_zeros(())
                for guide in self.styles:
                    if guide.scale == 0:
                        continue
                    model = guide.classifier.model
                    logits = model(one_hot=soft.to(next(model.parameters()).device))
                    objective = objective + guide.scale * logits.log_softmax(-1)[:, guide.target].sum().to(z.device)
                objective = objective - 0.5 * self.fluency * (((z - prior) ** 2) * moving).sum() / max(var, 1e-6)
            (grad,) = torch.autograd.grad(objective, z)
            z = (z + self.lr * var * grad * moving).detach()
        return z

    def _soft_rounding(self, canvas: torch.Tensor, z: torch.Tensor, t: torch.Tensor, free: torch.Tensor):
        """``(B, L, V)``: the rounding distribution of the predicted clean embeddings at free positions, the
        committed token's one-hot elsewhere; differentiable in ``z`` (no in-place step on the way)."""
        fn = self.denoise
        ids, keep, cols = fn._assemble(canvas)
        labels = None if fn.label is None else torch.full((canvas.shape[0],), fn.label, device=canvas.device)
        logits = fn._latent_network(ids, cols, LatentCanvas(z, t))(ids, keep, labels).float()
        logits = fn._canvas_columns(logits, canvas, cols)
        banned = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        if fn.banned is not None:
            banned[fn.banned.to(logits.device)] = True
        mask_id = fn.denoiser.mask_token_id
        if mask_id is not None and 0 <= mask_id < logits.shape[-1]:
            banned[mask_id] = True  # never data: SUBS gives it no mass either
        logits = logits.masked_fill(banned, float("-inf"))
        one_hot = torch.nn.functional.one_hot(canvas.clamp(0, logits.shape[-1] - 1), logits.shape[-1]).to(logits)
        return torch.where(free[..., None], logits.softmax(-1), one_hot)
