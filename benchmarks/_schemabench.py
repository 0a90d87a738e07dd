"""Reading JSONSchemaBench schemas from the shared data folder (one ``data_<category>.tar.xz`` each), for the
benchmarks that run on them."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["read_category", "record_category", "finish"]


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


def record_category(result: dict, name: str, rows: list[dict], summarise: Callable[[list[dict]], dict]) -> None:
    """One category's rows and their summary into ``result`` (``categories`` and ``schemas``), the summary printed."""
    result["categories"][name] = summarise(rows)
    result["schemas"][name] = rows
    print(name, json.dumps(result["categories"][name]), flush=True)


def finish(result: dict, summarise: Callable[[list[dict]], dict], out: Path) -> dict:
    """The summary of every category's rows together (``all``), printed, and ``result`` written to ``out``."""
    result["all"] = summarise([r for rows in result["schemas"].values() for r in rows])
    print("all", json.dumps(result["all"]), flush=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"written to {out}")
    return result
