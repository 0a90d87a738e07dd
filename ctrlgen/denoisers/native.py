"""ctrlgen's own denoiser (:class:`ctrlgen.model.DenoiserModel`) behind the denoiser seam."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from ..config import DenoiserConfig
from ..errors import InvalidArgumentError, ModelNotFoundError, TokenizerMismatchError
from ..guidance._hf import quiet_progress
from ..guidance.vocabulary import tokenizer_fingerprint
from ..model import DenoiserModel
from ._loading import load_weights
from .base import Denoiser

__all__ = ["NativeDenoiser"]


def check_tokenizer(config: DenoiserConfig, tokenizer: PreTrainedTokenizerBase) -> None:
    """Refuse a tokenizer whose vocabulary or special ids differ from what the model was trained with."""
    problems = []
    if len(tokenizer) != config.vocab_size:
        problems.append(f"vocabulary of {len(tokenizer)} tokens, model expects {config.vocab_size}")
    if tokenizer.mask_token_id != config.mask_token_id:
        problems.append(f"mask token id {tokenizer.mask_token_id}, model expects {config.mask_token_id}")
    if tokenizer.pad_token_id != config.end_token_id:
        problems.append(f"end/pad token id {tokenizer.pad_token_id}, model expects {config.end_token_id}")
    if not problems and config.tokenizer_hash and tokenizer_fingerprint(tokenizer) != config.tokenizer_hash:
        problems.append("vocabulary or merges differ from the tokenizer the model was trained with")
    if problems:
        raise TokenizerMismatchError("tokenizer does not match the model: " + "; ".join(problems))


class NativeDenoiser(Denoiser):
    """A bidirectional transformer trained by ``ctrlgen train``; the end token doubles as padding.

    A prompt stands before the canvas followed by one end token, the separator the model is trained with
    when it learns from prompt/response pairs.
    """

    def __init__(self, model: DenoiserModel, tokenizer: PreTrainedTokenizerBase) -> None:
        super().__init__()
        check_tokenizer(model.config, tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self.schedule_name = model.config.schedule
        self.process_name = getattr(model.config, "process", "masking")

    @classmethod
    def from_pretrained(cls, path: str | Path, **hub_kwargs) -> NativeDenoiser:
        with quiet_progress():
            model = load_weights(
                DenoiserModel.from_pretrained, path, "a ctrlgen denoiser", extra_ok=False, **hub_kwargs
            )
            hub_kwargs.pop("strict_weights", None)
            try:
                tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), **hub_kwargs)
            except Exception as e:  # noqa: BLE001
                raise ModelNotFoundError(f"could not load the tokenizer of {path!s}: {type(e).__name__}: {e}") from e
        return cls(model, tokenizer)

    @property
    def mask_token_id(self) -> int:
        return self.model.config.mask_token_id

    @property
    def end_token_id(self) -> int:
        return self.model.config.end_token_id

    @property
    def pad_token_id(self) -> int:
        return self.model.config.end_token_id  # the end token doubles as padding

    @property
    def max_length(self) -> int:
        return self.model.config.max_canvas

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(self.model.config.label_names)

    @property
    def family(self) -> str:
        return "ctrlgen"

    def prefix_ids(self, prompt_ids: list[int] | None) -> list[int]:
        if self.model.causal:  # the autoregressive baseline: the end token also starts an unprompted text
            return [*(prompt_ids or []), self.end_token_id]
        return [*prompt_ids, self.end_token_id] if prompt_ids else []

    def uses_chat_template(self) -> bool:
        return False

    def for_fine_tuning(self, label_names: list[str], dropout: float) -> NativeDenoiser:
        """A copy that begins as this model whatever the label: rows of labels both know are copied, new
        labels start as this model's "no label" row (or at zero when it had no label embedding, which adds
        nothing), so fine-tuning starts from this model's predictions."""
        fields = self.model.config.to_dict() | {"label_names": list(label_names), "dropout": dropout}
        model = DenoiserModel(DenoiserConfig(**fields))
        base = self.model
        state = {k: v for k, v in base.state_dict().items() if not k.startswith("label_embed.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("label_embed.") for k in missing):
            raise InvalidArgumentError(f"init_from: weights do not fit (missing {missing}, unexpected {unexpected})")
        if model.label_embed is not None:
            with torch.no_grad():
                if base.label_embed is None:
                    model.label_embed.weight.zero_()
                else:
                    old_names = list(base.config.label_names)
                    null = len(old_names)  # the "no label" row, last in both
                    rows = [old_names.index(n) if n in old_names else null for n in model.config.label_names]
                    model.label_embed.weight.copy_(base.label_embed.weight[[*rows, null]])
        return NativeDenoiser(model, self.tokenizer)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.model(input_ids, labels=labels, attention_mask=attention_mask)
