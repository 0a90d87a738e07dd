"""Noise schedules of the masking forward process.

A schedule gives ``alpha(t)``, the probability that a token is still clean at time ``t`` in ``[0, 1]``, with
``alpha(0) = 1`` and ``alpha(1) = 0``, and the weight ``-alpha'(t) / (1 - alpha(t))`` of the continuous-time
ELBO (MDLM, Sahoo et al. 2024, eq. 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["NoiseSchedule", "LogLinearSchedule", "CosineSchedule", "SCHEDULES", "schedule_from_name"]


class NoiseSchedule:
    """Base class: subclasses define ``alpha`` and ``dalpha`` (its time derivative)."""

    name: str = ""

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """ELBO weight ``-alpha'(t) / (1 - alpha(t))``, positive and finite for ``t`` in ``(0, 1]``."""
        return -self.dalpha(t) / (1.0 - self.alpha(t))


@dataclass(frozen=True)
class LogLinearSchedule(NoiseSchedule):
    """``alpha(t) = 1 - t``: the total noise ``-log alpha`` grows log-linearly; weight ``1 / t``."""

    name: str = "loglinear"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - t

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.ones_like(t)


@dataclass(frozen=True)
class CosineSchedule(NoiseSchedule):
    """``alpha(t) = cos(pi t / 2)``: slower masking early, faster late."""

    name: str = "cosine"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        # clamp: cos(pi/2) is 6e-17 in floating point, and alpha(1) must be exactly 0
        return torch.cos(0.5 * math.pi * t).clamp_min(0.0) * (t < 1)

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)


SCHEDULES: dict[str, type[NoiseSchedule]] = {"loglinear": LogLinearSchedule, "cosine": CosineSchedule}


def schedule_from_name(name: str) -> NoiseSchedule:
    """The schedule registered under ``name`` (the one string lookup, used when reading a config)."""
    try:
        return SCHEDULES[name]()
    except KeyError:
        raise ValueError(f"unknown noise schedule {name!r}; known: {sorted(SCHEDULES)}") from None
