"""Regular languages of byte strings as deterministic automata, with the algebra JSON Schema needs.

A regex cannot say "this and that" (``allOf``), "exactly one of these" (``oneOf``) or "anything but this"
(``not``); automata can: intersection, union and difference are products, complement flips the accepting states.
This module is a small exact toolkit for them at the byte level, the level a tokenizer's tokens are read at
(:mod:`.vocabulary`), so a language built here can be turned into any model's token automaton:

* :class:`NFA`: a scratch builder with byte-range edges and empty moves (Thompson's construction);
* :class:`DFA`: a ``(S, 256)`` next-state table (``-1``: dead), an accepting mask and start state 0, built by
  subset construction over *byte classes* (bytes that no edge tells apart move together) and minimised by
  Hopcroft's partition refinement, so equal languages get equal automata;
* operations: concatenation, union, repetition (through the NFA), intersection, difference and complement
  (products), emptiness, inclusion and a shortest member;
* :func:`utf8_sequences`: a range of code points as sequences of byte ranges, so character classes are exact
  on bytes (surrogates, which UTF-8 cannot encode, are left out).

Every construction takes a state budget and raises :class:`~ctrlgen.constraints.ConstraintTooLargeError` past it:
a subset construction can grow exponentially, and a user's schema must get an error, not a hang.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..constraints.errors import CompileTimeoutError, ConstraintTooLargeError
from ._byte_kernels import (
    OUT_OF_TIME,
    OVER_BUDGET,
    product_construction,
    shortest_path,
    subset_construction,
    table_runs,
)
from ._minimize import MERGED_WITH_DEAD, minimal_classes

__all__ = ["NFA", "DFA", "utf8_sequences", "DEFAULT_BYTE_STATE_BUDGET", "MAX_CODE_POINT", "time_limit"]

#: every byte its own column: :func:`._minimize.minimal_classes` over a ``(states, 256)`` table
_EVERY_BYTE = np.arange(256)

DEFAULT_BYTE_STATE_BUDGET = 250_000
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


# -- time budget -----------------------------------------------------------------------------------------------

#: Seconds before a running compile shows its progress line (on a terminal).
_SHOW_AFTER = 2.0


@dataclass
class _Clock:
    """The compile in progress: when it started, its deadline on ``time.monotonic()`` (inf: none), its progress bar."""

    start: float
    deadline: float
    seconds: float | None
    label: str
    bar: object = None

    def tick(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise CompileTimeoutError(
                f"compiling {self.label} took more than {self.seconds:g} s and was stopped (compile_timeout=..., or "
                "$CTRLGEN_COMPILE_TIMEOUT, sets the budget)"
            )
        if self.bar is None and now - self.start > _SHOW_AFTER and sys.stderr.isatty():
            from tqdm.auto import tqdm

            total = None if self.seconds is None else round(self.seconds)
            self.bar = tqdm(total=total, desc=f"compiling {self.label[:40]}", unit="s", leave=False, file=sys.stderr)
        if self.bar is not None:
            self.bar.n = round(now - self.start)
            self.bar.refresh()


_CLOCK: contextvars.ContextVar[_Clock | None] = contextvars.ContextVar("byte_clock", default=None)


@contextlib.contextmanager
def time_limit(seconds: float | None, label: str = "a schema"):
    """Within the block, constructions that run past ``seconds`` (None: no limit) raise
    :class:`~ctrlgen.constraints.CompileTimeoutError`. They check the clock as they discover states, so the
    compile stops in this process, with no worker to kill; past two seconds a progress line shows on a terminal."""
    now = time.monotonic()
    clock = _Clock(now, np.inf if seconds is None else now + seconds, seconds, label)
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)
        if clock.bar is not None:
            clock.bar.close()


def _deadline() -> float:
    clock = _CLOCK.get()
    return np.inf if clock is None else clock.deadline


def _raise_for(status: int, budget: int, what: str) -> None:
    """The typed error for a kernel's early stop (:mod:`._byte_kernels`)."""
    if status == OVER_BUDGET:
        raise ConstraintTooLargeError(f"{what} grew past its budget of {budget:,} states")
    if status == OUT_OF_TIME:
        _check_time()
        raise CompileTimeoutError("compiling ran past its time budget and was stopped")


