"""Sampling a model of the embedding process (Gaussian noise on token embeddings), with the masking samplers'
commit logic, so hard constraints hold exactly through the same guides.

Two things evolve together. The **latents** ``z_t`` (one vector per canvas position) follow Diffusion-LM's
reverse process: at every step the network predicts the clean embeddings, the prediction is *clamped* to the
embedding of a token (Li et al. 2022, sec. 4.2), and ``z_s`` is drawn from the Gaussian posterior
``q(z_s | z_t, x0 = clamp)``. The **token canvas** holds the positions already rounded: each step's rounding
distribution (minus the squared distance of the predicted vector to each token's embedding) is what the guides
see, so a constraint restricts it exactly as it restricts a masked model's distribution; the confidence sampler
commits the most confident positions, as many as the signal gained since the last step says, drawn jointly by
the constraint's guide. A committed position is fixed: its latent is its token's clean embedding from then on,
like a prompt's. The clamp of a free position is the likeliest token its guided distribution allows, so the
latents, too, only move towards what the constraint accepts; by the last step every position is committed and
the text matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..gaussian import GaussianSchedule
from ..guidance.interface import Guide, StepOutput, StepState
from .samplers import ConfidenceSampler

__all__ = ["LatentCanvas", "LatentSampler", "SignalSchedule"]


@dataclass
class LatentCanvas:
    """What the network reads at one step of a latent sampler: ``(B, L, D)`` latents of the canvas positions
    (free positions noisy, committed ones clean) and the ``(B,)`` time."""

    latents: torch.Tensor
    t: torch.Tensor

    def to(self, device) -> LatentCanvas:
        return LatentCanvas(self.latents.to(device), self.t.to(device))


@dataclass(frozen=True)
class SignalSchedule:
    """A Gaussian schedule seen as the masking samplers' ``alpha``: the signal fraction ``abar(t)``. Positions
    are then committed as the signal emerges, few while the latents are mostly noise."""

    gaussian: GaussianSchedule

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return self.gaussian.abar(t)


@dataclass
class LatentSampler(ConfidenceSampler):
    """Diffusion-LM's clamped reverse process, committing rounded positions in confidence order.

    Parameters
    ----------
    embeddings:
        ``(V, D)`` the model's token embeddings (its rounding targets).
    gaussian:
        The model's noise schedule.
    """

    embeddings: torch.Tensor | None = None
    gaussian: GaussianSchedule | None = None
    #: ``(canvas, z, t, free, var) -> z``: gradient guidance on the latents (``Style`` on this process), or None
    latent_guidance: object | None = None
    _z: torch.Tensor | None = field(default=None, repr=False)
    _clamp: torch.Tensor | None = field(default=None, repr=False)
    _t: float = field(default=1.0, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gaussian is not None and self.schedule is None:
            self.schedule = SignalSchedule(self.gaussian)

    def _abar(self, t: float) -> float:
        return float(self.gaussian.abar(torch.tensor([t], dtype=torch.float64)))

    def network_input(self, x: torch.Tensor, free: torch.Tensor, step: int, generator: torch.Generator):
        if self.embeddings is None or self.gaussian is None:
            raise ValueError("LatentSampler needs the model's embeddings and schedule")
        num_steps = self.total_steps(x.shape[1])
        t = 1.0 - step / num_steps
        emb = self.embeddings.to(x.device)
        clean = emb[x.clamp(0, emb.shape[0] - 1)]  # committed positions: their token's embedding
        shape = tuple(clean.shape)
        var = 1.0
        if step > 0 and (self._z is None or self._z.shape != clean.shape):
            raise RuntimeError("LatentSampler: the canvas changed shape between steps (it cannot be trimmed)")
        if step == 0:
            z = torch.randn(shape, generator=generator, dtype=torch.float64).to(clean)  # the prior at t = 1
        else:
            # the Gaussian posterior q(z_s | z_t, x0 = clamp) from the last step's time to this one's
            a_t, a_s = self._abar(self._t), self._abar(t)
            alpha_ts = a_t / a_s
            beta_ts = 1.0 - alpha_ts
            mean = (a_s**0.5 * beta_ts / (1 - a_t)) * self._clamp + (alpha_ts**0.5 * (1 - a_s) / (1 - a_t)) * self._z
            var = max((1 - a_s) / (1 - a_t) * beta_ts, 0.0)
            noise = torch.randn(shape, generator=generator, dtype=torch.float64).to(clean)
            z = mean + var**0.5 * noise
        z = torch.where(free[..., None], z, clean)
        times = torch.full((x.shape[0],), t, dtype=torch.float32, device=x.device)
        if self.latent_guidance is not None:
            z = self.latent_guidance(x, z, times, free, var)
        self._z, self._t = z, t
        return LatentCanvas(z, times)

    def step(self, state: StepState, guides=()) -> StepOutput:
        # the clamp for the next step: the likeliest token the guided distribution allows at a free position,
        # the committed token elsewhere (read before the step commits, so a position committed now clamps to
        # the token it gets below)
        output = super().step(state, guides)
        emb = self.embeddings.to(state.tokens.device)
        guided = state.log_probs.argmax(-1)
        tokens = torch.where(output.tokens != state.mask_token_id, output.tokens, guided)
        self._clamp = emb[tokens.clamp(0, emb.shape[0] - 1)].to(self._z.dtype)
        return output

    def run(self, denoise, canvas, mask_token_id, guides: list[Guide] | tuple = (), *args, **kwargs):
        self._z = self._clamp = None
        return super().run(denoise, canvas, mask_token_id, guides, *args, **kwargs)
