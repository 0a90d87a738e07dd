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

All work is over class-level edges ``(q, c, q')`` and batched over canvases: one ``index_add`` per position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .automaton import TokenAutomaton
from .categorical import draw_categorical

__all__ = ["DeviceAutomaton", "reachability", "allowed_classes", "joint_sample"]


@dataclass
class DeviceAutomaton:
    """A :class:`TokenAutomaton` as tensors on one device."""

    automaton: TokenAutomaton
    src: torch.Tensor  #: (E,) int64
    cls: torch.Tensor  #: (E,) int64
    dst: torch.Tensor  #: (E,) int64
    token_class: torch.Tensor  #: (V,) int64, -1 for tokens never allowed
    accept: torch.Tensor  #: (S,) bool
    start: int

    @classmethod
    def build(cls, automaton: TokenAutomaton, device: torch.device | str = "cpu") -> DeviceAutomaton:
        src, c, dst = (torch.from_numpy(x).to(device) for x in automaton.edges())
        return cls(
            automaton,
            src,
            c,
            dst,
            torch.from_numpy(automaton.token_class.astype("int64")).to(device),
            torch.from_numpy(automaton.accept).to(device),
            automaton.start,
        )

    @property
    def num_states(self) -> int:
        return self.automaton.num_states

    @property
    def num_classes(self) -> int:
        return self.automaton.num_classes


def _position_weights(dev: DeviceAutomaton, tokens: torch.Tensor, masked: torch.Tensor, masked_weights: torch.Tensor):
    """(B, L, C) weights: ``masked_weights`` at masked positions, a one-hot of the token's class elsewhere
    (a zero row when the fixed token is not allowed anywhere)."""
    fixed_cls = dev.token_class[tokens]  # (B, L)
    onehot = torch.zeros_like(masked_weights)
    onehot.scatter_(-1, fixed_cls.clamp_min(0).unsqueeze(-1), 1.0)
    onehot = onehot * (fixed_cls >= 0).unsqueeze(-1)
    return torch.where(masked.unsqueeze(-1), masked_weights, onehot)


def reachability(dev: DeviceAutomaton, tokens: torch.Tensor, masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward reachable and backward live state sets.

    Parameters
    ----------
    tokens, masked:
        ``(B, L)`` canvas and its masked positions.

    Returns
    -------
    (F, Bk):
        ``(B, L+1, S)`` float32 0/1 tensors: ``F[:, i]`` the states before position ``i``, ``Bk[:, i]`` the live
        states before position ``i`` (``Bk[:, L]`` = accepting states).
    """
    b, n = tokens.shape
    s = dev.num_states
    w = _position_weights(dev, tokens, masked, torch.ones(b, n, dev.num_classes, device=tokens.device)) > 0
    w = w.float()
    fwd = torch.zeros(b, n + 1, s, device=tokens.device)
    bwd = torch.zeros(b, n + 1, s, device=tokens.device)
    fwd[:, 0, dev.start] = 1.0
    bwd[:, n] = dev.accept.float()
    for i in range(n):
        flow = fwd[:, i, dev.src] * w[:, i, dev.cls]  # (B, E)
        fwd[:, i + 1].index_add_(1, dev.dst, flow)
        fwd[:, i + 1] = (fwd[:, i + 1] > 0).float()
    for i in range(n - 1, -1, -1):
        flow = bwd[:, i + 1, dev.dst] * w[:, i, dev.cls]
        bwd[:, i].index_add_(1, dev.src, flow)
        bwd[:, i] = (bwd[:, i] > 0).float()
    return fwd, bwd


def allowed_classes(dev: DeviceAutomaton, fwd: torch.Tensor, bwd: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """``(B, L, C)`` bool: classes a position may take so that the canvas stays completable (the logit mask)."""
    b, n1, _ = fwd.shape
    n = n1 - 1
    out = torch.zeros(b, n, dev.num_classes, device=fwd.device)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        through = fwd[:, lo:hi, dev.src] * bwd[:, lo + 1 : hi + 1, dev.dst]  # (B, l, E)
        out[:, lo:hi].index_add_(2, dev.cls, through)
    return out > 0


def class_weights(dev: DeviceAutomaton, probs: torch.Tensor) -> torch.Tensor:
    """``(B, L, C)`` float64: the model's probability mass on each class (tokens outside every class dropped)."""
    b, n, v = probs.shape
    keep = dev.token_class >= 0
    out = torch.zeros(b, n, dev.num_classes, dtype=torch.float64, device=probs.device)
    out.index_add_(2, dev.token_class[keep], probs[..., keep].double())
    return out


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
        ``(B, L, C)`` bool from :func:`allowed_classes`; used as a floor when the distribution gives no mass
        to any valid completion (a nucleus cut can do that).

    Returns
    -------
    torch.Tensor
        ``(B, L)`` int64, the drawn tokens at ``commit`` and ``tokens`` elsewhere.
    """
    b, n = tokens.shape
    device = tokens.device
    w_cls = class_weights(dev, probs)
    w_cls = torch.where(allowed, w_cls, torch.zeros_like(w_cls))
    # a tiny floor on allowed classes: a row whose distribution leaves no valid completion still gets one
    floor = allowed.double() * 1e-200
    w = _position_weights(dev, tokens, masked, w_cls + floor)
    alphas = torch.zeros(b, n + 1, dev.num_states, dtype=torch.float64, device=device)
    alphas[:, 0, dev.start] = 1.0
    for i in range(n):
        flow = alphas[:, i, dev.src] * w[:, i, dev.cls]
        nxt = torch.zeros(b, dev.num_states, dtype=torch.float64, device=device)
        if most_probable:
            nxt.scatter_reduce_(1, dev.dst.expand(b, -1), flow, reduce="amax")
        else:
            nxt.index_add_(1, dev.dst, flow)
        alphas[:, i + 1] = nxt / nxt.amax(-1, keepdim=True).clamp_min(1e-300)  # rescale against underflow
    final = alphas[:, n] * dev.accept.double()
    state = final.argmax(-1) if most_probable else draw_categorical(final, generator)
    path_cls = torch.zeros(b, n, dtype=torch.long, device=device)
    for i in range(n - 1, -1, -1):
        weight = alphas[:, i, dev.src] * w[:, i, dev.cls] * (dev.dst.unsqueeze(0) == state.unsqueeze(1))
        edge = weight.argmax(-1) if most_probable else draw_categorical(weight, generator)
        path_cls[:, i] = dev.cls[edge]
        state = dev.src[edge]
    # a token within each committed position's class, drawn from the model (argmax for max-product)
    in_class = dev.token_class.view(1, 1, -1) == path_cls.unsqueeze(-1)  # (B, L, V)
    tok_w = probs.double() * in_class
    empty = tok_w.sum(-1, keepdim=True) <= 0
    tok_w = torch.where(empty, in_class.double(), tok_w)
    drawn = tok_w.argmax(-1) if most_probable else draw_categorical(tok_w, generator)
    return torch.where(commit, drawn, tokens)
