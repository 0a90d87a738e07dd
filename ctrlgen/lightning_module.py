"""The Lightning "system" that trains a denoiser: loss, logging and optimisation, nothing about sampling."""

from __future__ import annotations

import math

import lightning as L
import torch
from torchmetrics import MeanMetric

from .processes import ForwardProcess

__all__ = ["DenoiserLightningModule"]


class DenoiserLightningModule(L.LightningModule):
    """Trains an injected denoiser on its forward process's NELBO (masking or uniform).

    Parameters
    ----------
    model:
        The denoiser: any :class:`~ctrlgen.denoisers.Denoiser` (ctrlgen's own, a Hugging Face masked LM,
        a LLaDA- or Dream-style model), seen only through that protocol.
    process:
        The forward process whose NELBO is minimised.
    lr, weight_decay, warmup_steps:
        AdamW with linear warm-up, then cosine decay to 10% of ``lr`` at the trainer's ``max_steps``.
    cfg_dropout:
        For a class-conditional denoiser: the probability that a training example's label is replaced by
        "no label", so the same network learns the unconditional model classifier-free guidance needs.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        process: ForwardProcess,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_steps: int = 200,
        betas: tuple[float, float] = (0.9, 0.98),
        cfg_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.process = process
        self.save_hyperparameters(ignore=["model", "process"])
        self.val_nelbo = MeanMetric()

    def _labels(self, batch: dict[str, torch.Tensor], drop: bool) -> torch.Tensor | None:
        labels = batch.get("labels")
        if labels is None or not drop or self.hparams.cfg_dropout <= 0:
            return labels
        null = len(self.model.label_names)
        dropped = torch.rand(labels.shape, device=labels.device) < self.hparams.cfg_dropout
        return torch.where(dropped, torch.full_like(labels, null), labels)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.process.loss(
            self.model, batch["input_ids"], labels=self._labels(batch, drop=True), noisable=batch.get("noisable")
        )
        self.log("train/loss", out.loss, prog_bar=True)
        self.log("train/nll_masked", out.nll_masked)
        return out.loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # A generator seeded by the batch index: every validation pass scores the same noise, so the
        # figures of two checkpoints compare like for like.
        g = torch.Generator().manual_seed(10_000 + batch_idx)
        labels = self._labels(batch, drop=False)
        noisable = batch.get("noisable")
        # the variational bound where the training loss is not one (the embedding process trains on L_simple)
        score = getattr(self.process, "bound", self.process.loss)
        losses = [score(self.model, batch["input_ids"], g, labels, noisable).loss for _ in range(2)]
        weight = batch["input_ids"].numel() if noisable is None else int(noisable.sum())
        self.val_nelbo.update(torch.stack(losses).mean(), weight=max(weight, 1))

    def on_validation_epoch_end(self) -> None:
        loss = self.val_nelbo.compute()
        self.val_nelbo.reset()
        self.log("val/loss", loss, prog_bar=True)
        # The NELBO per token bounds the negative log-likelihood per token, so its exp bounds the perplexity.
        self.log("val/ppl_bound", torch.exp(loss.clamp(max=30)), prog_bar=True)

    def configure_optimizers(self):
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (decay if p.ndim >= 2 and "embed" not in name else no_decay).append(p)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hparams.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.lr,
            betas=self.hparams.betas,
        )
        total = max(int(self.trainer.max_steps), 1) if self.trainer.max_steps and self.trainer.max_steps > 0 else None
        warmup = self.hparams.warmup_steps

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / max(warmup, 1)
            if total is None or total <= warmup:
                return 1.0
            progress = min((step - warmup) / (total - warmup), 1.0)
            return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
