"""Training noisy-input style classifiers with Lightning.

Every training sentence is padded like a denoiser canvas and corrupted by the masking forward process at a
random rate, so the classifier learns to judge partly masked canvases, which is what it sees during guidance.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from .data import TextSource, _CanvasCollator, _read_source, read_labelled_texts, split_texts
from .errors import DataError
from .guidance.classifier import StyleClassifier, StyleClassifierConfig, StyleClassifierModel
from .guidance.lexical import WordJudge
from .guidance.vocabulary import tokenizer_fingerprint

__all__ = ["ClassifierTrainConfig", "read_labelled", "train_classifier", "ClassifierLightningModule"]


def read_labelled(spec: str, label_column: str | None = None) -> list[tuple[str, str]]:
    """(text, label) pairs from a folder of ``*.<label>`` files (``sentiment.dev.0`` -> label ``0``), a single
    such file, or a CSV or JSONL file with a text column and ``label_column`` (JSONL records without a label are
    left out: the corpus a conditional denoiser trains on may mix labelled and unlabelled text)."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lstrip(".").isalnum())
        pairs = [(t, p.suffix.lstrip(".")) for p in files for t in _read_source(TextSource(str(p)))]
    elif path.suffix.lower() == ".csv":
        import csv

        if not label_column:
            raise DataError(f"{path}: a CSV needs --label-column")
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows or label_column not in rows[0]:
            raise DataError(f"{path}: no column {label_column!r}")
        text_col = next((c for c in ("text", "ref", "sentence") if c in rows[0]), None)
        if text_col is None:
            raise DataError(f"{path}: no text column (text, ref or sentence)")
        pairs = [(r[text_col].strip(), r[label_column].strip()) for r in rows if r[text_col].strip()]
    elif path.suffix.lower() == ".jsonl" and path.is_file():
        if not label_column:
            raise DataError(f"{path}: a JSONL file needs --label-column")
        texts, labels = read_labelled_texts([TextSource(str(path))], label_column)
        pairs = [(t, label) for t, label in zip(texts, labels) if label]
    elif path.is_file():
        pairs = [(t, path.suffix.lstrip(".")) for t in _read_source(TextSource(str(path)))]
    else:
        raise DataError(f"classifier data not found: {path}")
    if len({label for _, label in pairs}) < 2:
        raise DataError(
            f"{spec}: a classifier needs at least two labels, found {sorted({label for _, label in pairs})}"
        )
    return pairs


@dataclass
class ClassifierTrainConfig:
    """Options of ``ctrlgen train-classifier``."""

    data: list[str] = field(default_factory=list)  #: folders/files of ``*.<label>`` or CSVs
    out: str = "runs/classifier"
    tokenizer: str | None = None  #: a model directory whose tokenizer to use (default: the shipped model)
    name: str = "style"
    labels: list[str] | None = None  #: names for the sorted raw labels (e.g. negative,positive for 0,1)
    label_column: str | None = None
    #: a denoiser directory whose token embeddings initialise the classifier's (widths must agree): the
    #: denoiser has read far more text than the labelled sentences
    init_embeddings_from: str | None = None
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 256
    dropout: float = 0.1
    canvas_length: int = 64
    batch_size: int = 64
    lr: float = 1e-3
    max_steps: int = 1500
    val_fraction: float = 0.2
    seed: int = 0
    accelerator: str = "auto"
    devices: object = "auto"
    precision: str | None = None
    progress: bool = True


class ClassifierLightningModule(L.LightningModule):
    """Cross-entropy on canvases masked at a random rate; validation accuracy on clean and half-masked text."""

    def __init__(self, model: StyleClassifierModel, mask_token_id: int, lr: float = 1e-3) -> None:
        super().__init__()
        self.model, self.mask_token_id, self.lr = model, mask_token_id, lr
        k = len(model.config.labels)
        self.acc_clean = MulticlassAccuracy(num_classes=k, average="micro")
        self.acc_noisy = MulticlassAccuracy(num_classes=k, average="micro")

    def _mask(self, ids: torch.Tensor, rate: torch.Tensor, generator=None) -> torch.Tensor:
        u = torch.rand(ids.shape, generator=generator).to(ids.device)
        return torch.where(u < rate[:, None], torch.full_like(ids, self.mask_token_id), ids)

    def training_step(self, batch, batch_idx):
        rate = torch.rand(batch["input_ids"].shape[0], device=self.device)
        logits = self.model(self._mask(batch["input_ids"], rate))
        loss = F.cross_entropy(logits, batch["labels"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        ids, labels = batch["input_ids"], batch["labels"]
        self.acc_clean.update(self.model(ids).argmax(-1), labels)
        g = torch.Generator().manual_seed(batch_idx)
        noisy = self._mask(ids, torch.full((ids.shape[0],), 0.5, device=ids.device), g)
        self.acc_noisy.update(self.model(noisy).argmax(-1), labels)

    def on_validation_epoch_end(self):
        self.log("val/acc", self.acc_clean.compute(), prog_bar=True)
        self.log("val/acc_half_masked", self.acc_noisy.compute())
        self.acc_clean.reset()
        self.acc_noisy.reset()

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=0.01)


class _Labelled(torch.utils.data.Dataset):
    def __init__(self, ids: list[list[int]], labels: list[int]) -> None:
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i], self.labels[i]


