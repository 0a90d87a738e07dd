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
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import chain

import numpy as np
from numba import njit

from ..constraints.errors import ConstraintTooLargeError
from .token_classes import TokenBundles, classes_of

__all__ = ["TokenAutomaton", "TransitionArrays", "from_transitions", "product", "DEFAULT_STATE_BUDGET"]

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

    @cached_property
    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src, cls = np.nonzero(self.table >= 0)
        return src.astype(np.int64), cls.astype(np.int64), self.table[src, cls].astype(np.int64)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live (state, class, next) triples, as three int64 arrays (computed once: a large automaton has
        millions; the arrays are shared, do not write to them)."""
        return self._edges

    def accepts(self, tokens: list[int]) -> bool:
        """Whether the token sequence (a full canvas, end tokens included) is accepted."""
        q = self.start
        for tok in tokens:
            c = self.token_class[tok] if 0 <= tok < self.vocab_size else -1
            if c < 0 or self.table[q, c] < 0:
                return False
            q = int(self.table[q, c])
        return bool(self.accept[q])

    @cached_property
    def _successor_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        src, _, dst = self.edges()
        keys = np.unique(src * self.num_states + dst)
        return keys // self.num_states, keys % self.num_states

    def successor_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (state, next state) pairs over every class, sorted: the any-token successor relation.

        Pairs are encoded as one int64 key each and deduplicated in one 1-D sort, which is an order of
        magnitude faster than ``np.unique(..., axis=0)`` on the millions of edges of a large automaton.
        """
        return self._successor_pairs

    def shortest_accepted(self) -> int | None:
        """Length of the shortest accepted canvas (BFS from the start), None when the language is empty."""
        dist = self._distances_from_start()
        reach = dist[self.accept]
        reach = reach[reach >= 0]
        return int(reach.min()) if reach.size else None

    def has_text_of_length(self, n: int) -> bool:
        """Whether some accepted canvas holds at least ``n`` tokens of text before its end: a walk of ``n``
        tokens from the start that stays out of the end state and can still be completed. One vectorised
        step per token over the distinct successor pairs."""
        src, dst = self.successor_pairs()
        live = self._completable()
        live[self.end_state] = False
        keep = live[src] & live[dst]
        src, dst = src[keep], dst[keep]
        frontier = np.zeros(self.num_states, dtype=bool)
        frontier[self.start] = live[self.start]
        for _ in range(n):
            if not frontier.any():
                return False
            step = np.zeros(self.num_states, dtype=bool)
            step[dst[frontier[src]]] = True
            frontier = step
        return bool(frontier.any())

    def _completable(self) -> np.ndarray:
        """States from which an accepting state can be reached: the same search backwards (a fresh array)."""
        src, dst = self.successor_pairs()
        order = np.argsort(dst, kind="stable")
        return _breadth_first(dst[order], src[order], self.num_states, np.flatnonzero(self.accept)) >= 0

    def _distances_from_start(self) -> np.ndarray:
        """Breadth-first distances from the start (-1: unreachable)."""
        src, dst = self.successor_pairs()
        return _breadth_first(src, dst, self.num_states, np.array([self.start], dtype=np.int64))


def _breadth_first(src: np.ndarray, dst: np.ndarray, num_states: int, sources: np.ndarray) -> np.ndarray:
    """Distances from ``sources`` along the pairs ``src -> dst`` (``src`` sorted; -1: unreachable), one
    vectorised step per level: the work is linear in the pairs."""
    ptr = np.zeros(num_states + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=num_states), out=ptr[1:])
    dist = np.full(num_states, -1, dtype=np.int64)
    dist[sources] = 0
    frontier = np.unique(sources)
    level = 0
    while frontier.size:
        level += 1
        counts = ptr[frontier + 1] - ptr[frontier]
        # the edge indices of every frontier state's out-range, concatenated
        offsets = np.repeat(ptr[frontier] - np.cumsum(counts) + counts, counts)
        nxt = dst[offsets + np.arange(counts.sum())]
        nxt = np.unique(nxt[dist[nxt] < 0])
        dist[nxt] = level
        frontier = nxt
    return dist


