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

from ..constraints.errors import UnsatisfiableConstraintError
from . import _kernels as K
from .automaton import TokenAutomaton
from .categorical import MaskedRows, draw_from_uniforms

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
    token_bucket: torch.Tensor  #: (V,) int64 on the device: the token's class, ``num_classes`` if never allowed
    bucket: np.ndarray  #: ``token_bucket`` for the kernels
    class_ptr: np.ndarray  #: (C + 2,) the tokens of bucket ``c`` are ``class_tok[class_ptr[c]:class_ptr[c + 1]]``
    class_tok: np.ndarray  #: (V,) token ids by bucket, ascending within each
    start: int

    @classmethod
    def build(cls, automaton: TokenAutomaton, device: torch.device | str = "cpu") -> DeviceAutomaton:
        s = automaton.num_states
        bucket = automaton.token_class.astype(np.int64)
        bucket = np.where(bucket >= 0, bucket, automaton.num_classes)
        class_ptr, class_tok = K.csr(bucket, (np.arange(len(bucket), dtype=np.int64),), automaton.num_classes + 1)
        src, c, dst = automaton.edges()
        out_ptr, out_cls, out_dst = K.csr(src, (c, dst), s)
        in_ptr, in_src, in_cls = K.csr(dst, (src, c), s)
        pair_src, pair_dst = automaton.successor_pairs()
        succ_ptr, succ_dst = K.csr(pair_src, (pair_dst,), s)
        pred_ptr, pred_src = K.csr(pair_dst, (pair_src,), s)
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
            torch.from_numpy(bucket).to(device),
            bucket,
            class_ptr,
            class_tok,
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


def _kernel_ready(t: torch.Tensor) -> bool:
    """A 2-D CPU tensor the compiled kernels can read and write in place (through a numpy view)."""
    return t.device.type == "cpu" and t.dim() == 2 and t.is_contiguous() and t.dtype in (torch.float32, torch.float64)


def class_weights(dev: DeviceAutomaton, probs: torch.Tensor) -> torch.Tensor:
    """``(..., C)`` float64: the model's probability mass on each class (tokens outside every class dropped), for
    each row of ``(..., V)`` probabilities (the whole ``(B, L, V)`` distribution, or the ``(M, V)`` rows of the
    masked positions: the same sums, row for row, summed in token order either way)."""
    if probs.dtype == torch.float64 and _kernel_ready(probs):
        return torch.from_numpy(K.class_sums(probs.numpy(), dev.bucket, dev.num_classes))
    # tokens of no class go to one extra bucket, dropped after: no copy of the distribution
    out = torch.zeros(*probs.shape[:-1], dev.num_classes + 1, dtype=torch.float64, device=probs.device)
    out.index_add_(probs.dim() - 1, dev.token_bucket, probs.double())
    return out[..., :-1]


def mask_vocabulary(
    dev: DeviceAutomaton, values: torch.Tensor, allowed: torch.Tensor, sel: torch.Tensor | None
) -> None:
    """In place: ``-inf`` on every token of ``values[sel]`` (``(M, V)`` log-probability rows; ``sel`` None: all)
    whose class the matching row of ``allowed`` (``(K, C)`` bool) does not hold, and on tokens of no class."""
    if not len(allowed):
        return
    keep = torch.cat([allowed, torch.zeros_like(allowed[:, :1])], dim=1)  # (K, C + 1): no-class bucket last
    if _kernel_ready(values):
        idx = torch.arange(len(values)) if sel is None else sel
        K.mask_rows(values.numpy(), idx.numpy(), keep.to(torch.uint8).numpy(), dev.bucket)
        return
    forbidden = ~keep.gather(1, dev.token_bucket.expand(len(keep), -1))  # (K, V)
    if sel is None:
        values.masked_fill_(forbidden, float("-inf"))
    else:
        values.index_copy_(0, sel, values.index_select(0, sel).masked_fill_(forbidden, float("-inf")))


