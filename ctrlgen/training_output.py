"""What a training run prints: one bar of optimizer steps out of ``max_steps``, and none of Lightning's
notices that say nothing about the run (accelerator lines, a logger advertisement, deprecations raised inside
Lightning itself, the ``weights_only`` default of checkpoint loading)."""

from __future__ import annotations

import contextlib
import logging
import warnings

from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

__all__ = ["StepsProgressBar", "quiet_lightning", "progress_callbacks"]

#: Warnings Lightning raises about itself or its defaults, not about the run.
_NOISE = (
    r".*isinstance\(treespec, LeafSpec\).*",
    r".*`weights_only` was not set.*",
    r".*does not have many workers.*",
    r".*litlogger.*",
)


class StepsProgressBar(RichProgressBar):
    """One bar for the whole run, in optimizer steps out of ``max_steps``.

    Lightning's own bar counts the batches of an epoch and, when only ``max_steps`` bounds a run, titles it
    "Epoch 0/-2"; runs here are bounded by steps, and several short epochs would each restart the bar."""

    @property
    def total_train_batches(self) -> int | float:
        steps = self.trainer.max_steps
        return steps if steps and steps > 0 else super().total_train_batches

    def _get_train_description(self, current_epoch: int) -> str:
        return "training steps"

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.train_progress_bar_id is None:  # one bar for every epoch
            super().on_train_epoch_start(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()


def progress_callbacks(show: bool) -> list:
    """The progress bar to add to a Trainer's callbacks (none when hidden, or without rich: Lightning's own)."""
    return [StepsProgressBar()] if show and _RICH_AVAILABLE else []


@contextlib.contextmanager
def quiet_lightning():
    """Lightning's informational notices and self-referential warnings off for the block, restored after."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in _NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
