"""The denoising trajectory: the canvas at every reverse step, and when each position was filled.

A diffusion model writes in any order; seeing that order (the JSON braces and keys first, values later; the
template's slots filled around its fixed words) is the quickest way to understand what a sampler and a
constraint did. ``generate(..., trace=True)`` records one :class:`Trajectory` per text in
``lm.last_report.trajectories``; :func:`plot_trajectory` draws one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .guidance.interface import Guide, StepOutput

__all__ = ["Trajectory", "TraceRecorder", "plot_trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """One text's canvas over the reverse process.

    Attributes
    ----------
    canvases:
        ``(steps + 1, L)`` int64: the canvas before the first step, then after each step (masked positions
        hold ``mask_token_id``).
    mask_token_id:
        The mask token.
    """

    canvases: torch.Tensor
    mask_token_id: int

    @property
    def steps(self) -> int:
        return self.canvases.shape[0] - 1

    @property
    def final(self) -> list[int]:
        return self.canvases[-1].tolist()

    def fill_steps(self) -> list[int]:
        """For each position, the step after which it holds its final token for good (1-based: 1 = filled by
        the first step); 0 for a position fixed from the start (a template literal), never masked."""
        masked = self.canvases == self.mask_token_id
        final = self.canvases[-1]
        settled = ~masked & (self.canvases == final)
        # the last step at which the position was masked or held another token, plus one
        unsettled = ~settled
        out = []
        for j in range(self.canvases.shape[1]):
            rows = torch.nonzero(unsettled[:, j]).flatten()
            out.append(0 if rows.numel() == 0 else int(rows.max()) + 1)
        return out

    def order(self) -> list[int]:
        """Positions in the order they were filled (ties by position); fixed positions first."""
        steps = self.fill_steps()
        return sorted(range(len(steps)), key=lambda j: (steps[j], j))


class TraceRecorder(Guide):
    """A guide that changes nothing and keeps a copy of the canvas after every step (all rows of a batch)."""

    def __init__(self) -> None:
        self.runs: list[list[torch.Tensor]] = []

    def prepare(self, tokens: torch.Tensor, masked: torch.Tensor) -> None:
        self.runs.append([tokens.detach().cpu().clone()])

    def update(self, output: StepOutput) -> None:
        self.runs[-1].append(output.tokens.detach().cpu().clone())

    def trajectories(self, mask_token_id: int) -> list[Trajectory]:
        """One per row of the batch. A canvas sampled in several windows (a long document, canvas by canvas)
        yields one run per window: they are put side by side, each held at its last canvas once it is done."""
        if not self.runs:
            return []
        steps = max(len(r) for r in self.runs)
        padded = [torch.stack(r + [r[-1]] * (steps - len(r))) for r in self.runs]  # (steps, B, L_w)
        joined = torch.cat(padded, dim=2)
        return [Trajectory(joined[:, i].clone(), mask_token_id) for i in range(joined.shape[1])]


def plot_trajectory(trajectory: Trajectory, tokenizer, ax=None, title: str | None = None, max_positions: int = 64):
    """Draw when each position was filled: a step-by-position grid (dark = still masked), each column labelled
    with its final token, so the order in which the text was written reads at a glance. Needs matplotlib."""
    import matplotlib.pyplot as plt
    import numpy as np

    canvases = trajectory.canvases[:, :max_positions]
    masked = (canvases == trajectory.mask_token_id).numpy()
    steps = np.array(trajectory.fill_steps()[:max_positions])
    grid = np.where(masked, np.nan, np.broadcast_to(steps, masked.shape).astype(float))
    if ax is None:
        width = max(6.0, 0.28 * canvases.shape[1])
        _, ax = plt.subplots(figsize=(width, 4.5))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#202020")
    ax.imshow(grid, aspect="auto", cmap=cmap, interpolation="nearest", origin="upper")
    labels = [tokenizer.decode([t]).replace("\n", "\\n") or "·" for t in canvases[-1].tolist()]
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_ylabel("reverse step")
    ax.set_xlabel("position (final token); colour = step it was filled, dark = masked")
    if title:
        ax.set_title(title)
    return ax
