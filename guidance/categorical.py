"""Categorical draws and sampling distributions in float64, and :class:`MaskedRows`: the rows of a ``(B, L, V)``
tensor at a canvas's masked positions, which is all a reverse step reads.

A float32 inverse-CDF draw can land on a zero-weight candidate when cumulative sums round; in float64, with
``searchsorted(..., right=True)``, a candidate whose weight is exactly zero occupies an empty interval of the
CDF and is never returned.

Every function here works row by row over the last dimension, so computing it on the masked rows only gives,
on those rows, exactly (bit for bit) what computing it on the whole ``(B, L, V)`` tensor gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["sampling_probs", "draw_categorical", "draw_from_uniforms", "MaskedRows"]


def sampling_probs(
    log_probs: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0, scratch: torch.Tensor | None = None
) -> torch.Tensor:
    """``(..., V)`` float64 probabilities after temperature and nucleus (top-p) truncation.

    A row with no finite entry (every token forbidden) comes back all zero, which callers treat as an error.
    ``scratch``: a float64 tensor of ``log_probs``' shape to hold the intermediate logits (a caller that reuses
    one across steps saves a fresh allocation, whose page faults cost more than the arithmetic); same result.
    """
    if scratch is not None:
        logits = scratch.copy_(log_probs)
        if temperature != 1.0:
            logits.div_(temperature)
    else:
        logits = log_probs.double()
        if temperature != 1.0:  # dividing by 1 is exact: skipped, same bits
            logits = logits / temperature
    # a finite maximum in every row (one cheap pass; the float64 copy is exact, so the input's will do) means
    # a finite entry in every row: nothing to zero, and softmax * 1.0 is softmax, bit for bit
    if bool(torch.isfinite((log_probs if temperature == 1.0 else logits).amax(-1)).all()):
        probs = torch.softmax(logits, dim=-1)
    else:
        finite = torch.isfinite(logits).any(-1, keepdim=True)
        logits = torch.where(finite, logits, torch.zeros_like(logits))
        probs = torch.softmax(logits, dim=-1) * finite
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p
        # keep the smallest prefix whose mass reaches top_p (the first token is always kept)
        sorted_p = torch.where(before < top_p, sorted_p, torch.zeros_like(sorted_p))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-300)
    return probs


def draw_from_uniforms(
    probs: torch.Tensor, uniforms: torch.Tensor, scratch: torch.Tensor | None = None
) -> torch.Tensor:
    """The inverse-CDF draw of :func:`draw_categorical` with given ``(..., 1)`` float64 uniforms: one index per
    row of ``(..., V)`` non-negative weights (rows of zero total weight return index 0). ``scratch``: a float64
    tensor of ``probs``' shape to hold the CDF (see :func:`sampling_probs`)."""
    weights = probs.double()
    cdf = weights.cumsum(-1) if scratch is None else torch.cumsum(weights, -1, out=scratch)
    total = cdf[..., -1:]
    idx = torch.searchsorted(cdf, uniforms.to(weights.device) * total, right=True)
    return idx.clamp_max(weights.shape[-1] - 1).squeeze(-1)


def draw_categorical(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row of ``(..., V)`` non-negative weights (need not sum to 1), drawn by inverse CDF in
    float64 with uniforms from ``generator`` (a CPU generator, so a seed gives the same draws on any device).
    Rows of zero total weight return index 0; callers mask them out."""
    u = torch.rand(probs.shape[:-1] + (1,), generator=generator, dtype=torch.float64)
    return draw_from_uniforms(probs, u)


def _take_rows(
    dense: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``dense[rows, cols]`` (a copy, into ``out`` if given), by whole-row ``index_select`` when ``dense`` is
    contiguous."""
    if dense.is_contiguous():
        b, n, v = dense.shape
        if out is not None and out.dtype == dense.dtype and out.shape == (len(rows), v):
            return torch.index_select(dense.view(b * n, v), 0, rows * n + cols, out=out)
        return dense.view(b * n, v).index_select(0, rows * n + cols)
    return dense[rows, cols]


@dataclass
class MaskedRows:
    """The rows of a ``(B, L, V)`` tensor at the masked positions of a canvas, in ``masked.nonzero()`` order.

    A reverse step only reads the distribution at masked positions; working on these ``(M, V)`` rows makes
    its cost scale with the masked positions instead of ``B * L * V``. The reverse loop of
    :class:`ctrlgen.sampling.Sampler` holds the guided log-probabilities this way between guides that work on
    rows (see :meth:`ctrlgen.guidance.ConstraintGuide.process_logits`), and only builds the dense tensor when
    someone reads ``state.log_probs``.

    Attributes
    ----------
    rows, cols:
        ``(M,)`` int64 positions.
    values:
        ``(M, V)`` the rows themselves, a copy (made by :meth:`gather`; the reverse loop gathers into a buffer
        it reuses from step to step, so its rows hold for the current step only). A guide that received them
        through ``state.masked_rows`` may change them in place.
    base:
        The ``(B, L, V)`` tensor that holds the other rows (never written), a zero-argument callable that
        builds it, or None when there is none (then :meth:`dense` cannot be called).
    """

    rows: torch.Tensor
    cols: torch.Tensor
    values: torch.Tensor
    base: torch.Tensor | Callable[[], torch.Tensor] | None = None

    @classmethod
    def gather(
        cls,
        dense: torch.Tensor,
        masked: torch.Tensor,
        out: Callable[[int, int, torch.dtype], torch.Tensor] | None = None,
    ) -> MaskedRows:
        """The rows of ``dense`` (``(B, L, V)``) where ``masked`` (``(B, L)`` bool), copied (into ``out(M, V,
        dtype)`` when given: a buffer the caller reuses)."""
        rows, cols = masked.nonzero(as_tuple=True)
        buffer = None if out is None else out(len(rows), dense.shape[-1], dense.dtype)
        return cls(rows, cols, _take_rows(dense, rows, cols, buffer), dense)

    def __len__(self) -> int:
        return len(self.rows)

    def dense(self) -> torch.Tensor:
        """A new ``(B, L, V)`` tensor: ``base`` with these rows written in."""
        if self.base is None:
            raise ValueError("these rows have no base tensor to complete them")
        out = self.base() if callable(self.base) else self.base.clone()
        if len(self):
            if out.is_contiguous():
                b, n, v = out.shape
                out.view(b * n, v).index_copy_(0, self.rows * n + self.cols, self.values.to(out.dtype))
            else:
                out[self.rows, self.cols] = self.values.to(out.dtype)
        return out

    def locate(self, start: int, stop: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Which of these rows lie at positions ``[start, stop)``: their indices among these rows (None when
        that is all of them), and their positions with columns counted from ``start``."""
        inside = (self.cols >= start) & (self.cols < stop)
        if bool(inside.all()):
            return None, self.rows, self.cols - start
        k = inside.nonzero().squeeze(1)
        return k, self.rows[k], self.cols[k] - start

    def within(self, start: int, stop: int) -> MaskedRows:
        """The rows at positions ``[start, stop)``, columns counted from ``start``, no base (they share
        ``values`` when that is all of them, else hold a copy of theirs)."""
        k, rows, cols = self.locate(start, stop)
        return MaskedRows(rows, cols, self.values if k is None else self.values.index_select(0, k))

    def index(self, shape: tuple[int, int]) -> torch.Tensor:
        """``(B, L)`` int64: each position's row among these, -1 where it has none."""
        out = torch.full(shape, -1, dtype=torch.long, device=self.rows.device)
        out[self.rows, self.cols] = torch.arange(len(self), device=self.rows.device)
        return out
