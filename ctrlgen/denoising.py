"""The function a sampler calls at every step: a batch of canvases -> SUBS log-probabilities of the clean
tokens, with each row's prompt before its canvas and classifier-free guidance when asked.

The samplers and guides only ever see the canvas (the response span); the prompt is fixed context that
this module puts in front of it. Rows whose prompts differ in length are right-padded with an attention
mask, so every model keeps its own absolute positions.
"""

from __future__ import annotations

import torch

from .denoisers.base import Denoiser
from .errors import InvalidArgumentError
from .masking import subs_log_probs

__all__ = ["CanvasDenoiser"]


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
    """

    def __init__(
        self,
        denoiser: Denoiser,
        prefixes: list[list[int]],
        banned: torch.Tensor | None = None,
        label: int | None = None,
        cfg_weight: float = 1.0,
        vocab_size: int | None = None,
    ) -> None:
        self.denoiser = denoiser
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
        device = self.denoiser.device
        canvas = canvas.to(device)
        if getattr(self.denoiser, "separate_prefix", False):
            logits = self._apart(canvas if inputs is None else inputs.to(device)).float()
            if self.vocab_size is not None:
                logits = logits[..., : self.vocab_size]
            return subs_log_probs(logits, canvas, self.denoiser.mask_token_id, self.banned)
        ids, keep, cols = self._assemble(canvas if inputs is None else inputs.to(device))
        b = canvas.shape[0]
        if self.label is None:
            logits = self.denoiser(ids, keep).float()
        elif self.cfg_weight == 1.0:
            logits = self.denoiser(ids, keep, torch.full((b,), self.label, device=device)).float()
        else:
            null = len(self.denoiser.label_names)
            labels = torch.cat([torch.full((b,), self.label), torch.full((b,), null)]).to(device)
            both = self.denoiser(
                torch.cat([ids, ids]), None if keep is None else torch.cat([keep, keep]), labels
            ).float()
            logits = both[b:] + self.cfg_weight * (both[:b] - both[b:])
        if self.vocab_size is not None:
            logits = logits[..., : self.vocab_size]
        if cols is None:
            logits = logits[:, logits.shape[1] - canvas.shape[1] :]
        else:
            logits = logits.gather(1, cols.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
        return subs_log_probs(logits, canvas, self.denoiser.mask_token_id, self.banned)

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
