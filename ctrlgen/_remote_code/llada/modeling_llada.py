"""A tiny LLaDA-style masked diffusion language model (ctrlgen's test zoo), written as remote code.

It mirrors the *interface* of ``GSAI-ML/LLaDA-8B-Instruct`` with a small implementation of its own:

* ``AutoModel.from_pretrained(path, trust_remote_code=True)`` returns :class:`LLaDAModelLM`;
* ``forward(input_ids, attention_mask=None, ...)`` returns a ``CausalLMOutputWithPast`` whose ``.logits`` have
  shape ``(batch, length, config.embedding_size)``;
* attention is bidirectional (no causal mask): every position sees the whole sequence;
* the logits at position ``i`` are the prediction for the token *at* position ``i`` (no shift), which is what
  LLaDA's sampler assumes when it fills the masked positions ``x == mask_token_id`` from ``logits[x == mask]``.

The network is a pre-norm transformer (RMSNorm, rotary position embeddings, SwiGLU feed-forward), the same
family of blocks as the real model, only a few thousand times smaller. Torch and transformers only.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_llada import LLaDAConfig


class LLaDARMSNorm(nn.Module):
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


def _attention_bias(
    attention_mask: torch.Tensor | None, attention_bias: torch.Tensor | None, length: int, dtype: torch.dtype
) -> torch.Tensor | None:
    """An additive (batch, 1, query, key) bias from a (batch, length) keep-mask and/or a given bias.

    A row whose keys are all masked (a sequence made only of padding) attends everywhere instead, so the
    softmax never sees an empty row and the output stays finite.
    """
    bias = None
    if attention_mask is not None:
        keep = attention_mask.to(torch.bool)
        if keep.dim() == 2:
            keep = keep[:, None, None, :].expand(-1, 1, length, -1)
        keep = keep | ~keep.any(dim=-1, keepdim=True)
        bias = torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, torch.finfo(dtype).min)
    if attention_bias is not None:
        extra = attention_bias.to(dtype)
        bias = extra if bias is None else bias + extra
    return bias


class LLaDABlock(nn.Module):
    """Pre-norm block: bidirectional multi-head attention, then a SwiGLU feed-forward."""

    def __init__(self, config: LLaDAConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.n_kv_heads = config.n_kv_heads
        self.head_dim = config.d_model // config.n_heads
        self.rope_theta = config.rope_theta
        bias = config.include_bias
        self.attn_norm = LLaDARMSNorm(config.d_model, config.rms_norm_eps)
        self.q_proj = nn.Linear(config.d_model, self.n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.d_model, self.n_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.d_model, self.n_kv_heads * self.head_dim, bias=bias)
        self.attn_out = nn.Linear(self.n_heads * self.head_dim, config.d_model, bias=bias)
        self.ff_norm = LLaDARMSNorm(config.d_model, config.rms_norm_eps)
        self.ff_proj = nn.Linear(config.d_model, config.mlp_hidden_size, bias=bias)
        self.up_proj = nn.Linear(config.d_model, config.mlp_hidden_size, bias=bias)
        self.ff_out = nn.Linear(config.mlp_hidden_size, config.d_model, bias=bias)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        batch, length, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_proj(h).view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = _rotary(q, positions, self.rope_theta), _rotary(k, positions, self.rope_theta)
        if self.n_kv_heads != self.n_heads:
            k = k.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=False)
        x = x + self.attn_out(att.transpose(1, 2).reshape(batch, length, -1))
        h = self.ff_norm(x)
        return x + self.ff_out(F.silu(self.ff_proj(h)) * self.up_proj(h))


class LLaDAModel(nn.Module):
    """The transformer proper; parameters live under ``transformer`` as in the real checkpoints."""

    def __init__(self, config: LLaDAConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.embedding_size, config.d_model),
                "blocks": nn.ModuleList([LLaDABlock(config) for _ in range(config.n_layers)]),
                "ln_f": LLaDARMSNorm(config.d_model, config.rms_norm_eps),
            }
        )
        if not config.weight_tying:
            self.transformer["ff_out"] = nn.Linear(config.d_model, config.embedding_size, bias=config.include_bias)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        attention_bias: torch.Tensor | None,
        output_hidden_states: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        x = self.transformer["wte"](input_ids) if inputs_embeds is None else inputs_embeds
        batch, length, _ = x.shape
        positions = torch.arange(length, device=x.device).unsqueeze(0).expand(batch, -1)
        bias = _attention_bias(attention_mask, attention_bias, length, x.dtype)
        hidden: tuple[torch.Tensor, ...] | None = () if output_hidden_states else None
        for block in self.transformer["blocks"]:
            if hidden is not None:
                hidden += (x,)
            x = block(x, positions, bias)
        x = self.transformer["ln_f"](x)
        if hidden is not None:
            hidden += (x,)
        head = self.transformer["wte"] if self.config.weight_tying else self.transformer["ff_out"]
        logits = F.linear(x, head.weight, getattr(head, "bias", None))
        return logits, hidden


class LLaDAModelLM(PreTrainedModel):
    """Bidirectional mask predictor: ``logits[:, i]`` predicts the token at position ``i`` (no shift).

    The loss (when ``labels`` are given) is the cross-entropy of ``logits[:, i]`` against ``labels[:, i]`` over
    the positions whose label is not ``-100``: the masked-diffusion objective restricted to masked positions
    when the caller sets the other labels to ``-100``.
    """

    config_class = LLaDAConfig
    base_model_prefix = "model"
    _no_split_modules = ["LLaDABlock"]
    supports_gradient_checkpointing = False

    def __init__(self, config: LLaDAConfig) -> None:
        super().__init__(config)
        self.model = LLaDAModel(config)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, LLaDARMSNorm):
            nn.init.ones_(module.weight)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.transformer["wte"]

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.transformer["wte"] = value

    def get_output_embeddings(self) -> nn.Module:
        if self.config.weight_tying:
            return self.model.transformer["wte"]
        return self.model.transformer["ff_out"]

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        attention_bias: torch.Tensor | None = None,
        past_key_values: object = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast | tuple:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        logits, hidden = self.model(
            input_ids, inputs_embeds, attention_mask, attention_bias, bool(output_hidden_states)
        )
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
        return_dict = return_dict if return_dict is not None else getattr(self.config, "return_dict", True)
        if not return_dict:
            out = (logits,) + ((hidden,) if hidden is not None else ())
            return ((loss,) + out) if loss is not None else out
        return CausalLMOutputWithPast(loss=loss, logits=logits, hidden_states=hidden)
