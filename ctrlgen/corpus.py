"""The default model's training corpus, assembled from the public data in ``shared/data``.

Three kinds of text, so the shipped model knows what the library's examples ask of it: E2E restaurant
descriptions, the E2E meaning representations rendered as JSON objects (the JSON-schema examples), and Yelp
and Amazon review sentences (style rewriting). The corpus is written to a JSONL file outside the
repository; nothing from the data folder is committed.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

__all__ = ["mr_to_record", "build_default_corpus", "write_corpus"]

_SLOT = re.compile(r"\s*([^\[,]+?)\s*\[([^\]]*)\]")


def mr_to_record(mr: str) -> dict[str, str]:
    """``"name[Alimentum], area[city centre]"`` -> ``{"name": "Alimentum", "area": "city centre"}``."""
    return {key.strip(): value.strip() for key, value in _SLOT.findall(mr)}


def build_default_corpus(data_dir: str | Path) -> list[str]:
    """Documents for the default model, deduplicated, in a fixed order."""
    data = Path(data_dir)
    e2e_files = [data / "e2e" / "devset.csv", data / "e2e" / "devel-fixed.no-ol.csv"]
    review_files = sorted((data / "sentiment" / "yelp").glob("sentiment.dev.*"))
    review_files += sorted((data / "sentiment" / "amazon").glob("sentiment.dev.*"))
    missing = [str(p) for p in e2e_files if not p.is_file()] + ([] if review_files else ["sentiment/{yelp,amazon}"])
    if missing:
        raise FileNotFoundError(f"data for the default corpus not found: {missing}")
    docs: list[str] = []
    for path in e2e_files:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                docs.append(row["ref"].strip())
                record = mr_to_record(row["mr"])
                if record:
                    docs.append(json.dumps(record, ensure_ascii=False))
    for path in review_files:
        docs.extend(" ".join(line.split()) for line in path.open(encoding="utf-8") if line.strip())
    return list(dict.fromkeys(d for d in docs if d))


def write_corpus(docs: list[str], out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
    return out
