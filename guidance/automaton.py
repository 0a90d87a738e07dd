"""Token automata: a deterministic automaton over a model's vocabulary, stored compactly.

Tokens whose transitions are identical in every state are grouped into *classes*; the automaton keeps a
``states x classes`` table (``-1`` = dead) and a ``token -> class`` map, never a dense ``states x tokens``
table (a large JSON schema has thousands of states and a dense table would take hundreds of MB).

Conventions shared by every automaton here:

* the end tokens of the model (end, and pad when it is a distinct token) move every accepting state to one
  absorbing ``end`` state, which accepts and allows nothing but end tokens again: variable-length content
  fits a fixed canvas, and no text can follow the end (outlines-core's own EOS self-loop on final states
  would accept text after it);
* the mask token and tokens that never appear in text (special tokens) are never allowed (class ``-1``);
* a canvas is accepted when it ends in an accepting state (content that fills the canvas exactly, or
  content followed by end tokens).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..constraints.errors import ConstraintTooLargeError

__all__ = ["TokenAutomaton", "from_transitions", "product", "DEFAULT_STATE_BUDGET"]

DEFAULT_STATE_BUDGET = 200_000


@dataclass(frozen=True)
class TokenAutomaton:
    """A DFA over token ids, with token classes.

    Attributes
    ----------
    table:
        ``(S, C)`` int32, next state for (state, class), ``-1`` when the class is forbidden there.
    token_class:
        ``(V,)`` int32, class of each token, ``-1`` for tokens never allowed (the mask token, dead tokens).
    accept:
        ``(S,)`` bool, accepting states.
    start:
        Initial state.
    end_state:
        The absorbing end state.
    end_token:
        The model's canonical end token id (the first of ``end_tokens``).
    end_tokens:
        Every token that ends the text (end, and pad when distinct); they share the end class. Defaults to
        ``(end_token,)``.
    """

    table: np.ndarray
    token_class: np.ndarray
    accept: np.ndarray
    start: int
    end_state: int
    end_token: int
    end_tokens: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        ends = tuple(int(t) for t in self.end_tokens) or (int(self.end_token),)
        if ends[0] != int(self.end_token):
            raise ValueError(f"end_tokens {ends} must start with end_token {self.end_token}")
        object.__setattr__(self, "end_tokens", ends)

    @property
    def num_states(self) -> int:
        return self.table.shape[0]

    @property
    def num_classes(self) -> int:
        return self.table.shape[1]

    @property
    def vocab_size(self) -> int:
        return self.token_class.shape[0]

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live (state, class, next) triples, as three int64 arrays."""
        src, cls = np.nonzero(self.table >= 0)
        return src.astype(np.int64), cls.astype(np.int64), self.table[src, cls].astype(np.int64)

    def accepts(self, tokens: list[int]) -> bool:
        """Whether the token sequence (a full canvas, end tokens included) is accepted."""
        q = self.start
        for tok in tokens:
            c = self.token_class[tok] if 0 <= tok < self.vocab_size else -1
            if c < 0 or self.table[q, c] < 0:
                return False
            q = int(self.table[q, c])
        return bool(self.accept[q])

    def shortest_accepted(self) -> int | None:
        """Length of the shortest accepted canvas (BFS from the start), None when the language is empty."""
        dist = self._distances_from_start()
        reach = dist[self.accept]
        reach = reach[reach >= 0]
        return int(reach.min()) if reach.size else None

    def _distances_from_start(self) -> np.ndarray:
        dist = np.full(self.num_states, -1, dtype=np.int64)
        dist[self.start] = 0
        queue = deque([self.start])
        while queue:
            q = queue.popleft()
            for nxt in np.unique(self.table[q][self.table[q] >= 0]):
                if dist[nxt] < 0:
                    dist[nxt] = dist[q] + 1
                    queue.append(int(nxt))
        return dist