def _check_time() -> None:
    clock = _CLOCK.get()
    if clock is not None:
        clock.tick()


# -- NFA -----------------------------------------------------------------------------------------------------------


@dataclass
class NFA:
    """A nondeterministic automaton under construction: states are integers, edges carry a byte range.

    Build fragments with the methods below, then :meth:`determinize` from a start state to a set of final
    states."""

    size: int = 0  #: states so far
    edges: list[tuple[int, int, int, int]] = field(default_factory=list)  #: (source, lo, hi, target)
    #: edges of copied automata, as ``(k, 4)`` arrays of the same columns
    blocks: list[np.ndarray] = field(default_factory=list)
    #: (source, target, kind) of zero-width moves: kind 0 always, 1 only at the start of the text (``^``), 2 only
    #: at its end (``$``: nothing can be read after it)
    empty: list[tuple[int, int, int]] = field(default_factory=list)

    def state(self) -> int:
        self.size += 1
        return self.size - 1

    def add(self, src: int, lo: int, hi: int, dst: int) -> None:
        if not (0 <= lo <= hi <= 255):
            raise ValueError(f"byte range {lo}..{hi} out of 0..255")
        self.edges.append((src, lo, hi, dst))

    def add_empty(self, src: int, dst: int) -> None:
        self.empty.append((src, dst, 0))

    def add_begin(self, src: int, dst: int) -> None:
        """A zero-width move taken only at the start of the text (``^``)."""
        self.empty.append((src, dst, 1))

    def add_end(self, src: int, dst: int) -> None:
        """A zero-width move taken only at the end of the text (``$``)."""
        self.empty.append((src, dst, 2))

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
        base = self.size
        self.size += dfa.num_states
        runs = dfa._runs.copy()
        runs[:, 0] += base
        runs[:, 3] += base
        self.blocks.append(runs)
        return base, (np.flatnonzero(dfa.accept) + base).tolist()

    def add_chain(self, parts: Sequence[DFA]) -> tuple[int, list[int]]:
        """Copies of ``parts`` joined by empty moves (their concatenation, left to the final determinisation
        instead of one per piece): its start state and its accepting states."""
        start = self.state()
        ends = [start]
        for part in parts:
            s, finals = self.add_dfa(part)
            for e in ends:
                self.add_empty(e, s)
            ends = finals
        return start, ends

    def determinize(self, start: int, finals: Iterable[int], budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
        """The minimal DFA of the language from ``start`` to any of ``finals``."""
        n = self.size
        flat = np.concatenate([np.array(self.edges, dtype=np.int64).reshape(-1, 4), *self.blocks])
        flat = flat[np.argsort(flat[:, 0], kind="stable")]
        cuts = np.zeros(257, dtype=bool)
        cuts[0] = cuts[256] = True
        cuts[flat[:, 1]] = True
        cuts[flat[:, 2] + 1] = True
        byte_class = np.cumsum(cuts[:256]) - 1  # bytes between two cuts share every edge
        reps = np.flatnonzero(cuts[:256])  # the first byte of each class
        e_start = np.searchsorted(flat[:, 0], np.arange(n + 1))
        moves = np.array(self.empty, dtype=np.int64).reshape(-1, 3)
        moves = moves[np.argsort(moves[:, 0], kind="stable")]
        x_start = np.searchsorted(moves[:, 0], np.arange(n + 1))
        final_mask = np.zeros(n, dtype=np.bool_)
        final_mask[list(finals)] = True
        status, by_class, accept = subset_construction(
            e_start, byte_class[flat[:, 1]], byte_class[flat[:, 2]], flat[:, 3], x_start, moves[:, 1], moves[:, 2],
            start, final_mask, len(reps), budget, _deadline(),
        )  # fmt: skip
        _raise_for(status, budget, "a determinised byte automaton")
        return DFA._minimal(by_class, accept, byte_class)


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
        path = shortest_path(self.table, self.accept, start)
        if path.shape[0] == 1 and path[0] < 0:
            return None
        return bytes(path.astype(np.uint8))

    def texts(self, limit: int) -> list[bytes] | None:
        """Every accepted string, when there are at most ``limit`` of them (a finite language); else None."""
        out: list[bytes] = []
        stack: list[tuple[int, bytes]] = [(0, b"")]
        while stack:
            q, text = stack.pop()
            if len(text) > self.num_states:  # a path longer than the states loops: infinitely many strings
                return None
            if self.accept[q]:
                out.append(text)
                if len(out) > limit:
                    return None
            row = self.table[q]
            for byte in np.flatnonzero(row >= 0).tolist():
                stack.append((int(row[byte]), text + bytes([byte])))
        return sorted(out)

    def draw(self, rng, limit: int = 400) -> bytes:
        """A random accepted string (``rng`` a :class:`random.Random`): a walk that stops at an accepting state
        with probability 1/4 and finishes by the shortest way after ``limit`` bytes. For tests and benchmarks
        that check what an automaton spells; every state of a trimmed automaton can still reach acceptance."""
        q, out = 0, bytearray()
        for _ in range(limit):
            options = np.flatnonzero(self.table[q] >= 0)
            if self.accept[q] and (rng.random() < 0.25 or not len(options)):
                return bytes(out)
            byte = int(options[rng.randrange(len(options))])
            out.append(byte)
            q = int(self.table[q, byte])
        return bytes(out + self.shortest(q))

    def includes(self, other: DFA) -> bool:
        """Whether every string ``other`` accepts is accepted here."""
        return (other - self).is_empty()

    def equivalent(self, other: DFA) -> bool:
        return self.includes(other) and other.includes(self)

    # -- minimisation ------------------------------------------------------------------------------------------

    @cached_property
    def _runs(self) -> np.ndarray:
        """The table as byte-range edges, rows (source, first byte, last byte, target): one per run of equal
        targets along a row, dead runs left out (:func:`._byte_kernels.table_runs`)."""
        return table_runs(self.table)

    def minimized(self) -> DFA:
        """The minimal automaton of the same language: unreachable and dead states removed, equivalent states
        merged (Hopcroft's partition refinement over the byte classes), in one compiled call
        (:func:`._minimize.minimal`)."""
        return DFA._minimal(self.table, self.accept)

    @staticmethod
    def _minimal(table: np.ndarray, accept: np.ndarray, byte_class: np.ndarray | None = None) -> DFA:
        """The minimal DFA of ``table`` (``(states, 256)``, or over byte classes: byte ``b`` moves as column
        ``byte_class[b]``)."""
        column_of = _EVERY_BYTE if byte_class is None else byte_class
        small, small_accept, status = minimal_classes(table, accept, column_of, _deadline())
        if status == MERGED_WITH_DEAD:
            raise AssertionError("minimisation merged a live state with the dead one")
        _raise_for(status, table.shape[0], "a minimised byte automaton")
        return DFA(small, small_accept) if small.shape[0] else DFA.empty()

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


def _product(a: DFA, b: DFA, rule, keep_dead: bool, budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """The product automaton with accepting states where ``rule(accept_a, accept_b)``. A dead side is a state
    of its own (index -1 -> the extra state ``n``) when ``keep_dead``: union and difference go on where one
    side has stopped."""
    na, nb = a.num_states, b.num_states
    ta = np.concatenate([a.table, np.full((1, 256), -1, dtype=np.int32)])
    tb = np.concatenate([b.table, np.full((1, 256), -1, dtype=np.int32)])
    ta = np.where(ta < 0, na, ta).astype(np.int64)
    tb = np.where(tb < 0, nb, tb).astype(np.int64)
    acc_a = np.append(a.accept, False)
    acc_b = np.append(b.accept, False)
    status, table, left, right = product_construction(ta, tb, keep_dead, budget, _deadline())
    _raise_for(status, budget, "a product of byte automata")
    accept = rule(acc_a[left], acc_b[right]).astype(bool)
    return DFA(table, accept).minimized()


def concat(parts: Sequence[DFA], budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """The strings made of one string of each part, in order."""
    nfa = NFA()
    start, ends = nfa.add_chain(parts)
    return nfa.determinize(start, ends, budget)


def union(parts: Sequence[DFA], budget: int = DEFAULT_BYTE_STATE_BUDGET) -> DFA:
    """The strings of any part (one subset construction for all of them; one part is itself)."""
    if len(parts) == 1:
        return parts[0]
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
