"""A tiny Dream-style masked diffusion language model (ctrlgen's test zoo), written as remote code.

It mirrors the *interface* of ``Dream-org/Dream-v0-Instruct-7B`` with a small implementation of its own:

* ``AutoModel.from_pretrained(path, trust_remote_code=True)`` returns :class:`DreamModel`;
* ``forward(input_ids, attention_mask=None, position_ids=None, ...)`` returns a ``MaskedLMOutput`` whose
  ``.logits`` have shape ``(batch, length, config.vocab_size)``;
* attention is bidirectional (no causal mask);
* **the logits are shifted by one**: the output at position ``i`` is the prediction for the token at position
  ``i + 1``, as in an autoregressive model (Dream was initialised from one). Dream's sampler realigns them with
  ``logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)`` before reading ``logits[x == mask_token_id]``,
  so the first position must never be masked. The loss below is defined the same way, so a model trained with
  it follows the convention; an untrained zoo model only documents it.

``attention_mask`` may be ``None`` or the string ``"full"`` (no masking), a ``(batch, length)`` keep-mask
(1 = real token), or a ``(batch, 1, length, length)`` mask (boolean, True = may attend; or additive float), the
forms Dream's own generation code passes. The network is a pre-norm transformer (RMSNorm, rotary embeddings,
SwiGLU, bias on the query/key/value projections as in Qwen2). Torch and transformers only.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput

from .configuration_dream import DreamConfig


class DreamRMSNorm(nn.Module):
    """Root-mean-square layer norm with a learned scale."""

    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def _rotary(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate ``x`` (batch, heads, length, head_dim) by angles ``positions * theta ** (-2k / head_dim)``.

    The frequencies are computed on the fly rather than kept as a buffer, so the module has no state to
    initialise when transformers builds it on the meta device.
    """
    half = x.shape[-1] // 2
    inv_freq = theta ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = positions.to(torch.float32)[:, None, :, None] * inv_freq  # (batch, 1, length, half)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x.float()[..., :half], x.float()[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).to(x.dtype)


def _attention_bias(attention_mask: torch.Tensor | str | None, length: int, dtype: torch.dtype) -> torch.Tensor | None:
    """An additive (batch, 1, query, key) bias from any of the accepted ``attention_mask`` forms.

    A query row whose keys are all masked attends everywhere instead, so the output stays finite.
    """
    if attention_mask is None or isinstance(attention_mask, str):
        return None
    if attention_mask.dim() == 4 and attention_mask.is_floating_point():
        return attention_mask.to(dtype)
    keep = attention_mask.to(torch.bool)
    if keep.dim() == 2:
        keep = keep[:, None, None, :].expand(-1, 1, length, -1)
    keep = keep | ~keep.any(dim=-1, keepdim=True)
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, torch.finfo(dtype).min)


class DreamAttention(nn.Module):
    """Bidirectional multi-head attention with grouped key/value heads."""

    def __init__(self, config: DreamConfig) -> None:
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.n_kv_heads = config.num_key_value_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.rope_theta = config.rope_theta
        self.q_proj = nn.Linear(config.hidden_size, self.n_heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(config.hidden_size, self.n_kv_heads * self.head_dim, bias=True)
        self.v_proj = nn.Linear(config.hidden_size, self.n_kv_heads * self.head_dim, bias=True)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = _rotary(q, positions, self.rope_theta), _rotary(k, positions, self.rope_theta)
        if self.n_kv_heads != self.n_heads:
            k = k.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=False)
        return self.o_proj(att.transpose(1, 2).reshape(batch, length, -1))


class DreamMLP(nn.Module):
    """SwiGLU feed-forward."""

    def __init__(self, config: DreamConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DreamDecoderLayer(nn.Module):
    """Pre-norm block (named "decoder" as in Dream, though nothing in it is causal)."""

    def __init__(self, config: DreamConfig) -> None:
        super().__init__()
        self.input_layernorm = DreamRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = DreamAttention(config)
        self.post_attention_layernorm = DreamRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = DreamMLP(config)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), positions, bias)
        return x + self.mlp(self.post_attention_layernorm(x))


class DreamBaseModel(nn.Module):
    """Embeddings, blocks and the final norm; parameters named as in the real checkpoints."""

    def __init__(self, config: DreamConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([DreamDecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = DreamRMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        attention_mask: torch.Tensor | str | None,
        position_ids: torch.Tensor | None,
        output_hidden_states: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        x = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        batch, length, _ = x.shape
        if position_ids is None:
            position_ids = torch.arange(length, device=x.device).unsqueeze(0)
        position_ids = position_ids.expand(batch, -1)
        bias = _attention_bias(attention_mask, length, x.dtype)
        hidden: tuple[torch.Tensor, ...] | None = () if output_hidden_states else None
        for layer in self.layers:
            if hidden is not None:
                hidden += (x,)
            x = layer(x, position_ids, bias)
        x = self.norm(x)
        if hidden is not None:
            hidden += (x,)
        return x, hidden


class DreamModel(PreTrainedModel):
    """Bidirectional mask predictor with shifted outputs: ``logits[:, i]`` predicts the token at ``i + 1``.

    The loss (when ``labels`` are given) is the cross-entropy of ``logits[:, i]`` against ``labels[:, i + 1]``
    over the positions whose label is not ``-100``, which is what makes the shift a property of a trained
    model rather than a reading convention.
    """

    config_class = DreamConfig
    base_model_prefix = "model"
    _no_split_modules = ["DreamDecoderLayer"]
    supports_gradient_checkpointing = False

    def __init__(self, config: DreamConfig) -> None:
        super().__init__(config)
        self.model = DreamBaseModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, DreamRMSNorm):
            nn.init.ones_(module.weight)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | str | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: object = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MaskedLMOutput | tuple:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        x, hidden = self.model(input_ids, inputs_embeds, attention_mask, position_ids, bool(output_hidden_states))
        logits = self.lm_head(x)
        loss = None
        if labels is not None:
            shifted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
            loss = F.cross_entropy(shifted, labels[:, 1:].reshape(-1), ignore_index=-100)
        return_dict = return_dict if return_dict is not None else getattr(self.config, "return_dict", True)
        if not return_dict:
            out = (logits,) + ((hidden,) if hidden is not None else ())
            return ((loss,) + out) if loss is not None else out
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=hidden)
