"""transformers' DiffusionGemma (``DiffusionGemmaForBlockDiffusion``, model type ``diffusion_gemma``) as a denoiser
of the uniform-noise process.

DiffusionGemma reads a prompt and a canvas apart: the prompt goes once through a causal encoder pass into a KV
cache, and the canvas (``config.canvas_length`` tokens) is denoised bidirectionally against that cache, with
*self-conditioning* on the previous step's distribution (``self_conditioning_logits``). There is no mask token:
every canvas position holds a token, uniform noise where it is not yet decided. The adapter therefore

* reads the prefix and the canvas separately (:meth:`canvas_logits`), encoding each batch of prefixes once per
  run and reusing the cache at every step (the decoder never writes to it);
* names a token that is never text as the loop's placeholder for a free position (the image placeholder token
  ``config.image_token_id``): the uniform samplers hand the network fresh noise there, and it is never drawn
  (it lies outside the noise support and is banned as content);
* ends the text at the end-of-turn token (``<turn|>``, from the generation config's end ids), pads with ``<pad>``;
* frames a prompt with ``<bos>`` and renders chat messages with the tokenizer's chat template;
* self-conditions on what the sampler last *used*: the guided, constrained distribution of the previous step
  (:class:`SelfConditioning`, a guide the pipeline adds), as the issue asks; None at the first step.

Classifier-free guidance has no label embedding to use here and is refused by name; ``Style`` guidance works,
through the shared log-probabilities.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InvalidArgumentError, ModelNotFoundError, TokenizerMismatchError
from ..guidance._hf import quiet_progress
from ..guidance.interface import Guide
from ._loading import load_weights
from .base import Denoiser

__all__ = ["DiffusionGemmaDenoiser", "SelfConditioning"]


def _end_of_turn(model, tokenizer) -> int | None:
    """The end-of-turn id: the generation config's end id that is not the plain ``<eos>`` (or ``<eos>``)."""
    generation = getattr(model, "generation_config", None)
    ends = getattr(generation, "eos_token_id", None) if generation is not None else None
    ends = [ends] if isinstance(ends, int) else list(ends or [])
    turn = tokenizer.convert_tokens_to_ids("<turn|>") if "<turn|>" in tokenizer.get_vocab() else None
    if turn is not None:
        return int(turn)
    others = [e for e in ends if e != tokenizer.eos_token_id]
    return int(others[0]) if others else tokenizer.eos_token_id


