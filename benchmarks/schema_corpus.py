"""JSON Schema corpus run: every schema of ``../shared/data/jsonschemabench`` compiled and generated from, each in a
worker process that is killed past a time limit.

Run by hand: ``python benchmarks/schema_corpus.py [--limit N] [--time-limit 90] [--compile-budget 30]``.
Results: ``benchmarks/results/schema_corpus.json`` (counts per category and outcome, the slowest schemas,
every failure) and a summary line, quoted in the README.

For each schema, in one long-lived worker (a server that sees thousands of schemas in a row):

1. ``JsonSchema(schema)`` (exact) is compiled; if it is refused as unsupported, ``JsonSchema(schema,
   strict=False)`` (the keywords it cannot compile are checked by validation, with resampling);
2. two documents are generated on the shipped tokenizer with an untrained one-layer denoiser at the default
   model's canvas (the model never helps the constraint: the engine's worst case, and fast), ``steps=16``;
3. the parent validates every document with ``jsonschema`` itself (the library's verdict is not trusted).

Outcomes: ``exact`` / ``fallback`` (documents emitted, all checked), ``typed:<Error>`` (a ``CtrlgenError``:
unsupported keywords, a document that cannot fit the canvas, the compile budget spent, ...), and the
failures the run exists to find: ``invalid`` (a document that does not validate), ``untyped:<Error>``,
``overtime`` (the worker still busy at ``--time-limit``: killed and restarted) and ``crash`` (the worker
died). Schemas that ``jsonschema`` itself rejects as invalid are expected to raise ``InvalidSchemaError``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from collections import Counter
from pathlib import Path

from _schemabench import read_category

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"
STEPS = 16


def _worker(conn, compile_budget: float) -> None:
    """Compile and generate for each schema received; reply ``(outcome, documents, seconds)``."""
    import ctrlgen
    from ctrlgen import CtrlgenError, JsonSchema, UnsupportedSchemaError
    from ctrlgen.tiny_models import untrained_lm

    shipped = ctrlgen.load()
    lm = untrained_lm(shipped.tokenizer, max_canvas=shipped.denoiser.max_length)
    conn.send("ready")
    while True:
        message = conn.recv()
        if message is None:
            return
        index, schema = message
        start = time.perf_counter()
        mode = "exact"
        try:
            with ctrlgen.compile_budget(compile_budget):
                try:
                    docs = lm.generate(n=2, constraints=[JsonSchema(schema)], seed=index, steps=STEPS)
                except UnsupportedSchemaError:
                    mode = "fallback"
                    docs = lm.generate(n=2, constraints=[JsonSchema(schema, strict=False)], seed=index, steps=STEPS)
            conn.send((mode, docs, time.perf_counter() - start))
        except CtrlgenError as e:
            conn.send(
                (
                    f"typed:{type(e).__name__}" + ("(fallback)" if mode == "fallback" else ""),
                    [],
                    time.perf_counter() - start,
                )
            )
        except Exception as e:  # noqa: BLE001 - what the run exists to find
            conn.send((f"untyped:{type(e).__name__}: {str(e)[:200]}", [], time.perf_counter() - start))


class _Worker:
    def __init__(self, compile_budget: float) -> None:
        self.compile_budget = compile_budget
        self.proc = None
        self.started = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.compile_budget), daemon=True)
        self.proc.start()
        self.started += 1
        if not self.conn.poll(300) or self.conn.recv() != "ready":
            raise RuntimeError("the corpus worker did not start")

    def run(self, index: int, schema, time_limit: float) -> tuple[str, list[str], float]:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        start = time.perf_counter()
        self.conn.send((index, schema))
        deadline = start + time_limit
        while time.perf_counter() < deadline:
            if self.conn.poll(0.2):
                try:
                    return self.conn.recv()
                except EOFError:
                    break
            if not self.proc.is_alive():
                break
        alive = self.proc.is_alive()
        self.proc.kill()
        self.proc.join()
        self.proc = None
        return ("overtime" if alive else "crash"), [], time.perf_counter() - start

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(10)


def _valid(schema, text: str) -> str | None:
    """None when ``text`` is a JSON document valid under ``schema``, else why not."""
    import jsonschema

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        return f"not JSON: {e}"
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc))
    return errors[0].message[:200] if errors else None


def run(limit: int | None, time_limit: float, compile_budget: float, only: set[str] | None = None) -> dict:
    from tqdm.auto import tqdm

    cases = []
    for path in sorted(DATA.glob("data_*.tar.xz")):
        category = path.name.removeprefix("data_").removesuffix(".tar.xz")
        members = list(read_category(path))
        cases += [(category, name, schema) for name, schema in members[:limit]]
    if only:
        cases = [c for c in cases if f"{c[0]}/{Path(c[1]).name}" in only]
    worker = _Worker(compile_budget)
    counts: dict[str, Counter] = {}
    failures, seconds, documents, valid = [], [], 0, 0
    try:
        for i, (category, name, schema) in enumerate(tqdm(cases, desc="schemas")):
            outcome, docs, took = worker.run(i, schema, time_limit)
            seconds.append((took, f"{category}/{Path(name).name}", outcome))
            problems = [p for d in docs if (p := _valid(schema, d))]
            documents += len(docs)
            valid += len(docs) - len(problems)
            if problems:
                outcome = "invalid"
            counts.setdefault(category, Counter())[
                outcome.split(":")[0] if outcome.startswith("untyped") else outcome
            ] += 1
            if outcome in ("invalid", "overtime", "crash") or outcome.startswith("untyped"):
                failures.append(
                    {"schema": f"{category}/{Path(name).name}", "outcome": outcome, "problem": problems[:1]}
                )
    finally:
        worker.close()
    seconds.sort(reverse=True)
    total = Counter()
    for c in counts.values():
        total.update(c)
    return {
        "schemas": len(cases),
        "time_limit_s": time_limit,
        "compile_budget_s": compile_budget,
        "steps": STEPS,
        "documents": documents,
        "documents_valid": valid,
        "workers_started": worker.started,
        "total": dict(sorted(total.items())),
        "by_category": {k: dict(sorted(v.items())) for k, v in counts.items()},
        "failures": failures,
        "slowest": [{"s": round(t, 2), "schema": s, "outcome": o} for t, s, o in seconds[:15]],
        "median_s": round(sorted(t for t, _, _ in seconds)[len(seconds) // 2], 3) if seconds else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="schemas per category (default: all)")
    parser.add_argument("--time-limit", type=float, default=90.0, help="seconds per schema before the worker is killed")
    parser.add_argument("--compile-budget", type=float, default=30.0, help="the library's compile budget, seconds")
    parser.add_argument("--only", default=None, help="comma-separated Category/file.json names (rerun some)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "schema_corpus.json"))
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"no corpus at {DATA}")
    start = time.time()
    only = set(args.only.split(",")) if args.only else None
    result = run(args.limit, args.time_limit, args.compile_budget, only)
    result["wall_s"] = round(time.time() - start, 1)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    t = result["total"]
    print(
        f"{result['schemas']} schemas in {result['wall_s']} s: {t.get('exact', 0)} exact, {t.get('fallback', 0)} "
        f"fallback, {sum(v for k, v in t.items() if k.startswith('typed'))} typed errors, {len(result['failures'])} "
        f"failures; {result['documents_valid']}/{result['documents']} documents valid; written to {args.out}"
    )
    for failure in result["failures"][:10]:
        print(json.dumps(failure), file=sys.stderr)
    sys.exit(1 if result["failures"] else 0)


if __name__ == "__main__":
    main()
