"""Free text never opens with a token that reads differently at the start of a text.

A WordPiece continuation (``##ing``) placed first decodes to the literal ``##ing``: exact, but not text anyone
wants. Automata built from a regex already keep such tokens out of the first position (the vocabulary's
first-position rules); free text (no constraint, a token-count ``Length``, a free template slot that opens the
canvas, a rewrite) gets this guide instead.
"""

from __future__ import annotations

import torch

from .interface import Guide, StepState
from .vocabulary import TokenVocabulary

__all__ = ["odd_first_tokens", "FirstTokenBan"]


def odd_first_tokens(vocab: TokenVocabulary) -> list[int]:
    """Tokens whose text at the start is not a tail of their text elsewhere (``##ing`` -> ``"##ing"`` vs
    ``"ing"``), plus those the vocabulary never allows first; a tokenizer that only drops a leading space
    (``"▁hello"`` -> ``"hello"``) has none of the first kind."""
    odd = set(vocab.not_first)
    for i, first in vocab.rules.first_bytes.items():
        mid = vocab.token_bytes[i] or b""
        if not mid.endswith(first):
            odd.add(i)
    return sorted(odd)


class FirstTokenBan(Guide):
    """Forbids ``token_ids`` at canvas position 0 while it is masked."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = torch.tensor(token_ids, dtype=torch.long)

    def process_logits(self, state: StepState) -> torch.Tensor:
        if not state.masked[:, 0].any():
            return state.log_probs
        log_probs = state.log_probs.clone()
        ids = self.token_ids.to(log_probs.device)
        rows = state.masked[:, 0].nonzero(as_tuple=True)[0]
        log_probs[rows[:, None], 0, ids[None, :]] = float("-inf")
        return log_probs