@dataclass(frozen=True)
class TransitionArrays:
    """Sparse transitions as flat arrays: token ``tok[k]`` leads from state ``src[k]`` to ``dst[k]``; and, where
    many tokens lead alike, ``bundles`` (:class:`.token_classes.TokenBundles`): each row a list of tokens that
    all lead from one state to one other.

    States are ``0 .. num_states - 1``; ``dst[k] == -1`` marks a transition into a dead state (dropped).
    ``rank`` orders the states when they are renumbered (the start always comes first): the source's own
    state ids, so that the numbering does not depend on the order the transitions were listed in. None:
    the state ids themselves.
    """

    src: np.ndarray
    tok: np.ndarray
    dst: np.ndarray
    num_states: int
    rank: np.ndarray | None = None
    bundles: TokenBundles | None = None

    def ranks(self) -> np.ndarray:
        return np.arange(self.num_states, dtype=np.int64) if self.rank is None else self.rank

    def with_state(self, tok: np.ndarray, dst: np.ndarray) -> tuple[TransitionArrays, int]:
        """These transitions plus a fresh state, ranked after every other, whose moves are ``tok -> dst``;
        returns them and the fresh state."""
        fresh = self.num_states
        ranks = self.ranks()
        arrays = replace(
            self,
            src=np.concatenate([self.src, np.full(tok.shape[0], fresh, dtype=self.src.dtype)]),
            tok=np.concatenate([self.tok, tok.astype(self.tok.dtype)]),
            dst=np.concatenate([self.dst, dst.astype(self.dst.dtype)]),
            num_states=fresh + 1,
            rank=np.append(ranks, int(ranks.max()) + 1 if ranks.size else 0),
        )
        return arrays, fresh

    def enters(self, state: int) -> bool:
        """Whether some transition leads into ``state``."""
        b = self.bundles
        return bool((self.dst == state).any()) or (b is not None and bool((b.dst[b.sizes() > 0] == state).any()))

    def expanded(self, at: int | None = None) -> TransitionArrays:
        """The same transitions with the bundles' rows (all, or those from state ``at``) written out as triples:
        for the steps that edit one state's moves token by token."""
        b = self.bundles
        if b is None or not len(b):
            return self
        rows = np.arange(len(b)) if at is None else np.flatnonzero(b.src == at)
        if not rows.size:
            return self
        src, tok, dst = b.triples(rows)
        kept = np.setdiff1d(np.arange(len(b)), rows)
        return replace(
            self,
            src=np.concatenate([self.src, src.astype(self.src.dtype)]),
            tok=np.concatenate([self.tok, tok.astype(self.tok.dtype)]),
            dst=np.concatenate([self.dst, dst.astype(self.dst.dtype)]),
            bundles=b.select(kept, b.src[kept], b.dst[kept]) if kept.size else None,
        )


