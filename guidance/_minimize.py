"""Compiled minimisation of byte automata: the minimal automaton (:func:`minimal`, :func:`minimal_classes`).

A JSON schema's automaton is assembled from hundreds of pieces, each minimised as it is made; interpreted numpy
steps on ``(states, 256)`` tables cost a millisecond or more a call there, so the whole of a minimisation runs in
one compiled call: trimming, byte classes (bytes whose columns agree move together), Hopcroft's refinement over
the classes, and the quotient, numbered canonically (blocks in order of their first state).

The subset construction already works over classes of bytes (:func:`._byte_kernels.subset_construction`); its
``(states, classes)`` table is minimised as it is (:func:`minimal_classes`) and widened to 256 bytes once, at the
end, instead of widened first and its classes found again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._byte_kernels import DONE, OUT_OF_TIME, _now, table_edges
from .automaton import _useful_kernel

__all__ = ["minimal", "minimal_classes"]

#: status of :func:`minimal` when a live state shared the dead state's block (ruled out for trimmed automata)
MERGED_WITH_DEAD = 3


@njit(cache=True)
def _useful_rows(table, accept):  # pragma: no cover - jit
    """(the states reachable from 0 that can reach acceptance, in order: none when 0 cannot; each state's number
    among them, -1 for the others). The search is the token automata's (:func:`.automaton._useful_kernel`), with
    the table's columns as the tokens."""
    n, width = table.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    src, col, dst = table_edges(table)
    alive, _ = _useful_kernel(src, col, dst, n, 0, accept, np.zeros(width, dtype=np.bool_))
    rows = np.flatnonzero(alive)  # the search keeps the start: it is useful only if more is, or it accepts
    if rows.shape[0] == 1 and not accept[0]:
        rows = rows[:0]
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[rows] = np.arange(rows.shape[0])
    return rows, new_id


@njit(cache=True)
def _relabelled(table, rows, new_id, column_of):  # pragma: no cover - jit
    """The table whose state ``i`` is ``table``'s state ``rows[i]`` and whose column ``b`` is ``table``'s column
    ``column_of[b]`` (the identity, or bytes read from a table over their classes), every target ``x`` renamed
    ``new_id[x]`` (-1: gone, the edge dead)."""
    m = rows.shape[0]
    out = np.full((m, column_of.shape[0]), -1, dtype=np.int32)
    for i in range(m):
        q = rows[i]
        for b in range(column_of.shape[0]):
            x = table[q, column_of[b]]
            if x >= 0:
                out[i, b] = new_id[x]
    return out


@njit(cache=True)
def _byte_classes(table):  # pragma: no cover - jit
    """(class of every column, first column of every class): columns (bytes, or classes of bytes) that are equal
    share a class. Columns are compared by a hash first, then exactly."""
    n, width = table.shape
    h = np.zeros(width, dtype=np.uint64)
    mix = np.uint64(0x9E3779B97F4A7C15)
    for q in range(n):
        w = (np.uint64(q) + np.uint64(1)) * mix
        w ^= w >> np.uint64(29)
        for b in range(width):
            h[b] += w * np.uint64(table[q, b] + 2)
    cls = np.full(width, -1, dtype=np.int64)
    reps = np.empty(width, dtype=np.int64)
    count = 0
    for b in range(width):
        for c in range(count):
            r = reps[c]
            if h[r] != h[b]:
                continue
            same = True
            for q in range(n):
                if table[q, r] != table[q, b]:
                    same = False
                    break
            if same:
                cls[b] = c
                break
        if cls[b] < 0:
            reps[count] = b
            cls[b] = count
            count += 1
    return cls, reps[:count].copy()


@njit(cache=True)
def minimal(table, accept, deadline):  # pragma: no cover - jit
    """The minimal automaton of ``table``'s language: trimmed, equivalent states merged (:func:`_hopcroft` over
    the byte classes), blocks numbered in order of their first state (the start's block is 0); and a status:
    ``DONE``, ``OUT_OF_TIME`` past ``deadline`` (``time.monotonic()``), or :data:`MERGED_WITH_DEAD`."""
    return minimal_classes(table, accept, np.arange(256), deadline)


