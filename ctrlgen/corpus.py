"""The default model's training corpus, assembled from the public data in ``shared/data``.

Four kinds of record, so the shipped model does what the library's examples ask of it:

* prompted pairs in both directions over the cleaned E2E data (``ctrlgen.e2e``): a description from its
  meaning representation as JSON (``Describe this restaurant: {...}``) and the JSON record from its
  description (``Extract the restaurant record as JSON: ...``), the record's keys in the data's order and
  shuffled (both for extraction, one of the two for descriptions), so a schema may ask for the fields in any
  order;
* unprompted E2E descriptions and JSON records (free generation, templates, unprompted schemas);
* Yelp and Amazon review sentences with a ``sentiment`` label (classifier-free guidance and rewriting).

The E2E meaning representations held out by :func:`ctrlgen.e2e.e2e_split` and the reviews held out by
:func:`review_split` (the sentiment classifier's and the style benchmark's) are left out entirely. The
corpus is written to a JSONL file outside the repository; nothing from the data folder is committed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from .e2e import E2E_FIELDS, describe_prompt, e2e_split, extract_prompt, mr_to_record, record_json
from .errors import DataError

__all__ = ["mr_to_record", "review_split", "build_default_corpus", "write_corpus", "SENTIMENT_LABELS"]

#: file suffix of the Yelp/Amazon sentence files -> label name (as in the shipped classifier)
SENTIMENT_LABELS = {"0": "negative", "1": "positive"}


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


def build_default_corpus(data_dir: str | Path, seed: int = 0) -> list[dict[str, str]]:
    """Records (``text``; ``prompt`` for the E2E pairs; ``sentiment`` for reviews), deduplicated, in a fixed
    order."""
    data = Path(data_dir)
    rng = random.Random(seed)
    train_rows, _ = e2e_split(data)
    records: dict[tuple[str, str], dict[str, str]] = {}

    def add(text: str, prompt: str = "", **extra: str) -> None:
        if text:
            records.setdefault((prompt, text), {"text": text} | ({"prompt": prompt} if prompt else {}) | extra)

    for row in train_rows:
        add(row.ref)
        add(record_json(row.record, list(E2E_FIELDS)))
        if not row.cleaned:
            continue  # the original dev set's MRs often miss or add slots: pairs come from the cleaned MRs
        keys = list(row.record)
        order = list(E2E_FIELDS) if rng.random() < 0.5 else rng.sample(keys, len(keys))
        add(row.ref, describe_prompt(record_json(row.record, order)))
        # extraction twice, in the data's order and shuffled: a schema fixes the order the fields come in
        for order in (list(E2E_FIELDS), rng.sample(keys, len(keys))):
            add(record_json(row.record, order), extract_prompt(row.ref))
    if not train_rows:
        raise DataError(f"no E2E rows under {data}")
    train_reviews, _ = review_split(data)
    for text, label in train_reviews:
        add(" ".join(text.split()), sentiment=label)
    return list(records.values())


def write_corpus(records: list[dict[str, str]], out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out
