"""JSON Schema coverage over JSONSchemaBench: what compiles exactly, what is refused (by keyword), what runs out
of time or states, what crashes; compile times; and whether drawn documents validate.

Run by hand: ``python benchmarks/schema_coverage.py [--per-category N] [--timeout S] [--jobs J]``. Results go to
``benchmarks/results/schema_coverage.json`` (totals per category, and one line per schema) and are summarised in
the README. ``benchmarks/constraints.py`` runs it too.

Every schema is compiled in a forked worker that the parent kills past ``2 * timeout + 10`` seconds (the compile's
own budget is ``timeout``), so a hang or a crash costs one schema, not the run. In the worker, for the default
model's vocabulary and a fresh automaton cache, after both paths have compiled a warm-up schema (:func:`_warm`,
once before the workers fork and once in each worker, so that times are those of a long-running process):

* ``JsonSchema(schema)`` (strict: exact or refused by name) through :func:`compile_constraint`, timed; a
  ``NarrowedSchemaWarning`` (free values or recursion cut at their depth bound) is counted separately;
* the previous path, outlines-core's regex (``schema_to_regex(strict=True)``) and its token automaton, timed,
  for the same schema (its coverage and compile time are "before" in the README);
* for a schema that compiled, ``--draws`` documents drawn at random from its byte automaton, each validated
  with ``jsonschema`` (with format checks): an invalid one is an over-acceptance, reported with the schema.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import multiprocessing.pool
import os
import random
import shutil
import statistics
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

from _schemabench import finish, read_category, record_category

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"
OUT = ROOT / "benchmarks" / "results" / "schema_coverage.json"


def _keyword(path: str) -> str:
    """The keyword a refusal names: the last part of its path that is a JSON Schema keyword."""
    from ctrlgen.guidance.json_schema import VOCABULARY

    for part in reversed(path.split("/")):
        name = part.split(":")[0]
        if name in VOCABULARY:
            return name
    return path


def _measure(schema, vocab, timeout: float, draws: int, conn) -> None:
    """In the worker: one result dict per stage, sent as soon as it is known. Both paths first compile the warm-up
    schema once more here (into a cache that is then dropped): a freshly forked process pays for touching its
    memory on first use, more for the path that builds larger tables, and a long-running process would not."""
    cache = tempfile.mkdtemp(prefix="ctrlgen-cover-")
    try:
        os.environ["CTRLGEN_CACHE"] = os.path.join(cache, "warm")
        _warm(vocab)
        os.environ["CTRLGEN_CACHE"] = os.path.join(cache, "timed")
        _stages(schema, vocab, timeout, draws, conn)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _stages(schema, vocab, timeout: float, draws: int, conn) -> None:
    import jsonschema
    from ctrlgen.constraints import (
        CompileTimeoutError,
        ConstraintTooLargeError,
        InvalidSchemaError,
        JsonSchema,
        NarrowedSchemaWarning,
        UnsatisfiableConstraintError,
        UnsupportedSchemaError,
    )
    from ctrlgen.guidance.compile import compile_constraint, regex_automaton
    from ctrlgen.guidance.index_builder import compile_budget
    from ctrlgen.guidance.json_schema import _check_text, schema_to_regex
    from ctrlgen.guidance.schema_automata import schema_automaton

    out: dict = {}
    _check_text.cache_clear()  # each path checks the schema against its metaschema itself
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught, compile_budget(timeout):
            warnings.simplefilter("always")
            compiled = compile_constraint(JsonSchema(schema), vocab)
        out["status"] = "exact"
        out["bounded"] = any(issubclass(w.category, NarrowedSchemaWarning) for w in caught)
        out["seconds"] = time.perf_counter() - start
        out["states"] = compiled.automaton.num_states
    except InvalidSchemaError as e:
        out["status"], out["reason"] = "invalid-schema", str(e)[:200]
    except UnsupportedSchemaError as e:
        out["status"], out["keyword"], out["reason"] = "refused", _keyword(e.keywords[0]), str(e)[-300:]
    except CompileTimeoutError:
        out["status"] = "timeout"
    except ConstraintTooLargeError as e:
        out["status"], out["reason"] = "too-large", str(e)[:200]
    except UnsatisfiableConstraintError:
        out["status"] = "unsatisfiable"
    except Exception as e:  # noqa: BLE001 - a crash is a result here
        out["status"], out["reason"] = "crash", f"{type(e).__name__}: {e}"[:300]
    conn.send(out)
    if out["status"] == "exact" and draws:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        dfa = schema_automaton(schema).dfa
        rng = random.Random(0)
        bad = []
        for _ in range(draws):
            text = dfa.draw(rng).decode("utf-8")
            try:
                ok = validator.is_valid(json.loads(text))
            except (ValueError, RecursionError):
                ok = False
            if not ok:
                bad.append(text[:200])
        conn.send({"drawn": draws, "drawn_invalid": len(bad), "invalid_examples": bad[:2]})
    before: dict = {}
    _check_text.cache_clear()
    start = time.perf_counter()
    try:
        with compile_budget(None):
            regex = schema_to_regex(schema, strict=True).regex
            regex_automaton(regex, vocab)
        before["before"] = "exact"
        before["before_seconds"] = time.perf_counter() - start
    except Exception as e:  # noqa: BLE001
        before["before"] = "timeout" if isinstance(e, CompileTimeoutError) else type(e).__name__
    conn.send(before)


def measure(schema, vocab, timeout: float, draws: int) -> dict:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_measure, args=(schema, vocab, timeout, draws, child))
    proc.start()
    child.close()
    result: dict = {}
    deadline = time.monotonic() + 2 * timeout + 10
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not parent.poll(left):
            break
        try:
            result.update(parent.recv())
        except EOFError:  # the worker ended
            break
    if proc.is_alive():
        proc.kill()
    proc.join()
    if "status" not in result:
        result["status"] = "timeout" if time.monotonic() >= deadline else f"crash (exit {proc.exitcode})"
    result.setdefault("before", "timeout" if time.monotonic() >= deadline else "crash")
    return result


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    status = Counter(r["status"] for r in rows)
    ours = [r["seconds"] for r in rows if r["status"] == "exact"]
    theirs = [r["before_seconds"] for r in rows if r.get("before") == "exact"]
    both = [(r["seconds"], r["before_seconds"]) for r in rows if r["status"] == "exact" and r.get("before") == "exact"]

    def pct(k: int) -> float:
        return round(100 * k / n, 1) if n else 0.0

    def q(xs: list[float], p: float) -> float | None:
        return round(sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 3) if xs else None

    return {
        "schemas": n,
        "exact_pct": pct(status["exact"]),
        "exact_within_depth_bounds": sum(1 for r in rows if r.get("bounded")),
        "status": dict(status.most_common()),
        "refused_by_keyword": dict(Counter(r["keyword"] for r in rows if r["status"] == "refused").most_common()),
        "before_exact_pct": pct(sum(1 for r in rows if r.get("before") == "exact")),
        "compile_s_median": q(ours, 0.5),
        "compile_s_p90": q(ours, 0.9),
        "before_compile_s_median": q(theirs, 0.5),
        "before_compile_s_p90": q(theirs, 0.9),
        "median_ratio_on_both": round(statistics.median(a / b for a, b in both), 2) if both else None,
        "drawn": sum(r.get("drawn", 0) for r in rows),
        "drawn_invalid": sum(r.get("drawn_invalid", 0) for r in rows),
    }


#: compiled once by both paths before the workers fork (see :func:`_warm`)
WARM_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "string", "pattern": "^[\\w\\s]\\d+$"}},
}


def _warm(vocab) -> None:
    """What each path does once per process, done before the workers fork, so that each schema's times are a
    long-running process's (a server's): compiled kernels loaded, ours' token trie and Unicode category tables,
    outlines-core's vocabulary object. Both paths are warmed alike; their automaton caches stay cold."""
    from ctrlgen.constraints import JsonSchema
    from ctrlgen.guidance.compile import compile_constraint, regex_automaton
    from ctrlgen.guidance.index_builder import compile_budget
    from ctrlgen.guidance.json_schema import schema_to_regex

    compile_constraint(JsonSchema(WARM_SCHEMA), vocab)
    with compile_budget(None):  # the pattern is one the previous path refuses: its object without it
        regex_automaton(schema_to_regex({**WARM_SCHEMA, "properties": {"a": {"type": "integer"}}}).regex, vocab)