def joint_sample(
    dev: DeviceAutomaton,
    tokens: torch.Tensor,
    masked: torch.Tensor,
    commit: torch.Tensor,
    probs: torch.Tensor | MaskedRows,
    allowed: torch.Tensor,
    generator: torch.Generator,
    most_probable: bool = False,
    tail: int = 0,
    tail_live: np.ndarray | None = None,
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
        ``(B, L, V)`` sampling distribution (already zero on tokens the mask forbids), or its rows at the
        masked positions (:class:`MaskedRows`, columns counted from the start of ``tokens``): only those are
        read, so the vocabulary-wide work scales with the masked positions.
    allowed:
        ``(B, L, C)`` bool from :func:`allowed_classes`; a tiny floor on these classes keeps a valid
        completion drawable when the distribution gives none any mass (a nucleus cut can do that).
    tail:
        How many of the last positions lie on later canvases (free, and not yet predicted by the model). They
        count yes or no: a path through the rest is weighted by the model alone, and kept when some text of
        exactly ``tail`` more tokens completes it. Weighting each way through the tail alike would count
        completions, and favour states with many of them: a document would rarely end on its first canvas.
    tail_live:
        ``(S,)`` uint8, the states from which ``tail`` free positions can reach acceptance, when the caller
        has them already (the backward sets of :func:`reachability` at the tail's first column); else worked
        out here.

    Returns
    -------
    torch.Tensor
        ``(B, L)`` int64, the drawn tokens at ``commit`` and ``tokens`` elsewhere.
    """
    b, n = tokens.shape
    if not isinstance(probs, MaskedRows):
        probs = MaskedRows.gather(probs, masked | commit)
    # class marginals at the masked positions only (the kernel reads no other); zero elsewhere, as the
    # all-False rows of ``allowed`` at fixed positions make them anyway
    w = torch.zeros(b, n, dev.num_classes, dtype=torch.float64, device=tokens.device)
    if len(probs):
        w[probs.rows, probs.cols] = class_weights(dev, probs.values)
    w = torch.where(allowed, w + 1e-200, torch.zeros_like(w))
    unseen = masked.clone()  # free positions the model has not predicted (a later canvas): every class alike
    unseen[probs.rows, probs.cols] = False
    if bool(unseen.any()):
        w = torch.where(unseen[..., None] & allowed, torch.ones_like(w), w)
    uniforms = torch.rand(b, n + 1, generator=generator, dtype=torch.float64).numpy()
    seen, accept = n, dev.accept
    if tail:
        if not (0 < tail <= n and bool(masked[:, n - tail :].all())):
            raise ValueError(f"joint_sample: the last {tail} positions must all be free")
        seen = n - tail
        if tail_live is None:
            free = torch.ones(1, tail, dtype=torch.bool)
            tail_live = reachability(dev, torch.zeros(1, tail, dtype=torch.long), free)[1][0, 0]
        accept = np.ascontiguousarray(tail_live)
    path = K.joint_path(
        position_classes(dev, tokens[:, :seen], masked[:, :seen]),
        np.ascontiguousarray(w[:, :seen].cpu().numpy()),
        dev.table,
        dev.out_ptr,
        dev.out_cls,
        dev.out_dst,
        dev.in_ptr,
        dev.in_src,
        dev.in_cls,
        dev.start,
        accept,
        np.ascontiguousarray(uniforms[:, : seen + 1]),
        most_probable,
    )
    path_cls = torch.from_numpy(path).to(tokens.device)
    if seen < n:
        path_cls = torch.cat([path_cls, path_cls.new_full((b, n - seen), -1)], dim=1)
    rows, cols = commit.nonzero(as_tuple=True)
    out = tokens.clone()
    if rows.numel():
        # a token within each committed position's class, drawn from the model (argmax for max-product)
        k = probs.index((b, n))[rows, cols]
        if bool((k < 0).any()):
            raise ValueError("joint_sample: probs has no row for a committed position (it must be masked)")
        cls = path_cls[rows, cols]
        if bool((cls < 0).any()):
            raise UnsatisfiableConstraintError("no completion of the canvas has positive weight: cannot commit")
        out[rows, cols] = _draw_in_class(dev, probs.values, k, cls, generator, most_probable)
    return out


def _draw_in_class(
    dev: DeviceAutomaton, values: torch.Tensor, k: torch.Tensor, cls: torch.Tensor, generator, most_probable: bool
) -> torch.Tensor:
    """A token of class ``cls[j]`` for each row ``values[k[j]]`` of the sampling distribution, drawn from the model
    restricted to the class (argmax for max-product; uniform over the class when it has no mass there)."""
    if not most_probable:
        u = torch.rand(len(k), 1, generator=generator, dtype=torch.float64)  # what draw_categorical takes
    if values.dtype == torch.float64 and _kernel_ready(values):
        uniforms = u[:, 0].numpy() if not most_probable else np.zeros(len(k))
        drawn = K.draw_in_class(
            values.numpy(), k.numpy(), cls.numpy(), dev.class_ptr, dev.class_tok, uniforms, most_probable
        )
        return torch.from_numpy(drawn)
    in_class = dev.token_class.unsqueeze(0) == cls.unsqueeze(1)  # (K, V)
    tok_w = values.index_select(0, k).double() * in_class
    tok_w = torch.where(tok_w.sum(-1, keepdim=True) > 0, tok_w, in_class.double())
    return tok_w.argmax(-1) if most_probable else draw_from_uniforms(tok_w, u)
