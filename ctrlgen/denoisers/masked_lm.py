"""Any ``transformers`` masked LM (BERT, RoBERTa, ModernBERT, ...) as an absorbing-mask denoiser.

A masked LM predicts the token behind its own mask token at every position, which is the SUBS reverse model
of masked diffusion with a fixed masking rate; fine-tuned on the diffusion objective over all rates (``ctrlgen
train --init-from``) it becomes a diffusion LM. The canvas is framed as the model was pre-trained to read a
sequence: ``[CLS] canvas`` without a prompt, ``[CLS] prompt [SEP] canvas`` with one; the text on the canvas
ends at the end token (``[SEP]``/``</s>``) and is padded with the pad token.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InvalidArgumentError, ModelNotFoundError, TokenizerMismatchError
from ..guidance._hf import quiet_progress
from ._loading import load_weights
from .base import Denoiser

__all__ = ["MaskedLMDenoiser"]


def _first_id(tokenizer, *names: str) -> int | None:
    for name in names:
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return None


class MaskedLMDenoiser(Denoiser):
    """Adapter for ``AutoModelForMaskedLM`` checkpoints.

    Parameters
    ----------
    model:
        A masked LM whose ``forward(input_ids, attention_mask)`` returns ``.logits`` ``(B, T, V)``.
    tokenizer:
        Its tokenizer; it must have a mask token and an end token (``sep`` or ``eos``).
    """

    def __init__(self, model, tokenizer) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        mask = tokenizer.mask_token_id
        end = _first_id(tokenizer, "sep_token_id", "eos_token_id")
        if mask is None or end is None:
            raise TokenizerMismatchError(
                f"a masked LM needs a mask token and an end token (sep or eos); this tokenizer has mask={mask}, "
                f"sep={tokenizer.sep_token_id}, eos={tokenizer.eos_token_id}"
            )
        vocab = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None else None
        if vocab is not None and len(tokenizer) > vocab:
            raise TokenizerMismatchError(f"tokenizer has {len(tokenizer)} tokens, the model's output layer {vocab}")
        self._set_special_ids(mask, end, _first_id(tokenizer, "pad_token_id"))
        self._start = _first_id(tokenizer, "cls_token_id", "bos_token_id")

    @classmethod
    def from_pretrained(cls, path: str | Path, **hub_kwargs) -> MaskedLMDenoiser:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        with quiet_progress():
            model = load_weights(AutoModelForMaskedLM.from_pretrained, path, "a masked LM", **hub_kwargs)
            hub_kwargs.pop("strict_weights", None)
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(path), **hub_kwargs)
            except Exception as e:  # noqa: BLE001
                raise ModelNotFoundError(f"could not load the tokenizer of {path!s}: {type(e).__name__}: {e}") from e
        return cls(model, tokenizer)

    @property
    def max_length(self) -> int:
        # Absolute-position models (RoBERTa) spend two rows of their table on the padding offset: stay below.
        return int(getattr(self.model.config, "max_position_embeddings", 512)) - 2

    @property
    def family(self) -> str:
        return f"masked LM ({self.model.config.model_type})"

    def prefix_ids(self, prompt_ids: list[int] | None) -> list[int]:
        start = [] if self._start is None else [self._start]
        return [*start, *prompt_ids, self.end_token_id] if prompt_ids else start

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if labels is not None:
            raise InvalidArgumentError("a masked LM has no class labels (classifier-free guidance needs ctrlgen's)")
        # an all-ones mask when there is no padding: some models (DeBERTa) warn at every call without one
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.long()
        return self.model(input_ids=input_ids, attention_mask=mask).logits
