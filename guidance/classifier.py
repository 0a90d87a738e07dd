"""Noisy-input style classifiers: a small bidirectional transformer over the denoiser's tokenizer.

It is trained on text corrupted by the same masking process as the denoiser (random mask rates), so that its
prediction, and its gradient, mean something on a half-masked canvas at every reverse step. It accepts token
ids or a relaxed one-hot input (``(B, L, V)`` weights over the vocabulary), which is what guidance
differentiates: the gradient with respect to the one-hot input scores every token at every position.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

from ._hf import quiet_progress
from .lexical import WordJudge
from .vocabulary import tokenizer_fingerprint

__all__ = ["StyleClassifierConfig", "StyleClassifierModel", "StyleClassifier", "ClassifierMismatchError"]


class ClassifierMismatchError(ValueError):
    """A classifier built for another tokenizer than the model it should guide."""


class StyleClassifierConfig(PretrainedConfig):
    """Shape of a style classifier and the labels it predicts."""

    model_type = "ctrlgen-style-classifier"

    def __init__(
        self,
        vocab_size: int = 4096,
        max_canvas: int = 256,
        d_model: int = 128,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int = 256,
        dropout: float = 0.1,
        labels: list[str] | None = None,
        name: str = "style",
        mask_token_id: int = 1,
        tokenizer_hash: str | None = None,
        **kwargs,
    ) -> None:
        self.vocab_size, self.max_canvas = vocab_size, max_canvas
        self.d_model, self.n_layers, self.n_heads, self.d_ff, self.dropout = d_model, n_layers, n_heads, d_ff, dropout
        self.labels = list(labels or ["0", "1"])
        self.name = name
        self.mask_token_id = mask_token_id
        self.tokenizer_hash = tokenizer_hash
        super().__init__(**kwargs)


class StyleClassifierModel(PreTrainedModel):
    """Embedding + learned positions + ``nn.TransformerEncoder`` + mean pooling + a linear head."""

    config_class = StyleClassifierConfig
    base_model_prefix = "classifier"

    def __init__(self, config: StyleClassifierConfig) -> None:
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos = nn.Embedding(config.max_canvas, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.n_heads,
            config.d_ff,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, len(config.labels))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor | None = None, one_hot: torch.Tensor | None = None) -> torch.Tensor:
        """Label logits ``(B, K)`` from ``input_ids`` ``(B, L)`` or a relaxed ``one_hot`` ``(B, L, V)``."""
        x = self.embed(input_ids) if one_hot is None else one_hot.to(self.embed.weight.dtype) @ self.embed.weight
        n = x.shape[1]
        x = x + self.pos(torch.arange(n, device=x.device))
        h = self.norm(self.encoder(x))
        return self.head(h.mean(dim=1))


class StyleClassifier:
    """A trained classifier with its tokenizer and label names; ``Style`` constraints point at one.

    ``word_judge``, when present, is a word-presence naive Bayes model fitted on the same sentences; it
    takes part only in judging finished texts (:meth:`judge_log_proba`), never in guidance.
    """

    def __init__(self, model: StyleClassifierModel, tokenizer, word_judge: WordJudge | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        if word_judge is not None and word_judge.labels != list(model.config.labels):
            raise ClassifierMismatchError(
                f"word judge labels {word_judge.labels} differ from the classifier's {list(model.config.labels)}"
            )
        self.word_judge = word_judge

    @property
    def labels(self) -> list[str]:
        return list(self.model.config.labels)

    @property
    def name(self) -> str:
        return self.model.config.name

    def label_index(self, label: str | int) -> int:
        labels = self.labels
        if isinstance(label, int) and 0 <= label < len(labels):
            return label
        if label in labels:
            return labels.index(label)
        raise ValueError(f"classifier {self.name!r} has no label {label!r}; its labels are {labels}")

    def check_tokenizer(self, tokenizer) -> None:
        mine, theirs = self.model.config.tokenizer_hash, tokenizer_fingerprint(tokenizer)
        if len(tokenizer) != self.model.config.vocab_size or (mine and mine != theirs):
            raise ClassifierMismatchError(
                f"classifier {self.name!r} was built for another tokenizer (vocabulary {self.model.config.vocab_size}, "
                f"fingerprint {mine}) than the model's (vocabulary {len(tokenizer)}, fingerprint {theirs}); train a "
                "classifier on the model's tokenizer (`ctrlgen train-classifier --tokenizer MODEL_DIR`), or the model "
                "on the classifier's (`ctrlgen train --tokenizer default` for the shipped classifiers)"
            )

    @torch.no_grad()
    def predict_proba(self, texts: list[str]) -> torch.Tensor:
        """``(N, K)`` label probabilities of clean texts."""
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        n = max(1, min(max(len(x) for x in ids), self.model.config.max_canvas))
        pad = self.tokenizer.pad_token_id
        batch = torch.tensor([x[:n] + [pad] * (n - len(x[:n])) for x in ids], device=self.device)
        return F.softmax(self.model(batch), dim=-1).cpu()

    @torch.no_grad()
    def judge_log_proba(self, texts: list[str]) -> torch.Tensor:
        """``(N, K)`` label log-probabilities of finished texts, for choosing among candidates.

        With a word judge, the product of both experts (the transformer's posterior times the judge's
        likelihood of the words, renormalised):
        a candidate must both read as the label to the transformer and contain words that carry it. Each
        text is scored alone, so a score never depends on the lengths of the others in a padded batch.
        """
        if not texts:
            return torch.empty(0, len(self.labels))
        logp = torch.cat([self.predict_proba([t]) for t in texts]).clamp_min(1e-12).log()
        if self.word_judge is not None:
            # p(label | text) from the transformer times p(words | label): the prior enters once
            logp = (logp + self.word_judge.log_likelihood(texts)).log_softmax(-1)
        return logp

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device) -> StyleClassifier:
        self.model.to(device)
        return self

    def save_pretrained(self, path: str | Path) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        if self.word_judge is not None:
            self.word_judge.save(path)

    @classmethod
    def load(cls, path: str | Path) -> StyleClassifier:
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} holds no style classifier (no config.json)")
        with quiet_progress():
            model = StyleClassifierModel.from_pretrained(path)
            tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
        return cls(model, tokenizer, WordJudge.load(path))
