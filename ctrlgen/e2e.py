"""The E2E restaurant data as the default model learns it: records, the two prompt forms, and the held-out split.

The default model answers two documented instructions (the README states them):

* ``Extract the restaurant record as JSON: <description>`` -> a JSON object of the E2E fields;
* ``Describe this restaurant: <JSON object>`` -> a description in English.

A fixed share of the E2E meaning representations (grouped by the original MR, so a restaurant's cleaned
re-annotations and all its references fall on one side) is held out of training entirely: the
head-to-head benchmark (``benchmarks/vs_autoregressive.py``) scores on it.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError

__all__ = [
    "E2E_FIELDS",
    "EXTRACT_PROMPT",
    "DESCRIBE_PROMPT",
    "E2ERow",
    "mr_to_record",
    "record_json",
    "extract_prompt",
    "describe_prompt",
    "read_e2e",
    "e2e_split",
]

#: The eight slots of an E2E meaning representation, in the data's own order.
E2E_FIELDS = ("name", "eatType", "food", "priceRange", "customer rating", "area", "familyFriendly", "near")
EXTRACT_PROMPT = "Extract the restaurant record as JSON: "
DESCRIBE_PROMPT = "Describe this restaurant: "

_SLOT = re.compile(r"\s*([^\[,]+?)\s*\[([^\]]*)\]")


def mr_to_record(mr: str) -> dict[str, str]:
    """``"name[Alimentum], area[city centre]"`` -> ``{"name": "Alimentum", "area": "city centre"}``."""
    return {key.strip(): value.strip() for key, value in _SLOT.findall(mr)}


def record_json(record: dict[str, str], order: list[str] | None = None) -> str:
    """The record as one line of JSON (``json.dumps`` separators), its keys in ``order`` when given."""
    keys = [k for k in (order or record) if k in record]
    return json.dumps({k: record[k] for k in keys}, ensure_ascii=False)


def extract_prompt(description: str) -> str:
    """The extraction instruction for one description."""
    return EXTRACT_PROMPT + " ".join(description.split())


def describe_prompt(record: dict[str, str] | str) -> str:
    """The description instruction for a record (a dict, or a JSON object already written)."""
    return DESCRIBE_PROMPT + (record if isinstance(record, str) else record_json(record))


@dataclass(frozen=True)
class E2ERow:
    """One reference: its text, its meaning representation as a record, and the original MR it groups by."""

    ref: str
    record: dict[str, str]
    group: str  #: the original E2E MR string: the unit the held-out split is drawn over
    cleaned: bool  #: from the cleaned release, whose MRs were re-annotated to match the text


def read_e2e(data_dir: str | Path) -> list[E2ERow]:
    """Every reference of the E2E dev set and its cleaned release (Dušek et al. 2019), in file order."""
    e2e = Path(data_dir) / "e2e"
    files = [(e2e / "devset.csv", False), (e2e / "devel-fixed.no-ol.csv", True)]
    missing = [str(p) for p, _ in files if not p.is_file()]
    if missing:
        raise DataError(f"E2E data not found: {missing}")
    rows = []
    for path, cleaned in files:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ref, record = " ".join(row["ref"].split()), mr_to_record(row["mr"])
                if ref and record:
                    rows.append(E2ERow(ref, record, (row.get("orig_mr") or row["mr"]).strip(), cleaned))
    return rows


def e2e_split(data_dir: str | Path, held_out: float = 0.1, seed: int = 0) -> tuple[list[E2ERow], list[E2ERow]]:
    """``(train, held_out)``: a fixed, seeded share of the original MRs and every reference of them held out."""
    rows = read_e2e(data_dir)
    groups = sorted({r.group for r in rows})
    random.Random(seed).shuffle(groups)
    held = set(groups[: int(round(len(groups) * held_out))])
    return [r for r in rows if r.group not in held], [r for r in rows if r.group in held]
