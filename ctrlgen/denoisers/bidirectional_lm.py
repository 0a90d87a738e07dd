"""Large masked diffusion LMs with a causal-LM-shaped head: LLaDA-style and Dream-style checkpoints.

Both are bidirectional transformers whose output has the shape of a causal LM's (``.logits`` ``(B, T, V)``)
and whose config names the mask token (``mask_token_id``). They differ in alignment: LLaDA's logits at
position ``i`` score token ``i``; Dream, initialised from an autoregressive model, keeps its habit of
predicting the *next* position, so its logits at ``i`` score token ``i + 1`` and are shifted back here.
Their code ships with the checkpoint (``auto_map`` in ``config.json``), so loading runs it only when the user
allows it with ``trust_remote_code=True``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InvalidArgumentError, ModelNotFoundError, TokenizerMismatchError
from ..guidance._hf import quiet_progress
from ._loading import load_weights
from .base import Denoiser

__all__ = ["LLaDADenoiser", "DreamDenoiser"]


class LLaDADenoiser(Denoiser):
    """Adapter for LLaDA-style checkpoints: aligned logits, mask id from the config.

    The canvas follows the tokenizer's BOS (when it has one) and the prompt; a chat prompt is rendered by
    the tokenizer's chat template with the generation prompt (the assistant header) at its end.
    """

    #: Logits at position ``i`` score token ``i + shift``.
    shift: int = 0

    def __init__(self, model, tokenizer) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        config = model.config
        mask = getattr(config, "mask_token_id", None)
        if mask is None:
            mask = tokenizer.mask_token_id
        end = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else getattr(config, "eos_token_id", None)
        if mask is None or end is None:
            raise TokenizerMismatchError(
                f"{type(self).__name__} needs a mask token id (config.mask_token_id) and an end token (eos); "
                f"found mask={mask}, eos={end}"
            )
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else getattr(config, "pad_token_id", None)
        self._set_special_ids(mask, end, pad if pad is not None and pad != mask else None)
        self._bos = tokenizer.bos_token_id

    @classmethod
    def from_pretrained(cls, path: str | Path, trust_remote_code: bool = False, **hub_kwargs) -> Denoiser:
        from transformers import AutoModel, AutoTokenizer

        what = f"a {cls.__name__.removesuffix('Denoiser')}-style model"
        with quiet_progress():
            model = load_weights(
                AutoModel.from_pretrained, path, what, trust_remote_code=trust_remote_code, **hub_kwargs
            )
            hub_kwargs.pop("strict_weights", None)
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code, **hub_kwargs)
            except Exception as e:  # noqa: BLE001
                raise ModelNotFoundError(f"could not load the tokenizer of {path!s}: {type(e).__name__}: {e}") from e
        return cls(model, tokenizer)

    @property
    def max_length(self) -> int:
        config = self.model.config
        for name in ("max_sequence_length", "max_position_embeddings", "n_positions"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 4096

    @property
    def family(self) -> str:
        return f"{type(self).__name__.removesuffix('Denoiser')}-style ({self.model.config.model_type})"

    def prefix_ids(self, prompt_ids: list[int] | None) -> list[int]:
        ids = list(prompt_ids or [])
        if self._bos is not None and (not ids or ids[0] != self._bos):
            ids = [self._bos, *ids]
        if self.shift and not ids:
            ids = [self.end_token_id]  # a shifted model needs a position before the canvas to predict its first token
        return ids

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if labels is not None:
            raise InvalidArgumentError(f"{self.family} has no class labels (classifier-free guidance needs ctrlgen's)")
        kwargs = {} if attention_mask is None else {"attention_mask": self._attention_mask(attention_mask)}
        logits = self.model(input_ids=input_ids, **kwargs).logits
        if self.shift:
            # position i-1 predicts token i; position 0 is always a fixed prefix token, so its row is a copy
            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        return logits

    def _attention_mask(self, keep: torch.Tensor) -> torch.Tensor:
        """LLaDA reads a ``(B, T)`` keep-mask (1 = a real token)."""
        return keep.long()


class DreamDenoiser(LLaDADenoiser):
    """Adapter for Dream-style checkpoints: as LLaDA-style, with the logits shifted by one position."""

    shift = 1

    def _attention_mask(self, keep: torch.Tensor) -> torch.Tensor:
        """Dream hands its mask to scaled-dot-product attention as it is: a ``(B, 1, T, T)`` boolean mask. Only
        keys are masked, so a padding query still attends somewhere (a fully masked row would be NaN, and
        NaN times a zero weight is still NaN in the next layer)."""
        keep = keep.bool()
        return keep[:, None, None, :].expand(-1, 1, keep.shape[1], -1)
