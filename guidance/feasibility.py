"""The any-order feasibility DP and joint constrained sampling over a canvas.

A canvas of ``L`` positions is read by a token automaton left to right, whatever order it was filled in.
With fixed positions (their token's class) and masked ones (any class):

* forward reachable sets ``F_i``: states the automaton can be in before position ``i``;
* backward live sets ``B_i``: states from which positions ``i..L-1`` can still lead to acceptance;
* a masked position may take class ``c`` iff some ``q`` in ``F_i`` has ``T[q, c]`` in ``B_{i+1}``; the canvas
  is completable iff the start state is live (``B_0``).

Several positions committed in one step are drawn jointly by forward filtering (every masked position
weighted by the model's own distribution aggregated per class) and backward sampling, so that the committed
canvas stays completable and the draw follows the model restricted to the language.

The loops over positions run in compiled kernels (:mod:`guidance._kernels`), over class-level edges of the
states actually reachable, one canvas per parallel iteration; this module converts to and from tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import _kernels as K
from .automaton import TokenAutomaton
from .categorical import draw_categorical

__all__ = ["DeviceAutomaton", "position_classes", "reachability", "allowed_classes", "joint_sample"]


@dataclass
class DeviceAutomaton:
    """A :class:`TokenAutomaton` laid out for the kernels: edge lists sorted by source and by destination,
    and the any-class successor relation."""

    automaton: TokenAutomaton
    table: np.ndarray
    out_ptr: np.ndarray
    out_cls: np.ndarray
    out_dst: np.ndarray
    in_ptr: np.ndarray
    in_src: np.ndarray
    in_cls: np.ndarray
    succ_ptr: np.ndarray
    succ_dst: np.ndarray
    pred_ptr: np.ndarray
    pred_src: np.ndarray
    accept: np.ndarray
    token_class: torch.Tensor  #: (V,) int64 on the device, -1 for tokens never allowed
    start: int

    @classmethod
    def build(cls, automaton: TokenAutomaton, device: torch.device | str = "cpu") -> DeviceAutomaton:
        s = automaton.num_states
        src, c, dst = automaton.edges()
        out_ptr, out_cls, out_dst = K.csr(src, (c, dst), s)
        in_ptr, in_src, in_cls = K.csr(dst, (src, c), s)
        pairs = np.unique(np.stack([src, dst], axis=1), axis=0) if len(src) else np.zeros((0, 2), np.int64)
        succ_ptr, succ_dst = K.csr(pairs[:, 0], (pairs[:, 1],), s)
        pred_ptr, pred_src = K.csr(pairs[:, 1], (pairs[:, 0],), s)
        return cls(
            automaton,
            np.ascontiguousarray(automaton.table),
            out_ptr,
            out_cls,
            out_dst,
            in_ptr,
            in_src,
            in_cls,
            succ_ptr,
            succ_dst,
            pred_ptr,
            pred_src,
            automaton.accept.astype(np.uint8),
            torch.from_numpy(automaton.token_class.astype("int64")).to(device),
            automaton.start,
        )

    @property
    def num_states(self) -> int:
        return self.automaton.num_states

    @property
    def num_classes(self) -> int:
        return self.automaton.num_classes


def position_classes(dev: DeviceAutomaton, tokens: torch.Tensor, masked: torch.Tensor) -> np.ndarray:
    """``(B, L)`` int64 for the kernels: ``-2`` masked, else the fixed token's class (``-1``: never allowed)."""
    cls = torch.where(masked, torch.full_like(tokens, K.MASKED), dev.token_class[tokens])
    return np.ascontiguousarray(cls.cpu().numpy())


