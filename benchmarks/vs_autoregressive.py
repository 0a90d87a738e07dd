"""Diffusion + ctrlgen against the same-size autoregressive model + outlines-core, on held-out E2E data.

Run by hand (needs ``pip install -e ".[bench]"`` for sacrebleu)::

    python benchmarks/vs_autoregressive.py                     # the shipped model vs runs/autoregressive
    python benchmarks/vs_autoregressive.py --diffusion runs/default --mrs 10 --records 20   # a quick look

Results: ``benchmarks/results/vs_autoregressive.json`` and ``.png`` (the Pareto plot), quoted in the README.

* **models**: the diffusion model (``configs/default.json``) and the autoregressive baseline
  (``configs/autoregressive.json``): the same code, tokenizer, width, depth, data, steps, batch and optimiser;
  only the attention mask, the loss and the decoding differ. The script checks the tokenizers are identical.
* **data**: the E2E meaning representations held out of training by :func:`ctrlgen.e2e.e2e_split` (10% of the
  MRs, seed 0, every reference of them).
* **data-to-text**: the prompt ``Describe this restaurant: <JSON of the MR>`` for each held-out MR of the
  original dev set; BLEU (sacrebleu, against all of that MR's references), slot coverage
  (:mod:`ctrlgen.slot_coverage`, share of the MR's values the text realises) and response tokens per second
  (tokens of the text up to its end token, over wall time, including the prompt's processing) at batch 1 and
  batch 16. Diffusion at 8/16/32/64 reverse steps with each sampler, with and without guidance towards the
  prompt (``prompt_weight`` 2 and 1), on its default canvas of 64 tokens, other settings the model's
  defaults; autoregressive greedy and sampled (top-p 0.9), with a KV cache, until its end token.
* **extraction**: the prompt ``Extract the restaurant record as JSON: <description>`` for held-out
  references of the cleaned release (whose MRs match their text), under a ``JsonSchema`` over the E2E fields;
  validity (``jsonschema``), field accuracy (per field of the 8, predicted value equal to the MR's, absent on
  both sides counting as equal), exact records, and seconds per record at batch 1. Diffusion + ctrlgen (its
  defaults, and any ``--extraction-settings``) against greedy AR + outlines-core (``build_regex_from_schema``,
  ``Index``, ``Guide``), the schema's compile timed apart and excluded from seconds per record for both.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import jsonschema
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "vs_autoregressive.json"
STEPS = (8, 16, 32, 64)
SAMPLERS = ("ancestral", "confidence", "semi-ar", "remdm")

sys.path.insert(0, str(ROOT))
from ctrlgen.e2e import E2E_FIELDS, describe_prompt, e2e_split, extract_prompt  # noqa: E402
from ctrlgen.slot_coverage import corpus_slot_coverage  # noqa: E402

SCHEMA = ROOT / "examples" / "e2e_record.schema.json"


def restaurant_schema(order: list[str] | None = None) -> dict:
    """``examples/e2e_record.schema.json`` (every E2E field, only the name required, closed fields as the
    data's enums), its properties in ``order`` when given: a schema fixes the order fields are written in."""
    schema = json.loads(SCHEMA.read_text())
    if order:
        schema["properties"] = {k: schema["properties"][k] for k in order}
    return schema


def held_out(data_dir: Path) -> tuple[list[tuple[dict, list[str]]], list[tuple[str, dict]]]:
    """``(data_to_text, extraction)``: (record, references) per held-out original MR, and (reference, record)
    rows of the cleaned release."""
    _, held = e2e_split(data_dir)
    refs: dict[str, list[str]] = defaultdict(list)
    records: dict[str, dict] = {}
    for row in held:
        if not row.cleaned:
            refs[row.group].append(row.ref)
            records[row.group] = row.record
    d2t = [(records[g], refs[g]) for g in sorted(refs)]
    extraction = [(row.ref, row.record) for row in held if row.cleaned]
    return d2t, extraction


def _bleu(hyps: list[str], refs: list[list[str]]) -> float:
    import sacrebleu

    width = max(map(len, refs))
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    return round(sacrebleu.corpus_bleu(hyps, streams).score, 2)


def _tokens(lm, texts: list[str]) -> int:
    return sum(len(ids) for ids in lm.tokenizer(texts, add_special_tokens=False)["input_ids"])


def _time_generate(lm, prompts: list[str], batch: int, **kw) -> tuple[list[str], float]:
    texts: list[str] = []
    start = time.perf_counter()
    for i in range(0, len(prompts), batch):
        texts += lm.generate(prompt=prompts[i : i + batch], n=1, batch_size=batch, **kw)
    return texts, time.perf_counter() - start


def data_to_text(lm, name: str, d2t, batches, settings: dict, seed: int) -> list[dict]:
    prompts = [describe_prompt(record) for record, _ in d2t]
    rows = []
    for batch in batches:
        lm.generate(prompt=prompts[:1], n=1, seed=seed, **settings)  # warm-up
        texts, seconds = _time_generate(lm, prompts, batch, seed=seed, **settings)
        tokens = _tokens(lm, texts)
        rows.append(
            {
                "model": name,
                **{k: v for k, v in settings.items()},
                "batch": batch,
                "bleu": _bleu(texts, [r for _, r in d2t]),
                "slot_coverage": round(corpus_slot_coverage([r for r, _ in d2t], texts), 4),
                "tokens": tokens,
                "seconds": round(seconds, 3),
                "tokens_per_second": round(tokens / seconds, 1),
                "examples": texts[:3],
            }
        )
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "examples"}), flush=True)
    return rows


