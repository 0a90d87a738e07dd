"""The function a sampler calls at every step: a batch of canvases -> SUBS log-probabilities of the clean
tokens, with each row's prompt before its canvas and classifier-free guidance (towards a label, a prompt, or
both) when asked.

The samplers and guides only ever see the canvas (the response span); the prompt is fixed context that
this module puts in front of it. Rows whose prompts differ in length are right-padded with an attention
mask, so every model keeps its own absolute positions.
"""

from __future__ import annotations

import torch

from .denoisers.base import Denoiser
from .errors import InvalidArgumentError
from .masking import subs_log_probs
from .sampling.latent import LatentCanvas

__all__ = ["CanvasDenoiser", "guided_log_probs"]


def guided_log_probs(free: torch.Tensor, cond: torch.Tensor, weight: float) -> torch.Tensor:
    """Classifier-free guidance on two SUBS distributions of the same canvas: ``log_softmax(free + weight *
    (cond - free))``. On log-probabilities this equals guidance on the logits (each differs from its logits by a
    per-position constant, which the softmax removes), so it serves any model, whatever its output layer.
    Tokens impossible in both (banned, the mask token, every other token at a committed position) stay
    impossible; a committed position stays one-hot."""
    possible = torch.isfinite(cond) & torch.isfinite(free)
    mix = torch.where(possible, free + weight * (cond - free), torch.full_like(cond, float("-inf")))
    return torch.log_softmax(mix, dim=-1)


