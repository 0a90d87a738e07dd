"""Configuration of the denoiser, a ``transformers.PretrainedConfig`` so it saves as ``config.json``."""

from __future__ import annotations

from transformers import PretrainedConfig

__all__ = ["DenoiserConfig"]


class DenoiserConfig(PretrainedConfig):
    """Shape of the bidirectional transformer and the forward process it was trained with.

    Parameters
    ----------
    vocab_size:
        Size of the tokenizer's vocabulary, special tokens included.
    max_canvas:
        Longest canvas the rotary tables are built for; longer canvases raise an error.
    d_model, n_layers, n_heads, d_ff:
        Width, depth, attention heads and feed-forward width.
    dropout:
        Dropout on attention outputs and feed-forward outputs during training.
    mask_token_id, end_token_id:
        The absorbing ``[MASK]`` state and the end/padding token.
    schedule:
        Name of the noise schedule used in training (``"loglinear"`` or ``"cosine"``); samplers default to it.
    process:
        The forward process it was trained with: ``"masking"`` (absorbing ``[MASK]``), ``"uniform"``
        (uniformly drawn tokens; the mask token is then never used) or ``"embedding"`` (Gaussian noise on
        learned token embeddings, Diffusion-LM; its schedule is ``"sqrt"`` or ``"cosine"``).
    latent_dim:
        Dimension of the token embeddings the embedding process noises (Diffusion-LM uses 16 to 128: a small
        space keeps rounding back to tokens easy). Unused by the other processes.
    tokenizer_hash:
        Fingerprint of the tokenizer the model was trained with, checked on load.
    objective:
        ``"diffusion"`` (bidirectional attention, a denoiser) or ``"autoregressive"`` (causal attention,
        next-token loss: the same-size baseline the diffusion model is compared with, built by the same code).
    label_names:
        Labels of a class-conditional model (trained with label dropout for classifier-free guidance); empty
        for an unconditional one. Index ``len(label_names)`` is the "no label" embedding.
    """

    model_type = "ctrlgen-denoiser"

    def __init__(
        self,
        vocab_size: int = 4096,
        max_canvas: int = 256,
        d_model: int = 256,
        n_layers: int = 6,
        n_heads: int = 4,
        d_ff: int = 1024,
        dropout: float = 0.1,
        mask_token_id: int = 1,
        end_token_id: int = 0,
        schedule: str = "loglinear",
        process: str = "masking",
        tokenizer_hash: str | None = None,
        label_names: list[str] | None = None,
        objective: str = "diffusion",
        latent_dim: int = 16,
        **kwargs,
    ) -> None:
        for name, value in (
            ("vocab_size", vocab_size),
            ("max_canvas", max_canvas),
            ("d_model", d_model),
            ("n_layers", n_layers),
            ("n_heads", n_heads),
            ("d_ff", d_ff),
            ("latent_dim", latent_dim),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"config {name} must be a positive whole number, got {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
            raise ValueError(f"config dropout must be a number in [0, 1), got {dropout!r}")
        if process not in ("masking", "uniform", "embedding"):
            raise ValueError(f"config process must be 'masking', 'uniform' or 'embedding', got {process!r}")
        if objective not in ("diffusion", "autoregressive"):
            raise ValueError(f"config objective must be 'diffusion' or 'autoregressive', got {objective!r}")
        if d_model % n_heads or (d_model // n_heads) % 2:
            raise ValueError(f"d_model={d_model} must split into {n_heads} heads of even size")
        self.vocab_size = vocab_size
        self.max_canvas = max_canvas
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.dropout = dropout
        self.mask_token_id = mask_token_id
        self.end_token_id = end_token_id
        self.schedule = schedule
        self.process = process
        self.tokenizer_hash = tokenizer_hash
        self.label_names = list(label_names or [])
        self.objective = objective
        self.latent_dim = latent_dim
        kwargs.setdefault("pad_token_id", end_token_id)
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)
