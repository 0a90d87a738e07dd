"""Regular languages of byte strings as deterministic automata, with the algebra JSON Schema needs.

A regex cannot say "this and that" (``allOf``), "exactly one of these" (``oneOf``) or "anything but this"
(``not``); automata can: intersection, union and difference are products, complement flips the accepting states.
This module is a small exact toolkit for them at the byte level, the level a tokenizer's tokens are read at
(:mod:`.vocabulary`), so a language built here can be turned into any model's token automaton:

* :class:`NFA`: a scratch builder with byte-range edges and empty moves (Thompson's construction);
* :class:`DFA`: a ``(S, 256)`` next-state table (``-1``: dead), an accepting mask and start state 0, built by
  subset construction over *byte classes* (bytes that no edge tells apart move together) and minimised by
  Moore's partition refinement, so equal languages get equal automata;
* operations: concatenation, union, repetition (through the NFA), intersection, difference and complement
  (products), emptiness, inclusion and a shortest member;
* :func:`utf8_sequences`: a range of code points as sequences of byte ranges, so character classes are exact
  on bytes (surrogates, which UTF-8 cannot encode, are left out).

Every construction takes a state budget and raises :class:`~ctrlgen.constraints.ConstraintTooLargeError` past it:
a subset construction can grow exponentially, and a user's schema must get an error, not a hang.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numba import njit

from ..constraints.errors import ConstraintTooLargeError
from .automaton import _useful_kernel

__all__ = ["NFA", "DFA", "utf8_sequences", "DEFAULT_BYTE_STATE_BUDGET", "MAX_CODE_POINT"]

DEFAULT_BYTE_STATE_BUDGET = 100_000
MAX_CODE_POINT = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)


# -- UTF-8 -------------------------------------------------------------------------------------------------------


def utf8_sequences(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """The code points ``lo..hi`` (inclusive; surrogates left out) as UTF-8 byte-range sequences: a string of
    bytes encodes one of them iff it matches one sequence, each byte in its range. The sequences are disjoint."""
    if lo > hi:
        return []
    out: list[list[tuple[int, int]]] = []
    for a, b in _plain_pieces(max(lo, 0), min(hi, MAX_CODE_POINT)):
        out.extend(_split(a, b))
    return out


def _plain_pieces(lo: int, hi: int) -> Iterable[tuple[int, int]]:
    """``lo..hi`` cut where the encoded length changes and around the surrogates."""
    cuts = [(0, 0x7F), (0x80, 0x7FF), (0x800, _SURROGATES[0] - 1), (_SURROGATES[1] + 1, 0xFFFF)]
    cuts.append((0x10000, MAX_CODE_POINT))
    for a, b in cuts:
        if max(a, lo) <= min(b, hi):
            yield max(a, lo), min(b, hi)


def _split(a: int, b: int) -> list[list[tuple[int, int]]]:
    """Sequences for ``a..b``, which encode to the same length: split until every byte position ranges
    independently (the continuation bytes of the lower end start at their minimum, of the upper end end at
    their maximum)."""
    n = len(chr(a).encode("utf-8"))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if (a & ~m) != (b & ~m):
            if a & m:
                return _split(a, a | m) + _split((a | m) + 1, b)
            if (b & m) != m:
                return _split(a, (b & ~m) - 1) + _split(b & ~m, b)
    ea, eb = chr(a).encode("utf-8"), chr(b).encode("utf-8")
    return [[(ea[k], eb[k]) for k in range(n)]]


class _Numbering:
    """The states a construction discovers (subsets, pairs), numbered in order of discovery, under a budget."""

    def __init__(self, first, budget: int, what: str) -> None:
        self.index = {first: 0}
        self.items = [first]
        self.budget, self.what = budget, what

    def __len__(self) -> int:
        return len(self.items)

    def id(self, key) -> int:
        j = self.index.get(key)
        if j is None:
            if len(self.items) >= self.budget:
                raise ConstraintTooLargeError(f"{self.what} grew past its budget of {self.budget:,} states")
            j = self.index[key] = len(self.items)
            self.items.append(key)
        return j


# -- NFA -----------------------------------------------------------------------------------------------------------


@dataclass
class NFA:
    """A nondeterministic automaton under construction: states are integers, edges carry a byte range.

    Build fragments with the methods below, then :meth:`determinize` from a start state to a set of final
    states."""

    edges: list[list[tuple[int, int, int]]] = field(default_factory=list)  #: per state: (lo, hi, target)
    #: per state: (target, kind) of zero-width moves: 0 always, 1 only at the start of the text (``^``), 2 only at
    #: its end (``$``: nothing can be read after it)
    empty: list[list[tuple[int, int]]] = field(default_factory=list)

    def state(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def add(self, src: int, lo: int, hi: int, dst: int) -> None:
        if not (0 <= lo <= hi <= 255):
            raise ValueError(f"byte range {lo}..{hi} out of 0..255")
        self.edges[src].append((lo, hi, dst))

    def add_empty(self, src: int, dst: int) -> None:
        self.empty[src].append((dst, 0))

    def add_begin(self, src: int, dst: int) -> None:
        """A zero-width move taken only at the start of the text (``^``)."""
        self.empty[src].append((dst, 1))

    def add_end(self, src: int, dst: int) -> None:
        """A zero-width move taken only at the end of the text (``$``)."""
        self.empty[src].append((dst, 2))

    def add_bytes(self, src: int, data: bytes, dst: int) -> None:
        """A path from ``src`` to ``dst`` reading exactly ``data`` (an empty move when it is empty)."""
        if not data:
            self.add_empty(src, dst)
            return
        q = src
        for k, byte in enumerate(data):
            nxt = dst if k == len(data) - 1 else self.state()
            self.add(q, byte, byte, nxt)
            q = nxt

    def add_sequences(self, src: int, sequences: Iterable[Sequence[tuple[int, int]]], dst: int) -> None:
        """Paths from ``src`` to ``dst`` reading one byte per range of a sequence (:func:`utf8_sequences`)."""
        for seq in sequences:
            q = src
            for k, (lo, hi) in enumerate(seq):
                nxt = dst if k == len(seq) - 1 else self.state()
                self.add(q, lo, hi, nxt)
                q = nxt

    def add_dfa(self, dfa: DFA) -> tuple[int, list[int]]:
        """A copy of ``dfa``'s states in this NFA: its start state and its accepting states."""
        base = len(self.edges)
        for _ in range(dfa.num_states):
            self.state()
        for s in range(dfa.num_states):
            row = dfa.table[s]
            b = 0
            while b < 256:
                t = int(row[b])
                e = b
                while e + 1 < 256 and row[e + 1] == t:
                    e += 1
                if t >= 0:
                    self.add(base + s, b, e, base + t)
                b = e + 1
        return base, [base + int(s) for s in np.flatnonzero(dfa.accept)]

    def _closure(self, items: Iterable[tuple[int, bool]], at_start: bool) -> frozenset[tuple[int, bool]]:
        """Every (state, ended) reachable by zero-width moves; ``ended``: a ``$`` was passed, nothing more may
        be read."""
        seen = set(items)
        todo = list(seen)
        while todo:
            q, ended = todo.pop()
            for r, kind in self.empty[q]:
                if kind == 1 and not at_start:
                    continue
                nxt = (r, ended or kind == 2)
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def determinize(
        self, start: int, finals: Iterable[int], budget: int = DEFAULT_BYTE_STATE_BUDGET, minimize: bool = True
    ) -> DFA:
        """The DFA of the language from ``start`` to any of ``finals``: minimal, or (``minimize=False``, for
        assemblies of minimal parts, where minimising a long chain costs one refinement round per state) only
        trimmed of states that lead nowhere."""
        finals = set(finals)
        cuts = np.zeros(257, dtype=bool)
        cuts[0] = cuts[256] = True
        for out in self.edges:
            for lo, hi, _ in out:
                cuts[lo] = cuts[hi + 1] = True
        byte_class = np.cumsum(cuts[:256]) - 1  # bytes between two cuts share every edge
        reps = np.flatnonzero(cuts[:256])  # the first byte of each class
        # per NFA state and class, the targets
        moves: list[dict[int, list[int]]] = []
        for out in self.edges:
            per: dict[int, list[int]] = {}
            for lo, hi, dst in out:
                for c in range(int(byte_class[lo]), int(byte_class[hi]) + 1):
                    per.setdefault(c, []).append(dst)
            moves.append(per)
        sets = _Numbering(self._closure([(start, False)], at_start=True), budget, "a determinised byte automaton")
        rows: list[np.ndarray] = []
        i = 0
        while i < len(sets):
            row = np.full(len(reps), -1, dtype=np.int64)
            targets: dict[int, set[int]] = {}
            for q, ended in sets.items[i]:
                if ended:
                    continue
                for c, dsts in moves[q].items():
                    targets.setdefault(c, set()).update(dsts)
            for c, dsts in targets.items():
                row[c] = sets.id(self._closure([(d, False) for d in dsts], at_start=False))
            rows.append(row)
            i += 1
        by_class = np.stack(rows) if rows else np.full((1, len(reps)), -1, dtype=np.int64)
        table = by_class[:, byte_class].astype(np.int32)
        accept = np.array([any(q in finals for q, _ in s) for s in sets.items], dtype=bool)
        if not minimize:
            table, accept = _trimmed(table, accept)
            return DFA(table, accept) if table.shape[0] else DFA.empty()
        return DFA(table, accept).minimized()


