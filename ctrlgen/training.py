"""Training a denoiser end to end: data, tokenizer, model, Lightning Trainer, atomic checkpoints, export.

Trainer options (accelerator, devices, strategy, precision, gradient accumulation) are handed to
``lightning.Trainer`` untouched, so DDP or FSDP on several GPUs is a flag, not code of ours.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging, ModelCheckpoint, Timer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .config import DenoiserConfig
from .data import (
    TextDataModule,
    TextSource,
    read_labelled_texts,
    read_prompt_pairs,
    read_prompted_labelled,
    read_texts,
    split_texts,
)
from .denoisers import Denoiser, NativeDenoiser, load_denoiser
from .errors import InvalidArgumentError, ModelNotFoundError
from .lightning_module import DenoiserLightningModule
from .model import DenoiserModel
from .processes import check_process_name, process_for
from .tokenizer import tokenizer_fingerprint, train_tokenizer
from .training_output import progress_callbacks, quiet_lightning

__all__ = ["TrainConfig", "AtomicCheckpointIO", "train", "export_checkpoint"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in the same folder, then renames it into place.

    A run killed mid-save leaves the previous checkpoint intact instead of a truncated file that
    ``--resume`` would choke on.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class SessionTimer(Timer):
    """Lightning's ``Timer``, except that the limit counts from this ``fit`` call, not from the first run.

    Lightning stores the elapsed time in the checkpoint, so ``--resume --max-minutes 60`` after a
    90-minute run would stop at once. Runs here are resumed across machine sessions that each have their
    own wall-clock budget, so each call gets the full ``max_minutes``.
    """

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        return None


class PeriodicCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` without its save at train end, which :class:`LastCheckpointOnStop` makes instead.

    Lightning runs checkpoint callbacks last, after ``EMAWeightAveraging`` has copied the average into the
    live weights, so a ``last.ckpt`` written there would resume training from the average.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        return None


class LastCheckpointOnStop(Callback):
    """Writes ``last.ckpt`` when ``fit`` stops (time limit or ``max_steps``), so a resume loses no steps.

    ``ModelCheckpoint`` only writes every ``val_every`` steps. This callback must come before
    ``EMAWeightAveraging`` in the list: at train end EMA copies the average into the live weights, and
    the checkpoint has to hold the live weights (and the average separately) to resume training exactly.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path)


