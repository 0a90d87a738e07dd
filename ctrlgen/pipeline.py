"""The public facade: a denoiser, its tokenizer and its noise schedule, with ``generate`` and persistence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from .config import DenoiserConfig
from .constrained import plan_constraints
from .constraints import Constraint, ConstraintError, Length, Style, Template
from .errors import InvalidArgumentError, ModelNotFoundError, TokenizerMismatchError, UnknownSamplerError
from .guidance._hf import quiet_progress
from .guidance.guide import BanTokens
from .guidance.interface import Guide
from .guidance.style import StyleGuide
from .masking import subs_log_probs
from .model import DenoiserModel
from .rewriting import pick_words, random_order, word_spans
from .sampling import SAMPLERS, Sampler
from .schedules import schedule_from_name
from .styles import style_guide
from .tokenizer import tokenizer_fingerprint

__all__ = ["DiffusionLM", "GenerationReport", "load", "DEFAULT_MODEL_DIR"]

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"


def _check_tokenizer(config: DenoiserConfig, tokenizer: PreTrainedTokenizerBase) -> None:
    problems = []
    if len(tokenizer) != config.vocab_size:
        problems.append(f"vocabulary of {len(tokenizer)} tokens, model expects {config.vocab_size}")
    if tokenizer.mask_token_id != config.mask_token_id:
        problems.append(f"mask token id {tokenizer.mask_token_id}, model expects {config.mask_token_id}")
    if tokenizer.pad_token_id != config.end_token_id:
        problems.append(f"end/pad token id {tokenizer.pad_token_id}, model expects {config.end_token_id}")
    if not problems and config.tokenizer_hash and tokenizer_fingerprint(tokenizer) != config.tokenizer_hash:
        problems.append("vocabulary or merges differ from the tokenizer the model was trained with")
    if problems:
        raise TokenizerMismatchError("tokenizer does not match the model: " + "; ".join(problems))


def _split_constraints(constraints: Sequence[Constraint]) -> tuple[list[Constraint], list[Style]]:
    """Hard constraints (compiled to automata) and soft ones (style guidance)."""
    items = list(constraints)
    for c in items:
        if not isinstance(c, Constraint):
            raise InvalidArgumentError(f"constraints must be Constraint objects, got {type(c).__name__}")
    return [c for c in items if not isinstance(c, Style)], [c for c in items if isinstance(c, Style)]


@dataclass
class GenerationReport:
    """What the last :meth:`DiffusionLM.generate` call did beyond sampling."""

    n: int = 0
    resampled: int = 0  #: outputs drawn again because a validator rejected them
    #: p(target | canvas) of the first style classifier at each reverse step, one (B,) tensor per step
    style_trace: list = field(default_factory=list)


class DiffusionLM:
    """A masked-diffusion language model ready to sample.

    Parameters
    ----------
    model:
        The denoiser.
    tokenizer:
        Its tokenizer; checked against the model's configuration.
    """

    def __init__(self, model: DenoiserModel, tokenizer: PreTrainedTokenizerBase) -> None:
        _check_tokenizer(model.config, tokenizer)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.schedule = schedule_from_name(model.config.schedule)
        self.last_report = GenerationReport()

    # -- persistence -------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device | None = None, **hub_kwargs) -> DiffusionLM:
        """Load a directory written by training or :meth:`save_pretrained` (or a hub id, given a network)."""
        local = Path(path)
        if local.exists():
            if not local.is_dir() or not (local / "config.json").is_file():
                raise ModelNotFoundError(f"{local} holds no ctrlgen model (no config.json)")
            if not any(local.glob("*.safetensors")) and not any(local.glob("*.bin")):
                raise ModelNotFoundError(f"{local} holds no model weights (*.safetensors)")
            if not (local / "tokenizer.json").is_file():
                raise ModelNotFoundError(f"{local} holds no tokenizer (tokenizer.json)")
        elif str(path).startswith((".", "/", "~")) or str(path).count("/") != 1:
            raise ModelNotFoundError(f"no such model directory: {path}")
        try:
            with quiet_progress():
                model = DenoiserModel.from_pretrained(str(path), **hub_kwargs)
                tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), **hub_kwargs)
        except (OSError, ValueError) as e:
            raise ModelNotFoundError(f"could not load a ctrlgen model from {path!s}: {e}") from e
        lm = cls(model, tokenizer)
        if device is not None:
            lm.to(device)
        return lm

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model and tokenizer so :func:`load` reads them back."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def to(self, device: str | torch.device) -> DiffusionLM:
        self.model.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def mask_token_id(self) -> int:
        return self.model.config.mask_token_id

    @property
    def end_token_id(self) -> int:
        return self.model.config.end_token_id

    # -- sampling ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def denoise(self, canvas: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` canvas -> ``(B, L, V)`` float32 SUBS log-probabilities of the clean tokens."""
        return subs_log_probs(self.model(canvas.to(self.device)), canvas.to(self.device), self.mask_token_id)

    def conditional_denoiser(self, label: str, weight: float = 1.0):
        """The SUBS log-probabilities of a class-conditional model with classifier-free guidance:
        ``uncond + weight * (cond - uncond)`` on the logits (Ho & Salimans 2022, eq. 6), with one batched
        forward for both."""
        names = list(self.model.config.label_names)
        if not names:
            raise InvalidArgumentError("this model was trained without labels: train with --label-column for CFG")
        if label not in names:
            raise InvalidArgumentError(f"unknown label {label!r}; the model knows {names}")
        if not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise InvalidArgumentError(f"cfg weight must be a finite number, got {weight!r}")
        cond, null = names.index(label), len(names)

        @torch.no_grad()
        def denoise(canvas: torch.Tensor) -> torch.Tensor:
            canvas = canvas.to(self.device)
            b = canvas.shape[0]
            if weight == 1.0:
                logits = self.model(canvas, torch.full((b,), cond, device=self.device)).float()
            else:
                labels = torch.cat([torch.full((b,), cond), torch.full((b,), null)]).to(self.device)
                both = self.model(torch.cat([canvas, canvas]), labels).float()
                logits = both[b:] + weight * (both[:b] - both[b:])
            return subs_log_probs(logits, canvas, self.mask_token_id)

        return denoise

    def _label_denoiser(self, label: str | None, cfg_weight: float):
        """The denoiser for ``generate``/``rewrite``: None (the plain one) without a label."""
        if label is None:
            if cfg_weight != 1.0:
                raise InvalidArgumentError("cfg_weight needs a label to guide towards")
            return None
        return self.conditional_denoiser(label, cfg_weight)

    def _sampler(self, sampler: str | Sampler, steps: int | None, temperature: float, top_p: float) -> Sampler:
        if isinstance(sampler, Sampler):
            return sampler
        try:
            cls = SAMPLERS[sampler]
        except (KeyError, TypeError):
            raise UnknownSamplerError(f"unknown sampler {sampler!r}; choose one of {sorted(SAMPLERS)}") from None
        return cls(steps=steps, temperature=temperature, top_p=top_p, schedule=self.schedule)

    def sample_tokens(
        self,
        canvas: torch.Tensor,
        sampler: str | Sampler = "ancestral",
        steps: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        guides: Sequence[Guide] = (),
        seed: int | None = None,
        progress: bool = False,
        denoise=None,
    ) -> torch.Tensor:
        """Fill the masked positions of ``canvas`` (``(B, L)`` int64); the lower-level form of :meth:`generate`."""
        if canvas.ndim != 2 or canvas.shape[1] < 1:
            raise InvalidArgumentError(f"canvas must be (batch, length) with length >= 1, got {tuple(canvas.shape)}")
        if canvas.shape[1] > self.model.config.max_canvas:
            raise InvalidArgumentError(
                f"length {canvas.shape[1]} exceeds the model's longest canvas ({self.model.config.max_canvas} tokens)"
            )
        impl = self._sampler(sampler, steps, temperature, top_p)
        generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2**63)
        fn = denoise or self.denoise
        return impl.run(fn, canvas.to(self.device), self.mask_token_id, guides, generator, progress).cpu()

    def decode(self, tokens: torch.Tensor) -> list[str]:
        """Text of each row up to its first end token."""
        texts = []
        for row in tokens.tolist():
            if self.end_token_id in row:
                row = row[: row.index(self.end_token_id)]
            texts.append(self.tokenizer.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False))
        return texts

    def generate(
        self,
        n: int = 1,
        length: int | None = None,
        constraints: Sequence[Constraint] = (),
        sampler: str | Sampler = "ancestral",
        steps: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        batch_size: int = 16,
        guides: Sequence[Guide] = (),
        most_probable: bool = False,
        max_resamples: int = 3,
        label: str | None = None,
        cfg_weight: float = 1.0,
        progress: bool = False,
    ) -> list[str]:
        """Sample ``n`` texts (each ends at its first end token).

        Parameters
        ----------
        n:
            Number of texts.
        length:
            Canvas length in tokens: the longest text that can come out. Default: sized from the
            constraints (their shortest completion plus headroom), else 64.
        constraints:
            Hard constraints (``Length``, ``Regex``, ``JsonSchema``, ``Template``), intersected exactly; every
            output satisfies all of them.
        sampler:
            ``"ancestral"`` (MDLM), ``"confidence"`` (LLaDA low-confidence remasking), ``"semi-ar"``, or a
            :class:`~ctrlgen.sampling.Sampler` instance.
        steps:
            Reverse steps; default one per canvas position.
        temperature, top_p:
            Temperature and nucleus truncation of every draw.
        seed:
            Same seed, same texts (on the same device). Batch ``i`` uses ``seed + i``.
        batch_size:
            Canvases denoised together.
        guides:
            Extra per-step hooks.
        most_probable:
            Under constraints, commit the most probable valid assignment at each step (max-product).
        label, cfg_weight:
            For a class-conditional model (trained with ``--label-column``): generate with this label, with
            classifier-free guidance of this weight (1 = plain conditional sampling, > 1 = stronger).
        max_resamples:
            Outputs that fail a validator (the part of a ``JsonSchema(strict=False)`` that is not compiled)
            are resampled at most this many times; :attr:`last_report` says how many were.
        """
        if not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"n must be a positive integer, got {n!r}")
        if length is not None and (not isinstance(length, int) or length < 1):
            raise InvalidArgumentError(f"length must be a positive integer, got {length!r}")
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be at least 1, got {batch_size}")
        hard, soft = _split_constraints(constraints)
        plan = None
        if hard:
            plan = plan_constraints(hard, self.tokenizer, length, self.model.config.max_canvas, most_probable)
            length = plan.length
        length = 64 if length is None else length
        base_seed = seed if seed is not None else torch.seed() % 2**62
        denoise = self._label_denoiser(label, cfg_weight)
        all_guides = ([plan.guide] if plan else []) + [style_guide(s, self.tokenizer) for s in soft] + list(guides)

        def run(rows: int, batch_seed: int, show: bool) -> list[str]:
            canvas = (
                plan.canvas(rows, self.mask_token_id)
                if plan
                else torch.full((rows, length), self.mask_token_id, dtype=torch.long)
            )
            tokens = self.sample_tokens(
                canvas, sampler, steps, temperature, top_p, all_guides, batch_seed, show, denoise
            )
            return self.decode(tokens)

        texts: list[str] = []
        n_batches = math.ceil(n / batch_size)
        for b in range(n_batches):
            texts.extend(run(min(batch_size, n - b * batch_size), base_seed + b, progress and n_batches == 1))
        self.last_report = GenerationReport(n=n)
        validators = plan.validators if plan else ()
        if validators:
            self._resample_invalid(texts, validators, run, base_seed, max_resamples)
        return texts

    def _resample_invalid(self, texts, validators, run, base_seed: int, max_resamples: int) -> None:
        def problem(text: str) -> str | None:
            return next((p for v in validators if (p := v(text)) is not None), None)

        bad = [i for i, t in enumerate(texts) if problem(t) is not None]
        for attempt in range(1, max_resamples + 1):
            if not bad:
                break
            self.last_report.resampled += len(bad)
            fresh = run(len(bad), base_seed + 1_000_003 * attempt, False)
            for i, text in zip(bad, fresh):
                texts[i] = text
            bad = [i for i in bad if problem(texts[i]) is not None]
        if bad:
            raise ConstraintError(
                f"{len(bad)} of {len(texts)} outputs still fail validation after {max_resamples} resamples "
                f"(first problem: {problem(texts[bad[0]])})"
            )

    def rewrite(
        self,
        text: str,
        constraints: Sequence[Constraint] = (),
        strength: float = 0.5,
        n: int = 1,
        seed: int | None = None,
        salient: bool = True,
        saliency_temperature: float = 0.5,
        sampler: str | Sampler = "confidence",
        steps: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        label: str | None = None,
        cfg_weight: float = 1.0,
        best_of: int = 1,
        progress: bool = False,
    ) -> list[str]:
        """Rewrite ``text``: re-noise a ``strength`` fraction of its tokens and denoise them under guidance.

        Parameters
        ----------
        text:
            The source.
        constraints:
            ``Style`` constraints steer the rewrite; hard constraints hold on the result; a ``Length`` in
            tokens changes the length (extra positions are generated, surplus ones dropped), else the rewrite
            keeps the source's token count.
        strength:
            Fraction of source tokens to re-noise, in (0, 1]. Whole words are re-noised, so the count is rounded
            to words (the first word chosen is always taken, even when it alone is longer).
        salient:
            Choose the re-noised words by the first style classifier's saliency (the words whose masking
            raises the target's probability most); False, or no style given, picks them at random.
        saliency_temperature:
            0 re-noises the same most salient words in every draw; above 0 each draw samples its words
            (Gumbel top-k on saliency / temperature), so draws differ in what they change as well as how.
        n:
            Number of rewrites (different draws; with random selection or saliency_temperature > 0 also
            different positions).
        label, cfg_weight:
            For a class-conditional model: denoise conditioned on ``label`` with classifier-free guidance of
            this weight, as in :meth:`generate`. Combines with ``Style`` guidance.
        best_of:
            Draw this many candidates per rewrite and keep the one the first style's classifier finds most
            likely to have the target style, judged on the finished text by
            :meth:`~guidance.classifier.StyleClassifier.judge_log_proba` (with the classifier's word judge
            when it has one). Needs a ``Style``.
        """
        if not isinstance(strength, (int, float)) or not (0 < strength <= 1):
            raise InvalidArgumentError(f"strength must be in (0, 1], got {strength!r}")
        if not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"n must be a positive integer, got {n!r}")
        if not isinstance(saliency_temperature, (int, float)) or not (0 <= saliency_temperature < math.inf):
            raise InvalidArgumentError(f"saliency_temperature must be finite and >= 0, got {saliency_temperature!r}")
        if not isinstance(best_of, int) or best_of < 1:
            raise InvalidArgumentError(f"best_of must be a positive integer, got {best_of!r}")
        denoise = self._label_denoiser(label, cfg_weight)
        hard, soft = _split_constraints(constraints)
        if best_of > 1 and not soft:
            raise InvalidArgumentError("best_of ranks candidates by a style classifier: give a Style constraint")
        if any(isinstance(c, Template) for c in hard):
            raise InvalidArgumentError("rewrite keeps the source's layout; use fill() for templates")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise InvalidArgumentError("cannot rewrite an empty text")
        target = next((c.max for c in hard if isinstance(c, Length) and c.unit == "tokens" and c.max), None)
        source = torch.tensor(ids[:target] if target else ids)
        length = target or len(ids)
        if length > self.model.config.max_canvas:
            raise InvalidArgumentError(
                f"text of {length} tokens exceeds the model's canvas of {self.model.config.max_canvas}"
            )
        styles = [style_guide(s, self.tokenizer) for s in soft]
        base_seed = seed if seed is not None else torch.seed() % 2**62
        generator = torch.Generator().manual_seed(base_seed)
        k = max(1, round(strength * len(source)))
        rows = n * best_of
        canvas = torch.full((rows, length), self.mask_token_id, dtype=torch.long)
        canvas[:, : len(source)] = source
        spans = word_spans([self.tokenizer.decode([i]) for i in source.tolist()])
        if salient and styles:
            scores = self.saliency(source, styles[0], spans)
            for row in range(rows):
                noisy = scores
                if saliency_temperature > 0:
                    gumbel = -torch.log(-torch.log(torch.rand(len(scores), generator=generator).clamp_min(1e-12)))
                    noisy = scores / saliency_temperature + gumbel
                canvas[row, pick_words(spans, k, noisy.argsort(descending=True).tolist())] = self.mask_token_id
        else:
            for row in range(rows):
                canvas[row, pick_words(spans, k, random_order(len(spans), generator))] = self.mask_token_id
        guides: list[Guide] = [BanTokens([self.end_token_id])] if target is None else []
        if hard:
            plan = plan_constraints(hard, self.tokenizer, length, self.model.config.max_canvas)
            guides.insert(0, plan.guide)
        tokens = self.sample_tokens(
            canvas, sampler, steps, temperature, top_p, guides + styles, base_seed, progress, denoise
        )
        texts = self.decode(tokens)
        if not text[:1].isspace():  # a first token drawn with its leading space would shift the layout
            texts = [t.lstrip() for t in texts]
        trace = list(styles[0].trace) if styles else []
        if best_of > 1:
            score = styles[0].classifier.judge_log_proba(texts)[:, styles[0].target].view(n, best_of)
            keep = torch.arange(n) * best_of + score.argmax(-1)
            texts = [texts[i] for i in keep.tolist()]
            trace = [p[keep] for p in trace]
        self.last_report = GenerationReport(n=n, style_trace=trace)
        return texts

    @torch.no_grad()
    def saliency(self, source: torch.Tensor, guide: StyleGuide, spans: list[list[int]] | None = None) -> torch.Tensor:
        """Gain in ``log p(target)`` from masking each span of source positions (default: each token), measured
        exactly (one classifier pass per span, batched): the words that hold the text away from the target
        score highest. ``(len(spans),)``."""
        model = guide.classifier.model
        device = next(model.parameters()).device
        spans = [[i] for i in range(len(source))] if spans is None else spans
        occluded = source.repeat(len(spans) + 1, 1)  # row w masks span w; the last row masks nothing
        for w, span in enumerate(spans):
            occluded[w, span] = self.mask_token_id
        logp = model(occluded.to(device)).log_softmax(-1)[:, guide.target].cpu()
        return logp[:-1] - logp[-1]

    def fill(self, template: str | Template, n: int = 1, **kwargs) -> list[str]:
        """Fill a template's slots: literal text kept byte for byte, each ``{N}`` slot exactly N tokens.

        ``template`` is a :class:`~constraints.Template` or its text (``"The {4} is a {2} near {3}."``);
        other arguments as in :meth:`generate`.
        """
        if isinstance(template, str):
            template = Template(template)
        return self.generate(n=n, constraints=[template], **kwargs)


def load(path: str | Path | None = None, device: str | torch.device | None = None) -> DiffusionLM:
    """Load a model: the default one shipped in the package when ``path`` is None, else a directory written
    by ``ctrlgen train`` or :meth:`DiffusionLM.save_pretrained`, or a hub id."""
    return DiffusionLM.from_pretrained(DEFAULT_MODEL_DIR if path is None else path, device=device)
