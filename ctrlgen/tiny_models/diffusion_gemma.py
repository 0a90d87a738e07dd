"""A tiny randomly initialised DiffusionGemma (``transformers.DiffusionGemmaForBlockDiffusion``) with a tokenizer
trained here, saved and loaded back exactly as the released checkpoint is.

What it mirrors of ``google/diffusiongemma-26B-A4B-it`` (config fields as transformers' ``DiffusionGemmaConfig``
names them): model type ``diffusion_gemma``, a text config with a mixture of experts (``num_experts``,
``top_k_experts``, ``moe_intermediate_size``), sliding and full attention layers (``global_head_dim``), a vision
tower (as small as the config allows: DiffusionGemma always builds one), ``canvas_length``, the image token ids;
a Gemma-style tokenizer layout (``<pad>`` = 0, ``<eos>`` = 1, ``<bos>`` = 2, the turn markers ``<|turn>`` and
``<turn|>``, image markers) with a Gemma-4-style chat template, and a generation config whose end ids are
``<eos>`` and ``<turn|>`` (end of turn). The tokenizer is byte-level BPE by default; ``sentencepiece=True``
gives the real one's layout instead: SentencePiece-style BPE, spaces normalised to ``"▁"``, the 256 byte
pieces ``<0x00>``..``<0xFF>`` as ordinary vocabulary for the characters it has no piece for, and a decoder
that replaces ``"▁"``, decodes byte runs and fuses (both spell every string).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from ._saving import _quiet_and_seeded, _save_tokenizer, _write_info
from .corpus import corpus_texts
from .tokenizers import train_bytelevel_bpe_tokenizer

__all__ = ["build_diffusion_gemma", "GEMMA_CHAT_TEMPLATE"]

#: Gemma-4-style turns: ``<bos><|turn>user\ncontent<turn|>\n<|turn>model\n`` (assistant turns are "model").
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<|turn>' + role + '\\n' + message['content'] | trim + '<turn|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|turn>model\\n' }}{% endif %}"
)
_ROLES = {"pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>", "unk_token": "<unk>"}
_EXTRA = ("<|turn>", "<turn|>", "<start_of_image>", "<image_soft_token>", "<end_of_image>")


def gemma_style_tokenizer(
    vocab_size: int = 2000,
    texts: Iterable[str] | None = None,
    seed: int = 0,
    synthetic: bool = False,
    sentencepiece: bool = False,
):
    """Byte-level BPE with DiffusionGemma's special-token layout and chat template; ``synthetic`` pads the
    trained vocabulary with random subwords to exactly ``vocab_size`` (for benchmarks at a real model's size);
    ``sentencepiece`` trains the real tokenizer's layout instead (see the module docstring)."""
    texts = list(texts) if texts is not None else corpus_texts(n=max(2000, min(vocab_size, 20000)), seed=seed)
    if sentencepiece:
        if synthetic:
            raise ValueError("synthetic padding is for the byte-level layout only")
        return _sentencepiece_tokenizer(texts, vocab_size)
    if not synthetic:
        return train_bytelevel_bpe_tokenizer(
            texts, vocab_size, special_tokens=_ROLES, extra_special_tokens=_EXTRA, chat_template=GEMMA_CHAT_TEMPLATE
        )
    from .families import _TokSpec
    from .synthetic import _pad_core
    from .tokenizers import _finish, _train_core

    spec = _TokSpec("bytelevel_bpe", _ROLES, extra=_EXTRA, chat_template=GEMMA_CHAT_TEMPLATE)
    core = _train_core(spec, texts, vocab_size, 2)
    if core.get_vocab_size(with_added_tokens=True) < vocab_size:
        core = _pad_core(core, spec.kind, vocab_size, seed)
    return _finish(spec, core)


def _sentencepiece_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Gemma's tokenizer layout, trained on ``texts``: special tokens first, then the byte pieces, then BPE."""
    import json

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = [*_ROLES.values(), *_EXTRA]
    byte_pieces = [f"<0x{i:02X}>" for i in range(256)]
    core = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    core.normalizer = normalizers.Replace(" ", "▁")
    core.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    core.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + byte_pieces, show_progress=False)
    core.train_from_iterator(texts, trainer)
    spec = json.loads(core.to_str())  # the byte pieces are ordinary vocabulary, not special tokens
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in specials]
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
        clean_up_tokenization_spaces=False,
        **_ROLES,
        additional_special_tokens=list(_EXTRA),
    )
    wrapped.chat_template = GEMMA_CHAT_TEMPLATE
    return wrapped


