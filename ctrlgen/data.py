"""Training data: reading text sources, a fixed train/validation split, and a LightningDataModule.

Documents are tokenized and either padded (one document per canvas, followed by end tokens, so the model
learns where text ends and variable-length content fits a fixed canvas) or packed (documents joined by end
tokens and cut into full canvases).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from .errors import DataError

__all__ = [
    "LengthGroupedOrder",
    "TextSource",
    "read_texts",
    "read_labelled_texts",
    "read_prompt_pairs",
    "read_prompted_labelled",
    "split_texts",
    "TextDataModule",
]


@dataclass(frozen=True)
class TextSource:
    """A file of documents: ``.txt`` (and any other suffix: one per line), ``.csv`` (a column), ``.jsonl``
    (a field)."""

    path: str
    column: str | None = None  #: CSV column or JSONL field; defaults to ``ref``/``text`` when present

    @classmethod
    def parse(cls, spec: str) -> TextSource:
        """``path`` or ``path:column`` as given on the command line."""
        if Path(spec).exists() or ":" not in spec:
            return cls(spec)
        path, _, column = spec.rpartition(":")
        return cls(path, column or None)


def _read_source(src: TextSource) -> list[str]:
    path = Path(src.path)
    if not path.is_file():
        raise DataError(f"training data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            column = src.column or next((c for c in ("text", "ref") if c in fields), None)
            if column not in fields:
                raise DataError(f"{path}: no column {column!r}; columns are {fields}")
            return [row[column].strip() for row in reader if row[column] and row[column].strip()]
    if suffix == ".jsonl":
        field = src.column or "text"
        texts = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
                if not isinstance(record, dict) or field not in record:
                    raise DataError(f"{path}:{n}: no field {field!r}")
                texts.append(str(record[field]))
        return texts
    with path.open(encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _read_records(path: Path, text_field: str | None, columns: dict[str, str]) -> list[tuple[str, ...]]:
    """``(text, value of each column)`` of every record with text; a record without a value gets ``""``.
    ``columns`` maps each column to what it is for in messages (``{"sentiment": "label"}``)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        roles = " and ".join(f"{role}s" for role in columns.values())
        raise DataError(f"{path}: {roles} need a CSV or JSONL file (got {path.suffix or 'no suffix'})")
    if not path.is_file():
        raise DataError(f"training data file not found: {path}")
    records: list[dict] = []
    with path.open(newline="" if suffix == ".csv" else None, encoding="utf-8") as f:
        if suffix == ".csv":
            reader = csv.DictReader(f)
            records = list(reader)
            fields = reader.fieldnames or []
        else:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
                    if not isinstance(record, dict):
                        raise DataError(f"{path}:{n}: not a JSON object")
                    records.append(record)
            fields = sorted({k for r in records for k in r})
    if not records:
        raise DataError(f"{path}: no records")
    field = text_field or next((c for c in ("text", "ref") if c in fields), None)
    if field is None:
        raise DataError(f"{path}: no text column given and none of the defaults 'text', 'ref'; fields are {fields}")
    if field not in fields:
        raise DataError(f"{path}: no text field {field!r}; fields are {fields}")
    for column, role in columns.items():
        if column not in fields:
            raise DataError(f"{path}: no {role} field {column!r}; fields are {fields}")
    rows = []
    for record in records:
        value = record.get(field)
        text = "" if value is None else str(value).strip()
        if text:
            values = (record.get(column) for column in columns)
            rows.append((text, *("" if v is None else str(v).strip() for v in values)))
    return rows


def read_labelled_texts(sources: Sequence[TextSource], label_column: str) -> tuple[list[str], list[str]]:
    """Documents and their labels from CSV/JSONL sources whose records carry ``label_column``.

    A record with an empty or missing label gets ``""``: a conditional model trains on it without a label
    (as it does on the label-dropout share), so labelled and unlabelled text can share one corpus.
    """
    pairs = [p for src in sources for p in _read_records(Path(src.path), src.column, {label_column: "label"})]
    if not pairs:
        raise DataError(f"no text found in {[s.path for s in sources]}")
    if not any(label for _, label in pairs):
        raise DataError(f"no record in {[s.path for s in sources]} has a {label_column!r} label")
    return [t for t, _ in pairs], [label for _, label in pairs]


