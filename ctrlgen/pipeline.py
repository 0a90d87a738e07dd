"""The public facade: a denoiser (any model behind the :class:`~ctrlgen.denoisers.Denoiser` seam), with
``generate``, ``fill``, ``rewrite`` and persistence."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .constrained import DEFAULT_CANVAS, plan_constraints
from .constraints import Constraint, ConstraintError, Length, Style, Template
from .denoisers import Denoiser, NativeDenoiser, load_denoiser
from .denoisers.diffusion_gemma import SelfConditioning
from .denoising import CanvasDenoiser
from .errors import InvalidArgumentError, UnknownSamplerError, UnsupportedModelError
from .generation_defaults import GenerationDefaults
from .guidance.first_token import FirstTokenBan, odd_first_tokens
from .guidance.guide import BanTokens
from .guidance.interface import Guide
from .guidance.style import StyleGuide
from .guidance.vocabulary import TokenVocabulary, token_vocabulary
from .model import DenoiserModel
from .prompts import Prompt, check_room, normalize_prompts, prefix_for, prompt_text
from .rewriting import pick_words, random_order, word_spans
from .sampling import DEFAULT_SAMPLER, SAMPLERS_BY_PROCESS, Sampler, UniformSampler
from .sampling.latent import LatentSampler
from .schedules import schedule_from_name
from .styles import REWRITE_STYLE_DEFAULTS, style_guide
from .trajectory import TraceRecorder

__all__ = ["DiffusionLM", "GenerationReport", "load", "DEFAULT_MODEL_DIR"]

#: ``rewrite(label="auto")``: condition a class-conditional model on the style's target when it knows it.
AUTO = "auto"
#: The measured best rewrite settings (README, "Style rewriting"): best-of-16, classifier-free weight 3.
REWRITE_BEST_OF = 16
REWRITE_CFG_WEIGHT = 3.0
#: where an embedding model's rewrite starts the re-noised words (SDEdit's t0): of 0.3, 0.6 and 1 (pure noise), 0.6
#: rewrote most negative reviews to positive at the highest similarity (README, "Three forward processes")
REWRITE_START_TIME = 0.6

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"


def _split_constraints(constraints: Sequence[Constraint]) -> tuple[list[Constraint], list[Style]]:
    """Hard constraints (compiled to automata) and soft ones (style guidance)."""
    if isinstance(constraints, Constraint):
        constraints = [constraints]
    items = list(constraints)
    for c in items:
        if not isinstance(c, Constraint):
            raise InvalidArgumentError(f"constraints must be Constraint objects, got {type(c).__name__}")
    return [c for c in items if not isinstance(c, Style)], [c for c in items if isinstance(c, Style)]


def _latent_styles(impl: LatentSampler, fn, guides: Sequence[Guide]) -> tuple[LatentSampler, list[Guide]]:
    """On an embedding-process model ``Style`` guides the latents (gradient ascent through the soft rounding,
    :mod:`ctrlgen.sampling.latent_guidance`) instead of reweighting token distributions."""
    from .sampling.latent_guidance import LatentStyleGuidance

    styles = [g for g in guides if isinstance(g, StyleGuide)]
    if not styles or not hasattr(fn, "_log_probs"):
        return impl, list(guides)
    others = [g for g in guides if not isinstance(g, StyleGuide)]
    return dataclasses.replace(impl, latent_guidance=LatentStyleGuidance(fn, styles)), others


def _check_seed(seed: object) -> int:
    if seed is None:
        return torch.seed() % 2**62
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


@dataclass
class GenerationReport:
    """What the last :meth:`DiffusionLM.generate` or :meth:`DiffusionLM.rewrite` call did beyond sampling."""

    n: int = 0
    resampled: int = 0  #: outputs drawn again because a validator rejected them
    #: p(target | canvas) of the first style classifier at each reverse step, one (B,) tensor per step
    style_trace: list = field(default_factory=list)
    #: with ``generate(trace=True)``: each text's canvas at every reverse step (:class:`~ctrlgen.trajectory.Trajectory`)
    trajectories: list = field(default_factory=list)


class DiffusionLM:
    """A masked-diffusion language model ready to sample.

    Parameters
    ----------
    denoiser:
        Any model behind the denoiser seam (:func:`ctrlgen.load` picks the adapter), or ctrlgen's own
        :class:`~ctrlgen.model.DenoiserModel` together with its tokenizer.
    tokenizer:
        Only with a bare ``DenoiserModel``: its tokenizer, checked against the model's configuration.
    """

    def __init__(self, denoiser: Denoiser | DenoiserModel, tokenizer=None) -> None:
        if isinstance(denoiser, DenoiserModel):
            denoiser = NativeDenoiser(denoiser, tokenizer)
        elif not isinstance(denoiser, Denoiser):
            raise InvalidArgumentError(f"DiffusionLM needs a Denoiser, got {type(denoiser).__name__}")
        if getattr(getattr(denoiser, "model", None), "causal", False):
            raise UnsupportedModelError(
                "this model was trained with --objective autoregressive: load it with ctrlgen.load (an "
                "AutoregressiveLM), it is not a denoiser"
            )
        self.denoiser = denoiser.eval()
        if denoiser.process_name == "embedding":
            from .gaussian import gaussian_schedule_from_name

            self.schedule = gaussian_schedule_from_name(denoiser.schedule_name)
        else:
            self.schedule = schedule_from_name(denoiser.schedule_name)
        self.last_report = GenerationReport()
        self._unprompted: dict[tuple[str | None, float], CanvasDenoiser] = {}
        #: decoding settings measured for this model (its ``generation_defaults.json``), used by
        #: :meth:`generate` for every argument the caller leaves out
        self.generation_defaults = GenerationDefaults()

    # -- persistence -------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        trust_remote_code: bool = False,
        **hub_kwargs,
    ) -> DiffusionLM:
        """Load a checkpoint: a directory written by training or :meth:`save_pretrained`, any Hugging Face
        masked LM, or a LLaDA- or Dream-style checkpoint (their code runs only with ``trust_remote_code``);
        a hub id works given a network."""
        lm = cls(load_denoiser(path, trust_remote_code=trust_remote_code, **hub_kwargs))
        lm.generation_defaults = GenerationDefaults.read(path)
        if device is not None:
            lm.to(device)
        return lm

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model, tokenizer and generation defaults so :func:`load` reads them back."""
        self.denoiser.save_pretrained(path)
        self.generation_defaults.write(path)

    def to(self, device: str | torch.device) -> DiffusionLM:
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as e:
            raise InvalidArgumentError(f"not a device: {device!r} ({e})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidArgumentError(f"device {device} asked for, but CUDA is not available on this machine")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise InvalidArgumentError(f"device {device} asked for, but this machine has {torch.cuda.device_count()}")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise InvalidArgumentError(f"device {device} asked for, but MPS is not available on this machine")
        if device.type not in ("cpu", "cuda", "mps"):
            raise InvalidArgumentError(f"device {device} is not supported (cpu, cuda, cuda:N or mps)")
        self.denoiser.to(device)
        return self

    @property
    def model(self) -> torch.nn.Module:
        """The network behind the adapter (a ``transformers.PreTrainedModel``)."""
        return self.denoiser.model

    @property
    def tokenizer(self):
        return self.denoiser.tokenizer

    @property
    def device(self) -> torch.device:
        return self.denoiser.device

    @property
    def mask_token_id(self) -> int:
        return self.denoiser.mask_token_id

    @property
    def end_token_id(self) -> int:
        return self.denoiser.end_token_id

    @cached_property
    def vocabulary(self) -> TokenVocabulary:
        """The real bytes of every token, with the model's end, pad and mask ids: what constraints compile to."""
        d = self.denoiser
        return token_vocabulary(d.tokenizer, end_id=d.end_token_id, pad_id=d.pad_token_id, mask_id=d.mask_token_id)

    @cached_property
    def _first_token_guides(self) -> list[Guide]:
        """A guide keeping tokens that read oddly at the start of a text out of position 0 (none for
        byte-level vocabularies)."""
        odd = odd_first_tokens(self.vocabulary)
        return [FirstTokenBan(odd)] if odd else []

    @cached_property
    def _banned(self) -> torch.Tensor:
        """Special tokens that are never text and never end it: no mass at any step."""
        vocab = self.vocabulary
        ends = set(vocab.end_ids)
        return torch.tensor(
            [i for i, b in enumerate(vocab.token_bytes) if b is None and i not in ends], dtype=torch.long
        )

    # -- sampling ----------------------------------------------------------------------------------------
    def _label_index(self, label: str | None, cfg_weight: float) -> int | None:
        """The label's index for classifier-free guidance (None without a label); typed errors otherwise."""
        index = None
        if label is not None:
            names = list(self.denoiser.label_names)
            if not names:
                raise InvalidArgumentError("this model was trained without labels: train with --label-column for CFG")
            if label not in names:
                raise InvalidArgumentError(f"unknown label {label!r}; the model knows {names}")
            index = names.index(label)
        if not isinstance(cfg_weight, (int, float)) or not math.isfinite(cfg_weight):
            raise InvalidArgumentError(f"cfg weight must be a finite number, got {cfg_weight!r}")
        if label is None and cfg_weight != 1.0:
            raise InvalidArgumentError("cfg_weight needs a label to guide towards")
        return index

    def _canvas_denoiser(
        self, prefixes: list[list[int]], label: str | None, cfg_weight: float, prompt_weight: float = 1.0
    ) -> CanvasDenoiser:
        index = self._label_index(label, cfg_weight)
        return CanvasDenoiser(
            self.denoiser, prefixes, self._banned, index, cfg_weight, len(self.vocabulary.token_bytes), prompt_weight
        )

    def _prompt_weight(self, prompt_weight: float | None, prompt) -> float:
        """The prompt guidance to use: the caller's (which needs a prompt), else the model's measured default
        when there is a prompt, else none (1)."""
        if prompt_weight is None:
            measured = self.generation_defaults.prompt_weight
            return 1.0 if prompt is None or measured is None else float(measured)
        number = isinstance(prompt_weight, (int, float)) and not isinstance(prompt_weight, bool)
        if not number or not math.isfinite(prompt_weight):
            raise InvalidArgumentError(f"prompt_weight must be a finite number, got {prompt_weight!r}")
        if prompt is None and prompt_weight != 1.0:
            raise InvalidArgumentError("prompt_weight needs a prompt to guide towards")
        return float(prompt_weight)

    def _decoding(self, sampler, steps, temperature, top_p, prompt) -> tuple:
        """``(sampler, steps, temperature, top_p)`` with this model's generation defaults filling what the caller
        left out, when there is a prompt; a :class:`Sampler` instance keeps its own settings.

        The defaults are measured on prompted tasks and hold there only: confidence-ordered unmasking at a low
        temperature, the shipped model's best on its prompts, commits the canvas's end tokens first when nothing
        anchors the text, and writes empty texts unprompted. Without a prompt the library's defaults apply."""
        if isinstance(sampler, Sampler) or prompt is None:
            return sampler, steps, temperature, top_p
        d = self.generation_defaults
        return (
            d.resolve("sampler", sampler),
            d.resolve("steps", steps),
            d.resolve("temperature", temperature),
            d.resolve("top_p", top_p),
        )

    @torch.no_grad()
    def denoise(self, canvas: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, L)`` canvas -> ``(B, L, V)`` float32 SUBS log-probabilities of the clean tokens (no prompt); the
        network reads ``inputs`` when given (a uniform-noise model's noisy tokens at the free positions)."""
        return self.conditional_denoiser(None)(canvas, inputs)

    def conditional_denoiser(self, label: str | None, weight: float = 1.0) -> CanvasDenoiser:
        """The SUBS log-probabilities without a prompt, of a class-conditional model under classifier-free
        guidance when ``label`` is given: ``uncond + weight * (cond - uncond)`` on the logits, with one batched
        forward for both. One object, called at every step."""
        key = (label, weight)
        if key not in self._unprompted:
            self._unprompted[key] = self._canvas_denoiser([self.denoiser.prefix_ids(None)], label, weight)
        return self._unprompted[key]

    def _sampler(
        self, sampler: str | Sampler, steps: int | None, temperature: float | None, top_p: float | None
    ) -> Sampler:
        """The sampler to run: a name, or an instance whose settings are overridden by the arguments given
        (and whose schedule defaults to the model's)."""
        given = {k: v for k, v in (("steps", steps), ("temperature", temperature), ("top_p", top_p)) if v is not None}
        process = self.denoiser.process_name
        table = SAMPLERS_BY_PROCESS[process]
        if process == "embedding":
            return self._latent_sampler(sampler, given, table)
        if isinstance(sampler, Sampler):
            if isinstance(sampler, LatentSampler) or isinstance(sampler, UniformSampler) != (process == "uniform"):
                raise UnknownSamplerError(
                    f"{type(sampler).__name__} does not sample the {process} process this model was trained with; "
                    f"its samplers: {', '.join(sorted(table))}"
                )
            if sampler.schedule is None:
                given["schedule"] = self.schedule
            impl = dataclasses.replace(sampler, **given) if given else sampler
        else:
            default = getattr(self.denoiser, "default_sampler", None) or DEFAULT_SAMPLER[process]
            name = default if sampler is None else sampler
            try:
                cls = table[name]
            except (KeyError, TypeError):
                raise UnknownSamplerError(
                    f"unknown sampler {sampler!r} for a model of the {process} process; choose one of {sorted(table)}"
                ) from None
            impl = cls(**given, schedule=self.schedule)
        if isinstance(impl, UniformSampler) and impl.noise_ids is None:
            impl = dataclasses.replace(impl, noise_ids=self._noise_ids)
        return impl

    def _latent_sampler(self, sampler, given: dict, table: dict) -> LatentSampler:
        """The sampler of an embedding-process model: the clamped reverse process, with the model's embeddings
        and Gaussian schedule (a :class:`LatentSampler` instance keeps its other settings)."""
        tied = {"embeddings": self.denoiser.model.latent_embed.weight.detach(), "gaussian": self.schedule}
        if isinstance(sampler, LatentSampler):
            return dataclasses.replace(sampler, **given, **tied, schedule=None)
        if isinstance(sampler, Sampler) or (sampler is not None and sampler not in table):
            name = type(sampler).__name__ if isinstance(sampler, Sampler) else repr(sampler)
            raise UnknownSamplerError(
                f"{name} does not sample the embedding process this model was trained with; its samplers: "
                f"{', '.join(sorted(table))}"
            )
        return table[sampler or DEFAULT_SAMPLER["embedding"]](**given, **tied)

    def _latent_start(self, sampler, start_time: float, start_tokens: torch.Tensor) -> LatentSampler:
        """The embedding model's sampler (``sampler``: None, its name or an instance), starting at ``start_time``
        from ``start_tokens`` (SDEdit)."""
        if isinstance(sampler, LatentSampler):
            return dataclasses.replace(sampler, start_time=start_time, start_tokens=start_tokens, schedule=None)
        table = SAMPLERS_BY_PROCESS["embedding"]
        if sampler is not None and (isinstance(sampler, Sampler) or sampler not in table):
            return self._latent_sampler(sampler, {}, table)  # raises the typed error naming the samplers
        return table[sampler or DEFAULT_SAMPLER["embedding"]](start_time=start_time, start_tokens=start_tokens)

    @cached_property
    def _noise_ids(self) -> torch.Tensor:
        """The tokens uniform noise is drawn from (the process's support), worked out once per model."""
        from .processes import process_for

        return process_for(self.denoiser).support_ids

    def sample_tokens(
        self,
        canvas: torch.Tensor,
        sampler: str | Sampler | None = None,
        steps: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        guides: Sequence[Guide] = (),
        seed: int | None = None,
        progress: bool = False,
        denoise=None,
    ) -> torch.Tensor:
        """Fill the masked positions of ``canvas`` (``(B, L)`` int64); the lower-level form of :meth:`generate`.

        ``denoise`` maps a canvas to SUBS log-probabilities (default: the model without a prompt)."""
        if canvas.ndim != 2 or canvas.shape[1] < 1:
            raise InvalidArgumentError(f"canvas must be (batch, length) with length >= 1, got {tuple(canvas.shape)}")
        if canvas.shape[1] > self.denoiser.max_length:
            raise InvalidArgumentError(
                f"length {canvas.shape[1]} exceeds the model's longest canvas ({self.denoiser.max_length} tokens)"
            )
        self._within_canvas(canvas.shape[1], canvas.shape[1])
        impl = self._sampler(sampler, steps, temperature, top_p)
        generator = torch.Generator().manual_seed(_check_seed(seed))
        fn = denoise or self.denoise
        if isinstance(impl, LatentSampler):
            impl, guides = _latent_styles(impl, fn, guides)
        conditioned = getattr(self.denoiser, "self_conditioned", False) and hasattr(fn, "self_conditioning")
        if conditioned:
            guides = [*guides, SelfConditioning(fn, impl.temperature_at)]  # last: it passes on what every guide made
        # ctrlgen's own models train on canvases of any length after the end token: the padding a row has
        # finished with can be cut (Sampler.run's end_token_id)
        end = self.denoiser.end_token_id if isinstance(self.denoiser, NativeDenoiser) else None
        try:
            return impl.run(fn, canvas.to(self.device), self.mask_token_id, guides, generator, progress, end).cpu()
        finally:
            if conditioned:
                fn.self_conditioning = None  # the callable may be cached: no run's state reaches the next one

    def _canvas_by_canvas(self, canvas, block, rows, plan, guides, weights, how, seed, show) -> torch.Tensor:
        """A text longer than the model's canvas, one canvas at a time (:mod:`ctrlgen.blocks`)."""
        from .blocks import sample_canvas_by_canvas

        def sample(window, window_guides, row_prefixes, j):
            denoise = self._canvas_denoiser(row_prefixes, *weights)
            return self.sample_tokens(window, *how, window_guides, (seed + 1_000_003 * j) % 2**63, show, denoise)

        vocab = self.vocabulary
        return sample_canvas_by_canvas(
            canvas,
            block,
            rows,
            plan.guide if plan else None,
            self._first_token_guides,
            guides,
            sample,
            vocab.end_ids,
            self.denoiser.pad_token_id,
        )

    def _within_canvas(self, room: int, length: int | None) -> int:
        """``room`` capped to the model's one-pass canvas (DiffusionGemma's ``canvas_length``); a typed error when
        the requested length does not fit it."""
        limit = self.denoiser.max_canvas
        if limit is None:
            return room
        if length is not None and length > limit:
            raise InvalidArgumentError(
                f"a response of {length} tokens exceeds {self.denoiser.family}'s canvas of {limit} tokens"
            )
        return min(room, limit)

    def decode(self, tokens: torch.Tensor) -> list[str]:
        """Text of each row up to its first end (or pad) token: the concatenated bytes of its tokens."""
        return [self.vocabulary.decode(row) for row in tokens.tolist()]

    def _prefixes(self, prompt: Prompt | Sequence[Prompt] | None) -> list[list[int]]:
        prompts = normalize_prompts(prompt)
        if prompts is None:
            return [self.denoiser.prefix_ids(None)]
        return [prefix_for(p, self.denoiser) for p in prompts]

    def generate(
        self,
        n: int = 1,
        length: int | None = None,
        constraints: Sequence[Constraint] = (),
        prompt: Prompt | Sequence[Prompt] | None = None,
        sampler: str | Sampler | None = None,
        steps: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        batch_size: int = 16,
        guides: Sequence[Guide] = (),
        most_probable: bool = False,
        max_resamples: int = 3,
        label: str | None = None,
        cfg_weight: float = 1.0,
        prompt_weight: float | None = None,
        progress: bool = False,
        echo: bool = False,
        trace: bool = False,
    ) -> list[str]:
        """Sample ``n`` texts per prompt (each ends at its first end token).

        Parameters
        ----------
        n:
            Number of texts (per prompt, when a list of prompts is given).
        length:
            Canvas length in tokens: the longest response that can come out. Default: sized from the
            constraints (their shortest completion plus headroom), else 64.
        constraints:
            Hard constraints (``Length``, ``Regex``, ``JsonSchema``, ``Template``), intersected exactly, and
            ``Style`` guidance; every output satisfies every hard constraint. They apply to the response only.
        prompt:
            A string, chat messages (``[{"role": "user", "content": ...}]``, rendered by the tokenizer's chat
            template when it has one), or a list of either: the fixed text before the response. A list gives
            ``n`` texts per prompt, in the order of the prompts.
        sampler:
            For a masking model ``"ancestral"`` (MDLM, the default), ``"confidence"`` (LLaDA low-confidence
            remasking), ``"semi-ar"``, ``"remdm"`` (self-correcting: committed tokens may be remasked and
            redrawn); for a uniform-noise model ``"entropy-bound"`` (DiffusionGemma's, the default) or
            ``"ancestral"`` (UDLM); or a :class:`~ctrlgen.sampling.Sampler` instance (``steps``,
            ``temperature``, ``top_p`` given here override its own).
        steps:
            Reverse steps; default one per canvas position.
        temperature, top_p:
            Temperature and nucleus truncation of every draw (default 1 and 1).

            ``sampler``, ``steps``, ``temperature``, ``top_p`` and ``prompt_weight`` left as None take the
            model's measured settings when its directory has them (``lm.generation_defaults``, read from
            ``generation_defaults.json``; the shipped model's are in its README), else the defaults above.
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
        prompt_weight:
            Classifier-free guidance towards the prompt: each step's logits ``uncond + w * (cond - uncond)``
            with the canvas read without its prompt as ``uncond`` (one more forward pass per step). 1 = plain
            conditional sampling; above 1 the response follows its prompt more closely.
        max_resamples:
            Outputs that fail a validator (the part of a ``JsonSchema(strict=False)`` that is not compiled)
            are resampled at most this many times; :attr:`last_report` says how many were.
        echo:
            Return each prompt (as given, or as its chat template rendered it) followed by the response.
        trace:
            Record each text's canvas at every reverse step in ``last_report.trajectories`` (one
            :class:`~ctrlgen.trajectory.Trajectory` per text; :func:`~ctrlgen.trajectory.plot_trajectory` draws
            the order in which positions were filled).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"n must be a positive integer, got {n!r}")
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise InvalidArgumentError(f"length must be a positive integer, got {length!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
        base_seed = _check_seed(seed)
        hard, soft = _split_constraints(constraints)
        prefixes = self._prefixes(prompt)
        room = check_room(max(len(p) for p in prefixes), length, self.denoiser.max_length)
        plan = None
        if hard:
            plan = plan_constraints(hard, self.vocabulary, length, room, most_probable)
            length = plan.length
        length = min(DEFAULT_CANVAS, room) if length is None else length
        self._label_index(label, cfg_weight)  # bad labels fail before any work
        weights = (label, cfg_weight, self._prompt_weight(prompt_weight, prompt))
        sampler, steps, temperature, top_p = self._decoding(sampler, steps, temperature, top_p, prompt)
        styles = [style_guide(s, self.tokenizer) for s in soft]
        all_guides = ([plan.guide] if plan else []) + self._first_token_guides + styles + list(guides)
        traces: list[list[torch.Tensor]] = []
        trajectories: list = []
        block = self.denoiser.max_canvas

        def run(rows: list[list[int]], batch_seed: int, show: bool) -> list[str]:
            recorder = [TraceRecorder()] if trace else []
            canvas = (
                plan.canvas(len(rows), self.mask_token_id)
                if plan
                else torch.full((len(rows), length), self.mask_token_id, dtype=torch.long)
            )
            if block is not None and canvas.shape[1] > block:
                tokens = self._canvas_by_canvas(
                    canvas,
                    block,
                    rows,
                    plan,
                    styles + list(guides) + recorder,
                    weights,
                    (sampler, steps, temperature, top_p),
                    batch_seed,
                    show,
                )
            else:
                denoise = self._canvas_denoiser(rows, *weights)
                tokens = self.sample_tokens(
                    canvas, sampler, steps, temperature, top_p, all_guides + recorder, batch_seed, show, denoise
                )
            if styles:
                traces.append(list(styles[0].trace))
            if recorder:
                trajectories.append(recorder[0].trajectories(self.mask_token_id))
            return self.decode(tokens)

        rows = [p for p in prefixes for _ in range(n)]
        texts: list[str] = []
        n_batches = math.ceil(len(rows) / batch_size)
        # one batch: a bar over its reverse steps; several: a bar over the batches
        batches = tqdm(range(n_batches), desc="batches", disable=not progress or n_batches == 1, leave=False)
        for b in batches:
            texts.extend(run(rows[b * batch_size : (b + 1) * batch_size], base_seed + b, progress and n_batches == 1))
        per_text = [t for batch in trajectories for t in batch]
        self.last_report = GenerationReport(n=len(rows), style_trace=_join_traces(traces), trajectories=per_text)
        validators = plan.validators if plan else ()
        if validators:
            trajectories.clear()
            redrawn = self._resample_invalid(texts, rows, validators, run, base_seed, max_resamples)
            if trace and redrawn:  # a redrawn text's trajectory is that of its last draw
                for i, t in zip(redrawn, (t for batch in trajectories for t in batch)):
                    per_text[i] = t
        if echo and prompt is not None:
            shown = [prompt_text(p, self.denoiser) for p in normalize_prompts(prompt)]
            texts = [shown[i // n] + t for i, t in enumerate(texts)]
        return texts

    def _resample_invalid(self, texts, rows, validators, run, base_seed: int, max_resamples: int) -> list[int]:
        """Redraw the texts a validator rejects; the indices redrawn, in the order of the redraws (one entry
        per redraw, so a text redrawn twice appears twice and its last draw comes last)."""

        def problem(text: str) -> str | None:
            return next((p for v in validators if (p := v(text)) is not None), None)

        bad = [i for i, t in enumerate(texts) if problem(t) is not None]
        redrawn: list[int] = []
        for attempt in range(1, max_resamples + 1):
            if not bad:
                break
            self.last_report.resampled += len(bad)
            fresh = run([rows[i] for i in bad], base_seed + 1_000_003 * attempt, False)
            redrawn += bad
            for i, text in zip(bad, fresh):
                texts[i] = text
            bad = [i for i in bad if problem(texts[i]) is not None]
        if bad:
            raise ConstraintError(
                f"{len(bad)} of {len(texts)} outputs still fail validation after {max_resamples} resamples "
                f"(first problem: {problem(texts[bad[0]])})"
            )
        return redrawn

    def rewrite(
        self,
        text: str,
        constraints: Sequence[Constraint] = (),
        strength: float = 0.2,
        n: int = 1,
        seed: int | None = None,
        salient: bool = True,
        saliency_temperature: float = 0.5,
        sampler: str | Sampler | None = None,
        steps: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        label: str | None = AUTO,
        cfg_weight: float | None = None,
        best_of: int | None = None,
        start_time: float | None = None,
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
            this weight, as in :meth:`generate`. Combines with ``Style`` guidance. By default (``"auto"``) a
            conditional model is conditioned on the first ``Style``'s target when it knows that label, with
            ``cfg_weight`` 3; ``label=None`` turns that off.
        best_of:
            Draw this many candidates per rewrite and keep the one the first style's classifier finds most
            likely to have the target style, judged on the finished text by
            :meth:`~guidance.classifier.StyleClassifier.judge_log_proba` (with the classifier's word judge
            when it has one). Needs a ``Style``. Default: 16 with a ``Style``, else 1.
        start_time:
            Only for a model of the embedding process: the re-noised words start from their own embeddings noised
            to this time in (0, 1] (SDEdit), and the reverse process runs from there; lower keeps more of the
            source's meaning at those words, 1 starts them from pure noise. Default
            ``REWRITE_START_TIME``, measured in ``benchmarks/processes.py``.

        The defaults (strength 0.2, a ``Style`` at scale 4 with top-k 16, the label and weight 3 above,
        best-of-16) are the best settings measured with the shipped model (README, "Style benchmark"): about
        91% of unseen negative sentences judged positive by VADER at MiniLM similarity 0.69, against 34% unguided.
        """
        if not isinstance(text, str):
            raise InvalidArgumentError(f"rewrite needs a text (str), got {type(text).__name__}")
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not (0 < strength <= 1):
            raise InvalidArgumentError(f"strength must be in (0, 1], got {strength!r}")
        if not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"n must be a positive integer, got {n!r}")
        if not isinstance(saliency_temperature, (int, float)) or not (0 <= saliency_temperature < math.inf):
            raise InvalidArgumentError(f"saliency_temperature must be finite and >= 0, got {saliency_temperature!r}")
        if sampler is None and self.denoiser.process_name == "masking":
            sampler = "confidence"  # the measured recipe unmasks the re-noised words most confident first
        hard, soft = _split_constraints(constraints)
        if best_of is None:
            best_of = REWRITE_BEST_OF if soft else 1
        if isinstance(best_of, bool) or not isinstance(best_of, int) or best_of < 1:
            raise InvalidArgumentError(f"best_of must be a positive integer, got {best_of!r}")
        if label == AUTO:
            targets = [s.target for s in soft if isinstance(s.target, str)]
            label = targets[0] if targets and targets[0] in self.denoiser.label_names else None
            if label is None and cfg_weight is not None:
                raise InvalidArgumentError("cfg_weight needs a label to guide towards")
        if cfg_weight is None:
            cfg_weight = REWRITE_CFG_WEIGHT if label is not None else 1.0
        denoise = self.conditional_denoiser(label, cfg_weight)
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
        check_room(len(self.denoiser.prefix_ids(None)), length, self.denoiser.max_length)
        self._within_canvas(length, length)
        styles = [style_guide(s, self.tokenizer, REWRITE_STYLE_DEFAULTS) for s in soft]
        base_seed = _check_seed(seed)
        generator = torch.Generator().manual_seed(base_seed)
        k = max(1, round(strength * len(source)))
        rows = n * best_of
        canvas = torch.full((rows, length), self.mask_token_id, dtype=torch.long)
        canvas[:, : len(source)] = source
        spans = word_spans([self.vocabulary.decode([i], at_start=False) for i in source.tolist()])
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
        guides: list[Guide] = [BanTokens(list(self.vocabulary.end_ids))] if target is None else []
        guides += self._first_token_guides
        if hard:
            plan = plan_constraints(hard, self.vocabulary, length, self.denoiser.max_length)
            guides.insert(0, plan.guide)
        if self.denoiser.process_name == "embedding":
            start = torch.full_like(canvas, -1)
            start[:, : len(source)] = source
            sampler = self._latent_start(sampler, REWRITE_START_TIME if start_time is None else start_time, start)
        elif start_time is not None:
            raise InvalidArgumentError(
                f"start_time applies to models of the embedding process; this one is of the "
                f"{self.denoiser.process_name} process, whose rewrite re-masks the chosen words"
            )
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


def _join_traces(traces: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Per-batch style traces joined along the batch: one ``(n,)`` tensor per step (batches that took fewer
    steps end earlier; the longest sets the count)."""
    traces = [t for t in traces if t]
    steps = max((len(t) for t in traces), default=0)
    return [torch.cat([t[min(s, len(t) - 1)] for t in traces]) for s in range(steps)]


def load(
    path: str | Path | None = None, device: str | torch.device | None = None, trust_remote_code: bool = False
) -> DiffusionLM:
    """Load a model: the default one shipped in the package when ``path`` is None, else a directory written
    by ``ctrlgen train`` or :meth:`DiffusionLM.save_pretrained`, any Hugging Face masked LM, a LLaDA- or
    Dream-style checkpoint (``trust_remote_code=True`` lets their own code run), or a hub id.

    A run trained with ``--objective autoregressive`` (the baseline) loads as an
    :class:`~ctrlgen.autoregressive_lm.AutoregressiveLM`, which takes the same ``generate`` arguments."""
    where = DEFAULT_MODEL_DIR if path is None else path
    denoiser = load_denoiser(where, trust_remote_code=trust_remote_code)
    if getattr(getattr(denoiser, "model", None), "causal", False):
        from .autoregressive_lm import AutoregressiveLM

        lm = AutoregressiveLM(denoiser)
    else:
        lm = DiffusionLM(denoiser)
        lm.generation_defaults = GenerationDefaults.read(where)
    if device is not None:
        lm.to(device)
    return lm
