"""Which source tokens a rewrite re-noises: whole words, chosen by saliency or at random.

Re-noising part of a word (``disappointed`` is several BPE pieces) leaves fragments that the denoiser can only
complete into the same word or into non-words, so selection works on words: a token starts a new word when
it starts with white space, or when punctuation begins or ends at its boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["word_spans", "pick_words", "random_order"]


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_'" or ord(ch) > 127


def word_spans(pieces: Sequence[str]) -> list[list[int]]:
    """Group token positions into words, given each token's text (``tokenizer.decode([id])``)."""
    spans: list[list[int]] = []
    for i, piece in enumerate(pieces):
        starts = (
            not spans
            or not piece
            or piece[0].isspace()
            or not _is_word_char(piece[0])
            or not pieces[i - 1]
            or not _is_word_char(pieces[i - 1][-1])
        )
        if starts:
            spans.append([i])
        else:
            spans[-1].append(i)
    return spans


def pick_words(spans: list[list[int]], budget: int, order: Sequence[int]) -> list[int]:
    """Token positions of words taken in ``order`` while their tokens fit in ``budget`` (words that would
    overflow it are passed over for shorter ones further down); at least the first word is always taken."""
    chosen: list[int] = []
    for w in order:
        if not chosen or len(chosen) + len(spans[w]) <= budget:
            chosen.extend(spans[w])
        if len(chosen) >= budget:
            break
    return sorted(chosen)


def random_order(n_words: int, generator: torch.Generator) -> list[int]:
    return torch.randperm(n_words, generator=generator).tolist()
