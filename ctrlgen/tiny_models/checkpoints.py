"""Tiny masked LMs (BERT, RoBERTa, ModernBERT, BERT with a Unigram tokenizer) saved as hub checkpoints are.

Each is the family's own transformers class, randomly initialised, with the config's special-token ids taken
from its tokenizer, so ``AutoModelForMaskedLM`` and ``AutoTokenizer`` load it exactly as a real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from ._saving import _check_loads_back, _quiet_and_seeded, _round_up, _save_tokenizer, _write_info
from .families import MASKED_LM_FAMILIES, _family_spec
from .synthetic import _family_tokenizer


def _verify_masked_lm(out_dir: Path, model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    loaded_tok = AutoTokenizer.from_pretrained(out_dir)
    loaded = AutoModelForMaskedLM.from_pretrained(out_dir).eval()
    _check_loads_back(out_dir, model, tokenizer, loaded, loaded_tok)


def build_masked_lm(
    family: str,
    out_dir: str | Path,
    vocab_size: int = 1000,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    heads: int | None = None,
    texts: Iterable[str] | None = None,
    synthetic_vocab: bool = False,
    max_position_embeddings: int = 512,
    verify: bool = True,
) -> Path:
    """Build a tiny masked LM of ``family`` with its tokenizer into ``out_dir`` and return the directory.

    The model is the family's own transformers class (``BertForMaskedLM``, ``RobertaForMaskedLM``,
    ``ModernBertForMaskedLM``), randomly initialised under ``seed``, saved with ``save_pretrained`` next to its
    tokenizer, so ``AutoModelForMaskedLM.from_pretrained(out_dir)`` and ``AutoTokenizer.from_pretrained(out_dir)``
    load it like a hub checkpoint. The config's pad/bos/eos/cls/sep ids are the tokenizer's.

    Parameters
    ----------
    family:
        ``"bert"`` (WordPiece), ``"roberta"`` (byte-level BPE, ``<mask>`` last), ``"modernbert"`` (byte-level
        BPE, specials after the learned vocabulary, logits rounded up to a multiple of 64 as in the real model)
        or ``"bert-unigram"`` (``BertForMaskedLM`` with the Unigram tokenizer).
    out_dir:
        Created if needed; existing files of the same names are overwritten.
    vocab_size:
        Tokenizer size to aim for (an upper bound when trained on a small corpus, exact with
        ``synthetic_vocab``); ``ctrlgen_zoo.json`` records the real size.
    hidden, layers, heads:
        Width, depth and attention heads (default ``hidden // 16``); the feed-forward width is ``2 * hidden``.
    seed:
        Seeds the corpus draw, the synthetic vocabulary and the weights.
    texts:
        Tokenizer training documents (default :func:`corpus_texts`).
    synthetic_vocab:
        Pad the vocabulary to exactly ``vocab_size`` (see :func:`synthetic_vocab_tokenizer`).
    max_position_embeddings:
        Longest input (RoBERTa's table gets 2 more rows for its position offset).
    verify:
        Load the directory back with the Auto classes and check the logits match the built model exactly.
    """
    from transformers import AutoModelForMaskedLM, BertConfig, ModernBertConfig, RobertaConfig

    if family not in MASKED_LM_FAMILIES:
        raise ValueError(f"unknown masked-LM family {family!r}; expected one of {MASKED_LM_FAMILIES}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    heads = heads or max(1, hidden // 16)
    tokenizer = _family_tokenizer(family, vocab_size, texts, seed, synthetic_vocab)
    tokenizer.model_max_length = max_position_embeddings
    n_tokens = len(tokenizer)
    common = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=2 * hidden)
    if family in ("bert", "bert-unigram"):
        config = BertConfig(
            vocab_size=n_tokens,
            max_position_embeddings=max_position_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,  # None for WordPiece, as in bert-base; </s> for Unigram
            **common,
        )
    elif family == "roberta":
        config = RobertaConfig(
            vocab_size=n_tokens,
            max_position_embeddings=max_position_embeddings + tokenizer.pad_token_id + 1,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **common,
        )
    else:
        config = ModernBertConfig(
            vocab_size=_round_up(n_tokens, 64),
            max_position_embeddings=max_position_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id,
            local_attention=min(128, max_position_embeddings),
            **common,
        )
    with _quiet_and_seeded(seed):
        model = AutoModelForMaskedLM.from_config(config)
        model.save_pretrained(out)
        _save_tokenizer(tokenizer, out)
        if verify:
            _verify_masked_lm(out, model, tokenizer)
    _write_info(
        out,
        {
            "family": family,
            "loader": "AutoModelForMaskedLM",
            "trust_remote_code": False,
            "tokenizer": _family_spec(family).kind,
            "requested_vocab_size": vocab_size,
            "tokenizer_size": n_tokens,
            "logits_size": int(config.vocab_size),
            "logit_shift": 0,
            "mask_token_id": tokenizer.mask_token_id,
            "parameters": sum(p.numel() for p in model.parameters()),
            "hidden": hidden,
            "layers": layers,
            "heads": heads,
            "seed": seed,
            "synthetic_vocab": synthetic_vocab,
        },
    )
    return out