def run(per_category: int | None, timeout: float, draws: int, jobs: int, out: Path = OUT) -> dict:
    from ctrlgen.guidance.vocabulary import as_vocabulary
    from tqdm.auto import tqdm

    import ctrlgen

    vocab = as_vocabulary(ctrlgen.load().tokenizer)
    with tempfile.TemporaryDirectory() as warm:
        os.environ["CTRLGEN_CACHE"] = warm
        _warm(vocab)
    result: dict = {"timeout_s": timeout, "draws_per_schema": draws, "jobs": jobs, "categories": {}, "schemas": {}}
    for path in sorted(DATA.glob("data_*.tar.xz")):
        name = path.name.removeprefix("data_").removesuffix(".tar.xz")
        schemas = list(read_category(path))[:per_category]
        rows: list[dict] = [{} for _ in schemas]
        with mp.pool.ThreadPool(jobs) as pool:
            work = pool.imap(lambda item: measure(item[1], vocab, timeout, draws), schemas)
            for i, row in enumerate(tqdm(work, total=len(schemas), desc=name, unit="schema")):
                rows[i] = row | {"file": schemas[i][0]}
        record_category(result, name, rows, summarise)
        out.write_text(json.dumps(result, indent=1))  # what is done so far, if the run is cut short
    return finish(result, summarise, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-category", type=int, default=None, help="the first N schemas of each (all: default)")
    parser.add_argument("--timeout", type=float, default=20.0, help="compile budget per schema, seconds")
    parser.add_argument("--draws", type=int, default=20, help="documents drawn and validated per compiled schema")
    parser.add_argument("--jobs", type=int, default=2, help="workers at a time")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    run(args.per_category, args.timeout, args.draws, args.jobs, args.out)


if __name__ == "__main__":
    main()