def _classes_from_triples(
    src: np.ndarray, tok: np.ndarray, dst: np.ndarray, vocab_size: int, num_states: int
) -> tuple[np.ndarray, np.ndarray]:
    """Group tokens with identical transition columns; returns (token_class, table).

    Each token's column is hashed (two independent 64-bit hashes of its (state, next) pairs); the result is
    then verified exactly against the triples, so a hash collision cannot go unnoticed.
    """
    rng = np.random.default_rng(0)
    r1 = rng.integers(1, 2**62, size=(2, num_states + 1), dtype=np.uint64)
    with np.errstate(over="ignore"):
        h1 = r1[0][src] * (r1[1][dst] | np.uint64(1))
        h2 = (r1[1][src] ^ np.uint64(0x9E3779B97F4A7C15)) * (r1[0][dst] | np.uint64(1))
    sig1 = np.zeros(vocab_size, dtype=np.uint64)
    sig2 = np.zeros(vocab_size, dtype=np.uint64)
    np.add.at(sig1, tok, h1)
    np.add.at(sig2, tok, h2)
    count = np.bincount(tok, minlength=vocab_size)
    live = count > 0
    keys = np.stack([sig1, sig2, count.astype(np.uint64)], axis=1)
    token_class = np.full(vocab_size, -1, dtype=np.int32)
    _, inverse = np.unique(keys[live], axis=0, return_inverse=True)
    token_class[live] = inverse.reshape(-1)
    num_classes = int(inverse.max()) + 1 if inverse.size else 0
    table = np.full((num_states, num_classes), -1, dtype=np.int32)
    table[src, token_class[tok]] = dst
    # exactness check: every triple agrees with its class's column, and every class member has as many
    # transitions as the column has entries
    if not np.array_equal(table[src, token_class[tok]], dst):
        raise RuntimeError("token class hash collision")  # pragma: no cover - 2^-128
    per_class = (table >= 0).sum(0)
    if not np.array_equal(per_class[token_class[live]], count[live]):
        raise RuntimeError("token class hash collision")  # pragma: no cover
    return token_class, table


