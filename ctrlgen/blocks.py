"""Texts longer than one canvas, written canvas after canvas, left to right (DiffusionGemma's block diffusion).

A model with a fixed canvas (``Denoiser.max_canvas``) denoises one canvas at a time; each finished canvas joins
the prefix the next one is conditioned on. Hard constraints hold over the whole text: the constraint guide of the
full length is cut to each window (:meth:`guidance.ConstraintGuide.window`), so the automaton reads the earlier
canvases' tokens first, and the later canvases' positions count as free. What a canvas commits therefore always
leaves the rest of the language reachable within the positions that remain (or the end), and ``Length`` counts
across canvases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .guidance import ConstraintGuide, Guide

__all__ = ["sample_canvas_by_canvas"]


def sample_canvas_by_canvas(
    canvas: torch.Tensor,
    block: int,
    prefixes: Sequence[list[int]],
    constraint: ConstraintGuide | None,
    first_guides: Sequence[Guide],
    guides: Sequence[Guide],
    sample: Callable[[torch.Tensor, list[Guide], list[list[int]], int], torch.Tensor],
    end_ids: Sequence[int],
    pad_id: int,
) -> torch.Tensor:
    """Fill ``canvas`` (``(B, T)``, free positions holding the placeholder) ``block`` positions at a time.

    ``prefixes``: each row's prompt ids (one list for all rows, or one per row); ``sample(window, guides,
    row_prefixes, j)`` runs the sampler on the ``j``-th window; ``first_guides`` apply to the first window
    only (they concern the text's first token). Once every row has ended, the remaining canvases are padding.
    """
    b, total = canvas.shape
    rows = [list(prefixes[0])] * b if len(prefixes) == 1 else [list(p) for p in prefixes]
    done = canvas[:, :0]
    ends = torch.tensor(list(end_ids), dtype=canvas.dtype)
    for j, start in enumerate(range(0, total, block)):
        stop = min(start + block, total)
        if start and bool(torch.isin(done, ends).any(-1).all()):
            rest = torch.full((b, total - start), pad_id, dtype=canvas.dtype)
            return torch.cat([done, rest], dim=1)
        window_guides = [] if constraint is None else [constraint.window(start, stop, done)]
        window_guides += list(first_guides) if j == 0 else []
        window_guides += list(guides)
        row_prefixes = [rows[r] + done[r].tolist() for r in range(b)]
        out = sample(canvas[:, start:stop].clone(), window_guides, row_prefixes, j)
        done = torch.cat([done, out.to(done.device)], dim=1)
    return done