@dataclass
class TrainConfig:
    """Everything a training run needs; a JSON file of these fields reproduces a run (see ``configs/``)."""

    data: list[str] = field(default_factory=list)  #: files, ``path`` or ``path:column``
    out: str = "runs/model"
    # model
    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    #: noise schedule; None: "loglinear" for masking and uniform noise, "sqrt" for the embedding process
    schedule: str | None = None
    #: forward process: "masking", "uniform" or "embedding" (ctrlgen.processes); None: the init_from model's,
    #: else masking
    process: str | None = None
    #: "diffusion" (a denoiser) or "autoregressive" (the same network, causal, next-token loss: the baseline)
    objective: str = "diffusion"
    # data
    canvas_length: int = 128
    max_canvas: int = 256
    packing: bool = False
    #: at most this many positions of padding after a batch's longest document (None: up to canvas_length);
    #: the autoregressive objective takes none (it never scores padding)
    max_padding: int | None = None
    bucket: bool = False  #: batch documents of similar length together (less padding computed per step)
    label_column: str | None = None  #: CSV/JSONL column of class labels: a conditional model (for CFG)
    prompt_column: str | None = None  #: CSV/JSONL column of prompts: prompt/response pairs, only responses noised
    data_column: str | None = None  #: with prompt_column: the response column (default: text/ref)
    cfg_dropout: float = 0.1  #: with labels: share of examples trained without their label
    val_fraction: float = 0.1
    batch_size: int = 32
    # optimisation
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    ema_decay: float = 0.0  #: 0 disables EMA weights
    max_steps: int = 2000
    max_minutes: float | None = None  #: stop after this much wall time in this call (checkpoint kept, resumable)
    val_every: int = 500
    seed: int = 0
    # passed to lightning.Trainer as they are
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    precision: str | None = None
    accumulate_grad_batches: int = 1
    num_nodes: int = 1  #: machines in a multi-node run; devices counts the processes on each
    resume: bool = False
    #: fine-tune: start from this model's weights and tokenizer (a ctrlgen model, any Hugging Face masked LM,
    #: a LLaDA- or Dream-style checkpoint); its architecture and schedule replace the model fields above. New
    #: labels (CFG) start as the base's "no label", so training starts from the base model's predictions.
    init_from: str | None = None
    #: a fresh model's tokenizer: that of this ctrlgen model directory ("default": the shipped model) instead of
    #: one trained on the data (``vocab_size`` is then the tokenizer's). A model sharing a tokenizer shares its
    #: classifiers: with "default", ``Style("sentiment", ...)`` guides the new model with the shipped classifier.
    tokenizer: str | None = None
    trust_remote_code: bool = False  #: with init_from: let a LLaDA/Dream-style checkpoint's own code run
    progress: bool = True
    fast_dev_run: bool = False

    def __post_init__(self) -> None:
        """Refuse settings no run can use, by name, before any data is read or a Trainer is built."""
        whole = (
            "vocab_size",
            "d_model",
            "n_layers",
            "n_heads",
            "d_ff",
            "canvas_length",
            "max_canvas",
            "batch_size",
            "max_steps",
            "val_every",
            "accumulate_grad_batches",
            "num_nodes",
        )
        for name in whole:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"training option {name} must be a whole number >= 1, got {value!r}")
        for name in ("warmup_steps", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgumentError(f"training option {name} must be a whole number >= 0, got {value!r}")
        for name, lo, hi in (("dropout", 0, 1), ("cfg_dropout", 0, 1), ("val_fraction", 0, 1), ("ema_decay", 0, 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value < hi:
                raise InvalidArgumentError(f"training option {name} must be in [{lo}, {hi}), got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not 0 <= self.lr < float("inf"):
            raise InvalidArgumentError(f"training option lr must be a finite number >= 0, got {self.lr!r}")
        if self.max_padding is not None and (
            isinstance(self.max_padding, bool) or not isinstance(self.max_padding, int) or self.max_padding < 0
        ):
            raise InvalidArgumentError(
                f"training option max_padding must be a whole number >= 0, got {self.max_padding!r}"
            )
        if self.max_minutes is not None and (
            isinstance(self.max_minutes, bool) or not isinstance(self.max_minutes, int | float) or self.max_minutes <= 0
        ):
            raise InvalidArgumentError(f"training option max_minutes must be positive, got {self.max_minutes!r}")
        if self.process is not None:
            check_process_name(self.process)
        if self.process == "embedding":
            from .gaussian import GAUSSIAN_SCHEDULES

            if self.schedule is not None and self.schedule not in GAUSSIAN_SCHEDULES:
                raise InvalidArgumentError(
                    f"schedule {self.schedule!r} is not one of the embedding process's: {sorted(GAUSSIAN_SCHEDULES)}"
                )
            if self.init_from or self.objective != "diffusion":
                raise InvalidArgumentError(
                    "process 'embedding' trains ctrlgen's own denoiser from scratch: no init_from, no other objective"
                )
        elif self.schedule is not None:
            from .schedules import SCHEDULES

            if self.schedule not in SCHEDULES:
                raise InvalidArgumentError(f"unknown noise schedule {self.schedule!r}; known: {sorted(SCHEDULES)}")
        if self.objective not in ("diffusion", "autoregressive"):
            raise InvalidArgumentError(
                f"training option objective must be 'diffusion' or 'autoregressive', got {self.objective!r}"
            )
        if self.tokenizer is not None and self.init_from:
            raise InvalidArgumentError(
                "tokenizer and init_from both name the run's tokenizer: a fine-tune keeps its base model's"
            )
        if self.objective == "autoregressive" and (self.process not in (None, "masking") or self.init_from):
            raise InvalidArgumentError(
                "objective 'autoregressive' trains ctrlgen's own network from scratch: no process, no init_from"
            )
        if isinstance(self.data, str):
            self.data = [self.data]

    @classmethod
    def from_json(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidArgumentError(f"cannot read training config {path}: {e}") from None
        if not isinstance(values, dict):
            raise InvalidArgumentError(f"{path}: a training config is a JSON object of options")
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise InvalidArgumentError(f"{path}: unknown training options {sorted(unknown)}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _load_or_train_tokenizer(cfg: TrainConfig, out: Path, train_texts: list[str]):
    from transformers import PreTrainedTokenizerFast

    if cfg.resume and (out / "tokenizer.json").exists():
        return PreTrainedTokenizerFast.from_pretrained(out)
    if cfg.tokenizer is not None:
        return _borrowed_tokenizer(cfg.tokenizer)
    return train_tokenizer(train_texts, vocab_size=cfg.vocab_size)


def _borrowed_tokenizer(where: str):
    """The tokenizer of a ctrlgen model directory (``"default"``: the shipped model), checked for the special
    tokens a ctrlgen denoiser needs."""
    from transformers import PreTrainedTokenizerFast

    from .pipeline import DEFAULT_MODEL_DIR

    path = DEFAULT_MODEL_DIR if where == "default" else Path(where)
    if not (path / "tokenizer.json").is_file():
        raise ModelNotFoundError(f"tokenizer: no tokenizer.json in {str(path)!r} (give a ctrlgen model directory)")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    missing = [name for name in ("mask_token", "pad_token") if getattr(tokenizer, name) is None]
    if missing:
        raise InvalidArgumentError(f"tokenizer {str(path)!r} has no {' or '.join(missing)}: a denoiser needs both")
    return tokenizer


def _load_base(path: str, trust_remote_code: bool) -> Denoiser:
    try:
        return load_denoiser(path, trust_remote_code=trust_remote_code)
    except ModelNotFoundError as e:
        raise ModelNotFoundError(f"init_from: {e}") from None


def _build_denoiser(cfg: TrainConfig, out: Path, train_texts: list[str], label_names: list[str]) -> Denoiser:
    """The model to train: a fresh ctrlgen denoiser with a tokenizer trained on the data, or (``init_from``)
    a loaded one of any family."""
    if cfg.init_from:
        base = _load_base(cfg.init_from, cfg.trust_remote_code)
        if cfg.canvas_length > base.max_length:
            raise InvalidArgumentError(
                f"canvas_length {cfg.canvas_length} exceeds the base model's longest sequence "
                f"({base.max_length}) of init_from {cfg.init_from!r}"
            )
        # "a masked LM is a diffusion LM after fine-tuning": every family trains through the same seam
        return base.for_fine_tuning(label_names, cfg.dropout)
    tokenizer = _load_or_train_tokenizer(cfg, out, train_texts)
    model_cfg = DenoiserConfig(
        vocab_size=len(tokenizer),
        max_canvas=max(cfg.max_canvas, cfg.canvas_length),
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        d_ff=cfg.d_ff,
        dropout=cfg.dropout,
        mask_token_id=tokenizer.mask_token_id,
        end_token_id=tokenizer.pad_token_id,
        schedule=cfg.schedule or ("sqrt" if cfg.process == "embedding" else "loglinear"),
        process=cfg.process or "masking",
        tokenizer_hash=tokenizer_fingerprint(tokenizer),
        label_names=label_names,
        objective=cfg.objective,
    )
    return NativeDenoiser(DenoiserModel(model_cfg), tokenizer)


def _set_process(denoiser: Denoiser, name: str | None) -> None:
    """Record the forward process in the model's config, where a sampler reads it; a family whose config has
    no such field (the Hugging Face adapters) trains with masking only."""
    if name is None or name == denoiser.process_name:
        return
    if not isinstance(denoiser, NativeDenoiser):
        raise InvalidArgumentError(
            f"process {name!r}: only ctrlgen's own denoisers train with a process other than masking "
            f"(init_from is a {denoiser.family} model)"
        )
    denoiser.model.config.process = name
    denoiser.process_name = name


def train(cfg: TrainConfig) -> Path:
    """Train (or, with ``cfg.resume``, continue) a run and export it to ``cfg.out`` with ``save_pretrained``.

    Returns the output directory, which :func:`ctrlgen.load` reads.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    sources = [TextSource.parse(s) for s in cfg.data]
    label_names: list[str] = []
    train_labels = val_labels = train_prompts = val_prompts = None
    raw: list[str] | None = None
    prompts: list[str] | None = None
    if cfg.label_column and cfg.prompt_column:
        prompts, texts, raw = read_prompted_labelled(sources, cfg.prompt_column, cfg.label_column, cfg.data_column)
    elif cfg.label_column:
        texts, raw = read_labelled_texts(sources, cfg.label_column)
    elif cfg.prompt_column:
        prompts, texts = read_prompt_pairs(sources, cfg.prompt_column, cfg.data_column)
    if cfg.label_column or cfg.prompt_column:
        order = split_texts(list(range(len(texts))), cfg.val_fraction, cfg.seed)
        train_texts, val_texts = ([texts[i] for i in part] for part in order)
        if raw is not None:
            label_names = sorted(set(raw) - {""})
            index = {name: i for i, name in enumerate(label_names)} | {"": len(label_names)}  # "" -> no label
            train_labels, val_labels = ([index[raw[i]] for i in part] for part in order)
        if prompts is not None:
            train_prompts, val_prompts = ([prompts[i] for i in part] for part in order)
    else:
        texts = read_texts(sources)
        train_texts, val_texts = split_texts(texts, cfg.val_fraction, cfg.seed)

    tokenizer_texts = train_texts + [p for p in (train_prompts or []) if p]
    denoiser = _build_denoiser(cfg, out, tokenizer_texts, label_names)
    _set_process(denoiser, cfg.process)
    process = process_for(denoiser)
    system = DenoiserLightningModule(
        denoiser,
        process,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        cfg_dropout=cfg.cfg_dropout if label_names else 0.0,
    )
    dm = TextDataModule(
        train_texts,
        val_texts,
        denoiser.tokenizer,
        min(cfg.canvas_length, denoiser.max_length),
        cfg.batch_size,
        cfg.packing,
        cfg.seed,
        train_labels=train_labels,
        val_labels=val_labels,
        train_prompts=train_prompts,
        val_prompts=val_prompts,
        prefix_ids=denoiser.prefix_ids,
        end_id=denoiser.end_token_id,
        pad_id=denoiser.pad_token_id,
        max_padding=0 if cfg.objective == "autoregressive" else cfg.max_padding,
        bucket=cfg.bucket,
    )

    ckpt_dir = out / "checkpoints"
    resume_from = ckpt_dir / "last.ckpt"
    callbacks: list = [] if cfg.fast_dev_run else [LastCheckpointOnStop(resume_from)]
    callbacks += [
        PeriodicCheckpoint(
            dirpath=ckpt_dir,
            filename="step{step}",
            save_last=True,
            every_n_train_steps=cfg.val_every,
            save_top_k=1,
            monitor="val/loss",
            mode="min",
            auto_insert_metric_name=False,
            enable_version_counter=False,  # a new run in the same folder replaces last.ckpt, no last-v1.ckpt
        )
    ]
    if cfg.ema_decay > 0:
        callbacks.append(EMAWeightAveraging(decay=cfg.ema_decay))
    if cfg.max_minutes:
        callbacks.append(SessionTimer(duration={"minutes": cfg.max_minutes}, interval="step"))
    callbacks += progress_callbacks(cfg.progress and not cfg.fast_dev_run)
    resuming = cfg.resume and resume_from.exists()
    with quiet_lightning(), _trainer_options_checked():
        trainer = L.Trainer(
            accelerator=cfg.accelerator,
            devices=cfg.devices,
            num_nodes=cfg.num_nodes,
            strategy=cfg.strategy,
            precision=cfg.precision,
            max_steps=cfg.max_steps,
            accumulate_grad_batches=cfg.accumulate_grad_batches,
            val_check_interval=None if cfg.fast_dev_run else cfg.val_every,
            check_val_every_n_epoch=None,
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()],
            # a resumed run logs into the next version folder: Lightning's CSVLogger would replace metrics.csv
            logger=CSVLogger(out, name="logs", version=None if resuming else 0) if not cfg.fast_dev_run else False,
            enable_progress_bar=cfg.progress,
            enable_model_summary=cfg.progress,
            fast_dev_run=cfg.fast_dev_run,
            default_root_dir=out,
            num_sanity_val_steps=0,
            log_every_n_steps=10,
        )
    # The run folder describes its model from the start (export_checkpoint). One process writes it: under DDP
    # every rank runs this function (torchrun starts them at once), and the Trainer knows the global rank.
    if trainer.is_global_zero and not (cfg.resume and (out / "config.json").is_file()):
        denoiser.save_pretrained(out)
    if cfg.resume and not resume_from.exists():
        print(f"ctrlgen: no checkpoint at {resume_from}: starting a new run", file=sys.stderr)
    start = time.time()
    with quiet_lightning():
        trainer.fit(system, datamodule=dm, ckpt_path=str(resume_from) if cfg.resume and resume_from.exists() else None)
    elapsed = time.time() - start
    if cfg.fast_dev_run:
        return out
    with quiet_lightning():
        metrics = trainer.validate(system, datamodule=dm, verbose=False)[0] if dm.val_data else {}
    if trainer.is_global_zero:
        _export(denoiser, out)
        summary = {
            "global_step": int(trainer.global_step),
            "parameters": sum(p.numel() for p in denoiser.parameters()),
            "train_seconds_this_run": round(elapsed, 1),
            "val_loss": metrics.get("val/loss"),
            "val_ppl_bound": metrics.get("val/ppl_bound"),
            "n_train_docs": len(train_texts),
            "n_val_docs": len(val_texts),
            "config": dataclasses.asdict(cfg),
        }
        history = out / "training.json"
        runs = json.loads(history.read_text())["runs"] if history.exists() else []
        (out / "training.json").write_text(json.dumps({"latest": summary, "runs": [*runs, summary]}, indent=2))
    return out


@contextlib.contextmanager
def _trainer_options_checked():
    """A Trainer option Lightning refuses (``--strategy fsdp`` on CPU, more devices than the machine has)
    becomes an :class:`InvalidArgumentError` with Lightning's own reason, not a traceback."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except (MisconfigurationException, ValueError, RuntimeError) as e:
        raise InvalidArgumentError(f"Lightning refused the trainer options: {e}") from None


def _export(denoiser: Denoiser, out: Path) -> None:
    """``save_pretrained`` into a temporary folder, then move the files into ``out``."""
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".export-"))
    try:
        denoiser.save_pretrained(tmp)
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_checkpoint(
    checkpoint: str | Path, run_dir: str | Path, out: str | Path, trust_remote_code: bool = False
) -> Path:
    """Turn a Lightning checkpoint of a run into a model directory that :func:`ctrlgen.load` reads.

    ``run_dir`` supplies the run's starting model (config, tokenizer, architecture), whatever its family.
    With EMA enabled, the checkpoint's ``state_dict`` already holds the averaged weights (Lightning's
    ``WeightAveraging`` puts them there).
    """
    run_dir, out = Path(run_dir), Path(out)
    if not Path(checkpoint).is_file():
        raise ModelNotFoundError(f"no such checkpoint: {checkpoint}")
    if not run_dir.is_dir():
        raise ModelNotFoundError(f"no such run directory: {run_dir}")
    denoiser = load_denoiser(run_dir, trust_remote_code=trust_remote_code)
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        state = saved["state_dict"]
    except (OSError, RuntimeError, KeyError, EOFError) as e:
        raise ModelNotFoundError(f"{checkpoint} is not a readable training checkpoint: {e}") from None
    weights = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    missing, unexpected = denoiser.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ModelNotFoundError(
            f"{checkpoint} does not fit the model of {run_dir}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    out.mkdir(parents=True, exist_ok=True)
    _export(denoiser, out)
    _record_export(out, checkpoint, saved.get("global_step"))
    return out


def _record_export(out: Path, checkpoint: str | Path, global_step: int | None) -> None:
    """Say in ``out/training.json`` which checkpoint (and training step) the exported weights are, keeping what
    the file already records: a model exported from a mid-run checkpoint is otherwise indistinguishable."""
    path = out / "training.json"
    try:
        info = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        info = {}
    info["exported"] = {"checkpoint": str(checkpoint), "global_step": global_step}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(path)
