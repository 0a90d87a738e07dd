"""Schema compile time in one long-running process: ctrlgen's exact compiler against the previous path.

Run by hand: ``python benchmarks/schema_compile_time.py [--per-category N] [--repeats R]``. Results go to
``benchmarks/results/schema_compile_time.json`` and are quoted in the README beside ``schema_coverage.py``'s.

``schema_coverage.py`` times each schema in a freshly forked worker (needed there: a schema may hang or crash),
where a path pays for first touching the memory it allocates, and the path that builds larger tables pays more.
A server compiles schema after schema in one process; this benchmark measures that. For a random sample of each
JSONSchemaBench category (``--seed``), in this process, after both paths compiled a warm-up schema:

* each schema is compiled ``--repeats`` times by each path, alternating which goes first, each time into a fresh
  automaton cache, with the metaschema check's memo and ctrlgen's per-vocabulary loop parts
  (:func:`ctrlgen.guidance.dfa_tokens._loop_part`) cleared, so no compile reuses the schema's earlier ones;
* ours is ``compile_constraint(JsonSchema(schema))`` (strict); the previous path is outlines-core's regex
  (``schema_to_regex(strict=True)``) and its token automaton, compiled in this process;
* a path's time for a schema is its fastest run (the machine is shared); the ratio is ours / previous. A schema
  whose first compile takes over a second is compiled once per path.

The sample is drawn from the schemas both paths compiled in ``schema_coverage.py``'s run (its results file), so
that the previous path, which runs here without a time limit, cannot hang the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _schemabench import finish, read_category, record_category
from schema_coverage import DATA, _warm
from schema_coverage import OUT as COVERAGE

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "schema_compile_time.json"


def _timed(compile_once) -> float | None:
    """Seconds of one compile into a fresh cache, None when it fails (refused, out of time, too large)."""
    from ctrlgen.guidance.json_schema import _check_text

    _check_text.cache_clear()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CTRLGEN_CACHE"] = cache
        start = time.perf_counter()
        try:
            compile_once()
        except Exception:  # noqa: BLE001 - a failed compile has no time
            return None
        return time.perf_counter() - start


def measure(schema, vocab, timeout: float, repeats: int) -> dict:
    from ctrlgen.constraints import JsonSchema
    from ctrlgen.guidance import dfa_tokens
    from ctrlgen.guidance.compile import compile_constraint, regex_automaton
    from ctrlgen.guidance.index_builder import compile_budget
    from ctrlgen.guidance.json_schema import schema_to_regex

    def ours() -> None:
        dfa_tokens._TRIES[vocab][1].clear()
        with warnings.catch_warnings(), compile_budget(timeout):
            warnings.simplefilter("ignore")
            compile_constraint(JsonSchema(schema), vocab)

    def before() -> None:
        with compile_budget(None):
            regex_automaton(schema_to_regex(schema, strict=True).regex, vocab)

    runs: dict[str, list[float]] = {"ours": [], "before": []}
    paths = {"ours": ours, "before": before}
    for rep in range(repeats):
        order = ["ours", "before"] if rep % 2 == 0 else ["before", "ours"]
        for name in order:
            if rep and not runs[name]:
                continue  # failed the first time
            seconds = _timed(paths[name])
            if seconds is not None:
                runs[name].append(seconds)
        if rep == 0 and max(runs["ours"] + runs["before"], default=0.0) > 1.0:
            break
    return {name: min(times) if times else None for name, times in runs.items()}


def summarise(rows: list[dict]) -> dict:
    both = [r for r in rows if r["ours"] is not None and r["before"] is not None]
    ratios = sorted(r["ours"] / r["before"] for r in both)

    def q(xs: list[float], p: float) -> float | None:
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 4) if xs else None

    return {
        "schemas": len(rows),
        "both_compile": len(both),
        "ours_median_s": q([r["ours"] for r in both], 0.5),
        "before_median_s": q([r["before"] for r in both], 0.5),
        "median_ratio": round(statistics.median(ratios), 2) if ratios else None,
        "p90_ratio": q(ratios, 0.9),
        "share_within_2x": round(sum(x <= 2 for x in ratios) / len(ratios), 3) if ratios else None,
    }


def run(per_category: int, repeats: int, timeout: float, seed: int, out: Path = OUT, coverage: Path = COVERAGE) -> dict:
    from ctrlgen.guidance.vocabulary import as_vocabulary
    from tqdm.auto import tqdm

    import ctrlgen

    vocab = as_vocabulary(ctrlgen.load().tokenizer)
    with tempfile.TemporaryDirectory() as warm:
        os.environ["CTRLGEN_CACHE"] = warm
        _warm(vocab)
    covered = json.loads(coverage.read_text())["schemas"]
    result: dict = {"per_category": per_category, "repeats": repeats, "seed": seed, "categories": {}, "schemas": {}}
    for path in sorted(DATA.glob("data_*.tar.xz")):
        name = path.name.removeprefix("data_").removesuffix(".tar.xz")
        both = {r["file"] for r in covered.get(name, []) if r["status"] == "exact" and r.get("before") == "exact"}
        schemas = [(file, schema) for file, schema in read_category(path) if file in both]
        random.Random(seed).shuffle(schemas)
        rows = []
        for file, schema in tqdm(schemas[:per_category], desc=name, unit="schema"):
            rows.append({"file": file, **measure(schema, vocab, timeout, repeats)})
        record_category(result, name, rows, summarise)
    return finish(result, summarise, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-category", type=int, default=100, help="schemas sampled per category")
    parser.add_argument("--repeats", type=int, default=3, help="compiles per schema and path (the fastest counts)")
    parser.add_argument("--timeout", type=float, default=20.0, help="our compile budget per schema, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--coverage", type=Path, default=COVERAGE, help="schema_coverage.py's results")
    args = parser.parse_args()
    run(args.per_category, args.repeats, args.timeout, args.seed, args.out, args.coverage)


if __name__ == "__main__":
    main()
