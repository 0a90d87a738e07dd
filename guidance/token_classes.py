"""Token classes of sparse token transitions, and bundles: many transitions stored as one row.

A token automaton keeps a ``states x classes`` table, tokens grouped by their column (:mod:`.automaton`). Its
transitions arrive as flat ``(src, tok, dst)`` triples. A byte automaton read with a vocabulary
(:mod:`.dfa_tokens`) has dozens of states where a free string is written, and from each one nearly every token
leads to the same next state: hundreds of thousands of triples that all say "these same tokens, from here to
there". A :class:`TokenBundles` row says it once: every token of a *part* (a token list shared by many rows)
leads ``src -> dst``. Grouping tokens then adds each part's rows up once per part instead of once per token,
and fills the table once per class of the part instead of once per token, so the work follows the number of
rows, not the number of transitions they stand for. The classes and table are the same as from the triples
written out (:meth:`TokenBundles.triples`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["TokenBundles", "classes_of"]


@dataclass(frozen=True)
class TokenBundles:
    """Rows ``k``: every token of part ``part[k]`` leads from ``src[k]`` to ``dst[k]`` (``-1``: dead). Part ``p``'s
    tokens are ``part_tok[part_start[p]:part_start[p + 1]]``. A (state, token) pair is given at most once, by a
    row or by a triple beside the rows."""

    src: np.ndarray
    part: np.ndarray
    dst: np.ndarray
    part_start: np.ndarray
    part_tok: np.ndarray

    @classmethod
    def none(cls) -> TokenBundles:
        e32, e64 = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        return cls(e32, e64, e32, np.zeros(1, dtype=np.int64), e32)

    def __len__(self) -> int:
        return int(self.src.shape[0])

    def sizes(self) -> np.ndarray:
        """The number of tokens of each row."""
        return np.diff(self.part_start)[self.part]

    def triples(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The transitions the rows (all, or those at indexes ``rows``) stand for, as ``(src, tok, dst)``."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        lo, hi = self.part_start[self.part[rows]], self.part_start[self.part[rows] + 1]
        n = hi - lo
        offsets = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
        return (
            np.repeat(self.src[rows], n).astype(np.int32),
            self.part_tok[offsets].astype(np.int32),
            np.repeat(self.dst[rows], n).astype(np.int32),
        )

    def without(self, drop: np.ndarray) -> TokenBundles:
        """The same rows, the tokens ``drop`` (a mask over the vocabulary) left out of every part."""
        keep = ~drop[self.part_tok]
        if keep.all():
            return self
        kept_before = np.zeros(self.part_tok.shape[0] + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        return TokenBundles(self.src, self.part, self.dst, kept_before[self.part_start], self.part_tok[keep])

    def representatives(self) -> np.ndarray:
        """A token of each row's part (-1 where the part is empty): a row is an edge in a search iff its part has
        one."""
        first = np.full(self.part_start.shape[0] - 1, -1, dtype=np.int64)
        full = np.diff(self.part_start) > 0
        first[full] = self.part_tok[self.part_start[:-1][full]]
        return first[self.part]

    def select(self, rows: np.ndarray, src: np.ndarray, dst: np.ndarray) -> TokenBundles:
        """The rows at ``rows``, their ends renamed ``src``/``dst``."""
        return TokenBundles(src, self.part[rows], dst, self.part_start, self.part_tok)


def classes_of(
    src: np.ndarray, tok: np.ndarray, dst: np.ndarray, bundles: TokenBundles, vocab_size: int, num_states: int
) -> tuple[np.ndarray, np.ndarray]:
    """Group tokens with identical transition columns; returns (token_class, table).

    Each token's column is hashed (two independent 64-bit hashes of its (state, next) pairs: sums, so a
    bundle's rows are added up once for its part); the result is then verified exactly against the
    transitions, so a hash collision cannot go unnoticed. Classes are numbered in the order of their hashes.
    """
    rng = np.random.default_rng(0)
    r = rng.integers(1, 2**62, size=(2, num_states + 1), dtype=np.uint64)
    sig1, sig2, count = _column_signatures(src, tok, dst, r[0], r[1], vocab_size)
    if len(bundles):
        _bundle_signatures(sig1, sig2, count, bundles.src, bundles.part, bundles.dst, bundles.part_start,
                           bundles.part_tok, r[0], r[1])  # fmt: skip
    live = np.flatnonzero(count > 0)
    token_class = np.full(vocab_size, -1, dtype=np.int32)
    if live.size:
        k1, k2, k3 = sig1[live], sig2[live], count[live]
        order = np.lexsort((k3, k2, k1))  # the rows' lexicographic order, as np.unique(axis=0) sorts them
        k1, k2, k3 = k1[order], k2[order], k3[order]
        new = np.empty(live.size, dtype=bool)
        new[0] = True
        new[1:] = (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1]) | (k3[1:] != k3[:-1])
        token_class[live[order]] = np.cumsum(new) - 1
        num_classes = int(new.sum())
    else:
        num_classes = 0
    table, exact = _fill_table(src, tok, dst, bundles.src, bundles.part, bundles.dst, bundles.part_start,
                               bundles.part_tok, token_class, count, num_states, num_classes)  # fmt: skip
    if not exact:
        raise RuntimeError("token class hash collision")  # pragma: no cover - 2^-128
    return token_class, table


@njit(cache=True)
def _column_signatures(src, tok, dst, r0, r1, vocab_size):  # pragma: no cover - jit
    """Per token (``tok[k]`` in ``0 .. vocab_size - 1``): two wrapping 64-bit sums over its (state, next) pairs, and
    the number of pairs."""
    sig1 = np.zeros(vocab_size, dtype=np.uint64)
    sig2 = np.zeros(vocab_size, dtype=np.uint64)
    count = np.zeros(vocab_size, dtype=np.int64)
    one = np.uint64(1)
    mix = np.uint64(0x9E3779B97F4A7C15)
    for k in range(src.shape[0]):
        s, t, d = src[k], tok[k], dst[k]
        sig1[t] += r0[s] * (r1[d] | one)
        sig2[t] += (r1[s] ^ mix) * (r0[d] | one)
        count[t] += 1
    return sig1, sig2, count


@njit(cache=True)
def _bundle_signatures(sig1, sig2, count, b_src, b_part, b_dst, part_start, part_tok, r0, r1):  # pragma: no cover
    """Add the bundles' pairs to :func:`_column_signatures`' sums: each part's rows summed (the same sums, with the
    part in the token's place), then added to each of its tokens (wrapping sums: the same as pair by pair)."""
    parts = part_start.shape[0] - 1
    w1, w2, rows = _column_signatures(b_src, b_part, b_dst, r0, r1, parts)
    for p in range(parts):
        if rows[p] == 0:
            continue
        for j in range(part_start[p], part_start[p + 1]):
            t = part_tok[j]
            sig1[t] += w1[p]
            sig2[t] += w2[p]
            count[t] += rows[p]


