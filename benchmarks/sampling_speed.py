"""Sampling speed of a model: generated tokens per second at a canvas of 64, batch 1 and 16.

Run by hand (``python benchmarks/sampling_speed.py [--model DIR] [--device cuda]``); results are written to
``benchmarks/results/sampling_speed-<device>.json`` and quoted in the README. A token here is a canvas
position, so the figure counts end-of-text padding too: it measures the sampler, not the text.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import ctrlgen


def measure(lm, sampler: str, batch: int, length: int, steps: int, repeats: int) -> dict:
    lm.generate(n=batch, length=length, sampler=sampler, steps=steps, seed=0, batch_size=batch)  # warm-up
    if lm.device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        lm.generate(n=batch, length=length, sampler=sampler, steps=steps, seed=r + 1, batch_size=batch)
        if lm.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "sampler": sampler,
        "batch": batch,
        "length": length,
        "steps": steps,
        "seconds_min": round(best, 4),
        "seconds_median": round(sorted(times)[len(times) // 2], 4),
        "tokens_per_s": round(batch * length / best, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lm = ctrlgen.load(args.model, device=args.device)
    rows = [
        measure(lm, sampler, batch, args.length, args.steps, args.repeats)
        for sampler in ("ancestral", "confidence")
        for batch in (1, 16)
    ]
    for row in rows:
        print(json.dumps(row))
    device = torch.cuda.get_device_name() if lm.device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    result = {
        "device": device,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "parameters": sum(p.numel() for p in lm.model.parameters()),
        "rows": rows,
    }
    out = Path(args.out or Path(__file__).parent / "results" / f"sampling_speed-{lm.device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
