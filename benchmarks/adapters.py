"""Adapter benchmark: constrained generation through every model adapter, at real vocabulary sizes.

Run by hand: ``python benchmarks/adapters.py [--quick] [--out PATH]``. Results go to
``benchmarks/results/adapters.json``; a markdown summary is printed (and written next to the JSON as ``.md``).

Three measurements, each with its target:

1. **Guide overhead per step** (target: guide time per step / denoiser forward <= 0.25 at every vocabulary
   size, judged on the shipped model's shape): the example schema (``examples/restaurant.schema.json``) on a
   canvas of 128 positions, batch 8, 32 steps of the ancestral sampler, after a prompt of about 20 tokens, run
   with ``DiffusionLM.sample_tokens`` through the adapter's own ``_canvas_denoiser``. The guide's time is
   ``ConstraintGuide.process_logits`` + ``ConstraintGuide.sample``, as ``benchmarks/constraints.py`` measures
   it; it is split into the automaton DP (reachability, allowed classes, joint path: independent of the
   vocabulary size V) and the vocabulary-wide rest (the ``(B, L, V)`` logit mask, the per-class marginals and
   the in-class draw: what scales with V). Vocabularies: the shipped model (4k, ``ctrlgen.load()``), a BERT
   masked LM with a 30,522-token WordPiece vocabulary and a RoBERTa masked LM with a 50,265-token byte-level
   BPE vocabulary (``ctrlgen.tiny_models.build_masked_lm(..., synthetic_vocab=True)``), each in two shapes:
   the shipped model's (hidden 256, 6 layers, 4 heads, feed-forward 1024: the row the target is judged on)
   and a BERT-base-like one (hidden 768, 12 layers, 12 heads, feed-forward 3072).
2. **Cold schema compile** (target: median of ours / outlines-core's ``Index`` alone <= 2 at 50k; cache hit
   median < 10 ms): the example schema plus a fixed, seeded sample of JSONSchemaBench schemas
   (``../shared/data/jsonschemabench``) that compile exactly, ``compile_constraint(JsonSchema(s), vocab)`` with
   a fresh ``$CTRLGEN_CACHE`` and schema-level in-process caches cleared, against ``outlines_core.Index(regex,
   vocabulary)`` on the same regex (``schema_to_regex``) and the vocabulary's outlines vocabulary. The
   vocabulary's own one-off set-up (reading the tokenizer, the outlines vocabularies) is reported apart.
   Also at 4k and 30k, for context.
3. **Validity on every adapter** (target: 100% of emitted documents valid): prompted generation with every
   family of ``build_zoo`` (tiny untrained models: the worst case) and the shipped model, on the example schema
   and five more, plus a regex and a ``Length(words=)`` constraint. Typed errors (e.g. a tokenizer that cannot
   spell a schema's characters) are counted apart, never as invalid outputs.

Times use ``time.perf_counter``; warm-up runs are excluded; repeated figures are medians.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import torch
from _schemabench import read_category
from ctrlgen.constraints import ConstraintError, JsonSchema, Length, Regex

import ctrlgen
from ctrlgen.errors import CtrlgenError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"
EXAMPLE = ROOT / "examples" / "restaurant.schema.json"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "adapters.json"

#: The prompt in front of the canvas in the overhead runs (about 20 tokens with every tokenizer here).
PROMPT = "Write a JSON record for a family-friendly Italian restaurant near the river with a cheap price range."
#: Model shapes of the 30k/50k masked LMs: the shipped model's, and a BERT-base-like one.
SHAPES = {
    "default": {"hidden": 256, "layers": 6, "heads": 4, "ff": 1024},
    "bert-base": {"hidden": 768, "layers": 12, "heads": 12, "ff": 3072},
}
#: (label, family, vocabulary size) of the synthetic-vocabulary masked LMs.
VOCABS = [("30k WordPiece", "bert", 30522), ("50k byte-level BPE", "roberta", 50265)]
REGEX = r"[A-Z][a-z]+ \d{3}-\d{4}"
WORDS = 12
TARGET_RATIO, TARGET_COMPILE, TARGET_HIT_MS, TARGET_VALID = 0.25, 2.0, 10.0, 100.0


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def machine() -> dict:
    from importlib.metadata import version

    import numba
    import outlines_core  # noqa: F401 - version below
    import transformers

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "outlines_core": version("outlines-core"),
        "numba": numba.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_state() -> dict:
    """The commit measured, and the files that differ from it (the working tree is what runs)."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "modified": git("status", "--porcelain").splitlines()}


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def rnd(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


# ---------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------


def build_shaped(family: str, out: Path, vocab_size: int, shape: dict, seed: int = 0) -> Path:
    """A ``family`` masked LM with a synthetic vocabulary of exactly ``vocab_size`` tokens, in ``shape``.

    ``build_masked_lm`` gives a feed-forward of ``2 * hidden``; the model is re-initialised from its config with
    the shape's feed-forward width (random weights either way: only the cost of a forward matters here)."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    from ctrlgen.tiny_models import build_masked_lm

    build_masked_lm(
        family,
        out,
        vocab_size=vocab_size,
        hidden=shape["hidden"],
        layers=shape["layers"],
        heads=shape["heads"],
        seed=seed,
        synthetic_vocab=True,
        verify=False,
    )
    config = AutoConfig.from_pretrained(out)
    config.intermediate_size = shape["ff"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForMaskedLM.from_config(config)
    model.save_pretrained(out)
    return out


def load(path: Path | None) -> ctrlgen.DiffusionLM:
    lm = ctrlgen.load() if path is None else ctrlgen.DiffusionLM.from_pretrained(path, trust_remote_code=True)
    torch.manual_seed(0)
    return lm


def describe_model(lm: ctrlgen.DiffusionLM) -> dict:
    return {
        "adapter": type(lm.denoiser).__name__,
        "family": lm.denoiser.family,
        "vocabulary": len(lm.vocabulary),
        "parameters": sum(p.numel() for p in lm.model.parameters()),
    }


# ---------------------------------------------------------------------------------------------------------------
# 1. Guide overhead per step
# ---------------------------------------------------------------------------------------------------------------


class Timers:
    """Wraps callables (bound methods or module attributes) so that their time adds up under a name; with
    ``scoped`` each call is also a ``torch.profiler.record_function`` range of that name."""

    def __init__(self, scoped: bool = False) -> None:
        self.laps: dict[str, list[float]] = {}
        self.scoped = scoped
        self._undo: list[Callable[[], None]] = []

    def wrap(self, fn: Callable, key: str) -> Callable:
        laps = self.laps.setdefault(key, [])
        scope = torch.profiler.record_function if self.scoped else None

        def timed(*a, **k):
            start = time.perf_counter()
            try:
                if scope is None:
                    return fn(*a, **k)
                with scope(key):
                    return fn(*a, **k)
            finally:
                laps.append(time.perf_counter() - start)

        return timed

    def patch(self, owner: object, name: str, key: str) -> None:
        """Time ``owner.name`` (an instance, class or module attribute) until :meth:`restore`."""
        if not hasattr(owner, name):
            log(f"note: {owner!r} has no {name}; not timed")
            return
        own = name in vars(owner)
        old = getattr(owner, name)
        setattr(owner, name, self.wrap(old, key))
        self._undo.append(lambda: setattr(owner, name, old) if own else delattr(owner, name))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()

    def get(self, key: str) -> float:
        return sum(self.laps.get(key, ()))

    @property
    def total(self) -> dict[str, float]:
        return {k: sum(v) for k, v in self.laps.items() if v}


def _plan_overhead(lm, schema: dict, canvas: int, batch: int):
    from ctrlgen.constrained import plan_constraints
    from ctrlgen.prompts import check_room

    prefix = lm._prefixes(PROMPT)[0]
    room = check_room(len(prefix), canvas, lm.denoiser.max_length)
    plan = plan_constraints([JsonSchema(schema)], lm.vocabulary, canvas, room)
    denoise = lm._canvas_denoiser([prefix] * batch, None, 1.0)
    return prefix, plan, denoise


#: Functions timed inside a constrained run: (module, attribute, timer name).
_GUIDE_PARTS = [
    ("ctrlgen.guidance.guide", "reachability", "dp.reachability"),
    ("ctrlgen.guidance.guide", "allowed_classes", "dp.allowed_classes"),
    ("ctrlgen.guidance.guide", "joint_sample", "joint_sample"),
    ("ctrlgen.guidance.feasibility", "class_weights", "vocab.class_weights"),
    ("ctrlgen.guidance._kernels", "joint_path", "dp.joint_path"),
]


def overhead_run(lm, plan, denoise, batch: int, steps: int, seed: int, scoped: bool = False) -> Timers:
    """One constrained ``sample_tokens`` run (ancestral sampler) with the guide, its parts, the sampler step and
    every denoiser forward timed."""
    import importlib

    from ctrlgen.sampling import AncestralSampler

    guide = plan.guide
    timers = Timers(scoped)
    sampler = AncestralSampler(steps=steps, schedule=lm.schedule)
    timers.patch(guide, "process_logits", "guide.process_logits")
    timers.patch(guide, "sample", "guide.sample")
    for module, name, key in _GUIDE_PARTS:
        timers.patch(importlib.import_module(module), name, key)
    timers.patch(sampler, "step", "sampler.step")
    forward = timers.wrap(denoise, "forward")
    try:
        lm.sample_tokens(plan.canvas(batch, lm.mask_token_id), sampler, guides=[guide], seed=seed, denoise=forward)
    finally:
        timers.restore()
    return timers


def summarise_run(t: Timers, steps: int) -> dict:
    guide = t.get("guide.process_logits") + t.get("guide.sample")
    dp = t.get("dp.reachability") + t.get("dp.allowed_classes") + t.get("dp.joint_path")
    mask = t.get("guide.process_logits") - t.get("dp.reachability") - t.get("dp.allowed_classes")
    sample_v = t.get("joint_sample") - t.get("dp.joint_path")
    forwards = t.laps.get("forward", [])
    fwd = sum(forwards) / max(len(forwards), 1)
    per_step = guide / steps
    guide_laps = [a + b for a, b in zip(t.laps.get("guide.process_logits", []), t.laps.get("guide.sample", []))]
    step_ratios = [g / f for g, f in zip(guide_laps, forwards)] if len(guide_laps) == len(forwards) else []
    return {
        "guide_s_per_step": per_step,
        "forward_s_per_call": fwd,
        "forward_calls": len(forwards),
        "ratio": per_step / fwd,
        "ratio_median_of_steps": median(step_ratios),
        "dp_s_per_step": dp / steps,
        "vocab_wide_s_per_step": (guide - dp) / steps,
        "vocab_mask_s_per_step": mask / steps,
        "vocab_sample_s_per_step": sample_v / steps,
        "class_weights_s_per_step": t.get("vocab.class_weights") / steps,
        "sampler_excl_guide_s_per_step": (t.get("sampler.step") - t.get("guide.sample")) / steps,
    }


def overhead(lm, schema: dict, canvas: int, batch: int, steps: int, repeats: int) -> dict:
    prefix, plan, denoise = _plan_overhead(lm, schema, canvas, batch)
    overhead_run(lm, plan, denoise, batch, 2, seed=1)  # warm-up: kernels, device automaton, allocator
    runs = [summarise_run(overhead_run(lm, plan, denoise, batch, steps, seed=r), steps) for r in range(repeats)]
    automaton = plan.guide.spans[0].automaton
    out = {
        "method": "measured: full constrained sampling run",
        "prompt_tokens": len(prefix),
        "canvas": canvas,
        "batch": batch,
        "steps": steps,
        "repeats": repeats,
        "states": automaton.num_states,
        "classes": automaton.num_classes,
        **{k: rnd(median([r[k] for r in runs]), 5) for k in runs[0] if k != "forward_calls"},
        "forward_calls": runs[0]["forward_calls"],
    }
    for key in ("ratio", "ratio_median_of_steps"):
        out[key] = rnd(out[key], 3)
    out["vocab_wide_share_of_guide"] = rnd(out["vocab_wide_s_per_step"] / max(out["guide_s_per_step"], 1e-12), 3)
    out["met"] = out["ratio"] <= TARGET_RATIO
    return out


def forward_only(lm, schema: dict, canvas: int, batch: int, calls: int) -> dict:
    """Median time of the adapter's ``_canvas_denoiser`` on the prompted, all-masked canvas (after a warm-up):
    a forward's cost does not depend on what the canvas holds."""
    prefix, plan, denoise = _plan_overhead(lm, schema, canvas, batch)
    x = plan.canvas(batch, lm.mask_token_id)
    denoise(x)
    laps = []
    for _ in range(calls):
        start = time.perf_counter()
        denoise(x)
        laps.append(time.perf_counter() - start)
    return {"prompt_tokens": len(prefix), "forward_s_per_call": rnd(median(laps), 5), "forward_calls": calls}


def op_profile(lm, schema: dict, canvas: int, batch: int, steps: int, top: int = 14) -> dict:
    """Where a constrained run's guide and sampler time goes, by torch operator (``torch.profiler``) within
    the timed functions; time in a function that no torch operator accounts for is its numba kernels, numpy
    and Python (``(no torch op: ...)`` rows)."""
    from torch.profiler import ProfilerActivity, profile

    _, plan, denoise = _plan_overhead(lm, schema, canvas, batch)
    overhead_run(lm, plan, denoise, batch, 2, seed=1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        timers = overhead_run(lm, plan, denoise, batch, steps, seed=0, scoped=True)
    scopes = set(timers.laps)
    own: dict[tuple[str, str], float] = {}
    for event in prof.events():
        if event.name in scopes:
            continue
        parent = event.cpu_parent
        while parent is not None and parent.name not in scopes:
            parent = parent.cpu_parent
        if parent is not None:
            key = (parent.name, event.name)
            own[key] = own.get(key, 0.0) + event.self_cpu_time_total / 1e6
    # each scope's time not spent in torch operators nor in a nested timed function
    nested = {"guide.process_logits": ["dp.reachability", "dp.allowed_classes"], "guide.sample": ["joint_sample"]}
    nested.update({"joint_sample": ["vocab.class_weights", "dp.joint_path"], "sampler.step": ["guide.sample"]})
    for scope in scopes - {"forward"}:
        ops = sum(v for (s, _), v in own.items() if s == scope)
        rest = timers.get(scope) - ops - sum(timers.get(c) for c in nested.get(scope, []))
        own[(scope, "(no torch op: numba kernels, numpy, Python)")] = max(rest, 0.0)
    guide_scopes = {"guide.process_logits", "guide.sample", "joint_sample", "vocab.class_weights"} | {
        s for s in scopes if s.startswith("dp.")
    }
    guide_total = timers.get("guide.process_logits") + timers.get("guide.sample")
    sampler_total = timers.get("sampler.step") - timers.get("guide.sample")

    def rows(keep: set[str], total: float) -> list[dict]:
        items = sorted(((k, v) for k, v in own.items() if k[0] in keep), key=lambda kv: -kv[1])
        return [
            {"in": s, "op": op, "ms_per_step": rnd(1000 * v / steps, 2), "share": rnd(v / max(total, 1e-12), 3)}
            for (s, op), v in items[:top]
        ]

    return {
        "steps": steps,
        "note": "torch.profiler run (its overhead included); shares of the guide's (resp. sampler's) own time",
        "guide_ms_per_step": rnd(1000 * guide_total / steps, 2),
        "guide_ops": rows(guide_scopes, guide_total),
        "sampler_excl_guide_ms_per_step": rnd(1000 * sampler_total / steps, 2),
        "sampler_ops": rows({"sampler.step"}, sampler_total),
    }


# ---------------------------------------------------------------------------------------------------------------
# 2. Schema compile, cold and cached
# ---------------------------------------------------------------------------------------------------------------


def bench_schemas() -> list[tuple[str, dict]]:
    """Every JSONSchemaBench schema here, named ``Category/file``, in a fixed order."""
    out = []
    for path in sorted(DATA.glob("data_*.tar.xz")):
        category = path.name.removeprefix("data_").removesuffix(".tar.xz")
        out += [(f"{category}/{Path(name).name}", s) for name, s in read_category(path) if isinstance(s, dict)]
    return out


@contextlib.contextmanager
def fresh_cache():
    """A new, empty ``$CTRLGEN_CACHE`` for the duration (removed afterwards)."""
    old = os.environ.get("CTRLGEN_CACHE")
    path = tempfile.mkdtemp(prefix="ctrlgen-adapters-")
    os.environ["CTRLGEN_CACHE"] = path
    try:
        yield Path(path)
    finally:
        if old is None:
            os.environ.pop("CTRLGEN_CACHE", None)
        else:
            os.environ["CTRLGEN_CACHE"] = old
        shutil.rmtree(path, ignore_errors=True)


def clear_schema_caches() -> list[str]:
    """Clear every in-process cache of the compile path keyed by schema or pattern (``functools`` caches and
    module-level ``*CACHE*`` dictionaries of the compile, JSON-schema and automaton modules). The vocabulary's
    own one-off structures (outlines vocabularies, the forbidden-sequence automaton) stay: they are built once
    per model, like outlines-core's ``Vocabulary``, and are timed apart."""
    import ctrlgen.guidance.automaton as automaton
    import ctrlgen.guidance.compile as compile_mod
    import ctrlgen.guidance.json_schema as json_schema

    cleared = []
    for module in (compile_mod, json_schema, automaton):
        for name, obj in vars(module).items():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()
                cleared.append(f"{module.__name__}.{name}")
            elif "CACHE" in name.upper() and isinstance(obj, dict):
                obj.clear()
                cleared.append(f"{module.__name__}.{name}")
    return cleared


def _compile_child(schema, vocab, conn) -> None:
    from ctrlgen.guidance.compile import compile_constraint

    try:
        compiled = compile_constraint(JsonSchema(schema), vocab)
        conn.send(("ok", compiled.automaton.shortest_accepted()))
    except (ConstraintError, CtrlgenError, RecursionError) as e:
        conn.send((type(e).__name__, None))
    except Exception as e:  # noqa: BLE001 - an untyped failure is reported as such
        conn.send((f"untyped {type(e).__name__}", None))


def compile_status(schema: dict, vocab, timeout: float) -> tuple[str, int | None]:
    """Compile in a forked process (so a slow schema can be cut off): ``("ok", shortest)`` or the error name."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_compile_child, args=(schema, vocab, child))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return "timeout", None
    return parent.recv() if parent.poll() else ("crashed", None)


def select_schemas(vocab, count: int, seed: int, timeout: float) -> dict:
    """A seeded sample of JSONSchemaBench schemas that compile exactly for ``vocab`` (the 50k one): candidates
    in a seeded random order, each compiled in a child with a time limit, until ``count`` compile."""
    pool = bench_schemas()
    random.Random(seed).shuffle(pool)
    chosen, skipped, tried = [], {}, 0
    with fresh_cache():
        for name, schema in pool:
            if len(chosen) >= count:
                break
            tried += 1
            status, shortest = compile_status(schema, vocab, timeout)
            if status == "ok":
                chosen.append((name, schema, shortest))
            else:
                skipped.setdefault(status, []).append(name)
    log(f"schemas: {len(chosen)} chosen of {tried} tried; skipped { ({k: len(v) for k, v in skipped.items()}) }")
    return {"chosen": chosen, "tried": tried, "skipped": skipped, "pool": len(pool)}


class CompileBreakdown(Timers):
    """Where a cold compile spends its time: the schema's byte automaton, reading it with the tokens, the
    automaton builder's steps, the cache; and, for compiles that go through a regex, outlines-core's ``Index``
    (inside ``_regex_transitions``)."""

    def __enter__(self):
        import ctrlgen.guidance.automaton as automaton
        import ctrlgen.guidance.compile as compile_mod
        import ctrlgen.guidance.dfa_tokens as dfa_tokens
        import ctrlgen.guidance.schema_automata as schema_automata
        import outlines_core

        self.patch(schema_automata, "schema_automaton", "schema_automaton")
        self.patch(dfa_tokens, "_transitions", "_transitions")
        for name in ("_regex_transitions", "from_transitions", "product", "_save", "_load"):
            self.patch(compile_mod, name, name)
        for name in ("_split_start", "_useful", "classes_of"):
            self.patch(automaton, name, name)
        self.patch(outlines_core, "Index", "Index")
        return self

    def __exit__(self, *exc) -> None:
        self.restore()


def breakdown_shares(parts: dict[str, float], total: float) -> dict[str, float]:
    """Flat, non-overlapping shares of a compile's time from the nested timers."""
    g = parts.get
    flat = {
        "schema_automaton (the schema's byte automaton)": g("schema_automaton", 0.0),
        "dfa_tokens._transitions (reading it with the tokens)": g("_transitions", 0.0),
        "outlines_core.Index (probe regex)": g("Index", 0.0),
        "_regex_transitions excl. Index (reading the index's transitions, probe filtering, finals)": g(
            "_regex_transitions", 0.0
        )
        - g("Index", 0.0),
        "from_transitions: _split_start": g("_split_start", 0.0),
        "from_transitions: _useful": g("_useful", 0.0),
        "from_transitions: classes_of (token classes and table)": g("classes_of", 0.0),
        "from_transitions: rest (renumbering loop, triples)": g("from_transitions", 0.0)
        - g("_split_start", 0.0)
        - g("_useful", 0.0)
        - g("classes_of", 0.0),
        "product (forbidden sequences)": g("product", 0.0),
        "_save / _load": g("_save", 0.0) + g("_load", 0.0),
    }
    flat["other"] = total - sum(flat.values())
    return {k: rnd(v / max(total, 1e-12), 3) for k, v in sorted(flat.items(), key=lambda kv: -kv[1])}


def vocabulary_setup(path: Path | None) -> dict:
    """One-off cost per model: the token vocabulary read from a fresh tokenizer, and its outlines
    vocabularies (the plain one, and the probe one compiles go through)."""
    from ctrlgen.guidance.vocabulary import outlines_vocabulary, token_vocabulary

    lm = load(path)
    d = lm.denoiser
    # a fresh tokenizer object of the same class (token_vocabulary caches per tokenizer object)
    tokenizer = type(d.tokenizer).from_pretrained(path or ctrlgen.pipeline.DEFAULT_MODEL_DIR)
    start = time.perf_counter()
    vocab = token_vocabulary(tokenizer, end_id=d.end_token_id, pad_id=d.pad_token_id, mask_id=d.mask_token_id)
    read = time.perf_counter() - start
    start = time.perf_counter()
    _ = vocab.probe
    probe = time.perf_counter() - start
    start = time.perf_counter()
    outlines_vocabulary(vocab)
    plain = time.perf_counter() - start
    return {"token_vocabulary_s": rnd(read), "probe_vocabulary_s": rnd(probe), "outlines_vocabulary_s": rnd(plain)}


def compile_bench(vocab, schemas: list[tuple[str, dict]], repeats: int, hits: int) -> dict:
    from ctrlgen.guidance.compile import compile_constraint
    from ctrlgen.guidance.json_schema import schema_to_regex
    from ctrlgen.guidance.vocabulary import outlines_vocabulary
    from outlines_core import Index

    ov = outlines_vocabulary(vocab)
    _ = vocab.probe
    with fresh_cache():  # warm-up: imports, first-call costs
        compile_constraint(Regex("[a-z]{1,5}"), vocab)
        compile_constraint(JsonSchema({"type": "object", "properties": {"a": {"type": "integer"}}}), vocab)
        Index("[a-z]{1,5}", ov)
    rows, cleared, breakdown = [], [], {}
    for name, schema in schemas:
        constraint = JsonSchema(schema)
        row: dict = {"schema": name}
        try:
            regex = schema_to_regex(constraint.schema, constraint.strict, constraint.whitespace).regex
        except ConstraintError as e:
            rows.append({**row, "error": type(e).__name__})
            continue
        ours, theirs, hit = [], [], []
        try:
            for r in range(repeats):
                with fresh_cache():
                    cleared = clear_schema_caches()
                    with CompileBreakdown() as parts:
                        start = time.perf_counter()
                        compiled = compile_constraint(constraint, vocab)
                        ours.append(time.perf_counter() - start)
                    if r == 0:
                        for key, value in parts.total.items():
                            breakdown[key] = breakdown.get(key, 0.0) + value
                        breakdown["total"] = breakdown.get("total", 0.0) + ours[-1]
                        for _ in range(hits):  # the same schema again: the on-disk cache answers
                            clear_schema_caches()
                            start = time.perf_counter()
                            compile_constraint(JsonSchema(schema), vocab)
                            hit.append(time.perf_counter() - start)
                if sum(ours) > 2.0:  # slow schemas: fewer repeats
                    break
        except ConstraintError as e:
            rows.append({**row, "error": type(e).__name__})
            continue
        for _ in range(len(ours)):
            start = time.perf_counter()
            Index(regex, ov)
            theirs.append(time.perf_counter() - start)
        a = compiled.automaton
        row.update(
            {
                "ours_s": rnd(median(ours), 5),
                "outlines_index_s": rnd(median(theirs), 5),
                "ratio": rnd(median(ours) / max(median(theirs), 1e-9), 3),
                "cache_hit_ms": rnd(1000 * median(hit), 3),
                "states": a.num_states,
                "classes": a.num_classes,
                "repeats": len(ours),
            }
        )
        rows.append(row)
    ok = [r for r in rows if "error" not in r]
    shares = breakdown_shares(breakdown, breakdown.pop("total", 0.0))
    return {
        "schemas": len(schemas),
        "compiled": len(ok),
        "errors": {r["schema"]: r["error"] for r in rows if "error" in r},
        "ours_s_median": rnd(median([r["ours_s"] for r in ok]), 5),
        "outlines_index_s_median": rnd(median([r["outlines_index_s"] for r in ok]), 5),
        "ratio_median": rnd(median([r["ratio"] for r in ok]), 3),
        "ratio_p90": rnd(sorted(r["ratio"] for r in ok)[int(0.9 * (len(ok) - 1))], 3) if ok else None,
        "ratio_of_sums": rnd(sum(r["ours_s"] for r in ok) / max(sum(r["outlines_index_s"] for r in ok), 1e-9), 3),
        "cache_hit_ms_median": rnd(median([r["cache_hit_ms"] for r in ok]), 3),
        "cache_hit_ms_max": rnd(max((r["cache_hit_ms"] for r in ok), default=float("nan")), 3),
        "cold_breakdown_share": shares,
        "cold_breakdown_note": "shares of the summed first cold compile of every schema (nested timers)",
        "cleared_caches": cleared,
        "per_schema": rows,
    }


def profile_compile(vocab, schema: dict, top: int = 12) -> list[dict]:
    """cProfile of one cold compile (fresh cache): functions with the most own time, as shares."""
    from ctrlgen.guidance.compile import compile_constraint

    with fresh_cache():
        clear_schema_caches()
        prof = cProfile.Profile()
        prof.enable()
        compile_constraint(JsonSchema(schema), vocab)
        prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values()) or 1e-12
    rows = [
        {
            "function": f"{Path(file).name}:{line}({fn})",
            "calls": nc,
            "own_s": rnd(tt, 4),
            "cum_s": rnd(ct, 4),
            "own_share": rnd(tt / total, 3),
            "cum_share": rnd(min(ct / total, 1.0), 3),
        }
        for (file, line, fn), (_, nc, tt, ct, _) in stats.stats.items()
    ]
    rows.sort(key=lambda r: -r["own_s"])
    return rows[:top]


# ---------------------------------------------------------------------------------------------------------------
# 3. Validity on every adapter
# ---------------------------------------------------------------------------------------------------------------


def _json_check(schema: dict) -> Callable[[str], bool]:
    def ok(text: str) -> bool:
        try:
            jsonschema.validate(json.loads(text), schema)
            return True
        except (json.JSONDecodeError, jsonschema.ValidationError):
            return False

    return ok


def validity(lm, requests: list[tuple[str, list, Callable[[str], bool], dict]], n: int, seed: int) -> dict:
    """Run every request ``(name, constraints, check, generate kwargs)`` with a chat prompt; count what was
    emitted and valid, and typed errors apart."""
    prompt = [{"role": "user", "content": PROMPT}]
    rows = []
    for name, constraints, check, kwargs in requests:
        row: dict = {"request": name}
        start = time.perf_counter()
        try:
            texts = lm.generate(prompt=prompt, constraints=constraints, n=n, seed=seed, **kwargs)
        except (ConstraintError, CtrlgenError) as e:
            row["typed_error"] = f"{type(e).__name__}: {str(e)[:160]}"
        except Exception as e:  # noqa: BLE001 - an untyped failure is a bug, reported as such
            row["untyped_error"] = f"{type(e).__name__}: {str(e)[:160]}"
        else:
            bad = [t for t in texts if not check(t)]
            row.update(emitted=len(texts), valid=len(texts) - len(bad), sample=texts[0][:120])
            if bad:
                row["invalid_examples"] = [b[:200] for b in bad[:3]]
        row["s"] = rnd(time.perf_counter() - start, 2)
        rows.append(row)
    emitted = sum(r.get("emitted", 0) for r in rows)
    valid = sum(r.get("valid", 0) for r in rows)
    return {
        "requests": len(rows),
        "emitted": emitted,
        "valid": valid,
        "valid_pct": rnd(100.0 * valid / emitted, 2) if emitted else None,
        "typed_errors": sum("typed_error" in r for r in rows),
        "untyped_errors": sum("untyped_error" in r for r in rows),
        "per_request": rows,
    }


def validity_requests(example: dict, others: list[tuple[str, dict]], steps: int) -> list:
    reqs = [("example schema", [JsonSchema(example)], _json_check(example), {"steps": steps})]
    reqs.append(
        (
            "example schema, confidence sampler",
            [JsonSchema(example)],
            _json_check(example),
            {"steps": steps, "sampler": "confidence"},
        )
    )
    for name, schema in others:
        reqs.append((name, [JsonSchema(schema)], _json_check(schema), {"steps": steps}))
    reqs.append((f"regex {REGEX}", [Regex(REGEX)], lambda t: re.fullmatch(REGEX, t) is not None, {"steps": steps}))
    reqs.append(
        (
            f"Length(words={WORDS})",
            [Length(words=WORDS)],
            lambda t: len(t.split()) == WORDS,
            {"steps": steps, "length": 32},
        )
    )
    return reqs


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(x: float) -> str:
    return f"{1000 * x:.1f}"


def markdown(result: dict) -> str:
    m, st = result["machine"], result["settings"]
    parts = [
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']} ({m['torch_threads']} threads), "
        f"load average {m['load_average_at_start'][0]} at start / {m.get('load_average_at_end', ['?'])[0]} at end; "
        f"profile {st['profile']}, {result.get('wall_s', '?')} s.",
        "",
    ]
    ov = result.get("overhead", [])
    if ov:
        s = ov[0]
        parts += [
            f"**Guide overhead per step**: example schema, canvas {s['canvas']}, batch {s['batch']}, "
            f"{s['steps']} steps (ancestral), prompt of {s['prompt_tokens']} tokens; target guide/forward <= "
            f"{TARGET_RATIO}, judged on the "
            "default-shape rows (hidden 256, 6 layers, 4 heads, ff 1024). BERT-base-shape rows (hidden 768, 12 "
            "layers, 12 heads, ff 3072): "
            + (
                "full runs, as the default shape's."
                if st["bert_base_method"] == "measured"
                else "the same vocabulary's guide time per step over a forward of that shape (median of calls)."
            ),
            "",
            table(
                [
                    "vocabulary",
                    "shape",
                    "params",
                    "states / classes",
                    "forward ms",
                    "guide ms/step",
                    "ratio",
                    "DP ms",
                    "vocab-wide ms (mask + sample)",
                    "sampler ms, excl. guide",
                    "target",
                ],
                [
                    [
                        r["vocabulary_label"],
                        r["shape"],
                        f"{r['model']['parameters'] / 1e6:.1f}M",
                        f"{r['states']} / {r['classes']}",
                        _ms(r["forward_s_per_call"]),
                        _ms(r["guide_s_per_step"]),
                        r["ratio"],
                        _ms(r["dp_s_per_step"]),
                        f"{_ms(r['vocab_wide_s_per_step'])} ({_ms(r['vocab_mask_s_per_step'])} + "
                        f"{_ms(r['vocab_sample_s_per_step'])})",
                        _ms(r["sampler_excl_guide_s_per_step"]),
                        ("met" if r["met"] else "MISSED") if r["shape"] == "default" else "(context)",
                    ]
                    for r in ov
                ],
            ),
            "",
        ]
        for r in ov:
            prof = r.get("profile")
            if not prof:
                continue
            parts.append(
                f"Profile, {r['vocabulary_label']} ({prof['steps']} steps under torch.profiler): guide "
                f"{prof['guide_ms_per_step']} ms/step: "
                + "; ".join(f"{x['in']} {x['op']} {x['share']:.0%}" for x in prof["guide_ops"][:8])
                + f". Sampler (excl. guide) {prof['sampler_excl_guide_ms_per_step']} ms/step: "
                + "; ".join(f"{x['op']} {x['share']:.0%}" for x in prof["sampler_ops"][:6])
                + "."
            )
            parts.append("")
    comp = result.get("compile", {})
    if comp:
        c0 = next(iter(comp.values()))
        sel = result.get("schema_selection", {})
        skipped = ", ".join(f"{len(v)} {k}" for k, v in sel.get("skipped", {}).items()) or "none"
        parts += [
            f"**Cold schema compile**: {c0['schemas']} schemas, the example and {len(sel.get('chosen', []))} "
            f"JSONSchemaBench schemas (seeded sample; {sel.get('tried')} tried, skipped: {skipped}); fresh "
            f"$CTRLGEN_CACHE per compile. Targets at 50k: median ours/outlines <= {TARGET_COMPILE}, cache hit median "
            f"< {TARGET_HIT_MS} ms.",
            "",
            table(
                [
                    "vocabulary",
                    "compiled",
                    "ours median s",
                    "outlines Index median s",
                    "ratio median (p90)",
                    "ratio of sums",
                    "cache hit ms median (max)",
                    "vocabulary set-up s, once per model",
                    "target",
                ],
                [
                    [
                        label,
                        f"{c['compiled']}/{c['schemas']}",
                        c["ours_s_median"],
                        c["outlines_index_s_median"],
                        f"{c['ratio_median']} ({c['ratio_p90']})",
                        c["ratio_of_sums"],
                        f"{c['cache_hit_ms_median']} ({c['cache_hit_ms_max']})",
                        round(sum(c.get("vocabulary_setup", {}).values()), 3),
                        ("met" if c["met"] else "MISSED") if label.startswith("50k") else "(context)",
                    ]
                    for label, c in comp.items()
                ],
            ),
            "",
        ]
        for label, c in comp.items():
            if label.startswith("50k"):
                shares = "; ".join(f"{k} {v:.0%}" for k, v in c["cold_breakdown_share"].items() if v >= 0.005)
                parts += [f"Cold compile at {label}, where the time goes: {shares}.", ""]
                if c.get("profile"):
                    top = "; ".join(f"{x['function']} {x['own_share']:.0%}" for x in c["profile"]["top_own_time"][:8])
                    parts += [f"cProfile of {c['profile']['schema']} (own time): {top}.", ""]
    val = result.get("validity", {})
    if val:
        parts += [
            f"**Validity**: prompted generation, n={st['validity_n']} per request, {st['validity_steps']} steps; "
            f"requests: the example schema (ancestral and confidence samplers), "
            f"{len(result.get('validity_schemas', []))} more schemas, a regex and Length(words={WORDS}). "
            "Target 100% valid.",
            "",
            table(
                ["model", "adapter", "vocab", "requests", "emitted", "valid", "typed errors", "untyped errors"],
                [
                    [
                        name,
                        v["model"]["adapter"],
                        v["model"]["vocabulary"],
                        v["requests"],
                        v["emitted"],
                        f"{v['valid']} ({v['valid_pct']}%)",
                        v["typed_errors"],
                        v["untyped_errors"],
                    ]
                    for name, v in val.items()
                ],
            ),
            "",
        ]
        for name, v in val.items():
            for r in v["per_request"]:
                if "typed_error" in r or "untyped_error" in r:
                    parts.append(f"- {name}, {r['request']}: {r.get('typed_error') or r.get('untyped_error')}")
        parts.append("")
    parts.append("Targets: " + "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in result["targets"].items()))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short smoke profile (a minute or two)")
    parser.add_argument(
        "--out",
        default=None,
        help=f"JSON path (default {DEFAULT_OUT.relative_to(ROOT)}; with --quick a temporary file)",
    )
    parser.add_argument("--work", default=None, help="directory for the built models (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--measure-bert-base",
        action="store_true",
        help="run the BERT-base-shape rows as full sampling runs too (minutes more on 2 cores); by default their guide "
        "time per step is the same vocabulary's default-shape run's, over forwards timed on that shape",
    )
    parser.add_argument("--profile", action="store_true", help="profile the guide even where the target is met")
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "compile", "validity"])
    args = parser.parse_args()
    quick = args.quick
    settings = {
        "profile": "quick" if quick else "full",
        "canvas": 128,
        "batch": 8,
        "steps": 8 if quick else 32,
        "overhead_repeats_4k": 1 if quick else 3,
        "overhead_repeats": 1 if quick else 2,
        "overhead_repeats_bert_base": 1,
        "bert_base_method": "measured" if args.measure_bert_base else "derived",
        "forward_only_calls": 1 if quick else 3,
        "profile_steps": 4 if quick else 8,
        "shapes": list(SHAPES),
        "bench_schemas": 3 if quick else 20,
        "compile_timeout_s": 20.0,
        "compile_repeats": 1 if quick else 3,
        "cache_hit_repeats": 5,
        "validity_n": 2 if quick else 4,
        "validity_other_schemas": 1 if quick else 5,
        "validity_steps": 16 if quick else 32,
        "zoo": "build_zoo defaults (vocab 1000, hidden 64, 2 layers)",
        "seed": args.seed,
        "prompt": PROMPT,
    }
    torch.manual_seed(args.seed)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ctrlgen-adapters-models-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict = {"machine": machine(), "git": git_state(), "settings": settings}
    example = json.loads(EXAMPLE.read_text())

    # models: the shipped one, and the synthetic-vocabulary masked LMs in each shape
    models: dict[tuple[str, str], Path | None] = {("4k (shipped)", "default"): None}
    for label, family, size in VOCABS:
        for shape in settings["shapes"]:
            out = work / f"{family}-{size}-{shape}"
            if not (out / "config.json").exists() or not any(out.glob("*.safetensors")):
                log(f"building {family} {size} {shape}")
                build_shaped(family, out, size, SHAPES[shape], args.seed)
            models[(label, shape)] = out

    sections: dict[str, float] = {}
    section_load = {"overhead": round(os.getloadavg()[0], 2)}
    lap = time.perf_counter()
    sections["build models"] = rnd(lap - started, 1)
    result["overhead"] = []
    if "overhead" not in args.skip:
        canvas, batch, steps = settings["canvas"], settings["batch"], settings["steps"]
        for (label, shape), path in models.items():
            lm = load(path)
            log(f"overhead: {label} {shape}")
            if shape == "default" or settings["bert_base_method"] == "measured":
                repeats = settings[
                    "overhead_repeats_4k"
                    if path is None
                    else "overhead_repeats"
                    if shape == "default"
                    else "overhead_repeats_bert_base"
                ]
                row = overhead(lm, example, canvas, batch, steps, repeats)
            else:  # the guide never sees the model's shape: its time comes from the same vocabulary's run
                base = next(r for r in result["overhead"] if r["vocabulary_label"] == label and r["shape"] == "default")
                row = {k: v for k, v in base.items() if k not in ("model", "shape_spec", "profile")}
                row.update(forward_only(lm, example, canvas, batch, settings["forward_only_calls"]))
                row["method"] = (
                    "derived: guide, DP, vocabulary-wide and sampler times per step from the default-shape run with "
                    "the same vocabulary (the guide never sees the model's shape); forward = median of "
                    f"{settings['forward_only_calls']} calls of this model's _canvas_denoiser on the same prompted "
                    "canvas"
                )
                row["ratio"] = rnd(row["guide_s_per_step"] / row["forward_s_per_call"], 3)
                row.pop("ratio_median_of_steps", None)
                row["met"] = row["ratio"] <= TARGET_RATIO
            row.update(vocabulary_label=label, shape=shape, model=describe_model(lm), shape_spec=SHAPES[shape])
            if shape == "default" and (args.profile or not row["met"]):
                log(f"profiling: {label} {shape}")
                row["profile"] = op_profile(lm, example, canvas, batch, settings["profile_steps"])
            result["overhead"].append(row)
            log(json.dumps({k: v for k, v in row.items() if k != "profile"}))
            del lm

    sections["overhead"], lap = rnd(time.perf_counter() - lap, 1), time.perf_counter()
    section_load["compile"] = round(os.getloadavg()[0], 2)
    result["compile"] = {}
    if "compile" not in args.skip and DATA.is_dir():
        lm50 = load(models[("50k byte-level BPE", "default")])
        selection = select_schemas(lm50.vocabulary, settings["bench_schemas"], args.seed, settings["compile_timeout_s"])
        chosen = selection["chosen"]
        result["schema_selection"] = {
            "seed": args.seed,
            "pool": selection["pool"],
            "tried": selection["tried"],
            "chosen": [name for name, _, _ in chosen],
            "skipped": selection["skipped"],
            "timeout_s": settings["compile_timeout_s"],
        }
        schemas = [("examples/restaurant.schema.json", example)] + [(n, s) for n, s, _ in chosen]
        for label, path in [("4k (shipped)", None), *[(lbl, models[(lbl, "default")]) for lbl, _, _ in VOCABS]]:
            log(f"compile: {label}")
            lm = load(path)
            entry = compile_bench(lm.vocabulary, schemas, settings["compile_repeats"], settings["cache_hit_repeats"])
            entry["vocabulary"] = len(lm.vocabulary)
            entry["vocabulary_setup"] = vocabulary_setup(path)
            entry["met"] = entry["ratio_median"] <= TARGET_COMPILE and entry["cache_hit_ms_median"] < TARGET_HIT_MS
            if label.startswith("50k"):
                ok = sorted((r for r in entry["per_schema"] if "error" not in r), key=lambda r: r["ratio"])
                if ok and not entry["met"]:
                    worst = ok[len(ok) // 2]  # the median schema: what the median ratio is made of
                    schema = dict(schemas)[worst["schema"]]
                    entry["profile"] = {
                        "schema": worst["schema"],
                        "top_own_time": profile_compile(lm.vocabulary, schema),
                    }
            result["compile"][label] = entry
            log(json.dumps({k: v for k, v in entry.items() if k not in ("per_schema", "profile")}))
        # validity schemas: the first chosen ones that are short enough to fit a small canvas
        others = [(n, s) for n, s, shortest in chosen if shortest is not None and shortest <= 120]
        others = others[: settings["validity_other_schemas"]]
    else:
        others = []

    sections["compile"], lap = rnd(time.perf_counter() - lap, 1), time.perf_counter()
    section_load["validity"] = round(os.getloadavg()[0], 2)
    result["validity"] = {}
    if "validity" not in args.skip:
        from ctrlgen.tiny_models import build_zoo

        zoo_dir = work / "zoo"
        if not zoo_dir.exists():
            log("building the zoo")
            build_zoo(zoo_dir, seed=args.seed, verify=False)
        requests = validity_requests(example, others, settings["validity_steps"])
        zoo = {"shipped (4k)": None, **{p.name: p for p in sorted(zoo_dir.iterdir()) if p.is_dir()}}
        for name, path in zoo.items():
            log(f"validity: {name}")
            lm = load(path)
            entry = validity(lm, requests, settings["validity_n"], args.seed)
            entry["model"] = describe_model(lm)
            result["validity"][name] = entry
            log(json.dumps({k: v for k, v in entry.items() if k != "per_request"}))
        result["validity_schemas"] = [n for n, _ in others]

    sections["validity"] = rnd(time.perf_counter() - lap, 1)
    result["section_s"] = sections
    result["load_average_1min_at_section_start"] = section_load
    targets = {}
    if result["overhead"]:
        targets["overhead ratio <= 0.25 (default shape, every vocabulary)"] = all(
            r["met"] for r in result["overhead"] if r["shape"] == "default"
        )
    c50 = result["compile"].get("50k byte-level BPE")
    if c50:
        targets["compile median ratio <= 2 at 50k"] = c50["ratio_median"] <= TARGET_COMPILE
        targets["cache hit median < 10 ms at 50k"] = c50["cache_hit_ms_median"] < TARGET_HIT_MS
    if result["validity"]:
        targets["100% valid on every adapter"] = all(
            v["valid"] == v["emitted"] and v["untyped_errors"] == 0 for v in result["validity"].values()
        )
    result["targets"] = targets
    result["wall_s"] = rnd(time.perf_counter() - started, 1)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out) if args.out else DEFAULT_OUT
    if args.quick and not args.out:
        out = Path(tempfile.mkdtemp(prefix="ctrlgen-adapters-quick-")) / "adapters.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    out.with_suffix(".md").write_text(md + "\n")
    print(md)
    print(f"\nwritten to {out} (and {out.with_suffix('.md').name}); {result['wall_s']} s")


if __name__ == "__main__":
    main()