def extraction(lm, name: str, rows, schema: dict, seed: int, **kw) -> dict:
    from ctrlgen import JsonSchema

    constraint = JsonSchema(schema)
    start = time.perf_counter()
    lm.generate(prompt=extract_prompt(rows[0][0]), constraints=[constraint], n=1, seed=seed, **kw)
    first = time.perf_counter() - start
    valid = exact = 0
    fields_right = 0
    outputs = []
    start = time.perf_counter()
    for ref, record in rows:
        text = lm.generate(prompt=extract_prompt(ref), constraints=[constraint], n=1, seed=seed, **kw)[0]
        outputs.append(text)
        try:
            pred = json.loads(text)
            jsonschema.validate(pred, schema)
            valid += 1
        except (json.JSONDecodeError, jsonschema.ValidationError):
            pred = {}
        fields_right += sum(pred.get(f) == record.get(f) for f in E2E_FIELDS)
        exact += pred == record
    seconds = time.perf_counter() - start
    result = {
        "model": name,
        "records": len(rows),
        "valid": round(valid / len(rows), 4),
        "field_accuracy": round(fields_right / (len(rows) * len(E2E_FIELDS)), 4),
        "exact_records": round(exact / len(rows), 4),
        "seconds_per_record": round(seconds / len(rows), 4),
        "first_call_seconds": round(first, 3),
        "examples": [{"description": r, "output": o} for (r, _), o in list(zip(rows, outputs))[:3]],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}), flush=True)
    return result


def _ar_name(path: str, paths: list[str]) -> str:
    """``autoregressive`` for a single baseline; with several, each named by its directory."""
    return "autoregressive" if len(paths) == 1 else f"autoregressive ({Path(path).name})"


def _ar_step(path: str) -> dict:
    """The directory and the training step its weights come from (``training.json``; absent when not recorded)."""
    info = Path(path) / "training.json"
    recorded = json.loads(info.read_text()) if info.is_file() else {}
    step = recorded.get("exported", recorded.get("latest", {})).get("global_step")
    return {"path": path, "global_step": step}


def _plot_labels(models: dict) -> dict[str, str]:
    """Legend names: each autoregressive baseline by the training step of its weights."""
    baselines = models.get("autoregressive", {})
    if not isinstance(baselines, dict):
        return {}
    return {
        name: f"autoregressive, step {info['global_step']:,}" if info.get("global_step") else name
        for name, info in baselines.items()
    }