def reachability(dev: DeviceAutomaton, tokens: torch.Tensor, masked: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Forward reachable and backward live state sets, each ``(B, L+1, S)`` uint8 (``[:, L]`` of the backward
    sets is the accepting states)."""
    return K.reach(
        position_classes(dev, tokens, masked),
        dev.table,
        dev.succ_ptr,
        dev.succ_dst,
        dev.pred_ptr,
        dev.pred_src,
        dev.start,
        dev.accept,
    )


def allowed_classes(
    dev: DeviceAutomaton, tokens: torch.Tensor, masked: torch.Tensor, fwd: np.ndarray, bwd: np.ndarray
) -> torch.Tensor:
    """``(B, L, C)`` bool on the canvas's device: the classes a masked position may take so that the canvas
    stays completable (the logit mask); all False at fixed positions."""
    out = K.allowed(
        position_classes(dev, tokens, masked), fwd, bwd, dev.out_ptr, dev.out_cls, dev.out_dst, dev.num_classes
    )
    return torch.from_numpy(out).to(tokens.device).bool()


def class_weights(dev: DeviceAutomaton, probs: torch.Tensor) -> torch.Tensor:
    """``(B, L, C)`` float64: the model's probability mass on each class (tokens outside every class dropped)."""
    b, n, v = probs.shape
    # tokens of no class go to one extra bucket, dropped after: no copy of the (B, L, V) distribution
    bucket = torch.where(dev.token_class >= 0, dev.token_class, dev.num_classes)
    out = torch.zeros(b, n, dev.num_classes + 1, dtype=torch.float64, device=probs.device)
    out.index_add_(2, bucket, probs.double())
    return out[..., :-1]


def joint_sample(
    dev: DeviceAutomaton,
    tokens: torch.Tensor,
    masked: torch.Tensor,
    commit: torch.Tensor,
    probs: torch.Tensor,
    allowed: torch.Tensor,
    generator: torch.Generator,
    most_probable: bool = False,
) -> torch.Tensor:
    """Draw the tokens at ``commit`` jointly so that the canvas stays completable.

    Forward filtering in float64 over the automaton (fixed positions deterministic, every masked position
    weighted by the model's class marginals), then backward sampling of a state path; each committed
    position's class comes from the path, and its token is drawn within the class from the model.
    ``most_probable`` uses max-product instead: the most probable valid class path.

    Parameters
    ----------
    tokens, masked, commit:
        ``(B, L)`` canvas, masked positions, positions to commit now (a subset of ``masked``).
    probs:
        ``(B, L, V)`` sampling distribution (already zero on tokens the mask forbids).
    allowed:
        ``(B, L, C)`` bool from :func:`allowed_classes`; a tiny floor on these classes keeps a valid
        completion drawable when the distribution gives none any mass (a nucleus cut can do that).

    Returns
    -------
    torch.Tensor
        ``(B, L)`` int64, the drawn tokens at ``commit`` and ``tokens`` elsewhere.
    """
    b, n = tokens.shape
    w = class_weights(dev, probs)
    w = torch.where(allowed, w + 1e-200, torch.zeros_like(w))
    uniforms = torch.rand(b, n + 1, generator=generator, dtype=torch.float64).numpy()
    path = K.joint_path(
        position_classes(dev, tokens, masked),
        np.ascontiguousarray(w.cpu().numpy()),
        dev.table,
        dev.out_ptr,
        dev.out_cls,
        dev.out_dst,
        dev.in_ptr,
        dev.in_src,
        dev.in_cls,
        dev.start,
        dev.accept,
        uniforms,
        most_probable,
    )
    path_cls = torch.from_numpy(path).to(tokens.device)
    rows, cols = commit.nonzero(as_tuple=True)
    out = tokens.clone()
    if rows.numel():
        # a token within each committed position's class, drawn from the model (argmax for max-product)
        in_class = dev.token_class.unsqueeze(0) == path_cls[rows, cols].unsqueeze(1)  # (K, V)
        tok_w = probs[rows, cols].double() * in_class
        tok_w = torch.where(tok_w.sum(-1, keepdim=True) > 0, tok_w, in_class.double())
        drawn = tok_w.argmax(-1) if most_probable else draw_categorical(tok_w, generator)
        out[rows, cols] = drawn
    return out
