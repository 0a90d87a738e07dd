"""The forward processes a denoiser can be trained with, by name: the one place a name becomes a process.

``"masking"`` (absorbing ``[MASK]`` state, :mod:`ctrlgen.masking`), ``"uniform"`` (uniformly drawn tokens,
:mod:`ctrlgen.uniform`) and ``"embedding"`` (Gaussian noise on learned token embeddings,
:mod:`ctrlgen.gaussian`). A model records the name of its process in its config (``process``), so that
training, validation and the samplers all ask the same object, never assume masks.
"""

from __future__ import annotations

from typing import Protocol

import torch

from .errors import InvalidArgumentError
from .masking import DiffusionLoss, MaskingProcess
from .schedules import schedule_from_name
from .uniform import UniformProcess

__all__ = ["ForwardProcess", "PROCESSES", "process_for", "check_process_name"]

PROCESSES = ("masking", "uniform", "embedding")


class ForwardProcess(Protocol):
    """What training needs of a process: corrupt a clean batch and score a denoiser's reversal of it."""

    def corrupt(self, x0: torch.Tensor, t: torch.Tensor, generator=None, noisable=None) -> torch.Tensor: ...

    def loss(self, model, x0: torch.Tensor, generator=None, labels=None, noisable=None) -> DiffusionLoss: ...


def check_process_name(name: object) -> str:
    """``name`` if it names a process, else an :class:`InvalidArgumentError` listing those that exist."""
    if name not in PROCESSES:
        raise InvalidArgumentError(f"unknown forward process {name!r}; known: {', '.join(PROCESSES)}")
    return str(name)


def process_for(denoiser, name: str | None = None) -> ForwardProcess:
    """The process ``denoiser`` is trained with (``name``, or the one its config records); for the
    autoregressive baseline, its next-token objective."""
    if getattr(getattr(denoiser, "model", None), "causal", False):
        from .autoregressive import AutoregressiveObjective

        return AutoregressiveObjective(denoiser.end_token_id)
    name = check_process_name(name or getattr(denoiser, "process_name", "masking"))
    if name == "embedding":
        from .gaussian import EmbeddingProcess, gaussian_schedule_from_name

        if not hasattr(getattr(denoiser, "model", None), "predict_latent"):
            raise InvalidArgumentError(
                f"process 'embedding' needs ctrlgen's own denoiser, not a {denoiser.family} model"
            )
        return EmbeddingProcess(gaussian_schedule_from_name(denoiser.schedule_name))
    schedule = schedule_from_name(denoiser.schedule_name)
    if name == "masking":
        return MaskingProcess(schedule, denoiser.mask_token_id)
    known = len(denoiser.tokenizer)
    vocab_size = max(int(getattr(denoiser.model.config, "vocab_size", 0) or 0), known)
    # the mask token (where the vocabulary has one) and the padding rows of an output layer larger than the
    # tokenizer are never noise
    return UniformProcess(schedule, vocab_size, excluded=(denoiser.mask_token_id, *range(known, vocab_size)))