def _end_tuple(end_tokens: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    ends = (end_tokens,) if isinstance(end_tokens, (int, np.integer)) else tuple(end_tokens)
    if not ends:
        raise ValueError("an automaton needs at least one end token")
    return tuple(dict.fromkeys(int(t) for t in ends))


def _split_start(
    transitions: dict[int, dict[int, int]], initial: int, finals: set[int], not_first: frozenset[int]
) -> tuple[dict[int, dict[int, int]], int, set[int]]:
    """Forbid ``not_first`` tokens in the first position only.

    When the initial state can be entered again, it gets a fresh copy as the start, without those tokens,
    so that they stay allowed wherever the original state is re-entered.
    """
    moves = transitions.get(initial, {})
    if not not_first or not any(t in not_first for t in moves):
        return transitions, initial, finals
    kept = {t: d for t, d in moves.items() if t not in not_first}
    reentered = any(d == initial for m in transitions.values() for d in m.values())
    transitions = dict(transitions)
    if not reentered:
        transitions[initial] = kept
        return transitions, initial, finals
    fresh = max([initial, *transitions, *(d for m in transitions.values() for d in m.values())]) + 1
    transitions[fresh] = kept
    return transitions, fresh, finals | ({fresh} if initial in finals else set())


def _useful(transitions: dict[int, dict[int, int]], initial: int, finals: set[int], drop: set[int]) -> set[int]:
    """States reachable from ``initial`` that can still reach a final state (``initial`` always kept)."""
    seen, stack = {initial}, [initial]
    back: dict[int, set[int]] = {}
    while stack:
        q = stack.pop()
        for t, d in transitions.get(q, {}).items():
            if t in drop:
                continue
            back.setdefault(d, set()).add(q)
            if d not in seen:
                seen.add(d)
                stack.append(d)
    alive = {f for f in finals if f in seen}
    stack = list(alive)
    while stack:
        for q in back.get(stack.pop(), ()):
            if q not in alive:
                alive.add(q)
                stack.append(q)
    return alive | {initial}


def from_transitions(
    transitions: dict[int, dict[int, int]],
    initial: int,
    finals: set[int] | list[int],
    vocab_size: int,
    end_tokens: int | tuple[int, ...],
    forbidden: tuple[int, ...] = (),
    state_budget: int = DEFAULT_STATE_BUDGET,
    not_first: frozenset[int] | set[int] | tuple[int, ...] = (),
) -> TokenAutomaton:
    """Build a :class:`TokenAutomaton` from sparse transitions (outlines-core's ``Index.get_transitions()``).

    States are renumbered contiguously (only those on a path from the start to a final state); every end
    token (one id, or a tuple: end first, then pad) is re-routed from every final state to a fresh absorbing
    end state; tokens in ``forbidden`` (the mask token) are dropped, and tokens in ``not_first`` are dropped
    from the first position only (tokens the decoder writes differently at the start of the text).
    """
    ends = _end_tuple(end_tokens)
    drop = set(forbidden) | set(ends)
    transitions, initial, finals = _split_start(transitions, initial, set(finals), frozenset(not_first))
    useful = _useful(transitions, initial, finals, drop)
    order = [initial] + sorted(useful - {initial})
    if len(order) + 1 > state_budget:
        raise ConstraintTooLargeError(f"automaton has {len(order)} states, over the budget of {state_budget}")
    index = {s: i for i, s in enumerate(order)}
    end_state = len(order)
    src, tok, dst = [], [], []
    for s in order:
        i = index[s]
        for t, d in transitions.get(s, {}).items():
            if t not in drop and d in index:
                src.append(i)
                tok.append(t)
                dst.append(index[d])
    final_ids = sorted(index[f] for f in finals if f in index)
    for i in [*final_ids, end_state]:
        for end in ends:
            src.append(i)
            tok.append(end)
            dst.append(end_state)
    return _assemble(
        np.array(src, dtype=np.int64),
        np.array(tok, dtype=np.int64),
        np.array(dst, dtype=np.int64),
        end_state + 1,
        vocab_size,
        0,
        final_ids,
        end_state,
        ends,
    )


def _assemble(src, tok, dst, num_states, vocab_size, start, final_ids, end_state, ends) -> TokenAutomaton:
    token_class, table = _classes_from_triples(src, tok, dst, vocab_size, num_states)
    accept = np.zeros(num_states, dtype=bool)
    accept[list(final_ids)] = True
    accept[end_state] = True
    return TokenAutomaton(table, token_class, accept, start, end_state, ends[0], ends)


def product(a: TokenAutomaton, b: TokenAutomaton, state_budget: int = DEFAULT_STATE_BUDGET) -> TokenAutomaton:
    """The intersection automaton (reachable part of the product), exact: a canvas is accepted iff both accept.

    The product's token classes refine both factors' classes: tokens go together iff they share a class in
    each factor. Work is over class pairs, never over individual tokens.
    """
    if a.vocab_size != b.vocab_size or a.end_token != b.end_token or set(a.end_tokens) != set(b.end_tokens):
        raise ValueError("cannot intersect automata built for different vocabularies")
    both = (a.token_class >= 0) & (b.token_class >= 0)
    pairs = np.stack([a.token_class, b.token_class], axis=1)
    uniq, inverse = np.unique(pairs[both], axis=0, return_inverse=True)
    token_pair = np.full(a.vocab_size, -1, dtype=np.int64)
    token_pair[both] = inverse.reshape(-1)
    index = {(a.start, b.start): 0}
    queue = deque([(a.start, b.start)])
    src, pair, dst = [], [], []
    while queue:
        qa, qb = queue.popleft()
        na, nb = a.table[qa, uniq[:, 0]], b.table[qb, uniq[:, 1]]
        ok = np.nonzero((na >= 0) & (nb >= 0))[0]
        i = index[(qa, qb)]
        for p, x, y in zip(ok.tolist(), na[ok].tolist(), nb[ok].tolist()):
            key = (x, y)
            if key not in index:
                if len(index) >= state_budget:
                    raise ConstraintTooLargeError(f"product automaton exceeds the budget of {state_budget} states")
                index[key] = len(index)
                queue.append(key)
            src.append(i)
            pair.append(p)
            dst.append(index[key])
    n = len(index)
    end_state = index.get((a.end_state, b.end_state))
    if end_state is None:  # unreachable end: the language is empty; keep an isolated end state for uniformity
        end_state, n = n, n + 1
    table = np.full((n, len(uniq)), -1, dtype=np.int32)
    table[np.array(src, dtype=np.int64), np.array(pair, dtype=np.int64)] = np.array(dst, dtype=np.int64)
    token_class = token_pair.astype(np.int32)
    if table.size and table.size < 50_000_000:  # merge class pairs whose columns coincide
        _, merged = np.unique(table.T, axis=0, return_inverse=True)
        merged = merged.reshape(-1)
        table = np.unique(table.T, axis=0).T.copy()
        token_class = np.where(token_class >= 0, merged[np.maximum(token_class, 0)], -1).astype(np.int32)
    accept = np.zeros(n, dtype=bool)
    for (qa, qb), i in index.items():
        accept[i] = a.accept[qa] and b.accept[qb]
    accept[end_state] = True
    return TokenAutomaton(np.ascontiguousarray(table), token_class, accept, 0, end_state, a.end_token, a.end_tokens)
