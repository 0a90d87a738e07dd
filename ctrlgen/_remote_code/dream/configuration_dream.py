"""Configuration of a tiny Dream-style masked diffusion language model (ctrlgen's test zoo).

This file is *remote code*: :func:`ctrlgen.tiny_models.build_dream_style` copies it next to ``config.json``,
whose ``auto_map`` points here, so ``AutoConfig.from_pretrained(path, trust_remote_code=True)`` loads it the way
it loads the configuration of ``Dream-org/Dream-v0-Instruct-7B``. It depends on ``transformers`` only.

The field names follow the real checkpoints (Qwen2-style: ``hidden_size``, ``intermediate_size``,
``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``, ``max_position_embeddings``,
``rope_theta``, ``rms_norm_eps``, plus ``mask_token_id``). Dream's logits are shifted: the output at position
``i`` predicts the token at position ``i + 1``; the configuration carries no flag for it, a loader recognises the
family from ``model_type == "Dream"``. Importing this file registers nothing with the ``Auto*`` classes.
"""

from __future__ import annotations

from transformers import PretrainedConfig


class DreamConfig(PretrainedConfig):
    """Hyper-parameters of the tiny bidirectional transformer in ``modeling_dream.py``.

    ``vocab_size`` is the number of rows of the embedding and output matrices (the last dimension of the
    logits); as in the real checkpoints it may exceed the tokenizer's length. ``mask_token_id`` is the
    absorbing state of the diffusion process (``<|mask|>`` in the tokenizer).
    """

    model_type = "Dream"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 512,
        hidden_size: int = 64,
        intermediate_size: int = 128,
        num_hidden_layers: int = 2,
        num_attention_heads: int = 4,
        num_key_value_heads: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 1024,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        rope_theta: float = 1000000.0,
        attention_dropout: float = 0.0,
        use_cache: bool = False,
        tie_word_embeddings: bool = False,
        mask_token_id: int | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | None = None,
        **kwargs,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads if num_key_value_heads is not None else num_attention_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta
        self.attention_dropout = attention_dropout
        self.use_cache = use_cache
        self.mask_token_id = mask_token_id
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
        # Set again after the base class, which (depending on the transformers version) may reset them.
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.tie_word_embeddings = tie_word_embeddings
