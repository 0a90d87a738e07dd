"""The default model's training corpus, assembled from the public data in ``shared/data``.

Three kinds of text, so the shipped model knows what the library's examples ask of it: E2E restaurant
descriptions, the E2E meaning representations rendered as JSON objects (the JSON-schema examples), and Yelp
and Amazon review sentences (style rewriting). Review sentences carry a ``sentiment`` label, so the same
corpus trains a class-conditional denoiser for classifier-free guidance; the reviews held out for the
shipped sentiment classifier and the style benchmark (:func:`review_split`) are left out entirely. The corpus
is written to a JSONL file outside the repository; nothing from the data folder is committed.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from .errors import DataError

__all__ = ["mr_to_record", "review_split", "build_default_corpus", "write_corpus", "SENTIMENT_LABELS"]

#: file suffix of the Yelp/Amazon sentence files -> label name (as in the shipped classifier)
SENTIMENT_LABELS = {"0": "negative", "1": "positive"}

_SLOT = re.compile(r"\s*([^\[,]+?)\s*\[([^\]]*)\]")


def mr_to_record(mr: str) -> dict[str, str]:
    """``"name[Alimentum], area[city centre]"`` -> ``{"name": "Alimentum", "area": "city centre"}``."""
    return {key.strip(): value.strip() for key, value in _SLOT.findall(mr)}


def review_split(
    data_dir: str | Path, held_out: float = 0.2, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(train, held_out)`` lists of ``(sentence, label name)`` from the Yelp and Amazon files: the one fixed
    split the shipped classifier trains on, the default model's labels come from, and the style benchmark
    evaluates on. A sentence that occurs on both sides (the files repeat a few) is dropped from both, so
    nothing held out was ever trained on."""
    from .classifier_training import read_labelled
    from .data import split_texts

    folders = [Path(data_dir) / "sentiment" / name for name in ("yelp", "amazon")]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise DataError(f"review data not found: {missing}")
    pairs = [(text, SENTIMENT_LABELS.get(label, label)) for f in folders for text, label in read_labelled(str(f))]
    train_idx, held_idx = split_texts(list(range(len(pairs))), held_out, seed)
    train, held = [pairs[i] for i in train_idx], [pairs[i] for i in held_idx]
    both = {t for t, _ in train} & {t for t, _ in held}
    return [p for p in train if p[0] not in both], [p for p in held if p[0] not in both]


def build_default_corpus(data_dir: str | Path) -> list[dict[str, str]]:
    """Records (``text``, and ``sentiment`` for reviews) for the default model, deduplicated, in a fixed order."""
    data = Path(data_dir)
    e2e_files = [data / "e2e" / "devset.csv", data / "e2e" / "devel-fixed.no-ol.csv"]
    missing = [str(p) for p in e2e_files if not p.is_file()]
    if missing:
        raise DataError(f"data for the default corpus not found: {missing}")
    records: dict[str, dict[str, str]] = {}
    for path in e2e_files:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                docs = [row["ref"].strip()]
                record = mr_to_record(row["mr"])
                if record:
                    docs.append(json.dumps(record, ensure_ascii=False))
                for doc in docs:
                    if doc:
                        records.setdefault(doc, {"text": doc})
    train_reviews, _ = review_split(data)
    for text, label in train_reviews:
        doc = " ".join(text.split())
        if doc:
            records.setdefault(doc, {"text": doc, "sentiment": label})
    return list(records.values())


def write_corpus(records: list[dict[str, str]], out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out