class DiffusionGemmaDenoiser(Denoiser):
    """Adapter for ``DiffusionGemmaForBlockDiffusion`` checkpoints (see the module docstring)."""

    process_name = "uniform"
    default_sampler = "entropy-bound"  # the published reverse process
    #: the prefix is encoded apart from the canvas (:meth:`canvas_logits`)
    separate_prefix = True
    #: the previous step's distribution is fed back (:class:`SelfConditioning`)
    self_conditioned = True

    def __init__(self, model, tokenizer) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        config = model.config
        vocab = int(config.text_config.vocab_size)
        if len(tokenizer) > vocab:
            raise TokenizerMismatchError(f"tokenizer has {len(tokenizer)} tokens, the model's vocabulary {vocab}")
        end = _end_of_turn(model, tokenizer)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.text_config.pad_token_id
        placeholder = getattr(config, "image_token_id", None)
        if end is None or placeholder is None or not 0 <= placeholder < vocab or placeholder in (end, pad):
            raise TokenizerMismatchError(
                f"DiffusionGemma needs an end-of-turn token and an image placeholder token distinct from it; "
                f"found end={end}, pad={pad}, image_token_id={placeholder}"
            )
        self._set_special_ids(placeholder, end, pad)
        self._bos = tokenizer.bos_token_id

    @classmethod
    def from_pretrained(cls, path: str | Path, **hub_kwargs) -> DiffusionGemmaDenoiser:
        from transformers import AutoTokenizer, DiffusionGemmaForBlockDiffusion

        with quiet_progress():
            model = load_weights(
                DiffusionGemmaForBlockDiffusion.from_pretrained, path, "a DiffusionGemma", **hub_kwargs
            )
            hub_kwargs.pop("strict_weights", None)
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(path), **hub_kwargs)
            except Exception as e:  # noqa: BLE001
                raise ModelNotFoundError(f"could not load the tokenizer of {path!s}: {type(e).__name__}: {e}") from e
        return cls(model.eval(), tokenizer)

    @property
    def max_length(self) -> int:
        return int(getattr(self.model.config.text_config, "max_position_embeddings", 8192))

    @property
    def max_canvas(self) -> int:
        """One canvas: ``config.canvas_length`` (256 in the released model)."""
        return int(self.model.config.canvas_length)

    @property
    def family(self) -> str:
        return "DiffusionGemma"

    def prefix_ids(self, prompt_ids: list[int] | None) -> list[int]:
        ids = list(prompt_ids or [])
        if self._bos is not None and (not ids or ids[0] != self._bos):
            ids = [self._bos, *ids]
        return ids or [self.end_token_id]  # the encoder needs at least one token

    # -- the computation ------------------------------------------------------------------------------------
    def encode(self, prefixes: torch.Tensor, keep: torch.Tensor):
        """The KV cache of the ``(B, S)`` left-padded prefixes (``keep``: 1 on real tokens)."""
        return self.model.model.encoder(input_ids=prefixes, attention_mask=keep.long()).cache

    def canvas_logits(
        self,
        cache,
        keep: torch.Tensor,
        canvas: torch.Tensor,
        self_conditioning: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B, L, V)`` logits of the clean canvas tokens, against the encoded prefixes."""
        b, length = canvas.shape
        start = keep.shape[1]
        rows = int(self.model.config.text_config.vocab_size)
        if self_conditioning is not None and self_conditioning.shape[-1] < rows:  # tokens past the tokenizer
            self_conditioning = torch.nn.functional.pad(
                self_conditioning, (0, rows - self_conditioning.shape[-1]), value=float("-inf")
            )
        mask = torch.cat([keep.bool(), torch.ones(b, length, dtype=torch.bool, device=canvas.device)], dim=1)
        positions = torch.arange(start, start + length, device=canvas.device)[None].expand(b, -1)
        out = self.model(
            cache=cache,
            decoder_input_ids=canvas,
            self_conditioning_logits=self_conditioning,
            decoder_attention_mask=mask,
            decoder_position_ids=positions,
        )
        return out.logits

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise InvalidArgumentError(
            "DiffusionGemma reads its prompt and canvas apart (canvas_logits); it is not trained or sampled "
            "through a single sequence"
        )

    def for_fine_tuning(self, label_names: list[str], dropout: float) -> Denoiser:
        raise InvalidArgumentError("fine-tuning DiffusionGemma is not supported by ctrlgen train")


class SelfConditioning(Guide):
    """Hands the distribution each step drew from (every other guide's work applied, the sampler's temperature
    too) to the denoiser callable, which feeds it back as the next step's self-conditioning input; what
    transformers' ``generate`` feeds back is likewise the processed (tempered) logits. Placed after every other
    guide; changes nothing itself.

    At accepted positions the loop's log-probabilities are a point mass on the accepted token, which no
    temperature changes. Only the free positions' rows differ from step to step, so when the denoiser's output
    tensor belongs to this step alone (``state.private_output``: a uniform-noise sampler calls the network
    afresh at every step) the guided rows, tempered, are written into it in place: the hand-over costs the free
    rows, not ``B * L * V``. Otherwise the dense tensor is built anew."""

    def __init__(self, target, temperature_at=None) -> None:
        self.target = target
        self.temperature_at = temperature_at  # StepState -> float; None: 1

    def prepare(self, tokens, masked) -> None:
        self.target.self_conditioning = None  # a new run starts without (the callable may be reused)

    def process_logits(self, state):
        temperature = float(self.temperature_at(state)) if self.temperature_at is not None else 1.0
        rows = getattr(state, "masked_rows", None)
        base = getattr(rows, "base", None)
        if getattr(state, "private_output", False) and isinstance(base, torch.Tensor) and base.is_contiguous():
            b, n, v = base.shape
            if len(rows):
                values = rows.values if temperature == 1.0 else rows.values / temperature
                base.view(b * n, v).index_copy_(0, rows.rows * n + rows.cols, values.to(base.dtype))
            self.target.self_conditioning = base
            return rows
        dense = state.log_probs
        self.target.self_conditioning = dense if temperature == 1.0 else dense / temperature
        return rows if rows is not None else dense
