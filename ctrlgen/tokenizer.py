"""Byte-level BPE tokenizer for the denoiser.

Byte-level BPE makes every string representable (every JSON document, every regex literal): the base
alphabet is the 256 bytes, and merges learned on the corpus only shorten common text. The trained
``tokenizers`` object is wrapped as a :class:`transformers.PreTrainedTokenizerFast`, so it saves and loads
with ``save_pretrained`` / ``from_pretrained`` next to the model.

Special tokens:

* ``MASK_TOKEN`` is the absorbing state of the forward process; the denoiser never predicts it.
* ``END_TOKEN`` is both end of text and padding: content is followed by end tokens up to the canvas
  length, so variable-length text fits a fixed canvas.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from .guidance.vocabulary import tokenizer_fingerprint

__all__ = ["MASK_TOKEN", "END_TOKEN", "train_tokenizer", "tokenizer_fingerprint"]

MASK_TOKEN = "<|mask|>"
END_TOKEN = "<|endoftext|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts``.

    Parameters
    ----------
    texts:
        The training corpus, one document per item.
    vocab_size:
        Total vocabulary size including the 256 byte tokens and the two special tokens.
    min_frequency:
        Pairs seen fewer times are not merged.
    """
    if vocab_size < 258 + 1:
        raise ValueError(f"vocab_size must be at least 259 (256 bytes + 2 special tokens + 1), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    # add_prefix_space=False: a leading space is text like any other, so decode(encode(s)) == s exactly.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[END_TOKEN, MASK_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return wrap_tokenizer(tok)


def wrap_tokenizer(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """Wrap a raw ``tokenizers.Tokenizer`` with the special tokens the denoiser expects."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        mask_token=MASK_TOKEN,
        pad_token=END_TOKEN,
        eos_token=END_TOKEN,
        clean_up_tokenization_spaces=False,
    )