def read_prompt_pairs(
    sources: Sequence[TextSource], prompt_column: str, data_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Prompts and responses from CSV/JSONL records: ``prompt_column`` holds the prompt, ``data_column`` (or the
    source's column, or ``text``/``ref``) the response. A record without a prompt trains unprompted."""
    columns = {prompt_column: "prompt"}
    pairs = [p for src in sources for p in _read_records(Path(src.path), data_column or src.column, columns)]
    if not pairs:
        raise DataError(f"no response text found in {[s.path for s in sources]}")
    return [prompt for _, prompt in pairs], [text for text, _ in pairs]


def read_prompted_labelled(
    sources: Sequence[TextSource], prompt_column: str, label_column: str, data_column: str | None = None
) -> tuple[list[str], list[str], list[str]]:
    """``(prompts, texts, labels)`` of a corpus that mixes prompted pairs and labelled documents (the default
    model's: E2E instructions without labels, review sentences with a sentiment and no prompt). A missing
    prompt is ``""`` (trained unprompted), a missing label ``""`` (trained as "no label")."""
    columns = {prompt_column: "prompt", label_column: "label"}
    rows = [r for src in sources for r in _read_records(Path(src.path), data_column or src.column, columns)]
    if not rows:
        raise DataError(f"no response text found in {[s.path for s in sources]}")
    if not any(label for _, _, label in rows):
        raise DataError(f"no record in {[s.path for s in sources]} has a {label_column!r} label")
    return [p for _, p, _ in rows], [t for t, _, _ in rows], [label for _, _, label in rows]


def read_texts(sources: Sequence[TextSource]) -> list[str]:
    """All documents of ``sources``, in order."""
    texts = [t for src in sources for t in _read_source(src)]
    if not texts:
        raise DataError(f"no text found in {[s.path for s in sources]}")
    return texts


def split_texts(texts: Sequence[str], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """A fixed, seeded split: the same texts and seed always hold out the same documents."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_val = int(round(len(texts) * val_fraction)) if len(texts) > 1 else 0
    val = [texts[i] for i in sorted(order[:n_val])]
    train = [texts[i] for i in sorted(order[n_val:])]
    return train, val


class _CanvasCollator:
    """Pads a batch of token lists: the end token after each text, then the pad token (the same token for
    ctrlgen's own models).

    The canvas length of each training batch is drawn between the longest document (+1 end token) and the
    maximum (or ``max_padding`` positions more), so the model sees text followed by any amount of padding
    and learns to stop; validation batches always use the full canvas, so validation figures are comparable
    across runs.

    Items are token lists, ``(ids, label)`` pairs, or dicts ``{"ids", "start", "label"}`` where ``start`` is
    the number of fixed prefix tokens (a framed prompt) that are never noised: the batch then carries a
    ``noisable`` mask.
    """

    def __init__(
        self,
        end_id: int,
        canvas_length: int,
        random_length: bool,
        seed: int,
        pad_id: int | None = None,
        max_padding: int | None = None,
    ) -> None:
        self.end_id, self.canvas_length, self.random_length = end_id, canvas_length, random_length
        self.pad_id = end_id if pad_id is None else pad_id
        self.max_padding = max_padding
        self.rng = random.Random(seed)

    def __call__(self, batch: list) -> dict[str, torch.Tensor]:
        items = [_as_item(x) for x in batch]
        longest = min(max(len(x["ids"]) for x in items) + 1, self.canvas_length)
        top = self.canvas_length if self.max_padding is None else min(self.canvas_length, longest + self.max_padding)
        length = self.rng.randint(longest, top) if self.random_length else self.canvas_length
        out = torch.full((len(items), length), self.pad_id, dtype=torch.long)
        noisable = torch.ones((len(items), length), dtype=torch.bool)
        for i, item in enumerate(items):
            ids = item["ids"][:length]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            if len(ids) < length:
                out[i, len(ids)] = self.end_id
            noisable[i, : item["start"]] = False
        result = {"input_ids": out}
        if any(x["start"] for x in items):
            result["noisable"] = noisable
        if items[0]["label"] is not None:
            result["labels"] = torch.tensor([x["label"] for x in items], dtype=torch.long)
        return result


class LengthGroupedOrder(torch.utils.data.Sampler):
    """A random order in which each run of ``batch_size`` indices holds documents of similar length.

    Every epoch: shuffle (seeded by ``seed`` and the epoch), cut into chunks of ``50 * batch_size``, sort each
    chunk by length, cut it into batches, shuffle the batches. Every document comes once per epoch, as with
    plain shuffling; only which documents share a batch changes.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, chunk_batches: int = 50) -> None:
        self.lengths, self.batch_size, self.seed, self.chunk = list(lengths), batch_size, seed, chunk_batches
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of each epoch (as for a ``DistributedSampler``): a resumed run
        draws the order of the epoch it resumes in."""
        self.epoch = epoch

    def __iter__(self):
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        size = self.batch_size * self.chunk
        batches = []
        for i in range(0, len(order), size):
            chunk = sorted(order[i : i + size], key=self.lengths.__getitem__)
            batches += [chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return iter([i for batch in batches for i in batch])


def _as_item(x) -> dict:
    if isinstance(x, dict):
        return {"ids": x["ids"], "start": x.get("start", 0), "label": x.get("label")}
    if isinstance(x, tuple):
        return {"ids": x[0], "start": 0, "label": x[1]}
    return {"ids": x, "start": 0, "label": None}


class TextDataModule(L.LightningDataModule):
    """Tokenized train/validation canvases for a denoiser.

    Parameters
    ----------
    train_texts, val_texts:
        Documents (the responses, when prompts are given), already split (see :func:`split_texts`).
    tokenizer:
        The model's tokenizer.
    canvas_length:
        Tokens per training sequence (prefix and response together).
    packing:
        Join documents with end tokens and cut full canvases, instead of one padded document per canvas.
    train_prompts, val_prompts:
        Prompts paired with the documents: they stand before the response as fixed tokens, never noised.
    prefix_ids:
        How the model frames a prompt (:meth:`~ctrlgen.denoisers.Denoiser.prefix_ids`); None: no frame.
    end_id, pad_id:
        The end and pad tokens (default: the tokenizer's pad token for both).
    max_padding:
        At most this many positions after a training batch's longest document (None: up to the canvas).
    bucket:
        Batch documents of similar length together (:class:`LengthGroupedOrder`), so little of each canvas is
        padding: the same documents, much less computation per step.
    """

    def __init__(
        self,
        train_texts: Sequence[str],
        val_texts: Sequence[str],
        tokenizer,
        canvas_length: int = 128,
        batch_size: int = 32,
        packing: bool = False,
        seed: int = 0,
        num_workers: int = 0,
        train_labels: Sequence[int] | None = None,
        val_labels: Sequence[int] | None = None,
        train_prompts: Sequence[str] | None = None,
        val_prompts: Sequence[str] | None = None,
        prefix_ids=None,
        end_id: int | None = None,
        pad_id: int | None = None,
        max_padding: int | None = None,
        bucket: bool = False,
    ) -> None:
        super().__init__()
        self.max_padding, self.bucket = max_padding, bucket
        framed = prefix_ids is not None and bool(prefix_ids(None))
        if packing and (train_labels is not None or train_prompts is not None or framed):
            raise DataError(
                "packing joins plain documents: it cannot be combined with labels, prompts or a framed model"
            )
        self.train_labels = None if train_labels is None else list(train_labels)
        self.val_labels = None if val_labels is None else list(val_labels)
        self.train_prompts = None if train_prompts is None else list(train_prompts)
        self.val_prompts = None if val_prompts is None else list(val_prompts)
        self.train_texts, self.val_texts = list(train_texts), list(val_texts)
        self.tokenizer = tokenizer
        self.prefix_ids = prefix_ids or (lambda ids: list(ids or []))
        self.end_id = tokenizer.pad_token_id if end_id is None else end_id
        self.pad_id = self.end_id if pad_id is None else pad_id
        self.canvas_length, self.batch_size, self.packing = canvas_length, batch_size, packing
        self.seed, self.num_workers = seed, num_workers
        self.train_data: list = []
        self.val_data: list = []

    def _encode(self, texts: Sequence[str], prompts: Sequence[str] | None, labels: Sequence[int] | None) -> list:
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        if self.packing:
            stream = [tok for x in ids for tok in (*x, self.end_id)]
            n = self.canvas_length
            return [stream[i : i + n] for i in range(0, len(stream) - n + 1, n)] or [stream[:n]]
        if prompts is None:
            prefixes = [self.prefix_ids(None)] * len(ids)
        else:
            prompt_ids = self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
            prefixes = [self.prefix_ids(p) for p in prompt_ids]
        items = []
        for k, (prefix, x) in enumerate(zip(prefixes, ids)):
            if len(prefix) >= self.canvas_length:
                continue  # a prompt that leaves no room for its response teaches nothing
            if prompts is not None and prompts[k] and len(prefix) + len(x) + 1 > self.canvas_length:
                continue  # a response cut short would teach the model to stop answering without an end
            label = None if labels is None else labels[k]
            items.append({"ids": (prefix + x)[: self.canvas_length], "start": len(prefix), "label": label})
        return items

    def setup(self, stage: str | None = None) -> None:
        if not self.train_data:
            self.train_data = self._encode(self.train_texts, self.train_prompts, self.train_labels)
            self.val_data = self._encode(self.val_texts, self.val_prompts, self.val_labels)
        if not self.train_data:
            raise DataError("no training documents after the validation split (or every prompt fills the canvas)")

    def _collator(self, random_length: bool) -> _CanvasCollator:
        return _CanvasCollator(
            self.end_id,
            self.canvas_length,
            random_length and not self.packing,
            self.seed,
            self.pad_id,
            self.max_padding,
        )

    def train_dataloader(self) -> DataLoader:
        order = None
        if self.bucket:
            lengths = [len(_as_item(x)["ids"]) for x in self.train_data]
            order = LengthGroupedOrder(lengths, self.batch_size, self.seed)
        return DataLoader(
            self.train_data,
            batch_size=self.batch_size,
            shuffle=order is None,
            sampler=order,
            generator=torch.Generator().manual_seed(self.seed) if order is None else None,
            collate_fn=self._collator(True),
            num_workers=self.num_workers,
            drop_last=len(self.train_data) >= self.batch_size,
        )

    def val_dataloader(self) -> DataLoader:
        data = self.val_data or self.train_data[: self.batch_size]
        return DataLoader(
            data,
            batch_size=self.batch_size,
            shuffle=False,
            collate_fn=self._collator(False),
            num_workers=self.num_workers,
        )
