"""Compiled loops of :mod:`.byte_automata`: the subset construction and the product construction.

Both discover states one by one and number them in order of discovery (0 the start), as the Python versions did;
a JSON schema's automaton runs them hundreds of times over thousands of states, where interpreted loops cost
seconds. They stop early, with a status the caller turns into the typed error, past the state budget
(:data:`OVER_BUDGET`) or past a deadline on ``time.monotonic()`` (:data:`OUT_OF_TIME`, read every 256 states).
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit, types
from numba.typed import Dict

__all__ = [
    "subset_construction",
    "product_construction",
    "shortest_path",
    "table_edges",
    "table_runs",
    "deepest_nesting",
    "DONE",
    "OVER_BUDGET",
    "OUT_OF_TIME",
]

DONE, OVER_BUDGET, OUT_OF_TIME = 0, 1, 2


@njit(cache=True)
def _now():  # pragma: no cover - jit
    with numba.objmode(t="float64"):
        t = time.monotonic()
    return t


@njit(cache=True)
def _grow1(a, need):  # pragma: no cover - jit
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _grow2(a, need):  # pragma: no cover - jit
    if need <= a.shape[0]:
        return a
    b = np.full((max(need, 2 * a.shape[0]), a.shape[1]), -1, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _closure(n_seeds, at_start, x_start, x_dst, x_kind, stamp, gen, stack, out):  # pragma: no cover - jit
    """Every item (``state * 2 + ended``) reachable from ``out[:n_seeds]`` by zero-width moves, sorted into
    ``out``; returns how many. Kind 1 moves (``^``) only ``at_start``; kind 2 (``$``) sets ``ended``."""
    top = 0
    for i in range(n_seeds):  # the seeds onto the stack (they may repeat); each item is written when taken off
        item = out[i]
        if stamp[item] != gen:
            stamp[item] = gen
            stack[top] = item
            top += 1
    k = 0
    while top > 0:
        top -= 1
        item = stack[top]
        out[k] = item
        k += 1
        q = item >> 1
        ended = item & 1
        for j in range(x_start[q], x_start[q + 1]):
            kind = x_kind[j]
            if kind == 1 and not at_start:
                continue
            nxt = x_dst[j] * 2 + (1 if (ended == 1 or kind == 2) else 0)
            if stamp[nxt] != gen:
                stamp[nxt] = gen
                stack[top] = nxt
                top += 1
    out[:k].sort()
    return k


@njit(cache=True)
def _hash(items, k):  # pragma: no cover - jit
    h = np.uint64(1469598103934665603)
    for i in range(k):
        h = (h ^ np.uint64(items[i])) * np.uint64(1099511628211)
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def subset_construction(
    e_start, e_lo, e_hi, e_dst, x_start, x_dst, x_kind, start, finals, n_classes, budget, deadline
):  # pragma: no cover - jit
    """The DFA over byte classes of the NFA with edges ``e_*`` (CSR by source; class ranges ``lo..hi``) and
    zero-width moves ``x_*`` (CSR by source; kinds as in :func:`_closure`), from ``start`` to any state in
    ``finals`` (a mask). Returns (status, table ``(S, n_classes)``, accept ``(S,)``)."""
    n = x_start.shape[0] - 1
    stamp = np.zeros(2 * n, dtype=np.int64)
    stack = np.empty(2 * n, dtype=np.int64)
    buf = np.empty(2 * n, dtype=np.int64)
    gen = 1
    buf[0] = start * 2
    k = _closure(1, True, x_start, x_dst, x_kind, stamp, gen, stack, buf)
    elems = np.empty(max(1024, 2 * k), dtype=np.int64)
    off = np.zeros(1024, dtype=np.int64)
    chain = np.full(1024, -1, dtype=np.int64)  # the next subset with the same hash
    table = np.full((1024, n_classes), -1, dtype=np.int32)
    first = Dict.empty(key_type=types.int64, value_type=types.int64)
    # subsets of one item (most of them: a copied DFA's states) are found by the item, not by hashing
    single = np.full(2 * n, -1, dtype=np.int64)
    elems[:k] = buf[:k]
    off[1] = k
    if k == 1:
        single[buf[0]] = 0
    else:
        first[_hash(buf, k)] = 0
    count = 1
    # per class, the targets gathered from the current subset (a counting sort over classes)
    per_class = np.zeros(n_classes + 1, dtype=np.int64)
    pair_c = np.empty(64, dtype=np.int64)
    pair_d = np.empty(64, dtype=np.int64)
    sorted_d = np.empty(64, dtype=np.int64)
    i = 0
    while i < count:
        if (i & 255) == 0 and _now() > deadline:
            return OUT_OF_TIME, table[:count], np.zeros(count, dtype=np.bool_)
        m = 0
        for p in range(off[i], off[i + 1]):
            item = elems[p]
            if item & 1:
                continue
            q = item >> 1
            for e in range(e_start[q], e_start[q + 1]):
                for c in range(e_lo[e], e_hi[e] + 1):
                    if m >= pair_c.shape[0]:
                        pair_c = _grow1(pair_c, 2 * m)
                        pair_d = _grow1(pair_d, 2 * m)
                        sorted_d = _grow1(sorted_d, 2 * m)
                    pair_c[m] = c
                    pair_d[m] = e_dst[e]
                    m += 1
        if m > 0:
            per_class[:] = 0
            for j in range(m):
                per_class[pair_c[j] + 1] += 1
            for c in range(n_classes):
                per_class[c + 1] += per_class[c]
            fill = per_class[:-1].copy()
            for j in range(m):
                c = pair_c[j]
                sorted_d[fill[c]] = pair_d[j]
                fill[c] += 1
            for c in range(n_classes):
                lo, hi = per_class[c], per_class[c + 1]
                if lo == hi:
                    continue
                d = sorted_d[lo]
                if hi - lo == 1 and x_start[d] == x_start[d + 1]:  # one target, no zero-width moves on
                    buf[0] = d * 2
                    k = 1
                else:
                    for j in range(lo, hi):
                        buf[j - lo] = sorted_d[j] * 2
                    gen += 1
                    k = _closure(hi - lo, False, x_start, x_dst, x_kind, stamp, gen, stack, buf)
                h = 0
                found = -1
                if k == 1:
                    found = single[buf[0]]
                else:
                    h = _hash(buf, k)
                    cand = first[h] if h in first else -1
                    while cand >= 0:
                        a, b = off[cand], off[cand + 1]
                        if b - a == k:
                            same = True
                            for j in range(k):
                                if elems[a + j] != buf[j]:
                                    same = False
                                    break
                            if same:
                                found = cand
                                break
                        cand = chain[cand]
                if found < 0:
                    if count >= budget:
                        return OVER_BUDGET, table[:count], np.zeros(count, dtype=np.bool_)
                    found = count
                    off = _grow1(off, count + 2)
                    chain = _grow1(chain, count + 1)
                    table = _grow2(table, count + 1)
                    elems = _grow1(elems, off[count] + k)
                    elems[off[count] : off[count] + k] = buf[:k]
                    off[count + 1] = off[count] + k
                    if k == 1:
                        single[buf[0]] = count
                        chain[count] = -1
                    else:
                        chain[count] = first[h] if h in first else -1
                        first[h] = count
                    count += 1
                table[i, c] = found
        i += 1
    accept = np.zeros(count, dtype=np.bool_)
    for s in range(count):
        for p in range(off[s], off[s + 1]):
            if finals[elems[p] >> 1]:
                accept[s] = True
                break
    return DONE, table[:count], accept


@njit(cache=True)
def product_construction(ta, tb, keep_dead, budget, deadline):  # pragma: no cover - jit
    """The reachable pairs of the complete tables ``ta`` ``(na + 1, 256)`` and ``tb`` (the last row of each a
    dead state its other rows lead to), numbered from (0, 0). A pair where both sides are dead (``keep_dead``)
    or either side is (otherwise) is no state: its edges are -1. Returns (status, table, first side, second
    side)."""
    na = ta.shape[0] - 1
    nb = tb.shape[0] - 1
    index = Dict.empty(key_type=types.int64, value_type=types.int64)
    left = np.zeros(1024, dtype=np.int64)
    right = np.zeros(1024, dtype=np.int64)
    table = np.full((1024, 256), -1, dtype=np.int32)
    index[0] = 0
    count = 1
    i = 0
    while i < count:
        if (i & 255) == 0 and _now() > deadline:
            return OUT_OF_TIME, table[:count], left[:count], right[:count]
        p, q = left[i], right[i]
        for b in range(256):
            x, y = ta[p, b], tb[q, b]
            dead = (x == na and y == nb) if keep_dead else (x == na or y == nb)
            if dead:
                continue
            key = x * (nb + 1) + y
            j = index[key] if key in index else -1
            if j < 0:
                if count >= budget:
                    return OVER_BUDGET, table[:count], left[:count], right[:count]
                j = count
                index[key] = j
                left = _grow1(left, count + 1)
                right = _grow1(right, count + 1)
                table = _grow2(table, count + 1)
                left[j], right[j] = x, y
                count += 1
            table[i, b] = j
        i += 1
    return DONE, table[:count], left[:count], right[:count]


@njit(cache=True)
def table_edges(table):  # pragma: no cover - jit
    """(source, byte, target) of every live entry of the ``(S, 256)`` table (or of a table over classes of bytes:
    the class then), in row order: the edge lists the token automata's searches take
    (:func:`.automaton._useful_kernel`), read off in one compiled pass."""
    n, width = table.shape
    m = 0
    for q in range(n):
        for b in range(width):
            if table[q, b] >= 0:
                m += 1
    src = np.empty(m, dtype=np.int64)
    byte = np.empty(m, dtype=np.int64)
    dst = np.empty(m, dtype=np.int64)
    k = 0
    for q in range(n):
        for b in range(width):
            t = table[q, b]
            if t >= 0:
                src[k], byte[k], dst[k] = q, b, t
                k += 1
    return src, byte, dst


@njit(cache=True)
def table_runs(table):  # pragma: no cover - jit
    """(source, first byte, last byte, target) of every run of one live target along a row of the ``(S, 256)``
    table, in row order: the table as byte-range edges."""
    n = table.shape[0]
    m = 0
    for q in range(n):
        for b in range(256):
            t = table[q, b]
            if t >= 0 and (b == 0 or table[q, b - 1] != t):
                m += 1
    out = np.empty((m, 4), dtype=np.int64)
    k = 0
    for q in range(n):
        b = 0
        while b < 256:
            t = table[q, b]
            e = b
            while e + 1 < 256 and table[q, e + 1] == t:
                e += 1
            if t >= 0:
                out[k, 0] = q
                out[k, 1] = b
                out[k, 2] = e
                out[k, 3] = t
                k += 1
            b = e + 1
    return out


@njit(cache=True)
def shortest_path(table, accept, origin):  # pragma: no cover - jit
    """The bytes of a shortest accepted string from ``origin`` (smallest bytes first), or a length-one array
    holding -1 when there is none."""
    n = table.shape[0]
    back_state = np.full(n, -2, dtype=np.int64)
    back_byte = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    back_state[origin] = -1
    queue[0] = origin
    head, tail = 0, 1
    while head < tail:
        q = queue[head]
        head += 1
        if accept[q]:
            length = 0
            r = q
            while back_state[r] >= 0:
                length += 1
                r = back_state[r]
            out = np.empty(length, dtype=np.int64)
            r = q
            for k in range(length - 1, -1, -1):
                out[k] = back_byte[r]
                r = back_state[r]
            return out
        for b in range(256):
            t = table[q, b]
            if t >= 0 and back_state[t] == -2:
                back_state[t] = q
                back_byte[t] = b
                queue[tail] = t
                tail += 1
    return np.full(1, -1, dtype=np.int64)


@njit(cache=True)
def deepest_nesting(table):  # pragma: no cover - jit
    """The deepest nesting of objects and arrays (``{``/``[`` outside strings) over the texts of ``table``, a
    trimmed automaton of JSON texts: in it the depth, and whether a string is open, are functions of the state (two
    prefixes that differed there could not both be completed into balanced texts), so one search finds them."""
    n = table.shape[0]
    depth = np.full(n, -1, dtype=np.int64)
    mode = np.zeros(n, dtype=np.int64)  # 0 outside strings, 1 inside, 2 after a backslash inside
    queue = np.empty(n, dtype=np.int64)
    depth[0] = 0
    queue[0] = 0
    head, tail = 0, 1
    deepest = 0
    while head < tail:
        q = queue[head]
        head += 1
        for b in range(256):
            t = table[q, b]
            if t < 0 or depth[t] >= 0:
                continue
            d, m = depth[q], mode[q]
            if m == 2:
                m = 1
            elif m == 1:
                if b == 0x5C:
                    m = 2
                elif b == 0x22:
                    m = 0
            elif b == 0x22:
                m = 1
            elif b == 0x7B or b == 0x5B:
                d += 1
            elif b == 0x7D or b == 0x5D:
                d -= 1
            depth[t] = d
            mode[t] = m
            deepest = max(deepest, d)
            queue[tail] = t
            tail += 1
    return deepest
