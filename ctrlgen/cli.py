"""The ``ctrlgen`` command line: ``generate``, ``fill``, ``train``, ``export`` and ``corpus``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .constraints.errors import ConstraintError
from .errors import CtrlgenError

__all__ = ["main"]


def _add_generate(sub) -> None:
    p = sub.add_parser("generate", help="sample texts, one per line")
    _add_model_args(p)
    p.add_argument("--prompt", default=None, help="text before the response (constraints apply to the response)")
    p.add_argument("--prompt-file", default=None, help="a file of prompts, one per line: -n texts for each")
    p.add_argument("-n", type=int, default=4, help="number of texts")
    p.add_argument(
        "--length", type=int, default=None, help="canvas length in tokens (default 64, or sized from the constraint)"
    )
    p.add_argument(
        "--sampler",
        default=None,
        help=(
            "masking: ancestral (default), confidence, semi-ar, remdm; "
            "uniform: entropy-bound (DiffusionGemma's default), ancestral (default of ctrlgen's own models)"
        ),
    )
    p.add_argument("--steps", type=int, default=None, help="reverse steps (default: one per position)")
    p.add_argument("--temperature", type=float, default=None, help="default 1")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling (default 1: off)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1... (default: where the model loads)")
    p.add_argument("--schema", default=None, help="JSON-schema file: every line printed is a valid document")
    p.add_argument("--lenient", action="store_true", help="with --schema: enforce what compiles, validate the rest")
    p.add_argument("--closed", action="store_true", help="with --schema: objects take only the keys their schema names")
    p.add_argument("--regex", default=None, help="every text fully matches this regex")
    p.add_argument("--tokens", type=int, default=None, help="exactly this many content tokens")
    p.add_argument("--words", type=int, default=None, help="exactly this many words")
    p.add_argument("--chars", type=int, default=None, help="exactly this many characters")
    p.add_argument("--label", default=None, help="class label of a conditional model (classifier-free guidance)")
    p.add_argument("--cfg-weight", type=float, default=1.0, help="classifier-free guidance weight")
    p.add_argument(
        "--prompt-weight",
        type=float,
        default=None,
        help="classifier-free guidance towards the prompt (default: the model's measured setting, else 1)",
    )
    _add_progress(p)


def _add_model_args(p) -> None:
    p.add_argument(
        "--model",
        default=None,
        help="ctrlgen model, Hugging Face masked LM, LLaDA/Dream-style checkpoint (dir or hub id)",
    )
    p.add_argument(
        "--trust-remote-code", action="store_true", help="let a LLaDA/Dream-style checkpoint's own model code run"
    )


def _read_prompts(args: argparse.Namespace):
    if args.prompt is not None and getattr(args, "prompt_file", None):
        raise CtrlgenError("give --prompt or --prompt-file, not both")
    if getattr(args, "prompt_file", None):
        try:
            lines = Path(args.prompt_file).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise CtrlgenError(f"cannot read prompt file {args.prompt_file}: {e}") from None
        prompts = [line for line in lines if line.strip()]
        if not prompts:
            raise CtrlgenError(f"prompt file {args.prompt_file} holds no prompt")
        return prompts
    return args.prompt


def _add_fill(sub) -> None:
    p = sub.add_parser("fill", help="fill a template's {N}-token slots, literal text kept")
    p.add_argument("template", help="e.g. 'The {4} is a {2} near {3}.'")
    _add_model_args(p)
    p.add_argument("--prompt", default=None, help="text before the template")
    p.add_argument("-n", type=int, default=3)
    p.add_argument(
        "--sampler",
        default=None,
        help=(
            "masking: ancestral (default), confidence, semi-ar, remdm; "
            "uniform: entropy-bound (DiffusionGemma's default), ancestral (default of ctrlgen's own models)"
        ),
    )
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None)
    _add_progress(p)


def _add_progress(p) -> None:
    p.add_argument("--no-progress", dest="show_progress", action="store_false", help="no progress bar on stderr")


def _progress(args: argparse.Namespace) -> bool:
    """A progress bar on stderr: on by default, off when stderr is not a terminal or with --no-progress."""
    return bool(getattr(args, "show_progress", True)) and sys.stderr.isatty()


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a denoiser with Lightning and export it")
    p.add_argument("--config", default=None, help="JSON file of training options (see configs/)")
    p.add_argument("--data", action="append", default=None, help="text, CSV (path:column) or JSONL file; repeatable")
    p.add_argument("--out", default=None, help="run directory; the exported model lands here")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None, help="stop after this much wall time")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--canvas-length", type=int, default=None)
    p.add_argument("--vocab-size", type=int, default=None)
    p.add_argument(
        "--process", default=None, help="forward process: masking (default), uniform or embedding (Gaussian noise)"
    )
    p.add_argument(
        "--objective", default=None, help="diffusion (default) or autoregressive (the same network, causal: a baseline)"
    )
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--val-every", type=int, default=None)
    p.add_argument("--ema-decay", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--accelerator", default=None, help="passed to lightning.Trainer (cpu, gpu, auto)")
    p.add_argument("--devices", default=None, help="passed to lightning.Trainer")
    p.add_argument("--num-nodes", type=int, default=None, help="passed to lightning.Trainer: machines in the run")
    p.add_argument("--strategy", default=None, help="passed to lightning.Trainer (ddp, fsdp, auto)")
    p.add_argument("--precision", default=None, help="passed to lightning.Trainer (32, bf16-mixed...)")
    p.add_argument("--accumulate-grad-batches", type=int, default=None)
    p.add_argument("--packing", action="store_true", default=None, help="pack documents into full canvases")
    p.add_argument("--label-column", default=None, help="CSV/JSONL column of class labels: a conditional model")
    p.add_argument("--prompt-column", default=None, help="CSV/JSONL column of prompts: train on prompt/response pairs")
    p.add_argument("--data-column", default=None, help="with --prompt-column: the response column (default text/ref)")
    p.add_argument("--trust-remote-code", action="store_true", default=None, help="for --init-from LLaDA/Dream-style")
    p.add_argument("--cfg-dropout", type=float, default=None, help="share of examples trained without label")
    p.add_argument("--resume", action="store_true", default=None, help="continue from OUT/checkpoints/last.ckpt")
    p.add_argument("--init-from", default=None, help="fine-tune: start from this model directory's weights")
    p.add_argument(
        "--tokenizer",
        default=None,
        help="use this model directory's tokenizer ('default': the shipped model's, whose classifiers then apply)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    p.add_argument("--fast-dev-run", action="store_true", default=None, help="one batch of each loop, no export")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a loadable model directory from a training checkpoint")
    p.add_argument("--checkpoint", required=True, help="a .ckpt file of a run")
    p.add_argument("--run", required=True, help="the run directory (holds config.json and the tokenizer)")
    p.add_argument("--out", required=True)
    p.add_argument("--trust-remote-code", action="store_true", help="for runs of LLaDA/Dream-style models")


def _export(args: argparse.Namespace) -> None:
    from .training import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.run, args.out, trust_remote_code=args.trust_remote_code)
    print(f"model written to {out}")


def _add_rewrite(sub) -> None:
    p = sub.add_parser("rewrite", help="rewrite a text towards a style")
    p.add_argument("text")
    p.add_argument("--style", action="append", default=[], help="CLASSIFIER=LABEL, e.g. sentiment=positive")
    p.add_argument("--scale", type=float, default=None, help="guidance strength (default 4, measured best)")
    p.add_argument(
        "--top-k", type=int, default=None, help="exact re-scoring of the k likeliest tokens (0: gradient; default 16)"
    )
    p.add_argument("--strength", type=float, default=0.2, help="fraction of tokens re-noised, in (0, 1]")
    p.add_argument("--random", action="store_true", help="pick the re-noised tokens at random, not by saliency")
    p.add_argument(
        "--label",
        default="auto",
        help="condition a class-conditional model on this label (CFG); default: the style's target if the model "
        "knows it; 'none' turns it off",
    )
    p.add_argument("--cfg-weight", type=float, default=None, help="classifier-free guidance weight (default 3)")
    p.add_argument(
        "--best-of", type=int, default=None, help="candidates per rewrite, the best kept (default 16 with --style)"
    )
    p.add_argument("--saliency-temperature", type=float, default=0.5, help="0: always the most salient words")
    p.add_argument(
        "--start-time",
        type=float,
        default=None,
        help="embedding-process models: start the re-noised words from their embeddings noised to this time (SDEdit)",
    )
    p.add_argument("--model", default=None)
    p.add_argument("-n", type=int, default=3)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None)
    _add_progress(p)


def _rewrite(args: argparse.Namespace) -> None:
    from .constraints import Style
    from .pipeline import load

    styles = []
    for spec in args.style:
        name, sep, label = spec.partition("=")
        if not sep:
            raise CtrlgenError(f"--style takes CLASSIFIER=LABEL, got {spec!r}")
        styles.append(Style(name, label, scale=args.scale, top_k=args.top_k))
    lm = load(args.model, device=args.device)
    for text in lm.rewrite(
        args.text,
        constraints=styles,
        strength=args.strength,
        n=args.n,
        seed=args.seed,
        salient=not args.random,
        label=None if args.label == "none" else args.label,
        cfg_weight=args.cfg_weight,
        best_of=args.best_of,
        saliency_temperature=args.saliency_temperature,
        start_time=args.start_time,
        progress=_progress(args),
    ):
        print(text.replace("\n", "\\n"))


def _add_train_classifier(sub) -> None:
    p = sub.add_parser("train-classifier", help="train a noisy-input style classifier")
    p.add_argument("--data", action="append", required=True, help="folder of *.<label> files, a file, or a CSV")
    p.add_argument("--out", required=True)
    p.add_argument("--name", default=None, help="the classifier's name (default: the output folder's name)")
    p.add_argument("--labels", default=None, help="comma-separated names for the sorted labels, e.g. negative,positive")
    p.add_argument("--label-column", default=None, help="label column of a CSV")
    p.add_argument("--tokenizer", default=None, help="model directory whose tokenizer to use (default: shipped model)")
    p.add_argument("--max-steps", type=int, default=1500)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--init-embeddings-from", default=None, help="denoiser directory whose embeddings to start from")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--seed", type=int, default=0)


def _train_classifier(args: argparse.Namespace) -> None:
    from .classifier_training import ClassifierTrainConfig, train_classifier

    cfg = ClassifierTrainConfig(
        data=args.data,
        out=args.out,
        name=args.name or Path(args.out).name,
        tokenizer=args.tokenizer,
        labels=args.labels.split(",") if args.labels else None,
        label_column=args.label_column,
        max_steps=args.max_steps,
        d_model=args.d_model,
        init_embeddings_from=args.init_embeddings_from,
        accelerator=args.accelerator,
        seed=args.seed,
    )
    out = train_classifier(cfg)
    summary = json.loads((out / "training.json").read_text())
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    print(f"classifier written to {out}")


def _add_corpus(sub) -> None:
    p = sub.add_parser("corpus", help="write the default model's corpus (JSONL) from the shared data folder")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--out", default="runs/default-corpus.jsonl")


def _generate(args: argparse.Namespace) -> None:
    from .constraints import JsonSchema, Length, Regex
    from .pipeline import load

    constraints = []
    if args.schema:
        try:
            schema = json.loads(Path(args.schema).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CtrlgenError(f"cannot read schema {args.schema}: {e}") from None
        constraints.append(JsonSchema(schema, strict=not args.lenient, closed=args.closed))
    if args.regex:
        constraints.append(Regex(args.regex))
    if args.tokens is not None:
        constraints.append(Length(args.tokens))
    if args.words is not None:
        constraints.append(Length(words=args.words))
    if args.chars is not None:
        constraints.append(Length(chars=args.chars))
    prompts = _read_prompts(args)
    lm = load(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    texts = lm.generate(
        n=args.n,
        prompt=prompts,
        length=args.length,
        constraints=constraints,
        sampler=args.sampler,
        steps=args.steps,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        batch_size=args.batch_size,
        label=args.label,
        cfg_weight=args.cfg_weight,
        prompt_weight=args.prompt_weight,
        progress=_progress(args),
    )
    for text in texts:
        print(text.replace("\n", "\\n"))


def _fill(args: argparse.Namespace) -> None:
    from .pipeline import load

    lm = load(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    texts = lm.fill(
        args.template,
        n=args.n,
        prompt=args.prompt,
        sampler=args.sampler,
        top_p=args.top_p,
        seed=args.seed,
        progress=_progress(args),
    )
    for text in texts:
        print(text.replace("\n", "\\n"))


def _train(args: argparse.Namespace) -> None:
    from .training import TrainConfig, train

    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "config", "func") and v is not None}
    if "devices" in overrides and str(overrides["devices"]).isdigit():
        overrides["devices"] = int(overrides["devices"])
    cfg = TrainConfig.from_json(args.config, **overrides) if args.config else TrainConfig(**overrides)
    if not cfg.data:
        raise CtrlgenError("no training data: pass --data FILE (or a --config that lists data)")
    out = train(cfg)
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank != 0:  # under DDP every rank runs this; rank 0 may be writing training.json right now
        return
    summary = out / "training.json"
    if summary.exists():
        print(json.dumps(json.loads(summary.read_text())["latest"], indent=2, default=str))
    print(f"model written to {out}")


def _corpus(args: argparse.Namespace) -> None:
    from .corpus import build_default_corpus, write_corpus

    docs = build_default_corpus(args.data_dir)
    print(f"{len(docs)} documents -> {write_corpus(docs, args.out)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ctrlgen", description="Controllable text generation with diffusion LMs")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    _add_train(sub)
    _add_corpus(sub)
    _add_export(sub)
    _add_fill(sub)
    _add_rewrite(sub)
    _add_train_classifier(sub)
    args = parser.parse_args(argv)
    commands = {
        "generate": _generate,
        "train": _train,
        "corpus": _corpus,
        "export": _export,
        "fill": _fill,
        "rewrite": _rewrite,
        "train-classifier": _train_classifier,
    }
    try:
        commands[args.command](args)
    except (CtrlgenError, ConstraintError) as e:
        print(f"ctrlgen: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