def build_diffusion_gemma(
    out_dir: str | Path,
    vocab_size: int = 2000,
    hidden: int = 64,
    layers: int = 2,
    canvas_length: int = 16,
    experts: int = 4,
    seed: int = 0,
    *,
    texts: Iterable[str] | None = None,
    tokenizer: PreTrainedTokenizerFast | None = None,
    synthetic_vocab: bool = False,
) -> Path:
    """Build, save (``save_pretrained``) and load back a tiny DiffusionGemma; returns ``out_dir``.

    ``layers`` alternate sliding and full attention, the last one full (as transformers requires); ``hidden``
    is split into 4 heads. ``tokenizer``: reuse one (its size sets the vocabulary) instead of training one.
    """
    from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _quiet_and_seeded(seed):
        tok = tokenizer if tokenizer is not None else gemma_style_tokenizer(vocab_size, texts, seed, synthetic_vocab)
        ids = {t: tok.convert_tokens_to_ids(t) for t in _EXTRA}
        types = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(layers)]
        types[-1] = "full_attention"
        head = hidden // 4
        config = DiffusionGemmaConfig(
            text_config=dict(
                vocab_size=len(tok),
                hidden_size=hidden,
                intermediate_size=2 * hidden,
                moe_intermediate_size=hidden // 2,
                num_hidden_layers=layers,
                num_attention_heads=4,
                num_key_value_heads=2,
                head_dim=head,
                global_head_dim=2 * head,
                num_global_key_value_heads=1,
                num_experts=experts,
                top_k_experts=min(2, experts),
                sliding_window=2 * canvas_length,
                max_position_embeddings=4096,
                layer_types=types,
                pad_token_id=tok.pad_token_id,
                eos_token_id=[tok.eos_token_id, ids["<turn|>"]],
                bos_token_id=tok.bos_token_id,
            ),
            vision_config=dict(
                model_type="gemma4_vision",
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=1,
                num_attention_heads=2,
                num_key_value_heads=2,
                head_dim=16,
                position_embedding_size=64,
                patch_size=4,
                pooling_kernel_size=2,
            ),
            boi_token_id=ids["<start_of_image>"],
            eoi_token_id=ids["<end_of_image>"],
            image_token_id=ids["<image_soft_token>"],
            canvas_length=canvas_length,
        )
        model = DiffusionGemmaForBlockDiffusion(config).eval()
        generation = model.generation_config
        generation.eos_token_id = [tok.eos_token_id, ids["<turn|>"]]
        generation.pad_token_id = tok.pad_token_id
        model.save_pretrained(out)
        _save_tokenizer(tok, out)
    from ..guidance._hf import quiet_progress

    with quiet_progress():
        loaded = DiffusionGemmaForBlockDiffusion.from_pretrained(out).eval()
    probe = torch.tensor([[tok.bos_token_id, *tok.encode("The Mill is near the river.", add_special_tokens=False)]])
    canvas = torch.randint(0, len(tok), (1, canvas_length), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        # equal up to float rounding (a reloaded tensor's layout may pick another matmul kernel); a weight that
        # did not load would differ by orders of magnitude more
        if not torch.allclose(
            model(input_ids=probe, decoder_input_ids=canvas).logits,
            loaded(input_ids=probe, decoder_input_ids=canvas).logits,
            rtol=0,
            atol=1e-5,
        ):
            raise RuntimeError(f"the DiffusionGemma saved in {out} does not load back identically")
    _write_info(
        out,
        {
            "family": "diffusion-gemma",
            "requested_vocab_size": vocab_size,
            "tokenizer_size": len(tok),
            "logits_size": len(tok),
            "logit_shift": 0,
            "canvas_length": canvas_length,
            "parameters": sum(p.numel() for p in model.parameters()),
            "seed": seed,
        },
    )
    return out
