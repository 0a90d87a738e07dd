"""Tiny LLaDA- and Dream-style checkpoints: remote code, loaded with ``AutoModel`` and ``trust_remote_code=True``.

Both families ship their model classes as Python files next to ``config.json`` (copied here from
``ctrlgen/_remote_code/<family>/``), and both are built the same way: train the family's tokenizer, write the
code and a config in the real checkpoint's field names, instantiate through the Auto classes, save, load back
and compare. They differ only in the config they write (LLaDA's OLMo-style names, Dream's Qwen2-style ones with
grouped key/value heads), the ``auto_map``, and whether the logits are shifted; a :class:`_RemoteStyle` holds
those differences, so :func:`build_llada_style` and :func:`build_dream_style` are one builder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from ._saving import _check_loads_back, _quiet_and_seeded, _round_up, _save_tokenizer, _write_info
from .synthetic import _family_tokenizer

# ctrlgen/tiny_models/remote.py -> ctrlgen/_remote_code (package data of ctrlgen)
_REMOTE_CODE_DIR = Path(__file__).resolve().parents[1] / "_remote_code"


@dataclass(frozen=True)
class _Shape:
    """The model size asked for, defaults filled in; ``kv_heads == heads`` without grouped key/value heads."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int


@dataclass(frozen=True)
class _RemoteStyle:
    """What tells one remote-code family's checkpoint from another's.

    ``config_fields(tokenizer, shape, rows)`` gives ``config.json`` in the real checkpoint's field names, with
    ``rows`` logits (the tokenizer's size rounded up to a multiple of 64, as the real models pad it).
    ``logit_shift`` is 1 when position i predicts token i + 1; ``grouped_kv`` when the family has separate
    key/value heads (a ``kv_heads`` argument, recorded in the metadata).
    """

    family: str
    architectures: tuple[str, ...]
    auto_map: Mapping[str, str]
    logit_shift: int
    grouped_kv: bool
    config_fields: Callable[[PreTrainedTokenizerFast, _Shape, int], dict[str, Any]]


def _llada_fields(tokenizer: PreTrainedTokenizerFast, shape: _Shape, rows: int) -> dict[str, Any]:
    return {
        "model_type": "llada",
        "d_model": shape.hidden,
        "n_heads": shape.heads,
        "n_kv_heads": shape.heads,
        "n_layers": shape.layers,
        "mlp_hidden_size": 2 * shape.hidden,
        "mlp_ratio": 2,
        "vocab_size": rows,
        "embedding_size": rows,
        "max_sequence_length": tokenizer.model_max_length,
        "rope_theta": 500000.0,
        "rms_norm_eps": 1e-5,
        "init_std": 0.02,
        "include_bias": False,
        "weight_tying": False,
        "mask_token_id": tokenizer.mask_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "use_cache": False,
    }


def _dream_fields(tokenizer: PreTrainedTokenizerFast, shape: _Shape, rows: int) -> dict[str, Any]:
    eos = tokenizer.eos_token_id  # the real config's bos, eos and pad ids are all <|endoftext|>'s
    return {
        "model_type": "Dream",
        "vocab_size": rows,
        "hidden_size": shape.hidden,
        "intermediate_size": 2 * shape.hidden,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "hidden_act": "silu",
        "max_position_embeddings": tokenizer.model_max_length,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "attention_dropout": 0.0,
        "tie_word_embeddings": False,
        "use_cache": False,
        "mask_token_id": tokenizer.mask_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": eos,
        "eos_token_id": eos,
    }


_LLADA = _RemoteStyle(
    family="llada",
    architectures=("LLaDAModelLM",),
    auto_map={
        "AutoConfig": "configuration_llada.LLaDAConfig",
        "AutoModel": "modeling_llada.LLaDAModelLM",
        "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
    },
    logit_shift=0,
    grouped_kv=False,
    config_fields=_llada_fields,
)
_DREAM = _RemoteStyle(
    family="dream",
    architectures=("DreamModel",),
    auto_map={"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
    logit_shift=1,
    grouped_kv=True,
    config_fields=_dream_fields,
)


def _copy_remote_code(family: str, out: Path) -> list[str]:
    src = _REMOTE_CODE_DIR / family
    files = sorted(p for p in src.glob("*.py")) if src.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"remote-code sources for {family!r} not found in {src}; they ship as package data of ctrlgen"
        )
    for path in files:
        shutil.copyfile(path, out / path.name)
    return [p.name for p in files]


