"""The denoiser: a bidirectional transformer over a canvas of tokens, some of them masked.

A plain pre-norm transformer (nanoGPT's block, without the causal mask) with rotary position embeddings and
PyTorch's scaled-dot-product attention. No time conditioning: with the SUBS parameterization the fraction of
masked tokens already tells the network how noisy its input is (MDLM, Sahoo et al. 2024, sec. 3.2).
The output projection reuses the token embedding matrix, which keeps the shipped weights small.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from .config import DenoiserConfig

__all__ = ["DenoiserModel"]


def _rotary_tables(length: int, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)  # (L, hd/2)
    return angles.cos(), angles.sin()


def _apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: (B, H, L, hd); rotate pairs (x1, x2) of the two halves by the position's angle (RoFormer eq. 34).
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class _Block(nn.Module):
    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.dropout = cfg.dropout
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff_in = nn.Linear(cfg.d_model, cfg.d_ff)
        self.ff_out = nn.Linear(cfg.d_ff, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = _apply_rotary(q, cos, sin), _apply_rotary(k, cos, sin)
        drop = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=drop)
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.ff_out(F.gelu(self.ff_in(self.ln2(x)))))


class DenoiserModel(PreTrainedModel):
    """Predicts, for every canvas position, logits over the vocabulary of the clean token.

    The raw logits returned here are turned into the SUBS parameterization (no mass on ``[MASK]``, fixed
    tokens copied) by :func:`ctrlgen.masking.subs_log_probs`.
    """

    config_class = DenoiserConfig
    base_model_prefix = "denoiser"
    main_input_name = "input_ids"
    _no_split_modules = ["_Block"]

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        n_labels = len(config.label_names)
        self.label_embed = nn.Embedding(n_labels + 1, config.d_model) if n_labels else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        cos, sin = _rotary_tables(config.max_canvas, config.d_model // config.n_heads)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            std = 0.02
            if module.out_features == self.config.d_model and module.in_features != 3 * self.config.d_model:
                std = 0.02 / math.sqrt(2 * self.config.n_layers)  # residual projections (GPT-2 scaling)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, DenoiserModel):
            cos, sin = _rotary_tables(self.config.max_canvas, self.config.d_model // self.config.n_heads)
            module.rope_cos.copy_(cos)
            module.rope_sin.copy_(sin)

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits of the clean tokens.

        Parameters
        ----------
        input_ids:
            ``(B, L)`` int64 canvas, masked positions holding ``mask_token_id``.
        attention_mask:
            ``(B, L)``, 0 on padding no position may attend to (a batch of prompts of different lengths).
        labels:
            ``(B,)`` int64 class labels of a conditional model; ``len(label_names)`` (or None) means no label.

        Returns
        -------
        torch.Tensor
            ``(B, L, V)`` raw logits in the model's dtype.
        """
        length = input_ids.shape[1]
        if length > self.config.max_canvas:
            raise ValueError(f"canvas of {length} tokens exceeds the model's max_canvas={self.config.max_canvas}")
        cos, sin = self.rope_cos[:length], self.rope_sin[:length]
        x = self.embed(input_ids)
        if self.label_embed is not None:
            if labels is None:
                labels = torch.full((input_ids.shape[0],), len(self.config.label_names), device=input_ids.device)
            x = x + self.label_embed(labels)[:, None, :]
        x = self.drop(x)
        keep = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        for block in self.blocks:
            x = block(x, cos, sin, keep)
        return F.linear(self.ln_f(x), self.embed.weight)
