"""Compiled (numba) kernels for the feasibility DP and joint sampling, one canvas per parallel iteration.

Position classes: ``-2`` masked, ``-1`` a fixed token that no class allows, ``c >= 0`` a fixed token of
class ``c``. Sets of states are ``uint8`` rows. Work per position is proportional to the edges leaving the
states actually reachable there, never to the whole state x token table.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

MASKED = -2


@njit(cache=True, parallel=True)
def reach(pos_cls, table, succ_ptr, succ_dst, pred_ptr, pred_src, start, accept):  # pragma: no cover - jit
    """Forward reachable ``F`` and backward live ``Bk`` sets, ``(B, L+1, S)`` uint8."""
    b, n = pos_cls.shape
    s = table.shape[0]
    fwd = np.zeros((b, n + 1, s), dtype=np.uint8)
    bwd = np.zeros((b, n + 1, s), dtype=np.uint8)
    for r in prange(b):
        fwd[r, 0, start] = 1
        for i in range(n):
            c = pos_cls[r, i]
            for q in range(s):
                if fwd[r, i, q] == 0:
                    continue
                if c == MASKED:
                    for k in range(succ_ptr[q], succ_ptr[q + 1]):
                        fwd[r, i + 1, succ_dst[k]] = 1
                elif c >= 0:
                    nxt = table[q, c]
                    if nxt >= 0:
                        fwd[r, i + 1, nxt] = 1
        for q in range(s):
            bwd[r, n, q] = accept[q]
        for i in range(n - 1, -1, -1):
            c = pos_cls[r, i]
            if c == MASKED:
                for q2 in range(s):
                    if bwd[r, i + 1, q2] == 0:
                        continue
                    for k in range(pred_ptr[q2], pred_ptr[q2 + 1]):
                        bwd[r, i, pred_src[k]] = 1
            elif c >= 0:
                for q in range(s):
                    nxt = table[q, c]
                    if nxt >= 0 and bwd[r, i + 1, nxt] == 1:
                        bwd[r, i, q] = 1
    return fwd, bwd


@njit(cache=True, parallel=True)
def allowed(pos_cls, fwd, bwd, out_ptr, out_cls, out_dst, num_classes):  # pragma: no cover - jit
    """``(B, L, C)`` uint8: classes that keep the canvas completable, at masked positions."""
    b, n = pos_cls.shape
    s = fwd.shape[2]
    out = np.zeros((b, n, num_classes), dtype=np.uint8)
    for r in prange(b):
        for i in range(n):
            if pos_cls[r, i] != MASKED:
                continue
            for q in range(s):
                if fwd[r, i, q] == 0 or bwd[r, i, q] == 0:  # a useful state is both reachable and live
                    continue
                for k in range(out_ptr[q], out_ptr[q + 1]):
                    if bwd[r, i + 1, out_dst[k]] == 1:
                        out[r, i, out_cls[k]] = 1
    return out


@njit(cache=True)
def _draw(weights, count, u):  # pragma: no cover - jit
    total = 0.0
    for k in range(count):
        total += weights[k]
    target = u * total
    acc = 0.0
    last = -1
    for k in range(count):
        if weights[k] > 0.0:
            last = k
            acc += weights[k]
            if target < acc:
                return k
    return last


@njit(cache=True, parallel=True)
def joint_path(
    pos_cls, w, table, out_ptr, out_cls, out_dst, in_ptr, in_src, in_cls, start, accept, uniforms, most_probable
):  # pragma: no cover - jit
    """Forward filtering (sum- or max-product) and backward sampling of a class path, ``(B, L)`` int64.

    ``w`` is ``(B, L, C)`` float64, the weight of each class at each masked position.
    """
    b, n = pos_cls.shape
    s = table.shape[0]
    path = np.zeros((b, n), dtype=np.int64)
    for r in prange(b):
        alpha = np.zeros((n + 1, s))
        alpha[0, start] = 1.0
        for i in range(n):
            c = pos_cls[r, i]
            for q in range(s):
                a = alpha[i, q]
                if a == 0.0:
                    continue
                if c == MASKED:
                    for k in range(out_ptr[q], out_ptr[q + 1]):
                        v = a * w[r, i, out_cls[k]]
                        d = out_dst[k]
                        if most_probable:
                            if v > alpha[i + 1, d]:
                                alpha[i + 1, d] = v
                        else:
                            alpha[i + 1, d] += v
                elif c >= 0:
                    d = table[q, c]
                    if d >= 0:
                        if most_probable:
                            if a > alpha[i + 1, d]:
                                alpha[i + 1, d] = a
                        else:
                            alpha[i + 1, d] += a
            top = 0.0
            for q in range(s):
                if alpha[i + 1, q] > top:
                    top = alpha[i + 1, q]
            if top > 0.0:
                for q in range(s):
                    alpha[i + 1, q] /= top  # rescale against underflow
        final = np.zeros(s)
        for q in range(s):
            if accept[q]:
                final[q] = alpha[n, q]
        if most_probable:
            state = np.argmax(final)
        else:
            state = _draw(final, s, uniforms[r, n])
        cand = np.zeros(in_ptr[-1] if in_ptr.shape[0] > 0 else 1)
        for i in range(n - 1, -1, -1):
            c = pos_cls[r, i]
            lo, hi = in_ptr[state], in_ptr[state + 1]
            for k in range(lo, hi):
                kc = in_cls[k]
                if c == MASKED:
                    cand[k - lo] = alpha[i, in_src[k]] * w[r, i, kc]
                else:
                    cand[k - lo] = alpha[i, in_src[k]] if kc == c else 0.0
            if most_probable:
                best, pick = -1.0, 0
                for k in range(hi - lo):
                    if cand[k] > best:
                        best, pick = cand[k], k
            else:
                pick = max(_draw(cand, hi - lo, uniforms[r, i]), 0)
            path[r, i] = in_cls[lo + pick]
            state = in_src[lo + pick]
    return path


def csr(keys: np.ndarray, values: tuple[np.ndarray, ...], size: int) -> tuple[np.ndarray, ...]:
    """Sort ``values`` by ``keys`` into compressed rows: ``(ptr, *values_sorted)``."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=ptr[1:])
    return (ptr, *(np.ascontiguousarray(v[order]) for v in values))
