"""An untrained one-layer denoiser over a given tokenizer: near-uniform predictions, so the model never helps a
constraint. The hardest case for the engine, and fast: what the tests and the fuzzer drive."""

from __future__ import annotations

import torch

from ..config import DenoiserConfig
from ..guidance.vocabulary import tokenizer_fingerprint
from ..model import DenoiserModel
from ..pipeline import DiffusionLM

__all__ = ["untrained_lm"]


def untrained_lm(tokenizer, max_canvas: int = 256, seed: int = 0) -> DiffusionLM:
    """A :class:`DiffusionLM` with a randomly initialised denoiser (width 16, one layer) for ``tokenizer``."""
    torch.manual_seed(seed)
    config = DenoiserConfig(
        vocab_size=len(tokenizer),
        max_canvas=max_canvas,
        d_model=16,
        n_layers=1,
        n_heads=2,
        d_ff=32,
        dropout=0.0,
        mask_token_id=tokenizer.mask_token_id,
        end_token_id=tokenizer.pad_token_id,
        tokenizer_hash=tokenizer_fingerprint(tokenizer),
    )
    return DiffusionLM(DenoiserModel(config), tokenizer)
