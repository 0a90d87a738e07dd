"""Masking against uniform noise and Gaussian noise on embeddings: the same denoiser, data, tokenizer and
training budget, three forward processes.

Run by hand: ``python benchmarks/processes.py [--steps 1500]``. Results: ``benchmarks/results/processes.json``,
``benchmarks/results/processes.png``, quoted in the README.

* data: E2E restaurant descriptions (``../shared/data/e2e/devset.csv``), split by meaning representation: 90%
  of the MRs train both models, the other 10% are held out;
* models: ctrlgen's own denoiser (hidden 128, 4 layers, 4 heads, feed-forward 512, a 2,048-token BPE trained
  on the training split), trained with ``--process masking``, ``--process uniform`` and ``--process embedding``
  (16-dimensional embeddings, ``sqrt`` schedule; the others log-linear) for the same steps, batch, learning
  rate and seed;
* validation bound: each run's own bound on the negative log-likelihood per token on the held-out split (the
  NELBO of the discrete processes, the continuous-time variational bound of the embedding process), so they
  compare;
* sample quality against reverse steps (8, 16, 32, 64), with the ancestral sampler of the discrete processes
  (their default), DiffusionGemma's ``entropy-bound`` on the uniform model and the clamped reverse process on
  the embedding model: 64 samples of 40 tokens,
  judged by an independent word trigram model (interpolated Kneser-Ney, fit on the training split's text):
  per-word perplexity (lower: more like the data; the held-out references score the reference value), and
  distinct bigrams (share of unique word bigrams: collapse into repetition shows here); seconds per sample;
* hard constraints, with each process's default sampler at 32 steps: the share of 32 samples that hold exactly
  12 words (``Length(words=12)``) and that match a pattern (``Regex``), which must be 100% for every process;
* style control, masking against embedding (``benchmarks/process_style.py``): two more runs of the same shape
  and budget on the review sentences, one sentiment classifier, rewrites of held-out negative sentences and
  guided generation judged by VADER and MiniLM (``benchmarks/results/processes-style.png``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "e2e" / "devset.csv"
OUT = ROOT / "benchmarks" / "results" / "processes.json"
STEPS = (8, 16, 32, 64)
PROCESSES = ("masking", "uniform", "embedding")
#: (process, sampler) pairs whose samples are judged
SAMPLED = (("masking", "ancestral"), ("uniform", "entropy-bound"), ("uniform", "ancestral"), ("embedding", "clamped"))
PATTERN = r"[A-Z][a-z]+( [a-z]+){3,8} (pub|restaurant|coffee shop)\."
SHAPE = dict(vocab_size=2048, d_model=128, n_layers=4, n_heads=4, d_ff=512, dropout=0.1)


def split_e2e(seed: int = 0) -> tuple[list[str], list[str]]:
    """(train, held-out) reference texts, split by meaning representation."""
    with DATA.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    mrs = sorted({r["mr"] for r in rows})
    random.Random(seed).shuffle(mrs)
    held = set(mrs[: len(mrs) // 10])
    train = [r["ref"] for r in rows if r["mr"] not in held]
    test = [r["ref"] for r in rows if r["mr"] in held]
    return train, test


def _words(text: str) -> list[str]:
    out, word = [], []
    for ch in text.lower():
        if ch.isalnum() or ch in "'£-":
            word.append(ch)
        else:
            if word:
                out.append("".join(word))
                word = []
            if not ch.isspace():
                out.append(ch)
    if word:
        out.append("".join(word))
    return out


class TrigramJudge:
    """Interpolated Kneser-Ney word trigram model (discount 0.75), fit on reference texts: an independent
    judge of how much a sample reads like the data."""

    def __init__(self, texts: list[str], d: float = 0.75) -> None:
        self.d = d
        self.tri: Counter = Counter()
        self.bi_ctx: Counter = Counter()
        self.followers3: dict = defaultdict(set)
        self.continuation: dict = defaultdict(set)  # w -> {v: (v, w) seen}
        self.bi: Counter = Counter()
        self.uni_ctx: Counter = Counter()
        self.followers2: dict = defaultdict(set)
        for text in texts:
            w = ["<s>", "<s>", *_words(text), "</s>"]
            for i in range(2, len(w)):
                self.tri[(w[i - 2], w[i - 1], w[i])] += 1
                self.bi_ctx[(w[i - 2], w[i - 1])] += 1
                self.followers3[(w[i - 2], w[i - 1])].add(w[i])
                self.bi[(w[i - 1], w[i])] += 1
                self.uni_ctx[w[i - 1]] += 1
                self.followers2[w[i - 1]].add(w[i])
                self.continuation[w[i]].add(w[i - 1])
        self.bigram_types = sum(len(v) for v in self.followers2.values())
        self.vocab = len(self.continuation) + 1

    def _p_uni(self, w: str) -> float:
        return (len(self.continuation.get(w, ())) + 0.5) / (self.bigram_types + 0.5 * self.vocab)

    def _p_bi(self, v: str, w: str) -> float:
        n = self.uni_ctx.get(v, 0)
        if not n:
            return self._p_uni(w)
        back = self.d * len(self.followers2[v]) / n
        return max(self.bi.get((v, w), 0) - self.d, 0) / n + back * self._p_uni(w)

    def _p_tri(self, u: str, v: str, w: str) -> float:
        n = self.bi_ctx.get((u, v), 0)
        if not n:
            return self._p_bi(v, w)
        back = self.d * len(self.followers3[(u, v)]) / n
        return max(self.tri.get((u, v, w), 0) - self.d, 0) / n + back * self._p_bi(v, w)

    def perplexity(self, texts: list[str]) -> float:
        total, count = 0.0, 0
        for text in texts:
            w = ["<s>", "<s>", *_words(text), "</s>"]
            for i in range(2, len(w)):
                total -= math.log(self._p_tri(w[i - 2], w[i - 1], w[i]))
                count += 1
        return math.exp(total / max(count, 1))


def distinct_bigrams(texts: list[str]) -> float:
    grams = [tuple(w[i : i + 2]) for t in texts for w in [_words(t)] for i in range(len(w) - 1)]
    return len(set(grams)) / max(len(grams), 1)


def train_runs(
    train_file: Path, out: Path, steps: int, seed: int, processes=PROCESSES, label_column: str | None = None
) -> dict[str, Path]:
    """One run per process on ``train_file``, all alike but for the process; runs already trained are reused."""
    from ctrlgen import TrainConfig, train

    runs = {}
    for process in processes:
        done = out / process / "training.json"
        if done.exists() and json.loads(done.read_text())["latest"].get("global_step", 0) >= steps:
            runs[process] = out / process
            print(f"{process}: reusing the run trained in {out / process}", flush=True)
            continue
        cfg = TrainConfig(
            data=[str(train_file)], out=str(out / process), process=process, canvas_length=48, max_canvas=64,
            batch_size=32, lr=2e-3, warmup_steps=100, max_steps=steps, val_every=steps, val_fraction=0.1,
            seed=seed, accelerator="auto", progress=False, label_column=label_column, **SHAPE,
        )  # fmt: skip
        start = time.time()
        runs[process] = train(cfg)
        print(f"{process}: trained {steps} steps in {time.time() - start:.0f} s", flush=True)
    return runs


def judge_samples(lm, judge: TrigramJudge, sampler: str, steps: int, n: int, seed: int) -> dict:
    start = time.perf_counter()
    texts = lm.generate(n=n, length=40, sampler=sampler, steps=steps, seed=seed, batch_size=16)
    seconds = (time.perf_counter() - start) / n
    texts = [t.strip() for t in texts]
    return {
        "judge_ppl": round(judge.perplexity(texts), 2),
        "distinct_bigrams": round(distinct_bigrams(texts), 3),
        "s_per_sample": round(seconds, 4),
        "examples": texts[:3],
    }


def constraint_satisfaction(lm, n: int, seed: int) -> dict:
    """Shares of ``n`` samples (the model's default sampler, 32 steps) that hold their hard constraint."""
    import re

    from ctrlgen import Length, Regex

    words = lm.generate(n=n, constraints=[Length(words=12)], steps=32, seed=seed, batch_size=16)
    start = time.perf_counter()
    pattern = lm.generate(n=n, constraints=[Regex(PATTERN)], steps=32, seed=seed, batch_size=16)
    return {
        "length_12_words": sum(len(t.split()) == 12 for t in words) / n,
        "regex": sum(bool(re.fullmatch(PATTERN, t)) for t in pattern) / n,
        "regex_s_per_sample": round((time.perf_counter() - start) / n, 4),
        "examples": {"length": words[:2], "regex": pattern[:2]},
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, rows in result["samples"].items():
        ax.plot(list(STEPS), [rows[str(s)]["judge_ppl"] for s in STEPS], marker="o", label=key)
    ax.axhline(result["reference_ppl"], color="grey", linestyle="--", label="held-out references")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(STEPS), [str(s) for s in STEPS])
    ax.set_xlabel("reverse steps")
    ax.set_ylabel("trigram-judge perplexity (lower is better)")
    ax.set_title("Three forward processes, same model and budget")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500, help="training steps of each model")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--runs", default=None,
        help="keep the trained runs in this directory (one per process); runs already trained there are reused",
    )  # fmt: skip
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--style-sentences", type=int, default=100, help="held-out negative reviews to rewrite (0: no style part)"
    )
    parser.add_argument("--style-samples", type=int, default=64, help="texts generated per style target and scale")
    parser.add_argument(
        "--start-times", type=float, nargs="*", default=[0.3, 0.8, 1.0],
        help="SDEdit start times of the embedding model's rewrites, beside its default",
    )  # fmt: skip
    args = parser.parse_args()
    import ctrlgen

    start = time.time()
    train_texts, held = split_e2e(args.seed)
    judge = TrigramJudge(train_texts)
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(args.runs) if args.runs else Path(tmp) / "runs"
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(train_texts) + "\n", encoding="utf-8")
        runs = train_runs(train_file, runs_dir, args.steps, args.seed)
        result = {"training_steps": args.steps, "shape": SHAPE, "reference_ppl": round(judge.perplexity(held), 2)}
        trained = {p: json.loads((runs[p] / "training.json").read_text())["latest"] for p in runs}
        result["validation_bound"] = {p: trained[p].get("val_loss") for p in runs}
        result["train_seconds"] = {p: trained[p].get("train_seconds_this_run") for p in runs}
        result["parameters"] = {p: trained[p].get("parameters") for p in runs}
        samples = {}
        for process, sampler in SAMPLED:
            lm = ctrlgen.load(runs[process])
            samples[f"{process} / {sampler}"] = {
                str(s): judge_samples(lm, judge, sampler, s, args.samples, args.seed) for s in STEPS
            }
            print(process, sampler, {s: v["judge_ppl"] for s, v in samples[f"{process} / {sampler}"].items()})
        result["samples"] = samples
        result["constraints"] = {p: constraint_satisfaction(ctrlgen.load(runs[p]), 32, args.seed) for p in PROCESSES}
        shares = {p: {k: v for k, v in c.items() if k != "examples"} for p, c in result["constraints"].items()}
        print(json.dumps(shares))
        if args.style_sentences:
            from process_style import style_control

            result["style"] = style_control(
                DATA.parents[1], runs_dir, Path(tmp), args.steps, args.style_sentences, args.style_samples,
                args.seed, args.start_times, train_runs,
            )  # fmt: skip
    result["wall_s"] = round(time.time() - start, 1)
    from adapters import git_state, machine

    result["machine"], result["git"] = machine(), git_state()
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out.with_suffix(".png"))
    if "style" in result:
        from process_style import plot_style

        plot_style(result["style"], out.with_name(out.stem + "-style.png"))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
