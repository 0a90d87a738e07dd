"""Reading JSONSchemaBench schemas from the shared data folder (one ``data_<category>.tar.xz`` each), for the
benchmarks that run on them."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["read_category"]


def read_category(path: Path) -> Iterator[tuple[str, object]]:
    """``(member name, schema)`` of every JSON file in one category's archive, in name order; files that are
    not JSON (or whose ``schema`` string is not) are skipped. A schema may be wrapped as ``{"schema": ...}``."""
    with tarfile.open(path, "r:xz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            try:
                doc = json.load(tar.extractfile(member))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            schema = doc.get("schema", doc) if isinstance(doc, dict) else doc
            if isinstance(schema, str):
                try:
                    schema = json.loads(schema)
                except json.JSONDecodeError:
                    continue
            yield member.name, schema