def _dict_arrays(
    transitions: dict[int, dict[int, int]], initial: int, finals
) -> tuple[TransitionArrays, int, np.ndarray]:
    """``transitions`` (``{state: {token: next}}``, any non-negative state ids) as :class:`TransitionArrays`
    over compact states (in the order of the original ids), with the initial state and the final-state mask."""
    moves = list(transitions.values())
    lens = np.fromiter(map(len, moves), dtype=np.int64, count=len(moves))
    total = int(lens.sum())
    keys = np.fromiter(transitions.keys(), dtype=np.int64, count=len(moves))
    tok = np.fromiter(chain.from_iterable(moves), dtype=np.int64, count=total)
    dst = np.fromiter(chain.from_iterable(m.values() for m in moves), dtype=np.int64, count=total)
    final_ids = np.fromiter((int(f) for f in finals), dtype=np.int64)
    raw = np.concatenate([keys, dst, final_ids, np.array([initial], dtype=np.int64)])
    if raw.size and raw.min() < 0:
        raise ValueError("state ids must be non-negative")
    states, inverse = np.unique(raw, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_keys, n_dst = keys.shape[0], dst.shape[0]
    src = np.repeat(inverse[:n_keys].astype(np.int32), lens)
    dst_c = inverse[n_keys : n_keys + n_dst].astype(np.int32)
    final = np.zeros(states.shape[0], dtype=bool)
    final[inverse[n_keys + n_dst : -1]] = True
    arrays = TransitionArrays(src, tok.astype(np.int32), dst_c, int(states.shape[0]), states)
    return arrays, int(inverse[-1]), final


def _end_tuple(end_tokens: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    ends = (end_tokens,) if isinstance(end_tokens, (int, np.integer)) else tuple(end_tokens)
    if not ends:
        raise ValueError("an automaton needs at least one end token")
    return tuple(dict.fromkeys(int(t) for t in ends))


def _split_start(
    arrays: TransitionArrays, initial: int, final: np.ndarray, not_first: frozenset[int]
) -> tuple[TransitionArrays, int, np.ndarray]:
    """Forbid ``not_first`` tokens in the first position only.

    When the initial state can be entered again, it gets a fresh copy as the start, without those tokens,
    so that they stay allowed wherever the original state is re-entered.
    """
    if not not_first:
        return arrays, initial, final
    arrays = arrays.expanded(at=initial)
    row = np.flatnonzero(arrays.src == initial)
    barred = np.isin(arrays.tok[row], np.fromiter(not_first, dtype=np.int64))
    if not barred.any():
        return arrays, initial, final
    if not arrays.enters(initial):  # never re-entered: the tokens go from the initial state itself
        dst = arrays.dst.copy()
        dst[row[barred]] = -1
        return replace(arrays, dst=dst), initial, final
    kept = row[~barred]
    arrays, fresh = arrays.with_state(arrays.tok[kept], arrays.dst[kept])
    return arrays, fresh, np.append(final, final[initial])


def _useful(arrays: TransitionArrays, initial: int, final: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """Mask of the states reachable from ``initial`` that can still reach a final state (``initial`` always
    kept), over transitions whose token is not in ``drop`` (a mask over the vocabulary; the bundles' parts are
    read without those tokens already)."""
    if not 0 <= initial < arrays.num_states or final.shape != (arrays.num_states,):
        raise ValueError("the initial state or the final-state mask does not fit the transitions")
    src, tok, dst = arrays.src, arrays.tok, arrays.dst
    if arrays.bundles is not None and len(arrays.bundles):  # a row is one edge, by any token of its part
        b = arrays.bundles
        rep = b.representatives()
        edge = rep >= 0
        src = np.concatenate([src, b.src[edge].astype(src.dtype)])
        tok = np.concatenate([tok, rep[edge].astype(tok.dtype)])
        dst = np.concatenate([dst, b.dst[edge].astype(dst.dtype)])
    alive, error = _useful_kernel(src, tok, dst, arrays.num_states, initial, final, drop)
    if error:
        raise ValueError("transitions name a state or token outside the automaton or the vocabulary")
    return alive


@njit(cache=True)
def _useful_kernel(src, tok, dst, n, start, final, drop):  # pragma: no cover - jit
    """Forward BFS from ``start`` and backward BFS from the final states it reaches, over compressed rows
    (built here by counting sort); returns (alive mask, out-of-range error)."""
    m = src.shape[0]
    vocab = drop.shape[0]
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    in_ptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(m):
        s, t, d = src[k], tok[k], dst[k]
        if s < 0 or s >= n or t < 0 or t >= vocab or d < -1 or d >= n:
            return np.zeros(n, dtype=np.bool_), True
        if d >= 0 and not drop[t]:
            out_ptr[s + 1] += 1
            in_ptr[d + 1] += 1
    for q in range(n):
        out_ptr[q + 1] += out_ptr[q]
        in_ptr[q + 1] += in_ptr[q]
    out_dst = np.empty(out_ptr[n], dtype=np.int32)
    in_src = np.empty(in_ptr[n], dtype=np.int32)
    out_fill = out_ptr[:n].copy()
    in_fill = in_ptr[:n].copy()
    for k in range(m):
        s, t, d = src[k], tok[k], dst[k]
        if d >= 0 and not drop[t]:
            out_dst[out_fill[s]] = d
            out_fill[s] += 1
            in_src[in_fill[d]] = s
            in_fill[d] += 1
    seen = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int64)
    seen[start] = True
    stack[0] = start
    top = 1
    while top:
        top -= 1
        q = stack[top]
        for k in range(out_ptr[q], out_ptr[q + 1]):
            d = out_dst[k]
            if not seen[d]:
                seen[d] = True
                stack[top] = d
                top += 1
    alive = np.zeros(n, dtype=np.bool_)
    top = 0
    for q in range(n):
        if seen[q] and final[q]:
            alive[q] = True
            stack[top] = q
            top += 1
    while top:
        top -= 1
        q = stack[top]
        for k in range(in_ptr[q], in_ptr[q + 1]):
            p = in_src[k]
            if seen[p] and not alive[p]:
                alive[p] = True
                stack[top] = p
                top += 1
    alive[start] = True
    return alive, False


@njit(cache=True)
def _renumbered(src, tok, dst, new, drop):  # pragma: no cover - jit
    """The transitions between kept states (``new[q] >= 0``), renumbered, their token not in ``drop``."""
    m = src.shape[0]
    out_src = np.empty(m, dtype=np.int32)
    out_tok = np.empty(m, dtype=np.int32)
    out_dst = np.empty(m, dtype=np.int32)
    i = 0
    for k in range(m):
        d = dst[k]
        if d >= 0 and new[src[k]] >= 0 and new[d] >= 0 and not drop[tok[k]]:
            out_src[i] = new[src[k]]
            out_tok[i] = tok[k]
            out_dst[i] = new[d]
            i += 1
    return out_src[:i], out_tok[:i], out_dst[:i]


def from_transitions(
    transitions: dict[int, dict[int, int]] | TransitionArrays,
    initial: int,
    finals: set[int] | list[int] | np.ndarray,
    vocab_size: int,
    end_tokens: int | tuple[int, ...],
    forbidden: tuple[int, ...] = (),
    state_budget: int = DEFAULT_STATE_BUDGET,
    not_first: frozenset[int] | set[int] | tuple[int, ...] = (),
) -> TokenAutomaton:
    """Build a :class:`TokenAutomaton` from sparse transitions: ``{state: {token: next}}`` (the form of
    outlines-core's ``Index.get_transitions()``), or :class:`TransitionArrays` with ``finals`` a boolean mask
    over its states (or their ids).

    States are renumbered contiguously (only those on a path from the start to a final state; the start
    first, then in the order of the original ids); every end token (one id, or a tuple: end first, then pad)
    is re-routed from every final state to a fresh absorbing end state; tokens in ``forbidden`` (the mask
    token) are dropped, and tokens in ``not_first`` are dropped from the first position only (tokens the
    decoder writes differently at the start of the text).
    """
    ends = _end_tuple(end_tokens)
    if isinstance(transitions, TransitionArrays):
        t = transitions
        src, tok, dst = (a.astype(np.int32, copy=False) for a in (t.src, t.tok, t.dst))
        arrays = replace(t, src=src, tok=tok, dst=dst)
        final = np.asarray(finals)
        if final.dtype != np.bool_:
            mask = np.zeros(arrays.num_states, dtype=bool)
            mask[final.astype(np.int64)] = True
            final = mask
    else:
        arrays, initial, final = _dict_arrays(transitions, initial, finals)
    drop = np.zeros(vocab_size, dtype=np.bool_)
    drop[[*(t for t in forbidden if 0 <= t < vocab_size), *ends]] = True
    if arrays.bundles is not None:
        arrays = replace(arrays, bundles=arrays.bundles.without(drop))
    arrays, initial, final = _split_start(arrays, int(initial), final, frozenset(int(t) for t in not_first))
    useful = _useful(arrays, initial, final, drop)
    rest = np.flatnonzero(useful)
    rest = rest[rest != initial]
    rest = rest[np.argsort(arrays.ranks()[rest], kind="stable")]
    if rest.size + 2 > state_budget:
        raise ConstraintTooLargeError(f"automaton has {rest.size + 1} states, over the budget of {state_budget}")
    new = np.full(arrays.num_states, -1, dtype=np.int32)
    new[initial] = 0
    new[rest] = np.arange(1, rest.size + 1)
    end_state = rest.size + 1
    src, tok, dst = _renumbered(arrays.src, arrays.tok, arrays.dst, new, drop)
    bundles = TokenBundles.none()
    if arrays.bundles is not None and len(arrays.bundles):
        b = arrays.bundles
        ok = (b.dst >= 0) & (b.sizes() > 0)
        ok[ok] = (new[b.src[ok]] >= 0) & (new[b.dst[ok]] >= 0)
        rows = np.flatnonzero(ok)
        bundles = b.select(rows, new[b.src[rows]], new[b.dst[rows]])
    final_ids = np.sort(new[final & (new >= 0)])
    with_end = np.append(final_ids, end_state).astype(np.int32)
    n_ends = len(ends)
    src = np.concatenate([src, np.repeat(with_end, n_ends)])
    tok = np.concatenate([tok, np.tile(np.array(ends, dtype=np.int32), with_end.size)])
    dst = np.concatenate([dst, np.full(with_end.size * n_ends, end_state, dtype=np.int32)])
    return _assemble(src, tok, dst, bundles, end_state + 1, vocab_size, 0, final_ids, end_state, ends)


def _assemble(src, tok, dst, bundles, num_states, vocab_size, start, final_ids, end_state, ends) -> TokenAutomaton:
    token_class, table = classes_of(src, tok, dst, bundles, vocab_size, num_states)
    accept = np.zeros(num_states, dtype=bool)
    accept[np.asarray(final_ids, dtype=np.int64)] = True
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
