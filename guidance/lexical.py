"""A word-presence naive Bayes judge of finished text, shipped next to a style classifier.

The noise-trained transformer is what guidance needs: it reads half-masked canvases and has a gradient. Its
verdict on a *finished* rewrite is less reliable: trained mostly on masked input, it learns that the absence of
the other style's words is evidence for the target, so it grows confident on rewrites that merely dropped the
negative words without adding any positive one. A bag-of-words model fitted on the same labelled sentences
only moves when words that carry the style are present, and on clean review sentences it is as accurate
(see the classifier's ``training.json``). ``rewrite(best_of=K)`` ranks candidates by both.

Binarised multinomial naive Bayes with add-one smoothing: each distinct word of a sentence counts once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

__all__ = ["WordJudge", "words"]

# "didn't" and the pre-tokenised "did n't" of common corpora give the same words ("did", "n't"), as do "it's"
# and "it 's" ("it", "'s"): negations must count however the text spells them
_WORD = re.compile(r"n't|\w+?(?=n't)|'\w+|\w+|[^\w\s]")


def words(text: str) -> set[str]:
    """The distinct lower-cased words and punctuation marks of ``text``."""
    return set(_WORD.findall(text.lower()))


class WordJudge:
    """Label log-probabilities of clean texts from which words they contain.

    ``doc_counts[label]`` is the number of training sentences with that label; ``word_counts[w][label]``
    how many of them contain ``w``.
    """

    FILE = "word_judge.json"

    def __init__(
        self,
        labels: Sequence[str],
        doc_counts: Sequence[int],
        word_counts: dict[str, Sequence[int]],
        alpha: float = 1.0,
    ) -> None:
        if len(labels) < 2 or len(doc_counts) != len(labels):
            raise ValueError(f"a word judge needs one document count per label, got {doc_counts} for {labels}")
        if any(len(c) != len(labels) for c in word_counts.values()):
            raise ValueError("every word needs one count per label")
        if any(c <= 0 for c in doc_counts):
            raise ValueError(
                f"a word judge needs training sentences for every label, got {dict(zip(labels, doc_counts))}"
            )
        self.labels, self.alpha = list(labels), float(alpha)
        self.doc_counts = [int(c) for c in doc_counts]
        self.word_counts = {w: [int(x) for x in c] for w, c in word_counts.items()}
        total = sum(self.doc_counts)
        self._prior = torch.tensor([math.log(c / total) for c in self.doc_counts])
        # log P(word | label) over word occurrences (each counted once per sentence), as multinomial NB has it
        mass = [sum(c[k] for c in self.word_counts.values()) for k in range(len(labels))]
        v = len(self.word_counts)
        self._log_p = {
            w: torch.tensor([math.log((c[k] + alpha) / (mass[k] + alpha * v)) for k in range(len(labels))])
            for w, c in self.word_counts.items()
        }

    @classmethod
    def fit(
        cls, texts: Iterable[str], labels: Iterable[str], label_names: Sequence[str], min_count: int = 2
    ) -> WordJudge:
        """Count words per label; words seen in fewer than ``min_count`` sentences are dropped (they carry
        little evidence and would bloat the file)."""
        names = list(label_names)
        docs = [0] * len(names)
        counts: dict[str, list[int]] = {}
        for text, label in zip(texts, labels, strict=True):
            if label not in names:
                raise ValueError(f"label {label!r} is not one of the judge's labels {names}")
            k = names.index(label)
            docs[k] += 1
            for w in words(text):
                counts.setdefault(w, [0] * len(names))[k] += 1
        kept = {w: c for w, c in counts.items() if sum(c) >= min_count}
        return cls(names, docs, kept)

    def log_likelihood(self, texts: Sequence[str]) -> torch.Tensor:
        """``(N, K)`` unnormalised ``log P(words | label)``, without the prior; unseen words are ignored.

        This is what a product of experts adds to another model's posterior (which holds the prior already).
        """
        rows = []
        for text in texts:
            score = torch.zeros(len(self.labels))
            for w in words(text):
                if w in self._log_p:
                    score += self._log_p[w]
            rows.append(score)
        return torch.stack(rows) if rows else torch.empty(0, len(self.labels))

    def log_proba(self, texts: Sequence[str]) -> torch.Tensor:
        """``(N, K)`` normalised label log-probabilities (prior times likelihood)."""
        return (self.log_likelihood(texts) + self._prior).log_softmax(-1)

    def save(self, directory: str | Path) -> None:
        data = {"labels": self.labels, "alpha": self.alpha, "doc_counts": self.doc_counts}
        data["word_counts"] = dict(sorted(self.word_counts.items()))
        (Path(directory) / self.FILE).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def load(cls, directory: str | Path) -> WordJudge | None:
        """The judge saved in ``directory``, or None when there is none."""
        path = Path(directory) / cls.FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(data["labels"], data["doc_counts"], data["word_counts"], data.get("alpha", 1.0))
