"""Configuration of a tiny LLaDA-style masked diffusion language model (ctrlgen's test zoo).

This file is *remote code*: :func:`ctrlgen.tiny_models.build_llada_style` copies it next to ``config.json``,
whose ``auto_map`` points here, so ``AutoConfig.from_pretrained(path, trust_remote_code=True)`` loads it the way
it loads the configuration of ``GSAI-ML/LLaDA-8B-Instruct``. It depends on ``transformers`` only.

The field names follow the real checkpoints' ``config.json`` (``d_model``, ``n_heads``, ``n_kv_heads``,
``n_layers``, ``mlp_hidden_size``, ``vocab_size``, ``embedding_size``, ``max_sequence_length``,
``mask_token_id``, ...), so code that reads a LLaDA configuration reads this one. The standard names
(``hidden_size``, ``num_attention_heads``, ``num_hidden_layers``, ``max_position_embeddings``) are aliases.
Unlike the real file, importing this one registers nothing with the ``Auto*`` classes: without
``trust_remote_code=True`` a directory using it does not load, in any process.
"""

from __future__ import annotations

from transformers import PretrainedConfig


class LLaDAConfig(PretrainedConfig):
    """Hyper-parameters of the tiny bidirectional transformer in ``modeling_llada.py``.

    ``mask_token_id`` is the absorbing state of the diffusion process (``<|mdm_mask|>`` in the tokenizer);
    ``embedding_size`` (>= ``vocab_size``) is the number of rows of the embedding and output matrices, i.e. the
    last dimension of the logits, which may exceed the tokenizer's length as in the real checkpoints.
    """

    model_type = "llada"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "n_heads",
        "num_hidden_layers": "n_layers",
        "max_position_embeddings": "max_sequence_length",
        "intermediate_size": "mlp_hidden_size",
    }

    def __init__(
        self,
        d_model: int = 64,
        n_heads: int = 4,
        n_kv_heads: int | None = None,
        n_layers: int = 2,
        mlp_hidden_size: int = 128,
        vocab_size: int = 512,
        embedding_size: int | None = None,
        max_sequence_length: int = 1024,
        rope_theta: float = 500000.0,
        rms_norm_eps: float = 1e-5,
        init_std: float = 0.02,
        include_bias: bool = False,
        weight_tying: bool = False,
        mask_token_id: int | None = None,
        pad_token_id: int | None = None,
        eos_token_id: int | None = None,
        bos_token_id: int | None = None,
        use_cache: bool = False,
        **kwargs,
    ) -> None:
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads if n_kv_heads is not None else n_heads
        self.n_layers = n_layers
        self.mlp_hidden_size = mlp_hidden_size
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size if embedding_size is not None else vocab_size
        self.max_sequence_length = max_sequence_length
        self.rope_theta = rope_theta
        self.rms_norm_eps = rms_norm_eps
        self.init_std = init_std
        self.include_bias = include_bias
        self.weight_tying = weight_tying
        self.mask_token_id = mask_token_id
        self.use_cache = use_cache
        kwargs.pop("tie_word_embeddings", None)
        super().__init__(
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            bos_token_id=bos_token_id,
            tie_word_embeddings=weight_tying,
            **kwargs,
        )
        # Set again after the base class, which (depending on the transformers version) may reset them.
        self.pad_token_id = pad_token_id
        self.eos_token_id = eos_token_id
        self.bos_token_id = bos_token_id
