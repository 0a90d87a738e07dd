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


@njit(cache=True)
def _filter(
    r, pos_cls, w, table, out_ptr, out_cls, out_dst, start, most_probable, live, use_live, alpha
):  # pragma: no cover - jit
    """Forward filtering of row ``r`` into ``alpha`` (``(L+1, S)``, sum- or max-product, each position rescaled
    to a maximum of 1); with ``use_live`` only states in ``live`` (``(L+1, S)`` uint8) keep weight."""
    n = pos_cls.shape[1]
    s = table.shape[0]
    alpha[:, :] = 0.0
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
        if use_live:
            for q in range(s):
                if live[i + 1, q] == 0:
                    alpha[i + 1, q] = 0.0
        top = 0.0
        for q in range(s):
            if alpha[i + 1, q] > top:
                top = alpha[i + 1, q]
        if top > 0.0:
            for q in range(s):
                alpha[i + 1, q] /= top  # rescale against underflow


@njit(cache=True)
def _live(r, pos_cls, w, in_ptr, in_src, in_cls, accept, live):  # pragma: no cover - jit
    """``live[i, q] = 1`` iff positions ``i..L-1`` of row ``r`` can take ``q`` to acceptance through classes of
    positive weight (fixed positions: their own class)."""
    n = pos_cls.shape[1]
    s = accept.shape[0]
    live[:, :] = 0
    for q in range(s):
        live[n, q] = accept[q]
    for i in range(n - 1, -1, -1):
        c = pos_cls[r, i]
        for d in range(s):
            if live[i + 1, d] == 0:
                continue
            for k in range(in_ptr[d], in_ptr[d + 1]):
                kc = in_cls[k]
                if (c == MASKED and w[r, i, kc] > 0.0) or (c >= 0 and kc == c):
                    live[i, in_src[k]] = 1


@njit(cache=True, parallel=True)
def joint_path(
    pos_cls, w, table, out_ptr, out_cls, out_dst, in_ptr, in_src, in_cls, start, accept, uniforms, most_probable
):  # pragma: no cover - jit
    """Forward filtering (sum- or max-product) and backward sampling of a class path, ``(B, L)`` int64.

    ``w`` is ``(B, L, C)`` float64, the weight of each class at each masked position. The forward weights are
    rescaled at each position against underflow; when that still leaves no accepting state any weight (states
    that cannot reach acceptance took all the mass of a position, and the live ones underflowed next to them),
    the row is filtered again over the live states only, which gives the same path distribution. A row with no
    path of positive weight at all gets ``-1`` at every position.
    """
    b, n = pos_cls.shape
    s = table.shape[0]
    path = np.zeros((b, n), dtype=np.int64)
    for r in prange(b):
        alpha = np.zeros((n + 1, s))
        live = np.zeros((n + 1, s), dtype=np.uint8)
        _filter(r, pos_cls, w, table, out_ptr, out_cls, out_dst, start, most_probable, live, False, alpha)
        final = np.zeros(s)
        found = False
        for q in range(s):
            if accept[q]:
                final[q] = alpha[n, q]
                if final[q] > 0.0:
                    found = True
        if not found:
            _live(r, pos_cls, w, in_ptr, in_src, in_cls, accept, live)
            if live[0, start] == 0:
                for i in range(n):
                    path[r, i] = -1
                continue
            _filter(r, pos_cls, w, table, out_ptr, out_cls, out_dst, start, most_probable, live, True, alpha)
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


@njit(cache=True, parallel=True)
def mask_rows(values, sel, allowed_rows, bucket):  # pragma: no cover - jit
    """In place: ``values[sel[j], t] = -inf`` wherever ``allowed_rows[j, bucket[t]] == 0`` (``(M, V)`` float
    rows; ``allowed_rows`` ``(K, C + 1)`` uint8, its last column 0: the bucket of tokens of no class)."""
    v = values.shape[1]
    ninf = -np.inf
    for j in prange(sel.shape[0]):
        a = allowed_rows[j]
        row = values[sel[j]]
        for t in range(v):
            x = row[t]
            row[t] = x if a[bucket[t]] != 0 else ninf  # branch-free: the pattern is data-dependent


@njit(cache=True, parallel=True)
def class_sums(values, bucket, num_classes):  # pragma: no cover - jit
    """``(M, C)`` float64: each row's mass per class, summed in token order (the order, and so the bits, of
    ``index_add_`` over the vocabulary); buckets ``>= num_classes`` are dropped."""
    m, v = values.shape
    out = np.zeros((m, num_classes))
    for k in prange(m):
        for t in range(v):
            c = bucket[t]
            if c < num_classes:
                out[k, c] += values[k, t]
    return out


@njit(cache=True)
def draw_in_class(values, ks, cls, class_ptr, class_tok, uniforms, most_probable):  # pragma: no cover - jit
    """One token per committed position ``j``: from row ``values[ks[j]]`` (float64 probabilities), restricted
    to the tokens of class ``cls[j]`` (``class_tok[class_ptr[c]:class_ptr[c + 1]]``, ascending), drawn by
    inverse CDF with ``uniforms[j]`` (or the first most probable one); uniform over the class when it has no
    mass. The same draw, bit for bit, as a float64 cumsum/searchsorted over the whole row with zeros outside
    the class, without touching the rest of the row."""
    out = np.empty(ks.shape[0], dtype=np.int64)
    for j in range(ks.shape[0]):
        row = values[ks[j]]
        lo, hi = class_ptr[cls[j]], class_ptr[cls[j] + 1]
        mass = False
        for t in range(lo, hi):
            if row[class_tok[t]] > 0.0:
                mass = True
                break
        if most_probable:
            best, pick = -1.0, class_tok[lo]
            for t in range(lo, hi):
                w = row[class_tok[t]] if mass else 1.0
                if w > best:
                    best, pick = w, class_tok[t]
            out[j] = pick
            continue
        total = 0.0
        for t in range(lo, hi):
            total += row[class_tok[t]] if mass else 1.0
        target = uniforms[j] * total
        acc = 0.0
        pick = -1
        last = class_tok[lo]
        for t in range(lo, hi):
            w = row[class_tok[t]] if mass else 1.0
            if w > 0.0:
                last = class_tok[t]
            acc += w
            if acc > target:
                pick = class_tok[t]
                break
        out[j] = pick if pick >= 0 else last  # u * total rounded up to total: the last token with weight
    return out


def csr(keys: np.ndarray, values: tuple[np.ndarray, ...], size: int) -> tuple[np.ndarray, ...]:
    """Sort ``values`` by ``keys`` into compressed rows: ``(ptr, *values_sorted)``."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=ptr[1:])
    return (ptr, *(np.ascontiguousarray(v[order]) for v in values))