def _verify_remote(out: Path, model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast) -> None:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    try:
        AutoConfig.from_pretrained(out, trust_remote_code=False)
    except ValueError:
        pass
    else:  # pragma: no cover - would mean a class got registered globally
        raise RuntimeError(f"{out} loaded without trust_remote_code; remote code must be required")
    # transformers 5's AutoTokenizer reads the model config first: without an explicit trust_remote_code it
    # would ask interactively whether to run configuration_*.py.
    loaded_tok = AutoTokenizer.from_pretrained(out, trust_remote_code=True)
    loaded = AutoModel.from_pretrained(out, trust_remote_code=True).eval()
    _check_loads_back(out, model, tokenizer, loaded, loaded_tok)


def _save_remote(
    style: _RemoteStyle,
    out: Path,
    config_fields: dict[str, Any],
    tokenizer: PreTrainedTokenizerFast,
    info: dict[str, Any],
    seed: int,
    verify: bool,
) -> Path:
    """Write remote code + config.json, build the model through the Auto classes, save, check, describe."""
    from transformers import AutoConfig, AutoModel

    family, auto_map, architectures = style.family, dict(style.auto_map), list(style.architectures)
    out.mkdir(parents=True, exist_ok=True)
    code_files = _copy_remote_code(family, out)
    config_json = {"architectures": architectures, "auto_map": auto_map, **config_fields}
    (out / "config.json").write_text(json.dumps(config_json, indent=2) + "\n", encoding="utf-8")
    with _quiet_and_seeded(seed):
        config = AutoConfig.from_pretrained(out, trust_remote_code=True)
        model = AutoModel.from_config(config, trust_remote_code=True)
        model.save_pretrained(out)
        # save_pretrained rewrites config.json; pin the fields a loader keys on to the real checkpoints' values.
        saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
        saved.update(architectures=architectures, auto_map=auto_map, model_type=config_fields["model_type"])
        (out / "config.json").write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _copy_remote_code(family, out)  # save_pretrained may have copied its cached copies; keep the originals
        _save_tokenizer(tokenizer, out)
        if verify:
            _verify_remote(out, model, tokenizer)
    info = dict(info, parameters=sum(p.numel() for p in model.parameters()), remote_code_files=code_files)
    _write_info(out, info)
    return out


