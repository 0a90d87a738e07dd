"""The documents the zoo's tokenizers are trained on: restaurant descriptions and JSON records.

Real E2E data when the shared data folder is there (so the vocabularies look like the text ctrlgen generates
and constrains), otherwise a small grammar of the same kind, so building the zoo never needs the folder.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Mapping
from pathlib import Path

# ctrlgen/tiny_models/corpus.py -> the folder that holds the repository, where ``shared/data`` sits
_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

_NAMES = ["The Mill", "Blue Spice", "The Eagle", "Zizzi", "Cotto", "Aromi", "The Phoenix", "Giraffe", "Wildwood"]
_EAT_TYPES = ["restaurant", "pub", "coffee shop"]
_FOODS = ["Chinese", "French", "Indian", "Italian", "English", "Japanese", "Fast food"]
_PRICES = ["cheap", "moderate", "high", "less than £20", "£20-25", "more than £30"]
_RATINGS = ["low", "average", "high", "1 out of 5", "3 out of 5", "5 out of 5"]
_AREAS = ["city centre", "riverside"]
_NEAR = ["Café Sicilia", "Burger King", "The Portland Arms", "Raja Indian Cuisine", "Express by Holiday Inn"]


def _generated_record(rng: random.Random) -> dict[str, str]:
    record = {"name": rng.choice(_NAMES), "eatType": rng.choice(_EAT_TYPES)}
    for key, values in (("food", _FOODS), ("priceRange", _PRICES), ("customer rating", _RATINGS)):
        if rng.random() < 0.7:
            record[key] = rng.choice(values)
    if rng.random() < 0.7:
        record["area"] = rng.choice(_AREAS)
    if rng.random() < 0.5:
        record["familyFriendly"] = rng.choice(["yes", "no"])
    if rng.random() < 0.4:
        record["near"] = rng.choice(_NEAR)
    return record


def _generated_sentence(record: Mapping[str, str], rng: random.Random) -> str:
    parts = [f"{record['name']} is a {record.get('priceRange', 'moderate')}-priced {record['eatType']}"]
    if "food" in record:
        food = record["food"]
        parts.append(f"serving {food}" if food.endswith("food") else f"serving {food} food")
    if "area" in record:
        parts.append(f"in the {record['area']}")
    sentence = " ".join(parts)
    if "near" in record:
        sentence += rng.choice([f", near {record['near']}", f" close to {record['near']}"])
    sentence += "."
    if "customer rating" in record:
        sentence += f" Customers rate it {record['customer rating']}."
    if "familyFriendly" in record:
        sentence += " It is " + ("" if record["familyFriendly"] == "yes" else "not ") + "family-friendly."
    return sentence


def _e2e_documents(data_dir: Path) -> tuple[list[str], list[str]] | None:
    """Unique E2E descriptions and the meaning representations as JSON objects, sorted; None if absent."""
    from ..e2e import mr_to_record

    files = [data_dir / "e2e" / "devset.csv", data_dir / "e2e" / "devel-fixed.no-ol.csv"]
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    sentences: set[str] = set()
    records: set[str] = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ref = " ".join((row.get("ref") or "").split())
                if ref:
                    sentences.add(ref)
                record = mr_to_record(row.get("mr") or "")
                if record:
                    records.add(json.dumps(record, ensure_ascii=False))
    if not sentences:
        return None
    return sorted(sentences), sorted(records)


def corpus_texts(n: int = 2000, seed: int = 0, data_dir: str | Path | None = None) -> list[str]:
    """About ``n`` short documents to train the zoo's tokenizers on: restaurant descriptions and JSON records.

    The E2E restaurant descriptions and their meaning representations rendered as JSON objects are read from
    ``../shared/data/e2e`` (relative to the repository) when that folder exists, so the vocabularies look like
    the text ctrlgen generates and constrains; otherwise a small grammar generates sentences and JSON objects
    of the same kind, so the zoo never needs the data folder. About a quarter of the documents are JSON.

    Parameters
    ----------
    n:
        Number of documents. With the data folder present, at most all of its unique documents (about 14k)
        are returned; the generated fallback always returns ``n``.
    seed:
        Which documents are drawn and in which order.
    data_dir:
        The data folder (default ``../shared/data`` next to the repository).
    """
    if n <= 0:
        return []
    rng = random.Random(seed)
    n_json = n // 4
    found = _e2e_documents(Path(data_dir) if data_dir is not None else _SHARED_DATA)
    if found is not None:
        sentences, records = found
        rng.shuffle(sentences)
        rng.shuffle(records)
        docs = sentences[: n - min(n_json, len(records))] + records[:n_json]
    else:
        docs = []
        for i in range(n):
            record = _generated_record(rng)
            if i < n_json:
                docs.append(json.dumps(record, ensure_ascii=False))
            else:
                docs.append(_generated_sentence(record, rng))
    rng.shuffle(docs)
    return docs