@njit(cache=True)
def minimal_classes(table, accept, column_of, deadline):  # pragma: no cover - jit
    """:func:`minimal` of the automaton whose byte ``b`` moves as ``table``'s column ``column_of[b]`` (a table over
    classes of bytes), as a ``(states, 256)`` table: the same automaton, whatever the classes. Where the status is
    not ``DONE``, no state."""
    rows, new_id = _useful_rows(table, accept)
    m = rows.shape[0]
    t = _relabelled(table, rows, new_id, np.arange(table.shape[1]))
    acc = accept[rows].copy()
    if m == 0:
        return _relabelled(t, rows, rows, column_of), acc, DONE
    cls, reps = _byte_classes(t)
    c_count = reps.shape[0]
    complete = np.empty((m + 1, c_count), dtype=np.int64)  # -1 -> a sink state m
    for q in range(m):
        for c in range(c_count):
            x = t[q, reps[c]]
            complete[q, c] = x if x >= 0 else m
    for c in range(c_count):
        complete[m, c] = m
    acc_sink = np.zeros(m + 1, dtype=np.bool_)
    acc_sink[:m] = acc
    block, late = _hopcroft(complete, acc_sink, deadline)
    none = rows[:0]
    if late:
        return _relabelled(t, none, none, column_of), acc[none], OUT_OF_TIME
    sink = block[m]
    remap = np.full(m + 1, -1, dtype=np.int64)  # block -> its number, in order of its first state
    rep = np.empty(m, dtype=np.int64)
    k = 0
    for q in range(m):
        b = block[q]
        if b == sink:
            return _relabelled(t, none, none, column_of), acc[none], MERGED_WITH_DEAD
        if remap[b] < 0:
            remap[b] = k
            rep[k] = q
            k += 1
    return _relabelled(t, rep[:k], remap[block[:m]], column_of), acc[rep[:k]].copy(), DONE


@njit(cache=True)
def _hopcroft(table, accept, deadline):  # pragma: no cover - jit
    """The block of every state of the complete automaton ``table`` (``(N, C)``, classes as columns) in its
    coarsest partition that respects acceptance and transitions (Hopcroft 1971): blocks are contiguous runs of
    ``elems``; splitting a block by the predecessors of a splitter moves the marked states to its front. Also
    whether it stopped past ``deadline`` (the clock is read every 1024 splitters)."""
    n, c_count = table.shape
    # predecessors per (class, target), as CSR
    counts = np.zeros(c_count * n + 1, dtype=np.int64)
    for s in range(n):
        for c in range(c_count):
            counts[c * n + table[s, c] + 1] += 1
    start = np.cumsum(counts)
    fill = start[:-1].copy()
    preds = np.empty(n * c_count, dtype=np.int64)
    for s in range(n):
        for c in range(c_count):
            k = c * n + table[s, c]
            preds[fill[k]] = s
            fill[k] += 1
    elems = np.empty(n, dtype=np.int64)
    loc = np.empty(n, dtype=np.int64)
    blk = np.empty(n, dtype=np.int64)
    first = np.zeros(n + 1, dtype=np.int64)
    end = np.zeros(n + 1, dtype=np.int64)
    marked = np.zeros(n + 1, dtype=np.int64)
    k = 0
    blocks = 0
    for want in (True, False):
        begin = k
        for s in range(n):
            if accept[s] == want:
                elems[k] = s
                loc[s] = k
                blk[s] = blocks
                k += 1
        if k > begin:
            first[blocks] = begin
            end[blocks] = k
            blocks += 1
    in_work = np.zeros((n + 1) * c_count, dtype=np.bool_)
    work = np.empty((n + 1) * c_count, dtype=np.int64)
    top = 0
    for b in range(blocks):
        for c in range(c_count):
            work[top] = b * c_count + c
            in_work[b * c_count + c] = True
            top += 1
    touched = np.empty(n + 1, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    rounds = 0
    while top > 0:
        rounds += 1
        if (rounds & 1023) == 0 and _now() > deadline:
            return blk, True
        top -= 1
        item = work[top]
        splitter, c = item // c_count, item % c_count
        in_work[item] = False
        size = end[splitter] - first[splitter]
        for i in range(size):
            members[i] = elems[first[splitter] + i]
        n_touched = 0
        for i in range(size):
            t = members[i]
            key = c * n + t
            for j in range(start[key], start[key + 1]):
                s = preds[j]
                b = blk[s]
                if loc[s] < first[b] + marked[b]:
                    continue  # marked already
                if marked[b] == 0:
                    touched[n_touched] = b
                    n_touched += 1
                # swap s to the end of the marked run
                dest = first[b] + marked[b]
                other = elems[dest]
                elems[dest] = s
                elems[loc[s]] = other
                loc[other] = loc[s]
                loc[s] = dest
                marked[b] += 1
        for i in range(n_touched):
            b = touched[i]
            if marked[b] == end[b] - first[b]:
                marked[b] = 0
                continue
            nb = blocks
            blocks += 1
            first[nb] = first[b]
            end[nb] = first[b] + marked[b]
            first[b] = end[nb]
            marked[b] = 0
            for j in range(first[nb], end[nb]):
                blk[elems[j]] = nb
            small = nb if end[nb] - first[nb] <= end[b] - first[b] else b
            for c2 in range(c_count):
                if in_work[b * c_count + c2]:
                    work[top] = nb * c_count + c2
                    in_work[nb * c_count + c2] = True
                    top += 1
                else:
                    work[top] = small * c_count + c2
                    in_work[small * c_count + c2] = True
                    top += 1
    return blk, False