def _default_heads(hidden: int, heads: int | None) -> int:
    heads = heads or max(1, hidden // 16)
    if hidden % heads or (hidden // heads) % 2:
        raise ValueError(f"hidden={hidden} must split into {heads} heads of even size (rotary embeddings)")
    return heads


def _default_kv_heads(heads: int, kv_heads: int | None) -> int:
    if kv_heads is None:
        kv_heads = heads // 2 if heads % 2 == 0 else heads
    if heads % kv_heads:
        raise ValueError(f"kv_heads={kv_heads} must divide heads={heads}")
    return kv_heads


def _build_remote(
    style: _RemoteStyle,
    out_dir: str | Path,
    vocab_size: int,
    hidden: int,
    layers: int,
    seed: int,
    heads: int | None,
    kv_heads: int | None,
    texts: Iterable[str] | None,
    synthetic_vocab: bool,
    separate_pad: bool,
    verify: bool,
) -> Path:
    """The builder behind :func:`build_llada_style` and :func:`build_dream_style` (arguments as there)."""
    out = Path(out_dir)
    heads = _default_heads(hidden, heads)
    kv_heads = _default_kv_heads(heads, kv_heads) if style.grouped_kv else heads
    tokenizer = _family_tokenizer(style.family, vocab_size, texts, seed, synthetic_vocab, separate_pad)
    n_tokens = len(tokenizer)
    rows = _round_up(n_tokens, 64)
    fields = style.config_fields(tokenizer, _Shape(hidden, layers, heads, kv_heads), rows)
    info = {
        "family": style.family,
        "loader": "AutoModel",
        "trust_remote_code": True,
        "tokenizer": "bytelevel_bpe",
        "requested_vocab_size": vocab_size,
        "tokenizer_size": n_tokens,
        "logits_size": rows,
        "logit_shift": style.logit_shift,
        "mask_token_id": tokenizer.mask_token_id,
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        **({"kv_heads": kv_heads} if style.grouped_kv else {}),
        "seed": seed,
        "synthetic_vocab": synthetic_vocab,
    }
    return _save_remote(style, out, fields, tokenizer, info, seed, verify)


def build_llada_style(
    out_dir: str | Path,
    vocab_size: int = 1000,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    heads: int | None = None,
    texts: Iterable[str] | None = None,
    synthetic_vocab: bool = False,
    separate_pad: bool = False,
    verify: bool = True,
) -> Path:
    """Build a tiny LLaDA-style checkpoint (remote code) into ``out_dir`` and return the directory.

    Mirrors ``GSAI-ML/LLaDA-8B-Instruct``: ``config.json`` has ``model_type="llada"``,
    ``architectures=["LLaDAModelLM"]``, ``auto_map`` for ``AutoConfig``, ``AutoModel`` and
    ``AutoModelForCausalLM`` pointing at ``configuration_llada.py`` / ``modeling_llada.py`` (copied into the
    directory), the LLaDA field names (``d_model``, ``n_heads``, ``n_layers``, ``mlp_hidden_size``,
    ``embedding_size``, ...) and ``mask_token_id``; ``vocab_size``/``embedding_size`` are rounded up to a
    multiple of 64, so the logits are wider than the tokenizer as in the real model. The model is bidirectional
    and its logits at position i predict token i. ``AutoModel.from_pretrained(out_dir, trust_remote_code=True)``
    loads it; without ``trust_remote_code`` loading raises ``ValueError``.

    The tokenizer is byte-level BPE with the real special tokens, all numbered after the learned vocabulary:
    ``<|startoftext|>`` (bos), ``<|endoftext|>`` (eos, and pad as in the real checkpoint unless
    ``separate_pad``), ``<|mdm_mask|>`` (mask), ``<|start_header_id|>``, ``<|end_header_id|>``, ``<|eot_id|>``,
    with a Llama-3-style chat template (:data:`LLADA_CHAT_TEMPLATE`). Encoding adds no special tokens; the chat
    template writes the bos token.

    Parameters
    ----------
    out_dir:
        Created if needed; existing files of the same names are overwritten. Building into many directories
        in one process is fine: transformers caches the remote code per directory name and content hash.
    vocab_size, hidden, layers, heads, seed, texts, synthetic_vocab, verify:
        As for :func:`build_masked_lm` (feed-forward width ``2 * hidden``).
    separate_pad:
        Give the tokenizer a distinct ``<|pad|>`` token instead of padding with eos.
    """
    return _build_remote(
        _LLADA, out_dir, vocab_size, hidden, layers, seed, heads, None, texts, synthetic_vocab, separate_pad, verify
    )


def build_dream_style(
    out_dir: str | Path,
    vocab_size: int = 1000,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    heads: int | None = None,
    kv_heads: int | None = None,
    texts: Iterable[str] | None = None,
    synthetic_vocab: bool = False,
    separate_pad: bool = False,
    verify: bool = True,
) -> Path:
    """Build a tiny Dream-style checkpoint (remote code) into ``out_dir`` and return the directory.

    Mirrors ``Dream-org/Dream-v0-Instruct-7B``: ``config.json`` has ``model_type="Dream"``,
    ``architectures=["DreamModel"]``, ``auto_map`` for ``AutoConfig`` and ``AutoModel`` pointing at
    ``configuration_dream.py`` / ``modeling_dream.py`` (copied into the directory), Qwen2-style field names,
    grouped key/value heads (``kv_heads``, default half the heads), ``mask_token_id``, and - as in the real
    config - ``bos_token_id == eos_token_id == pad_token_id`` (the ``<|endoftext|>`` id) even though the
    tokenizer's bos token is ``<|beginoftext|>``. ``vocab_size`` is rounded up to a multiple of 64 (logits wider
    than the tokenizer). The model is bidirectional and its **logits are shifted**: position i predicts token
    i + 1 (Dream's sampler realigns them with ``cat([logits[:, :1], logits[:, :-1]], 1)``).

    The tokenizer is byte-level BPE with the special tokens numbered after the learned vocabulary in the real
    order: ``<|endoftext|>`` (eos, and pad unless ``separate_pad``), ``<|im_start|>``, ``<|im_end|>``,
    ``<|beginoftext|>`` (bos), ``<|mask|>`` (mask), and a ChatML chat template (:data:`DREAM_CHAT_TEMPLATE`).

    Parameters
    ----------
    out_dir:
        Created if needed; existing files of the same names are overwritten.
    vocab_size, hidden, layers, heads, seed, texts, synthetic_vocab, verify:
        As for :func:`build_masked_lm` (feed-forward width ``2 * hidden``).
    kv_heads:
        Key/value heads (must divide ``heads``).
    separate_pad:
        Give the tokenizer a distinct ``<|pad|>`` token instead of padding with eos.
    """
    return _build_remote(
        _DREAM, out_dir, vocab_size, hidden, layers, seed, heads, kv_heads, texts, synthetic_vocab, separate_pad, verify
    )
