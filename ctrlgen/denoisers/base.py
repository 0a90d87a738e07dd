"""The denoiser seam: the one protocol through which the facade, the samplers, the guides and the Lightning
module see a model.

A diffusion language model, whatever its family, is used here as a function from a token sequence (fixed
tokens before the canvas, then the canvas, some of it masked) to logits over the vocabulary at every
position, *aligned*: the logits at position ``i`` score the token at position ``i`` (a Dream-style model,
whose logits at ``i`` predict ``i + 1``, shifts them back inside its adapter). Everything a caller needs to
know about the model is a property here: its mask, end and pad ids (end and pad may differ), the longest
sequence it reads, the labels of a class-conditional model, and which tokens stand before the canvas when
a prompt is given. Nothing above this class branches on model families.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["Denoiser"]


class Denoiser(nn.Module):
    """Base class of every model adapter.

    Subclasses hold the network as ``self.model`` (a ``transformers.PreTrainedModel``, so that the Lightning
    module trains it and ``save_pretrained`` writes it) and the tokenizer as ``self.tokenizer``.
    """

    model: nn.Module
    tokenizer: object
    #: Name of the noise schedule the model was trained with; samplers space their steps by it.
    schedule_name: str = "loglinear"
    #: The forward process it was trained with (:mod:`ctrlgen.processes`): what samplers and training ask.
    process_name: str = "masking"
    #: the sampler ``sampler=None`` runs, when this family has one of its own (None: the process's default)
    default_sampler: str | None = None

    #: (mask, end, pad) ids of an adapter that reads them once when it loads (see :meth:`_set_special_ids`)
    _special_ids: tuple[int, int, int] | None = None

    def _set_special_ids(self, mask: int, end: int, pad: int | None) -> None:
        self._special_ids = (int(mask), int(end), int(end if pad is None else pad))

    # -- what callers read --------------------------------------------------------------------------------
    @property
    def mask_token_id(self) -> int:
        """The absorbing state of the masking process (every adapter here is a masked-diffusion model)."""
        return self._special_ids[0]

    @property
    def end_token_id(self) -> int:
        """The token that ends a text."""
        return self._special_ids[1]

    @property
    def pad_token_id(self) -> int:
        """The token that fills the canvas after the end (the end token itself where the model has no pad)."""
        return self._special_ids[2]

    @property
    def max_length(self) -> int:
        """Longest sequence (fixed prefix plus canvas) the model reads."""
        raise NotImplementedError

    @property
    def max_canvas(self) -> int | None:
        """The longest canvas one denoising pass takes, when the model fixes one (DiffusionGemma's
        ``canvas_length``); None: whatever :attr:`max_length` leaves after the prefix."""
        return None

    @property
    def label_names(self) -> tuple[str, ...]:
        """Labels of a class-conditional model (classifier-free guidance); empty otherwise."""
        return ()

    @property
    def family(self) -> str:
        """A short name of the model family, for messages."""
        return type(self).__name__

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def prefix_ids(self, prompt_ids: list[int] | None) -> list[int]:
        """The tokens that stand before the canvas: the prompt framed as the model was trained to read it
        (e.g. ``[CLS] prompt [SEP]`` for a BERT-style model). ``None`` or ``[]`` means no prompt."""
        return list(prompt_ids or [])

    def uses_chat_template(self) -> bool:
        """Whether chat messages go through the tokenizer's chat template (when it has one)."""
        return getattr(self.tokenizer, "chat_template", None) is not None

    # -- the computation ----------------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Aligned logits of the clean tokens.

        Parameters
        ----------
        input_ids:
            ``(B, T)`` int64: prefix tokens, then the canvas (masked positions hold :attr:`mask_token_id`),
            then, in a batch of prompts of different lengths, padding.
        attention_mask:
            ``(B, T)`` bool or int, 0 on padding that no position may attend to; None when there is none.
        labels:
            ``(B,)`` int64 class labels of a conditional model; ``len(label_names)`` (or None) = no label.

        Returns
        -------
        torch.Tensor
            ``(B, T, V)`` logits; position ``i`` scores the token at position ``i``.
        """
        raise NotImplementedError

    # -- persistence --------------------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """Write the network and the tokenizer so that :func:`ctrlgen.load` reads them back."""
        from ..guidance._hf import quiet_progress

        with quiet_progress():
            self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def for_fine_tuning(self, label_names: list[str], dropout: float) -> Denoiser:
        """The model to fine-tune from this one (``ctrlgen train --init-from``): by default this very model,
        trained in place. ``label_names`` asks for a class-conditional model (classifier-free guidance),
        which only a model with a label embedding can become."""
        if label_names:
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"labels (classifier-free guidance) need a ctrlgen model; {self.family} has no label embedding"
            )
        return self