class CanvasDenoiser:
    """Callable ``(B, L)`` canvas -> ``(B, L, V)`` float32 log-probabilities.

    Parameters
    ----------
    denoiser:
        The model.
    prefixes:
        ``B`` lists of token ids, the fixed tokens before each row's canvas (may be empty).
    banned:
        Token ids never generated (special tokens that are not the end or pad token).
    vocab_size:
        The tokenizer's vocabulary: a model whose output layer is larger (rows kept for alignment) has its
        logits cut to it, so everything above sees one vocabulary.
    label, cfg_weight:
        A class-conditional model's label index and the classifier-free guidance weight
        (logits ``uncond + w * (cond - uncond)``, Ho & Salimans 2022, eq. 6); ``label=None``: unconditional.
    prompt_weight:
        Classifier-free guidance towards the prompts: the same guidance with the canvas read without any
        prompt as the unconditional side (one more forward pass per step). A masked-diffusion model that
        learned from prompted and unprompted text is both models at once; a weight above 1 makes the
        response follow its prompt more closely (Sanchez et al. 2023, "Stay on topic with classifier-free
        guidance", for autoregressive LMs; LLaDA's ``cfg_scale`` masks the prompt instead of removing it).
        With a label too, both sides keep the label's guidance.
    """

    def __init__(
        self,
        denoiser: Denoiser,
        prefixes: list[list[int]],
        banned: torch.Tensor | None = None,
        label: int | None = None,
        cfg_weight: float = 1.0,
        vocab_size: int | None = None,
        prompt_weight: float = 1.0,
    ) -> None:
        self.denoiser = denoiser
        self.prompt_weight = prompt_weight
        self._free: CanvasDenoiser | None = None
        self.vocab_size = vocab_size
        self.prefixes = prefixes
        self.banned = banned
        self.label, self.cfg_weight = label, cfg_weight
        self.lengths = [len(p) for p in prefixes]
        self._layouts: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
        #: for a model that self-conditions: the distribution of the previous step (set by a guide), or None
        self.self_conditioning: torch.Tensor | None = None
        self._encoded: tuple | None = None

    def _layout(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The prefixes as one right-padded ``(R, P)`` tensor and their lengths, built once per device (the
        sampler calls this object at every step)."""
        if device not in self._layouts:
            longest = max(self.lengths, default=0)
            matrix = torch.full((len(self.prefixes), longest), self.denoiser.pad_token_id, dtype=torch.long)
            for r, p in enumerate(self.prefixes):
                matrix[r, : len(p)] = torch.tensor(p, dtype=torch.long)
            self._layouts[device] = matrix.to(device), torch.tensor(self.lengths, device=device)
        return self._layouts[device]

    def _assemble(self, canvas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Full input ids, attention mask (None without padding) and the ``(B, L)`` canvas columns (None when
        every row's canvas starts at the same column). A single prefix serves a batch of any size."""
        b, length = canvas.shape
        matrix, starts = self._layout(canvas.device)
        if len(set(self.lengths)) <= 1:
            return torch.cat([matrix.expand(b, -1), canvas], dim=1), None, None
        pad = torch.full((b, length), self.denoiser.pad_token_id, dtype=torch.long, device=canvas.device)
        ids = torch.cat([matrix, pad], dim=1)
        cols = starts[:, None] + torch.arange(length, device=canvas.device)
        ids.scatter_(1, cols, canvas)
        keep = torch.arange(ids.shape[1], device=canvas.device)[None, :] < (starts + length)[:, None]
        return ids, keep, cols

    @torch.no_grad()
    def __call__(self, canvas: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """SUBS log-probabilities for ``canvas``; the network reads ``inputs`` instead when given (a uniform-noise
        model sees random tokens where the canvas is still free, and those positions stay free for SUBS)."""
        cond = self._log_probs(canvas, inputs)
        if self.prompt_weight == 1.0:
            return cond
        if self._free is None:
            unprompted = [self.denoiser.prefix_ids(None)]
            self._free = CanvasDenoiser(
                self.denoiser, unprompted, self.banned, self.label, self.cfg_weight, self.vocab_size
            )
        self._free.self_conditioning = self.self_conditioning
        return guided_log_probs(self._free(canvas, inputs), cond, self.prompt_weight)

    def _log_probs(self, canvas: torch.Tensor, inputs: torch.Tensor | None) -> torch.Tensor:
        device = self.denoiser.device
        canvas = canvas.to(device)
        if getattr(self.denoiser, "separate_prefix", False):
            logits = self._apart(canvas if inputs is None else inputs.to(device)).float()
            if self.vocab_size is not None:
                logits = logits[..., : self.vocab_size]
            return subs_log_probs(logits, canvas, self.denoiser.mask_token_id, self.banned)
        latent = isinstance(inputs, LatentCanvas)
        ids, keep, cols = self._assemble(canvas if inputs is None or latent else inputs.to(device))
        b = canvas.shape[0]
        network = self.denoiser
        if latent:  # the embedding process: the prompt's clean embeddings, then the canvas's latents
            network = self._latent_network(ids, cols, inputs.to(device))
        if self.label is None:
            logits = network(ids, keep).float()
        elif self.cfg_weight == 1.0:
            logits = network(ids, keep, torch.full((b,), self.label, device=device)).float()
        else:
            null = len(self.denoiser.label_names)
            labels = torch.cat([torch.full((b,), self.label), torch.full((b,), null)]).to(device)
            both = network(torch.cat([ids, ids]), None if keep is None else torch.cat([keep, keep]), labels).float()
            logits = both[b:] + self.cfg_weight * (both[:b] - both[b:])
        logits = self._canvas_columns(logits, canvas, cols)
        return subs_log_probs(logits, canvas, self.denoiser.mask_token_id, self.banned)

    def _canvas_columns(self, logits: torch.Tensor, canvas: torch.Tensor, cols: torch.Tensor | None) -> torch.Tensor:
        """The logits of the canvas positions (``cols`` from :meth:`_assemble`), cut to the tokenizer's vocabulary."""
        if self.vocab_size is not None:
            logits = logits[..., : self.vocab_size]
        if cols is None:
            return logits[:, logits.shape[1] - canvas.shape[1] :]
        return logits.gather(1, cols.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))

    def _latent_network(self, ids: torch.Tensor, cols: torch.Tensor | None, inputs: LatentCanvas):
        """A stand-in for the denoiser's ``(ids, keep, labels) -> logits`` that reads latents: the clean
        embeddings of ``ids`` with the canvas columns replaced by ``inputs.latents``, at time ``inputs.t``
        (twice over for a batch doubled by classifier-free guidance)."""
        net = self.denoiser.model
        base = net.latent_embedding(ids)
        z = inputs.latents.to(base.dtype)
        if cols is None:
            base = torch.cat([base[:, : base.shape[1] - z.shape[1]], z], dim=1)
        else:
            base = base.scatter(1, cols.unsqueeze(-1).expand(-1, -1, z.shape[-1]), z)

        def forward(batch_ids, keep, labels=None):
            repeat = batch_ids.shape[0] // base.shape[0]
            latents, t = base.repeat(repeat, 1, 1), inputs.t.repeat(repeat)
            return net.round_logits(net.predict_latent(latents, t, labels=labels, attention_mask=keep))

        return forward

    def _apart(self, canvas: torch.Tensor) -> torch.Tensor:
        """Logits of a model that encodes the prefixes once (a KV cache, kept for the whole run) and denoises the
        canvas against them, self-conditioned on the previous step's distribution when there is one."""
        if self.label is not None:
            raise InvalidArgumentError(f"{self.denoiser.family} has no class labels (classifier-free guidance)")
        b, length = canvas.shape
        key = (b, canvas.device)
        if self._encoded is None or self._encoded[0] != key:
            if len(self.prefixes) not in (1, b):
                raise InvalidArgumentError(f"{len(self.prefixes)} prefixes for a batch of {b} canvases")
            longest = max(self.lengths)
            matrix = torch.full((len(self.prefixes), longest), self.denoiser.pad_token_id, dtype=torch.long)
            keep = torch.zeros(len(self.prefixes), longest, dtype=torch.bool)
            for r, p in enumerate(self.prefixes):  # left padding: every canvas follows its prefix directly
                matrix[r, longest - len(p) :] = torch.tensor(p, dtype=torch.long)
                keep[r, longest - len(p) :] = True
            matrix, keep = matrix.expand(b, -1).to(canvas.device), keep.expand(b, -1).to(canvas.device)
            self._encoded = (key, self.denoiser.encode(matrix, keep), keep)
        _, cache, keep = self._encoded
        sc = self.self_conditioning
        sc = sc.to(canvas.device) if sc is not None and sc.shape[:2] == (b, length) else None
        return self.denoiser.canvas_logits(cache, keep, canvas, sc)
