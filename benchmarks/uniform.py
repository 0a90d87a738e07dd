"""Uniform-noise diffusion benchmarks (issue 11): the guide's cost on DiffusionGemma, and validity.

Run by hand: ``python benchmarks/uniform.py [--steps 32] [--repeats 3]``. Results:
``benchmarks/results/uniform.json``, quoted in the README.

* overhead: guide work per reverse step over one denoiser forward, on a tiny randomly initialised DiffusionGemma
  (hidden 64, 2 layers, 4 experts) with a 32k-token Gemma-style vocabulary, canvas 64, batch 8, the example
  schema with a prompt, the ``entropy-bound`` sampler; the guide work is the constraint guide's mask and joint
  draw plus the self-conditioning hand-over (the constrained distribution fed back to the model). Times with
  ``time.perf_counter``, a warm-up run excluded, medians over repeats.
* validity: documents of the example schema generated with both uniform samplers (one canvas and, with a
  longer array schema, several), validated with ``jsonschema``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import jsonschema
from adapters import PROMPT, Timers, git_state, machine
from ctrlgen.constraints import JsonSchema

import ctrlgen

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "restaurant.schema.json"
OUT = ROOT / "benchmarks" / "results" / "uniform.json"
TARGET_RATIO = 0.25
LONG = {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 999}, "minItems": 30, "maxItems": 30}


class _TimedDenoiser:
    """The run's denoiser callable, timed, keeping the attribute the self-conditioning guide writes to."""

    def __init__(self, inner, laps: list[float]) -> None:
        self.inner, self.laps = inner, laps

    @property
    def self_conditioning(self):
        return self.inner.self_conditioning

    @self_conditioning.setter
    def self_conditioning(self, value) -> None:
        self.inner.self_conditioning = value

    def __call__(self, *args):
        start = time.perf_counter()
        try:
            return self.inner(*args)
        finally:
            self.laps.append(time.perf_counter() - start)


def overhead_run(lm, schema: dict, canvas: int, batch: int, steps: int, seed: int) -> dict:
    from ctrlgen.constrained import plan_constraints
    from ctrlgen.denoisers.diffusion_gemma import SelfConditioning
    from ctrlgen.sampling import EntropyBoundSampler

    prefix = lm._prefixes([{"role": "user", "content": PROMPT}])[0]
    plan = plan_constraints([JsonSchema(schema)], lm.vocabulary, canvas, 4096)
    forwards: list[float] = []
    denoise = _TimedDenoiser(lm._canvas_denoiser([prefix] * batch, None, 1.0), forwards)
    timers = Timers()
    timers.patch(plan.guide, "process_logits", "guide.process_logits")
    timers.patch(plan.guide, "sample", "guide.sample")
    timers.patch(SelfConditioning, "process_logits", "self_conditioning")
    sampler = EntropyBoundSampler(steps=steps, noise_ids=lm._noise_ids, confidence=0.0)  # every step runs
    try:
        lm.sample_tokens(plan.canvas(batch, lm.mask_token_id), sampler, guides=[plan.guide], seed=seed, denoise=denoise)
    finally:
        timers.restore()
    guide = timers.get("guide.process_logits") + timers.get("guide.sample") + timers.get("self_conditioning")
    n = max(len(forwards), 1)
    return {
        "guide_s_per_step": guide / n,
        "self_conditioning_s_per_step": timers.get("self_conditioning") / n,
        "forward_s_per_call": sum(forwards) / n,
        "forward_calls": len(forwards),
        "ratio": guide / max(sum(forwards), 1e-12),
    }


def validity(lm, schema: dict, n: int, steps: int) -> dict:
    out = {}
    for sampler in ("entropy-bound", "ancestral"):
        docs = lm.generate(
            n=n, prompt=[{"role": "user", "content": PROMPT}], constraints=[JsonSchema(schema)], sampler=sampler,
            seed=0, steps=steps,
        )  # fmt: skip
        ok = 0
        for doc in docs:
            try:
                jsonschema.validate(json.loads(doc), schema)
                ok += 1
            except (json.JSONDecodeError, jsonschema.ValidationError):
                pass
        out[sampler] = {"documents": len(docs), "valid": ok}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=int, default=32_000)
    parser.add_argument("--canvas", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    from ctrlgen.tiny_models.diffusion_gemma import build_diffusion_gemma

    start = time.time()
    schema = json.loads(EXAMPLE.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        path = build_diffusion_gemma(Path(tmp) / "dg", vocab_size=args.vocab, canvas_length=args.canvas,
                                     synthetic_vocab=True)  # fmt: skip
        lm = ctrlgen.load(path)
        overhead_run(lm, schema, args.canvas, args.batch, 2, seed=99)  # warm-up
        runs = [overhead_run(lm, schema, args.canvas, args.batch, args.steps, seed=r) for r in range(args.repeats)]
        result = {
            "model": {
                "family": "DiffusionGemma (tiny, random)",
                "vocab": len(lm.tokenizer),
                "parameters": sum(p.numel() for p in lm.denoiser.model.parameters()),
                "canvas_length": lm.denoiser.max_canvas,
            },
            "overhead": {
                "canvas": args.canvas,
                "batch": args.batch,
                "steps": args.steps,
                "repeats": args.repeats,
                **{k: round(statistics.median(r[k] for r in runs), 5) for k in runs[0]},
                "target": TARGET_RATIO,
            },
            "validity": {
                "example schema, one canvas": validity(lm, schema, 8, 16),
                "30 integers, several canvases": validity(lm, LONG, 4, 8),
            },
        }
    result["overhead"]["met"] = result["overhead"]["ratio"] <= TARGET_RATIO
    result["wall_s"] = round(time.time() - start, 1)
    result["machine"], result["git"] = machine(), git_state()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("model", "overhead", "validity")}, indent=2))


if __name__ == "__main__":
    main()
