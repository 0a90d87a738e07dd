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
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        keep: torch.Tensor | None = None,
        causal: bool = False,
        cache: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """One block. ``cache`` (a list ``[keys, values]``, empty at first) holds the rotated keys and the
        values of earlier positions of a causal model decoding step by step, and is extended in place."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = _apply_rotary(q, cos, sin), _apply_rotary(k, cos, sin)
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        drop = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=drop, is_causal=causal and keep is None)
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
        embedding_process = getattr(config, "process", "masking") == "embedding"
        # a denoiser of embeddings reads vectors, not token ids: no token embedding (DDP wants no unused weights)
        self.embed = None if embedding_process else nn.Embedding(config.vocab_size, config.d_model)
        n_labels = len(config.label_names)
        self.label_embed = nn.Embedding(n_labels + 1, config.d_model) if n_labels else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        if embedding_process:
            # Diffusion-LM: small learned token embeddings are the data; the transformer reads them projected up,
            # with the time, and predicts the clean embedding; rounding is tied to the same embeddings
            dim = config.latent_dim
            self.latent_embed = nn.Embedding(config.vocab_size, dim)
            self.latent_in = nn.Linear(dim, config.d_model)
            self.time_mlp = nn.Sequential(
                nn.Linear(config.d_model, config.d_model), nn.SiLU(), nn.Linear(config.d_model, config.d_model)
            )
            self.latent_out = nn.Linear(config.d_model, dim)
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
            # the embedding process's data: unit scale, as Diffusion-LM starts them, so the noise does not drown
            # them at the first step
            latent = module is getattr(self, "latent_embed", None)
            nn.init.normal_(module.weight, mean=0.0, std=1.0 if latent else 0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, DenoiserModel):
            cos, sin = _rotary_tables(self.config.max_canvas, self.config.d_model // self.config.n_heads)
            module.rope_cos.copy_(cos)
            module.rope_sin.copy_(sin)

    @property
    def embedding_process(self) -> bool:
        """True for a denoiser of Gaussian-noised embeddings (``process="embedding"``)."""
        return getattr(self.config, "process", "masking") == "embedding"

    def _require_latents(self) -> None:
        if not self.embedding_process:
            raise ValueError(f"this model was built for the {self.config.process!r} process, not 'embedding'")

    def latent_embedding(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` token ids -> ``(B, L, latent_dim)`` clean embeddings, the embedding process's data."""
        self._require_latents()
        return self.latent_embed(input_ids)

    def round_logits(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, L, latent_dim)`` -> ``(B, L, V)`` logits of rounding each vector to a token: minus the squared
        distance to each token's embedding (tied), so the likeliest token is the nearest one, as a Gaussian
        around each embedding says (a plain dot product would favour embeddings of large norm)."""
        self._require_latents()
        weight, z = self.latent_embed.weight.float(), latents.float()  # a difference of squares: float32
        return 2.0 * F.linear(z, weight) - (weight * weight).sum(-1) - (z * z).sum(-1, keepdim=True)

    def predict_latent(
        self,
        latents: torch.Tensor,
        t: torch.Tensor,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The clean embeddings predicted from noisy ``latents`` (``(B, L, latent_dim)``) at times ``t``
        (``(B,)`` in ``[0, 1]``); clean positions (a prompt) are read as they are."""
        from .gaussian import timestep_features

        self._require_latents()
        length = latents.shape[1]
        if length > self.config.max_canvas:
            raise ValueError(f"canvas of {length} tokens exceeds the model's max_canvas={self.config.max_canvas}")
        time = timestep_features(t, self.config.d_model).to(latents.dtype)
        x = self.latent_in(latents) + self.time_mlp(time)[:, None, :]
        return self.latent_out(self._trunk(x, labels, attention_mask, 0, length))

    @property
    def causal(self) -> bool:
        """True for the autoregressive baseline (causal attention), False for a denoiser."""
        return getattr(self.config, "objective", "diffusion") == "autoregressive"

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits of the clean tokens (of a denoiser), or of the next tokens (of the autoregressive baseline).

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
        return self.decode(input_ids, labels, attention_mask)

    def decode(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: list[list[torch.Tensor]] | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        """:meth:`forward`, and for a causal model the incremental form: ``cache`` (one list per block, see
        :class:`_Block`) holds the positions before ``start``; ``input_ids`` are positions ``start``...;
        ``attention_mask`` then covers all positions so far (``(B, start + L)``)."""
        length = input_ids.shape[1]
        end = start + length
        if end > self.config.max_canvas:
            raise ValueError(f"canvas of {end} tokens exceeds the model's max_canvas={self.config.max_canvas}")
        if self.embed is None:
            raise ValueError("this model denoises token embeddings (process 'embedding'): use predict_latent")
        x = self._trunk(self.embed(input_ids), labels, attention_mask, start, end, cache)
        return F.linear(x, self.embed.weight)

    def _trunk(
        self,
        x: torch.Tensor,
        labels: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        start: int,
        end: int,
        cache: list[list[torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """The transformer from input vectors ``(B, L, d_model)`` to final-normalised states: the label, the
        blocks (causal for the baseline) and the last layer norm, shared by tokens and latents."""
        length, device = x.shape[1], x.device
        cos, sin = self.rope_cos[start:end], self.rope_sin[start:end]
        if self.label_embed is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), len(self.config.label_names), device=device)
            x = x + self.label_embed(labels)[:, None, :]
        x = self.drop(x)
        causal = self.causal
        keep = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        if causal and (keep is not None or start):
            order = torch.ones(length, end, dtype=torch.bool, device=device).tril(start)
            if keep is None:
                keep = order[None, None]
            else:  # every position sees itself, so a left-padding row has a key and no NaN flows from it
                positions = torch.arange(end, device=device)
                itself = positions[None, :] == positions[start:, None]
                keep = (keep & order[None, None]) | itself[None, None]
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, keep, causal, None if cache is None else cache[i])
        return self.ln_f(x)
