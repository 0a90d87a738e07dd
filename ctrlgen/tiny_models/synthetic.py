"""Vocabularies of an exact size, however small the training corpus.

Benchmarks need to measure what a 30k-WordPiece or a 50k-BPE vocabulary costs, without training on a corpus
large enough to produce one: a trained vocabulary is padded with plausible random subwords that encoding can
really produce. :func:`_family_tokenizer` is also how every checkpoint builder gets its tokenizer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from .corpus import corpus_texts
from .families import _family_spec, _resolve_family
from .tokenizers import _finish, _train_core

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "ch", "cr"]
_ONSETS += ["dr", "fl", "gr", "pl", "pr", "sh", "sl", "sp", "st", "th", "tr", "wh"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "io", "oo", "ou", "y"]
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "nt", "rd", "st", "ck", "x"]


def _random_word(rng: random.Random) -> str:
    """A pronounceable nonsense word of one to three syllables ("brontel", "ouwhee", "stick")."""
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(rng.randint(1, 3)))


def _pad_core(tok: Tokenizer, kind: str, size: int, seed: int) -> Tokenizer:
    """Grow the model vocabulary of ``tok`` to ``size`` entries with plausible random subwords.

    WordPiece gets words and their ``##`` continuations; byte-level BPE gets words (half with the ``Ġ`` space
    marker) through chains of merges ``(w[:k-1], w[k-1])``, so the new tokens are ones encoding can produce;
    Unigram gets ``▁``-words with scores below every trained piece. Deterministic under ``seed``.
    """
    spec = json.loads(tok.to_str())
    model = spec["model"]
    rng = random.Random(seed)
    if kind == "wordpiece":
        vocab: dict[str, int] = model["vocab"]
        while len(vocab) < size:
            word = _random_word(rng)
            for cand in (word, "##" + word):
                if len(vocab) < size and cand not in vocab:
                    vocab[cand] = len(vocab)
    elif kind == "bytelevel_bpe":
        vocab = model["vocab"]
        merges = model["merges"]
        as_strings = bool(merges) and isinstance(merges[0], str)
        while len(vocab) < size:
            word = _random_word(rng)
            if rng.random() < 0.5:
                word = "Ġ" + word
            for k in range(2, len(word) + 1):
                if len(vocab) >= size:
                    break
                if word[:k] not in vocab:
                    vocab[word[:k]] = len(vocab)
                    merges.append(f"{word[: k - 1]} {word[k - 1]}" if as_strings else [word[: k - 1], word[k - 1]])
    elif kind == "unigram":
        pieces: list = model["vocab"]
        have = {p for p, _ in pieces}
        floor = min(score for _, score in pieces) - 1.0
        while len(pieces) < size:
            word = _random_word(rng)
            cand = "▁" + word if rng.random() < 0.7 else word
            if cand not in have:
                have.add(cand)
                pieces.append([cand, floor - rng.random()])
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    return Tokenizer.from_str(json.dumps(spec))


def _family_tokenizer(
    family: str,
    vocab_size: int,
    texts: Iterable[str] | None,
    seed: int,
    synthetic: bool,
    separate_pad: bool = False,
    min_frequency: int = 2,
) -> PreTrainedTokenizerFast:
    spec = _family_spec(family, separate_pad)
    if texts is None:
        texts = corpus_texts(n=max(2000, min(vocab_size, 20000)), seed=seed)
    model_size = vocab_size - len(spec.trailing_in_order())
    core = _train_core(spec, texts, model_size, min_frequency)
    if synthetic and core.get_vocab_size(with_added_tokens=True) < model_size:
        core = _pad_core(core, spec.kind, model_size, seed)
    return _finish(spec, core)


def synthetic_vocab_tokenizer(
    family: str, vocab_size: int, *, texts: Iterable[str] | None = None, seed: int = 0
) -> PreTrainedTokenizerFast:
    """A ``family`` tokenizer with exactly ``vocab_size`` tokens, however small the training corpus.

    The tokenizer is trained on ``texts`` (default: :func:`corpus_texts`) and its vocabulary is then padded
    with plausible random subwords (letter strings, their ``##`` forms for WordPiece, space-marked forms for
    BPE and Unigram) up to the requested size, so benchmarks can measure what a 30k-WordPiece or a 50k-BPE
    vocabulary costs without a large corpus. The special tokens keep the family's layout.

    Parameters
    ----------
    family:
        A zoo family (``"bert"``, ``"roberta"``, ``"modernbert"``, ``"bert-unigram"``, ``"llada"``,
        ``"dream"``) or a tokenizer kind (``"wordpiece"``, ``"bpe"``/``"bytelevel_bpe"``, ``"unigram"``).
    vocab_size:
        The exact ``len(tokenizer)`` wanted (unless the trained vocabulary alone is already larger).
    texts:
        Training documents.
    seed:
        Seeds the corpus draw and the padding words.
    """
    return _family_tokenizer(_resolve_family(family), vocab_size, texts, seed, synthetic=True)
