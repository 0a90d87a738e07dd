"""The autoregressive baseline at sampling time: left to right with a KV cache, JSON and regex through
outlines-core.

This is the thing a user would pick instead of a diffusion model: a causal transformer decoding one token per
forward pass, with Outlines-style masks for structure (outlines-core's ``json_schema.build_regex_from_schema``,
its ``Index`` over the model's vocabulary and its ``Guide``, the standard way an autoregressive model is made
to emit JSON). It takes the same ``generate`` arguments as :class:`~ctrlgen.pipeline.DiffusionLM` and refuses,
by name, those that only mean something for a denoiser (``sampler``, ``steps``) and the constraints that
left-to-right masks cannot enforce exactly (``Length`` in words, templates, style).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .constraints import Constraint, ConstraintError, JsonSchema, Regex
from .denoisers import NativeDenoiser, load_denoiser
from .errors import InvalidArgumentError, UnsupportedModelError
from .guidance.vocabulary import TokenVocabulary, token_vocabulary
from .prompts import Prompt, check_room, normalize_prompts, prefix_for

__all__ = ["AutoregressiveLM", "AutoregressiveReport"]


@dataclass
class AutoregressiveReport:
    """What the last :meth:`AutoregressiveLM.generate` call did."""

    forward_passes: int = 0  #: decoder calls (the prompt's prefill counts as one)
    tokens: list[int] = field(default_factory=list)  #: response tokens of each text, its end token excluded
    seconds: float = 0.0  #: wall time of the decoding loop
    compile_seconds: float = 0.0  #: outlines-core index builds (0 when cached)
    finished: list[bool] = field(default_factory=list)  #: the text ended (an end token) before the length cap


class AutoregressiveLM:
    """A causal ctrlgen model (``ctrlgen train --objective autoregressive``) that generates left to right."""

    def __init__(self, model: NativeDenoiser) -> None:
        if not getattr(model.model, "causal", False):
            raise UnsupportedModelError("AutoregressiveLM needs a model trained with --objective autoregressive")
        self.denoiser = model.eval()
        self._indexes: dict[str, object] = {}
        self.last_report = AutoregressiveReport()

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device | None = None) -> AutoregressiveLM:
        lm = cls(load_denoiser(path))
        if device is not None:
            lm.to(device)
        return lm

    def to(self, device: str | torch.device) -> AutoregressiveLM:
        self.denoiser.to(torch.device(device))
        return self

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    @property
    def tokenizer(self):
        return self.denoiser.tokenizer

    def save_pretrained(self, path: str | Path) -> None:
        self.denoiser.save_pretrained(path)

    # -- constraints ---------------------------------------------------------------------------------------
    @cached_property
    def vocabulary(self) -> TokenVocabulary:
        """The real bytes of every token, with the model's end, pad and mask ids (as for a DiffusionLM)."""
        d = self.denoiser
        return token_vocabulary(d.tokenizer, end_id=d.end_token_id, pad_id=d.pad_token_id, mask_id=d.mask_token_id)

    @staticmethod
    def regex_of(constraint: Constraint) -> str:
        """The regex outlines-core decodes with: its own JSON-schema translation, or the pattern itself."""
        from outlines_core.json_schema import build_regex_from_schema

        if isinstance(constraint, JsonSchema):
            try:
                return build_regex_from_schema(json.dumps(constraint.schema), constraint.whitespace)
            except Exception as e:  # noqa: BLE001 - outlines-core raises plain ValueError/RuntimeError
                raise ConstraintError(f"outlines-core cannot compile {constraint.describe()}: {e}") from None
        if isinstance(constraint, Regex):
            return constraint.body
        raise ConstraintError(
            f"{constraint.describe()}: the autoregressive baseline enforces only JsonSchema and Regex "
            "(outlines-core masks, left to right)"
        )

    def index_for(self, constraint: Constraint):
        """outlines-core's ``Index`` of the constraint over this model's vocabulary, built once and kept."""
        from outlines_core import Index

        regex = self.regex_of(constraint)
        if regex not in self._indexes:
            start = time.perf_counter()
            try:
                self._indexes[regex] = Index(regex, self.vocabulary._outlines)
            except Exception as e:  # noqa: BLE001
                raise ConstraintError(f"outlines-core cannot build an index for {constraint.describe()}: {e}") from None
            self.last_report.compile_seconds += time.perf_counter() - start
        return self._indexes[regex]

    # -- generation ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        n: int = 1,
        length: int | None = None,
        constraints: Sequence[Constraint] = (),
        prompt: Prompt | Sequence[Prompt] | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        batch_size: int = 16,
        label: str | None = None,
        cfg_weight: float = 1.0,
        prompt_weight: float | None = None,
        most_probable: bool = False,
        guides: Sequence = (),
        max_resamples: int = 3,
        progress: bool = False,
        echo: bool = False,
        trace: bool = False,
    ) -> list[str]:
        """Sample ``n`` texts per prompt, one token per forward pass, each until its end token.

        ``length`` caps the response in tokens (default: as many as the model's longest sequence leaves).
        ``temperature`` 0 decodes greedily; ``top_p`` truncates every draw. With a ``JsonSchema`` or ``Regex``
        constraint each draw is restricted to the tokens outlines-core's guide allows, and the end token
        only where the text is complete. ``sampler`` and ``steps`` belong to diffusion decoding and are
        refused, as are ``cfg_weight`` and ``prompt_weight`` other than 1, ``most_probable``, ``guides`` and
        ``trace`` (diffusion features the baseline does not have); ``max_resamples`` has nothing to do (every
        constraint is exact).
        """
        if sampler is not None or steps is not None:
            raise InvalidArgumentError("sampler and steps apply to diffusion models; this model decodes left to right")
        unsupported = {
            "cfg_weight": cfg_weight != 1.0,
            "prompt_weight": prompt_weight not in (None, 1.0),
            "most_probable": bool(most_probable),
            "guides": bool(guides),
            "trace": bool(trace),
        }
        if any(unsupported.values()):
            names = [k for k, v in unsupported.items() if v]
            raise InvalidArgumentError(f"{', '.join(names)}: not available for the autoregressive baseline")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"n must be a whole number >= 1, got {n!r}")
        temperature = 1.0 if temperature is None else float(temperature)
        top_p = 1.0 if top_p is None else float(top_p)
        if temperature < 0 or not 0 < top_p <= 1:
            raise InvalidArgumentError(f"temperature must be >= 0 and top_p in (0, 1], got {temperature}, {top_p}")
        hard = [c for c in constraints if isinstance(c, Constraint)]
        if len(hard) != len(list(constraints)):
            raise InvalidArgumentError("constraints must be ctrlgen Constraint objects")
        if len(hard) > 1:
            raise ConstraintError("the autoregressive baseline takes one JsonSchema or Regex constraint at a time")
        self.last_report = AutoregressiveReport()
        index = self.index_for(hard[0]) if hard else None
        prompts = normalize_prompts(prompt) or [None]
        prefixes = [prefix_for(p, self.denoiser) if p is not None else self.denoiser.prefix_ids(None) for p in prompts]
        rows = [prefix for prefix in prefixes for _ in range(n)]
        room = check_room(max(map(len, rows)), length, self.denoiser.max_length)
        cap = room if length is None else int(length)
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        texts: list[str] = []
        bar = tqdm(total=len(rows), desc="generate", disable=not progress, leave=False)
        start = time.perf_counter()
        for lo in range(0, len(rows), batch_size):
            batch = rows[lo : lo + batch_size]
            out = self._decode(batch, cap, index, temperature, top_p, generator, label)
            for prefix, ids in zip(batch, out):
                self.last_report.tokens.append(len(ids))
                text = self.tokenizer.decode(ids, skip_special_tokens=False)
                if echo:
                    text = self.tokenizer.decode(prefix[:-1], skip_special_tokens=False) + text
                texts.append(text)
            bar.update(len(batch))
        bar.close()
        self.last_report.seconds = time.perf_counter() - start
        return texts

    def _label_ids(self, label: str | None, rows: int) -> torch.Tensor | None:
        names = self.denoiser.label_names
        if label is None:
            return None
        if label not in names:
            raise InvalidArgumentError(f"label {label!r}: the model knows {list(names) or 'no labels'}")
        return torch.full((rows,), names.index(label), dtype=torch.long, device=self.device)

    def _decode(self, prefixes, cap, index, temperature, top_p, generator, label) -> list[list[int]]:
        """Left-padded prefill, then one cached forward pass per token for the whole batch."""
        from outlines_core import Guide

        model, device, end = self.denoiser.model, self.device, self.denoiser.end_token_id
        b, width = len(prefixes), max(map(len, prefixes))
        ids = torch.full((b, width), end, dtype=torch.long)
        keep = torch.zeros((b, width), dtype=torch.bool)
        for i, p in enumerate(prefixes):
            ids[i, width - len(p) :] = torch.tensor(p)
            keep[i, width - len(p) :] = True
        ids, keep = ids.to(device), keep.to(device)
        labels = self._label_ids(label, b)
        cache: list[list[torch.Tensor]] = [[] for _ in model.blocks]
        logits = model.decode(ids, labels, keep, cache, 0)[:, -1]
        self.last_report.forward_passes += 1
        guides = [Guide(index) for _ in range(b)] if index is not None else None
        out: list[list[int]] = [[] for _ in range(b)]
        done = [False] * b
        vocab = logits.shape[-1]
        mask_id = self.denoiser.mask_token_id
        for step in range(cap):
            scores = logits.float().cpu()
            scores[:, mask_id] = float("-inf")
            if guides is not None:
                allowed = torch.zeros((b, vocab), dtype=torch.bool)
                for i, g in enumerate(guides):
                    if not done[i]:
                        allowed[i, g.get_tokens()] = True
                allowed[:, end] |= torch.tensor(done)
                scores = scores.masked_fill(~allowed, float("-inf"))
            tokens = _draw(scores, temperature, top_p, generator)
            for i, tok in enumerate(tokens.tolist()):
                if done[i]:
                    continue
                if tok == end:
                    done[i] = True
                    continue
                out[i].append(tok)
                if guides is not None:
                    guides[i].advance(tok)
            if all(done) or step == cap - 1:
                break
            keep = torch.cat([keep, torch.ones((b, 1), dtype=torch.bool, device=device)], dim=1)
            nxt = torch.tensor([end if done[i] else out[i][-1] for i in range(b)], device=device)[:, None]
            logits = model.decode(nxt, labels, keep, cache, width + step)[:, -1]
            self.last_report.forward_passes += 1
        self.last_report.finished += done
        return out


def _draw(scores: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """One token per row: the argmax at temperature 0, else a draw from the tempered, nucleus-truncated row."""
    if temperature == 0:
        return scores.argmax(-1)
    probs = torch.softmax(scores.double() / temperature, dim=-1)
    if top_p < 1:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p
        sorted_p = sorted_p.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]