def pareto_plot(points: list[dict], path: Path, labels: dict[str, str] | None = None) -> None:
    """BLEU against tokens per second, every configuration a point; ``labels`` renames models in the legend."""
    labels = labels or {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for batch, marker in ((1, "o"), (16, "s")):
        models = sorted({p["model"] for p in points}, key=lambda m: (m != "diffusion", m))
        for model, colour in zip(models, ("tab:blue", "tab:red", "tab:orange", "tab:green", "tab:purple")):
            sel = [p for p in points if p["batch"] == batch and p["model"] == model]
            if not sel:
                continue
            ax.scatter(
                [p["tokens_per_second"] for p in sel],
                [p["bleu"] for p in sel],
                marker=marker,
                color=colour,
                label=f"{labels.get(model, model)}, batch {batch}",
                alpha=0.8,
            )
            for p in sel:
                tag = f"{p.get('sampler', '')} {p.get('steps', '')}".strip() or p.get("decoding", "")
                if p.get("prompt_weight", 1.0) != 1.0:
                    tag += f" w{p['prompt_weight']:g}"
                ax.annotate(tag, (p["tokens_per_second"], p["bleu"]), fontsize=6, alpha=0.7)
    front, best = [], -1.0
    for p in sorted(points, key=lambda p: -p["tokens_per_second"]):
        if p["bleu"] > best:
            front.append(p)
            best = p["bleu"]
    ax.plot([p["tokens_per_second"] for p in front], [p["bleu"] for p in front], "k--", lw=0.8, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("response tokens per second (2-core CPU, log scale)")
    ax.set_ylabel("BLEU on held-out E2E MRs")
    ax.set_title("Data-to-text: quality against speed")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--diffusion", default=None, help="diffusion model directory (default: the shipped model)")
    p.add_argument(
        "--autoregressive",
        nargs="+",
        default=[str(ROOT / "runs" / "autoregressive")],
        help="autoregressive model directories (e.g. the same-steps export and the best-validation one)",
    )
    p.add_argument("--data-dir", default=str(DATA))
    p.add_argument("--mrs", type=int, default=None, help="held-out MRs for data-to-text (default: all)")
    p.add_argument("--records", type=int, default=100, help="held-out references for extraction")
    p.add_argument("--steps", type=int, nargs="+", default=list(STEPS))
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS))
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    p.add_argument(
        "--prompt-weights",
        type=float,
        nargs="+",
        default=[1.0, 2.0],
        help="diffusion data-to-text: classifier-free guidance towards the prompt (1 = none)",
    )
    p.add_argument(
        "--extraction-settings",
        type=json.loads,
        nargs="+",
        default=[{}],
        help='diffusion extraction: JSON objects of generate arguments, e.g. \'{"sampler": "confidence"}\' '
        "({} = the model's defaults)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--replot", action="store_true", help="only redraw the plot from the results in --out")
    args = p.parse_args(argv)
    if args.replot:
        result = json.loads(Path(args.out).read_text())
        pareto_plot(result["data_to_text"], Path(args.out).with_suffix(".png"), _plot_labels(result["models"]))
        return

    import ctrlgen

    torch.manual_seed(args.seed)
    diffusion = ctrlgen.load(args.diffusion)
    baselines = {_ar_name(path, args.autoregressive): ctrlgen.load(path) for path in args.autoregressive}
    for name, ar in baselines.items():
        if diffusion.denoiser.model.config.tokenizer_hash != ar.denoiser.model.config.tokenizer_hash:
            raise SystemExit(f"{name} and the diffusion model have different tokenizers: not like for like")
    d2t, ext = held_out(Path(args.data_dir))
    d2t = d2t[: args.mrs] if args.mrs else d2t
    rng = random.Random(args.seed)
    ext = rng.sample(ext, min(args.records, len(ext)))
    points: list[dict] = []
    for weight in args.prompt_weights:
        for sampler in args.samplers:
            for steps in args.steps:
                settings = {"sampler": sampler, "steps": steps, "prompt_weight": weight}
                points += data_to_text(diffusion, "diffusion", d2t, args.batches, settings, 0)
    for name, ar in baselines.items():
        for decoding, settings in (("greedy", {"temperature": 0.0}), ("sampled", {"top_p": 0.9})):
            for row in data_to_text(ar, name, d2t, args.batches, settings, 0):
                points.append(row | {"decoding": decoding})
    schema = restaurant_schema()
    shuffled = restaurant_schema(rng.sample(list(E2E_FIELDS), len(E2E_FIELDS)))
    extraction_rows = []
    for order, s in (("E2E order", schema), ("shuffled order", shuffled)):
        for settings in args.extraction_settings:
            row = extraction(diffusion, "diffusion + ctrlgen", ext, s, args.seed, **settings)
            extraction_rows.append(row | {"schema": order, "settings": settings or "model defaults"})
        for name, ar in baselines.items():
            row = extraction(ar, f"{name} + outlines-core", ext, s, args.seed, temperature=0.0)
            extraction_rows.append(row | {"schema": order, "settings": {"temperature": 0.0}})
    result = {
        "data_to_text": points,
        "extraction": extraction_rows,
        "held_out": {"mrs": len(d2t), "extraction_records": len(ext)},
        "models": {
            "diffusion": args.diffusion or "ctrlgen/default_model",
            "autoregressive": {name: _ar_step(path) for name, path in zip(baselines, args.autoregressive)},
            "parameters": sum(p.numel() for p in diffusion.denoiser.parameters()),
            "diffusion_generation_defaults": {
                k: v for k, v in dataclasses.asdict(diffusion.generation_defaults).items() if v is not None
            },
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "git": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    pareto_plot(points, out.with_suffix(".png"), _plot_labels(result["models"]))
    print(f"results: {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