# -- DFA -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DFA:
    """A deterministic automaton over bytes: ``table[s, b]`` is the next state (``-1``: no way on), state 0 the
    start, ``accept`` the accepting states. Build with :meth:`NFA.determinize`, :meth:`literal`,
    :meth:`of_sequences` and the operations below; each returns a minimal automaton."""

    table: np.ndarray
    accept: np.ndarray

    # -- construction ------------------------------------------------------------------------------------------

    @classmethod
    def empty(cls) -> DFA:
        """The empty language."""
        return cls(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))

    @classmethod
    def literal(cls, data: bytes) -> DFA:
        """Exactly ``data``."""
        n = len(data)
        table = np.full((n + 1, 256), -1, dtype=np.int32)
        for k, byte in enumerate(data):
            table[k, byte] = k + 1
        accept = np.zeros(n + 1, dtype=bool)
        accept[n] = True
        return cls(table, accept)

    @classmethod
    def of_sequences(cls, sequences: Iterable[Sequence[tuple[int, int]]]) -> DFA:
        """One string per byte-range sequence (a character class, with :func:`utf8_sequences`)."""
        nfa = NFA()
        s, f = nfa.state(), nfa.state()
        nfa.add_sequences(s, sequences, f)
        return nfa.determinize(s, [f])

    @classmethod
    def code_points(cls, ranges: Iterable[tuple[int, int]]) -> DFA:
        """One character (UTF-8) from the inclusive code point ranges."""
        return cls.of_sequences(seq for lo, hi in ranges for seq in utf8_sequences(lo, hi))

    @classmethod
    def any_text(cls) -> DFA:
        """Every well-formed UTF-8 string."""
        return cls.code_points([(0, MAX_CODE_POINT)]).star()

    # -- queries ---------------------------------------------------------------------------------------------

    @property
    def num_states(self) -> int:
        return int(self.table.shape[0])

    def accepts(self, data: bytes) -> bool:
        q = 0
        for byte in data:
            q = int(self.table[q, byte])
            if q < 0:
                return False
        return bool(self.accept[q])

    def is_empty(self) -> bool:
        return self.shortest() is None

    def shortest(self, start: int = 0) -> bytes | None:
        """A shortest string accepted from state ``start`` (the smallest bytes first), None when there is none."""
        back: dict[int, tuple[int, int]] = {start: (-1, -1)}
        todo = deque([start])
        while todo:
            q = todo.popleft()
            if self.accept[q]:
                out = bytearray()
                while back[q][0] >= 0:
                    q, byte = back[q]
                    out.append(byte)
                return bytes(reversed(out))
            for byte in range(256):
                r = int(self.table[q, byte])
                if r >= 0 and r not in back:
                    back[r] = (q, byte)
                    todo.append(r)
        return None

    def includes(self, other: DFA) -> bool:
        """Whether every string ``other`` accepts is accepted here."""
        return (other - self).is_empty()

    def equivalent(self, other: DFA) -> bool:
        return self.includes(other) and other.includes(self)

    # -- minimisation ------------------------------------------------------------------------------------------

    @cached_property
    def _columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct columns of the table, byte -> column) : bytes with identical columns move together."""
        cols, inverse = np.unique(self.table.T, axis=0, return_inverse=True)
        return cols.T, inverse.reshape(-1)

    def minimized(self) -> DFA:
        """The minimal automaton of the same language: unreachable and dead states removed, equivalent states
        merged (Hopcroft's partition refinement over the byte classes, :func:`_hopcroft`)."""
        table, accept = _trimmed(self.table, self.accept)
        if table.shape[0] == 0:
            return DFA.empty()
        cols, byte_of_col = DFA(table, accept)._columns
        n = table.shape[0]
        complete = np.where(cols >= 0, cols, n).astype(np.int64)  # -1 -> a sink state n
        complete = np.concatenate([complete, np.full((1, cols.shape[1]), n, dtype=np.int64)])
        block = _hopcroft(complete, np.append(accept, False))
        sink = block[n]
        block = block[:n]
        if (block == sink).any():  # trimmed states are all live: none can share the sink's block
            raise AssertionError("minimisation merged a live state with the dead one")
        block = np.unique(block, return_inverse=True)[1].reshape(-1)
        # renumber the blocks in order of first appearance (the start's block is 0)
        _, first = np.unique(block, return_index=True)
        order = np.argsort(first)
        remap = np.empty(len(order), dtype=np.int64)
        remap[order] = np.arange(len(order))
        block = remap[block]
        rep = np.sort(first)  # the first state of each block, in the new numbering's order
        small = np.where(cols[rep] >= 0, block[np.maximum(cols[rep], 0)], -1)
        return DFA(small[:, byte_of_col].astype(np.int32), accept[rep].copy())

    # -- operations -----------------------------------------------------------------------------------------

    def __and__(self, other: DFA) -> DFA:
        return _product(self, other, lambda a, b: a & b, keep_dead=False)

    def __or__(self, other: DFA) -> DFA:
        return _product(self, other, lambda a, b: a | b, keep_dead=True)

    def __sub__(self, other: DFA) -> DFA:
        return _product(self, other, lambda a, b: a & ~b, keep_dead=True)

    def complement(self, universe: DFA) -> DFA:
        """Every string of ``universe`` this automaton does not accept."""
        return universe - self

    def concat(self, *others: DFA, budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
        return concat([self, *others], budget)

    def star(self, lo: int = 0, hi: int | None = None, budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
        """``lo`` to ``hi`` (None: unbounded) repetitions."""
        return repeat(self, lo, hi, budget)


@njit(cache=True)
def _hopcroft(table, accept):  # pragma: no cover - jit
    """The block of every state of the complete automaton ``table`` (``(N, C)``, classes as columns) in its
    coarsest partition that respects acceptance and transitions (Hopcroft 1971): blocks are contiguous runs of
    ``elems``; splitting a block by the predecessors of a splitter moves the marked states to its front."""
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
    n_acc = 0
    for s in range(n):
        if accept[s]:
            n_acc += 1
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
    while top > 0:
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
    return blk


def _trimmed(table: np.ndarray, accept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Only the states reachable from 0 that can reach an accepting state (0 first, the rest in order); edges
    into removed states become dead. The search is the token automata's (:func:`.automaton._useful_kernel`),
    with bytes as the tokens."""
    src, byte = np.nonzero(table >= 0)
    alive, _ = _useful_kernel(
        src.astype(np.int64), byte.astype(np.int64), table[src, byte].astype(np.int64), table.shape[0], 0,
        accept.astype(np.bool_), np.zeros(256, dtype=np.bool_),
    )  # fmt: skip
    keep = np.flatnonzero(alive)  # the kernel keeps the start; it is useful only if more is, or it accepts
    if keep.shape[0] == 1 and not accept[0]:
        return np.zeros((0, 256), dtype=np.int32), np.zeros(0, dtype=bool)
    new_id = np.full(table.shape[0], -1, dtype=np.int64)
    new_id[keep] = np.arange(len(keep))
    sub = table[keep]
    mapped = np.where(sub >= 0, new_id[np.maximum(sub, 0)], -1)
    return mapped.astype(np.int32), accept[keep].copy()


def _product(a: DFA, b: DFA, rule, keep_dead: bool, budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """The product automaton with accepting states where ``rule(accept_a, accept_b)``. A dead side is a state
    of its own (index -1 -> the extra state ``n``) when ``keep_dead``: union and difference go on where one
    side has stopped."""
    na, nb = a.num_states, b.num_states
    ta = np.concatenate([a.table, np.full((1, 256), -1, dtype=np.int32)])
    tb = np.concatenate([b.table, np.full((1, 256), -1, dtype=np.int32)])
    ta = np.where(ta < 0, na, ta)
    tb = np.where(tb < 0, nb, tb)
    acc_a = np.append(a.accept, False)
    acc_b = np.append(b.accept, False)
    pairs = _Numbering((0, 0), budget, "a product of byte automata")
    rows = []
    i = 0
    while i < len(pairs):
        p, q = pairs.items[i]
        keys = ta[p].astype(np.int64) * (nb + 1) + tb[q]
        uniq, inv = np.unique(keys, return_inverse=True)
        targets = np.empty(len(uniq), dtype=np.int64)
        for k, key in enumerate(uniq.tolist()):
            pair = divmod(key, nb + 1)
            dead = pair[0] == na and pair[1] == nb if keep_dead else (pair[0] == na or pair[1] == nb)
            targets[k] = -1 if dead else pairs.id(pair)
        rows.append(targets[inv.reshape(-1)])
        i += 1
    table = np.stack(rows).astype(np.int32)
    accept = np.array([bool(rule(acc_a[p], acc_b[q])) for p, q in pairs.items], dtype=bool)
    return DFA(table, accept).minimized()


def concat(parts: Sequence[DFA], budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """The strings made of one string of each part, in order."""
    nfa = NFA()
    start = nfa.state()
    ends = [start]
    for part in parts:
        s, finals = nfa.add_dfa(part)
        for e in ends:
            nfa.add_empty(e, s)
        ends = finals
    return nfa.determinize(start, ends, budget)


def union(parts: Sequence[DFA], budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """The strings of any part (one subset construction for all of them)."""
    nfa = NFA()
    start = nfa.state()
    finals: list[int] = []
    for part in parts:
        s, f = nfa.add_dfa(part)
        nfa.add_empty(start, s)
        finals += f
    return nfa.determinize(start, finals, budget)


def repeat(part: DFA, lo: int = 0, hi: int | None = None, budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """``lo`` to ``hi`` (None: any number of) strings of ``part`` in a row."""
    if lo < 0 or (hi is not None and hi < lo):
        raise ValueError(f"bad repetition {lo}..{hi}")
    nfa = NFA()
    start = nfa.state()
    ends = [start]
    accepting: list[int] = [start] if lo == 0 else []
    for k in range(lo if hi is None else hi):
        s, finals = nfa.add_dfa(part)
        for e in ends:
            nfa.add_empty(e, s)
        ends = finals
        if k + 1 >= lo:
            accepting += finals
    if hi is None:  # then any number more: a hub that reads a copy and comes back
        hub = nfa.state()
        for e in ends:
            nfa.add_empty(e, hub)
        accepting.append(hub)
        s, finals = nfa.add_dfa(part)
        nfa.add_empty(hub, s)
        for f in finals:
            nfa.add_empty(f, hub)
    return nfa.determinize(start, accepting, budget)
