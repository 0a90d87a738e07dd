"""Light, dependency-free measures for quick looks (the benchmarks use independent judges)."""

from __future__ import annotations

from collections import Counter

__all__ = ["word_overlap"]


def word_overlap(source: str, rewrite: str) -> float:
    """Unigram F1 between the words of two texts: 1 for the same words, 0 for none in common."""
    a, b = Counter(source.lower().split()), Counter(rewrite.lower().split())
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(b.values()), common / sum(a.values())
    return 2 * precision * recall / (precision + recall)