def _collate(collator: _CanvasCollator):
    def collate(batch):
        out = collator([ids for ids, _ in batch])
        out["labels"] = torch.tensor([label for _, label in batch], dtype=torch.long)
        return out

    return collate


def _labelled_split(cfg: ClassifierTrainConfig):
    """The labelled pairs, raw and display label names, and the fixed train / held-out split of ``cfg``."""
    pairs = [p for spec in cfg.data for p in read_labelled(spec, cfg.label_column)]
    raw_labels = sorted({label for _, label in pairs})
    names = cfg.labels or raw_labels
    if len(names) != len(raw_labels):
        raise DataError(f"{len(names)} label names given for {len(raw_labels)} labels {raw_labels}")
    train_idx, val_idx = split_texts(list(range(len(pairs))), cfg.val_fraction, cfg.seed)
    return pairs, raw_labels, names, train_idx, val_idx


def _fit_judge(pairs, raw_labels, names, train_idx) -> WordJudge:
    """The word judge on the training side of a split from :func:`_labelled_split`."""
    return WordJudge.fit(
        [pairs[i][0] for i in train_idx], [names[raw_labels.index(pairs[i][1])] for i in train_idx], names
    )


def _accuracy(log_proba: torch.Tensor, gold: list[int]) -> float | None:
    """Share of rows whose most likely label is the gold one; None without held-out rows."""
    return (log_proba.argmax(-1) == torch.tensor(gold, dtype=torch.long)).float().mean().item() if gold else None


def train_classifier(cfg: ClassifierTrainConfig) -> Path:
    """Train a style classifier; writes the classifier, its tokenizer and ``training.json`` to ``cfg.out``."""
    from transformers import PreTrainedTokenizerFast

    from .pipeline import DEFAULT_MODEL_DIR

    L.seed_everything(cfg.seed, verbose=False)
    pairs, raw_labels, names, train_idx, val_idx = _labelled_split(cfg)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(cfg.tokenizer or DEFAULT_MODEL_DIR)
    ids = tokenizer([t for t, _ in pairs], add_special_tokens=False)["input_ids"]
    ids = [x[: cfg.canvas_length] for x in ids]
    labels = [raw_labels.index(label) for _, label in pairs]
    train_set = _Labelled([ids[i] for i in train_idx], [labels[i] for i in train_idx])
    val_set = _Labelled([ids[i] for i in val_idx], [labels[i] for i in val_idx])
    model = StyleClassifierModel(
        StyleClassifierConfig(
            vocab_size=len(tokenizer),
            max_canvas=256,
            d_model=cfg.d_model,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            d_ff=cfg.d_ff,
            dropout=cfg.dropout,
            labels=names,
            name=cfg.name,
            mask_token_id=tokenizer.mask_token_id,
            tokenizer_hash=tokenizer_fingerprint(tokenizer),
        )
    )
    if cfg.init_embeddings_from:
        from .model import DenoiserModel

        source = DenoiserModel.from_pretrained(cfg.init_embeddings_from).embed.weight
        if source.shape != model.embed.weight.shape:
            raise DataError(f"embeddings of shape {tuple(source.shape)} do not fit d_model={cfg.d_model}")
        model.embed.weight.data.copy_(source)
    system = ClassifierLightningModule(model, tokenizer.mask_token_id, cfg.lr)
    end = tokenizer.pad_token_id
    g = torch.Generator().manual_seed(cfg.seed)
    train_dl = DataLoader(
        train_set,
        cfg.batch_size,
        shuffle=True,
        generator=g,
        collate_fn=_collate(_CanvasCollator(end, cfg.canvas_length, True, cfg.seed)),
    )
    val_dl = DataLoader(val_set, cfg.batch_size, collate_fn=_collate(_CanvasCollator(end, cfg.canvas_length, False, 0)))
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        precision=cfg.precision,
        max_steps=cfg.max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=None,
        val_check_interval=max(cfg.max_steps // 3, 1),
    )
    trainer.fit(system, train_dl, val_dl)
    metrics = trainer.validate(system, val_dl, verbose=False)[0] if len(val_set) else {}
    out = Path(cfg.out)
    judge = _fit_judge(pairs, raw_labels, names, train_idx)
    classifier = StyleClassifier(model, tokenizer, judge)
    classifier.save_pretrained(out)
    val_texts, val_gold = [pairs[i][0] for i in val_idx], [labels[i] for i in val_idx]
    summary = {
        "held_out_accuracy": metrics.get("val/acc"),
        "held_out_accuracy_half_masked": metrics.get("val/acc_half_masked"),
        "word_judge_words": len(judge.word_counts),
        "word_judge_held_out_accuracy": _accuracy(judge.log_proba(val_texts), val_gold),
        # what best_of ranks by: the transformer and the word judge together
        "judge_held_out_accuracy": _accuracy(classifier.judge_log_proba(val_texts), val_gold),
        "n_train": len(train_set),
        "n_val": len(val_set),
        "labels": names,
        "raw_labels": raw_labels,
        "config": dataclasses.asdict(cfg),
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2, default=str))
    return out