@njit(cache=True)
def _fill_table(
    src, tok, dst, b_src, b_part, b_dst, part_start, part_tok, token_class, count, num_states, num_classes
):  # pragma: no cover - jit
    """The ``(states, classes)`` table, and whether it is exact: no two tokens of a class disagree on a state,
    and every token has as many transitions as its class's column has entries. A bundle row fills the classes
    of its part's tokens (each part's distinct classes found once)."""
    table = np.full((num_states, num_classes), -1, dtype=np.int32)
    for k in range(src.shape[0]):
        c = token_class[tok[k]]
        cur = table[src[k], c]
        if cur == -1:
            table[src[k], c] = dst[k]
        elif cur != dst[k]:
            return table, False
    parts = part_start.shape[0] - 1
    class_start = np.zeros(parts + 1, dtype=np.int64)
    classes = np.empty(part_tok.shape[0], dtype=np.int64)
    seen = np.full(num_classes, -1, dtype=np.int64)
    n = 0
    for p in range(parts):
        for j in range(part_start[p], part_start[p + 1]):
            c = token_class[part_tok[j]]
            if seen[c] != p:
                seen[c] = p
                classes[n] = c
                n += 1
        class_start[p + 1] = n
    for k in range(b_src.shape[0]):
        p = b_part[k]
        for j in range(class_start[p], class_start[p + 1]):
            c = classes[j]
            cur = table[b_src[k], c]
            if cur == -1:
                table[b_src[k], c] = b_dst[k]
            elif cur != b_dst[k]:
                return table, False
    per_class = np.zeros(num_classes, dtype=np.int64)
    for q in range(num_states):
        for c in range(num_classes):
            if table[q, c] >= 0:
                per_class[c] += 1
    for t in range(count.shape[0]):
        if count[t] > 0 and per_class[token_class[t]] != count[t]:
            return table, False
    return table, True
