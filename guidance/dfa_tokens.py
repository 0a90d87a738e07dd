"""A byte automaton (:mod:`.byte_automata`) read with a model's tokens: its :class:`TokenAutomaton`.

outlines-core builds token automata from regexes only; a language made with automaton operations (an ``allOf``
intersection, a ``not`` complement) has no regex, so ctrlgen reads it with the vocabulary itself. The tokens'
bytes (:class:`TokenVocabulary`) are stored once as a trie; from every state of the byte automaton a depth-first
walk of the trie follows the bytes while the automaton has a way on, and every token ending on the way is a
transition (compiled with numba: the walk only visits (state, trie node) pairs that stay alive, so a state that
allows few bytes costs little whatever the vocabulary).

A state that allows most bytes costs the whole trie, and a schema's automaton has dozens: every place a free
string can be written. Almost all of them read one byte into a state that loops on most bytes (a string's start
and content). For such a pair of byte sets the tokens spelled inside them and the trie edges that leave them are
found once per vocabulary (:func:`_loop_part`); such a state takes those tokens as one bundle row (they all lead
to the loop state: :class:`.token_classes.TokenBundles`, never written out token by token) and walks on only
from those edges (a few hundred, against thousands of trie nodes).

The conventions are :func:`.compile.regex_automaton`'s, applied by the same helpers
(:func:`.compile.accept_empty_start`, :func:`.compile.vocabulary_automaton`): at the start of a canvas the
vocabulary's forced prefix is read first and tokens the decoder writes differently in first position are kept
out of it, the empty response is accepted when the language holds the empty text, end tokens lead every
accepting state to the absorbing end state, and byte sequences the decoder would rewrite are kept out.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._byte_kernels import OUT_OF_TIME, _grow1, _now
from .automaton import DEFAULT_STATE_BUDGET, TokenAutomaton, TransitionArrays
from .byte_automata import DFA, _deadline, _raise_for, concat
from .token_classes import TokenBundles
from .vocabulary import TokenVocabulary, as_vocabulary

__all__ = ["dfa_token_automaton", "TokenTrie"]


@dataclass(frozen=True)
class TokenTrie:
    """The vocabulary's token bytes as a trie in flat arrays (node 0 the root): the children of node ``n`` are
    ``child_byte/child_node[child_start[n]:child_start[n + 1]]`` (in byte order), the tokens spelled by it
    ``token_ids[token_start[n]:token_start[n + 1]]``."""

    child_start: np.ndarray
    child_byte: np.ndarray
    child_node: np.ndarray
    token_start: np.ndarray
    token_ids: np.ndarray

    @classmethod
    def build(cls, vocab: TokenVocabulary) -> TokenTrie:
        children: list[dict[int, int]] = [{}]
        tokens: list[list[int]] = [[]]
        for tok, data in enumerate(vocab.token_bytes):
            if not data:  # never in text (None), or writes nothing: never a transition
                continue
            node = 0
            for byte in data:
                nxt = children[node].get(byte)
                if nxt is None:
                    nxt = children[node][byte] = len(children)
                    children.append({})
                    tokens.append([])
                node = nxt
            tokens[node].append(tok)
        children = [dict(sorted(c.items())) for c in children]
        lens = np.array([len(c) for c in children], dtype=np.int64)
        child_start = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        child_byte = np.array([b for c in children for b in c], dtype=np.int64)
        child_node = np.array([n for c in children for n in c.values()], dtype=np.int64)
        tlens = np.array([len(t) for t in tokens], dtype=np.int64)
        token_start = np.concatenate([[0], np.cumsum(tlens)]).astype(np.int64)
        token_ids = np.array([t for ts in tokens for t in ts], dtype=np.int64)
        return cls(child_start, child_byte, child_node, token_start, token_ids)


_TRIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Fewest bytes a state must read into its loop state, and that state loop on, for its walk to use a loop part.
_LOOP_MIN_BYTES = 16
#: Loop parts kept per vocabulary (most schemas share a handful: string contents, digits, a pattern's class).
_LOOP_PARTS_KEPT = 64


def _trie(vocab: TokenVocabulary) -> TokenTrie:
    if vocab not in _TRIES:
        _TRIES[vocab] = (TokenTrie.build(vocab), {})
    return _TRIES[vocab][0]


def _loop_part(vocab: TokenVocabulary, first: np.ndarray, loop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a state that reads the bytes ``first`` into a state that loops on the bytes ``loop`` (a string's start
    and content): the tokens spelled with one byte of ``first``, then bytes of ``loop`` only; and the frontier,
    the trie edges (indexes into ``child_byte``) that leave those sets from a node spelled inside them. Kept per
    vocabulary: the same few sets recur across states and schemas."""
    trie = _trie(vocab)
    parts = _TRIES[vocab][1]
    key = first.tobytes() + loop.tobytes()
    if key not in parts:
        if len(parts) >= _LOOP_PARTS_KEPT:
            parts.pop(next(iter(parts)))
        parts[key] = _loop_walk(first, loop, trie.child_start, trie.child_byte, trie.child_node, trie.token_start,
                                trie.token_ids)  # fmt: skip
    return parts[key]


@njit(cache=True)
def _loop_walk(first, loop, child_start, child_byte, child_node, token_start, token_ids):  # pragma: no cover - jit
    """(tokens spelled inside ``first`` then ``loop``, frontier edges) of :func:`_loop_part`."""
    tokens = np.empty(token_ids.shape[0], dtype=np.int32)
    frontier = np.empty(child_byte.shape[0], dtype=np.int64)
    n_tok = 0
    n_front = 0
    stack = np.empty(child_byte.shape[0] + 1, dtype=np.int64)
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        for k in range(token_start[node], token_start[node + 1]):
            tokens[n_tok] = token_ids[k]
            n_tok += 1
        inside = first if node == 0 else loop
        for k in range(child_start[node], child_start[node + 1]):
            if inside[child_byte[k]]:
                stack[top] = child_node[k]
                top += 1
            else:
                frontier[n_front] = k
                n_front += 1
    return tokens[:n_tok].copy(), frontier[:n_front].copy()


@njit(cache=True)
def _walk(
    table, live_start, live_byte, child_start, child_byte, child_node, token_start, token_ids, part_of, entry,
    front_start, front, cap, deadline,
):  # pragma: no cover - jit  # fmt: skip
    """(src, tok, dst) of every token transition of the byte automaton ``table``: from each state a walk of the
    trie while the automaton has a way on.

    A state ``s`` with a precomputed part (``part_of[s] >= 0``: bytes that lead ``s`` to ``entry[s]``, and bytes
    that keep ``entry[s]`` where it is, :func:`_loop_part`) leaves the part's tokens to the caller (they all lead
    to ``entry[s]``: one bundle row), and walks on only from the part's frontier: from ``s`` itself at the root,
    from ``entry[s]`` below it.

    At a trie node with many children and a state with few live bytes (``live_byte[live_start[q]:...]``, in
    byte order), the state's bytes are looked up among the children instead of the children tried one by one.

    Past ``deadline`` (``time.monotonic()``, read every 64 states) it stops: ``late`` is then True."""
    src = np.empty(cap, dtype=np.int32)  # ``cap``: the caller's estimate of the count; grown (doubled) when short
    tok = np.empty(cap, dtype=np.int32)
    dst = np.empty(cap, dtype=np.int32)
    count = 0
    stack_node = np.empty(64, dtype=np.int64)
    stack_state = np.empty(64, dtype=np.int64)
    root_edges = child_start[1]
    for s in range(table.shape[0]):
        if (s & 63) == 0 and _now() > deadline:
            return src[:count], tok[:count], dst[:count], True
        top = 0
        part = part_of[s]
        if part >= 0:
            t = entry[s]
            for j in range(front_start[part], front_start[part + 1]):
                k = front[j]
                r = table[s if k < root_edges else t, child_byte[k]]
                if r < 0:
                    continue
                if top == stack_node.shape[0]:
                    stack_node, stack_state = _grow1(stack_node, top + 1), _grow1(stack_state, top + 1)
                stack_node[top] = child_node[k]
                stack_state[top] = r
                top += 1
        else:
            stack_node[0] = 0
            stack_state[0] = s
            top = 1
        while top > 0:
            top -= 1
            node = stack_node[top]
            q = stack_state[top]
            for k in range(token_start[node], token_start[node + 1]):
                if count == src.shape[0]:
                    src, tok, dst = _grow1(src, count + 1), _grow1(tok, count + 1), _grow1(dst, count + 1)
                src[count] = s
                tok[count] = token_ids[k]
                dst[count] = q
                count += 1
            c_lo, c_hi = child_start[node], child_start[node + 1]
            l_lo, l_hi = live_start[q], live_start[q + 1]
            most = top + min(c_hi - c_lo, l_hi - l_lo)  # pushed at most: one per child the state can read
            if most > stack_node.shape[0]:
                stack_node, stack_state = _grow1(stack_node, most), _grow1(stack_state, most)
            if (l_hi - l_lo) * 8 < c_hi - c_lo:  # few bytes to read here, many children: look them up
                for j in range(l_lo, l_hi):
                    b = live_byte[j]
                    lo = c_lo + np.searchsorted(child_byte[c_lo:c_hi], b)
                    if lo < c_hi and child_byte[lo] == b:
                        stack_node[top] = child_node[lo]
                        stack_state[top] = table[q, b]
                        top += 1
            else:
                for k in range(c_lo, c_hi):
                    r = table[q, child_byte[k]]
                    if r < 0:
                        continue
                    stack_node[top] = child_node[k]
                    stack_state[top] = r
                    top += 1
    return src[:count], tok[:count], dst[:count], False


@njit(cache=True)
def _live_bytes(table):  # pragma: no cover - jit
    """Each state's live bytes, in order, as CSR: ``byte[start[q]:start[q + 1]]``."""
    n = table.shape[0]
    start = np.zeros(n + 1, dtype=np.int64)
    for q in range(n):
        c = 0
        for b in range(256):
            if table[q, b] >= 0:
                c += 1
        start[q + 1] = start[q] + c
    byte = np.empty(start[n], dtype=np.int64)
    k = 0
    for q in range(n):
        for b in range(256):
            if table[q, b] >= 0:
                byte[k] = b
                k += 1
    return start, byte


@njit(cache=True)
def _entries(table, min_bytes):  # pragma: no cover - jit
    """Each state's majority target ``t`` among its live bytes (-1: none), the bytes that lead there (``first``)
    and those ``t`` loops on (``loop``), kept where both have at least ``min_bytes`` bytes (a string's content:
    a few states read most bytes into one)."""
    n = table.shape[0]
    target = np.full(n, -1, dtype=np.int64)
    first = np.zeros((n, 256), dtype=np.bool_)
    loop = np.zeros((n, 256), dtype=np.bool_)
    for s in range(n):
        best, votes = -1, 0  # Boyer-Moore majority vote over the live bytes
        for b in range(256):
            r = table[s, b]
            if r < 0:
                continue
            if votes == 0:
                best, votes = r, 1
            elif r == best:
                votes += 1
            else:
                votes -= 1
        if best < 0:
            continue
        n_first = 0
        n_loop = 0
        for b in range(256):
            if table[s, b] == best:
                n_first += 1
            if table[best, b] == best:
                n_loop += 1
        if n_first < min_bytes or n_loop < min_bytes:
            continue
        target[s] = best
        for b in range(256):
            first[s, b] = table[s, b] == best
            loop[s, b] = table[best, b] == best
    return target, first, loop


def _transitions(table: np.ndarray, vocab: TokenVocabulary, min_bytes: int = _LOOP_MIN_BYTES) -> TransitionArrays:
    """:func:`_walk` of ``table``, with a precomputed part for every state that reads at least ``min_bytes``
    bytes into one state ``t`` that loops on at least ``min_bytes`` bytes (a string's start or content): the
    part's tokens are one bundle row ``s -> t`` (:class:`.token_classes.TokenBundles`), the rest triples."""
    trie = _trie(vocab)
    n = table.shape[0]
    table = table.astype(np.int64)
    target, first, loop = _entries(table, min_bytes)
    wide = np.flatnonzero(target >= 0)
    part_of = np.full(n, -1, dtype=np.int64)
    tok_parts: list[np.ndarray] = []
    front_parts: list[np.ndarray] = []
    index: dict[bytes, int] = {}
    for s in wide.tolist():
        key = first[s].tobytes() + loop[s].tobytes()
        if key not in index:
            index[key] = len(tok_parts)
            tokens, frontier = _loop_part(vocab, first[s], loop[s])
            tok_parts.append(tokens)
            front_parts.append(frontier)
        part_of[s] = index[key]

    def joined(parts: list[np.ndarray], dtype) -> tuple[np.ndarray, np.ndarray]:
        start = np.zeros(len(parts) + 1, dtype=np.int64)
        start[1:] = np.cumsum([len(p) for p in parts])
        return start, (np.concatenate(parts) if parts else np.zeros(0, dtype=dtype))

    tok_start, part_tok = joined(tok_parts, np.int32)
    front_start, front = joined(front_parts, np.int64)
    live_start, live_byte = _live_bytes(table)
    src, tok, dst, late = _walk(
        table, live_start, live_byte, trie.child_start, trie.child_byte, trie.child_node, trie.token_start,
        trie.token_ids, part_of, target, front_start, front, 64 * n + 1024, _deadline(),
    )  # fmt: skip
    if late:
        _raise_for(OUT_OF_TIME, 0, "a token automaton")
    bundles = TokenBundles(
        wide.astype(np.int32), part_of[wide], target[wide].astype(np.int32), tok_start, part_tok.astype(np.int32)
    )
    return TransitionArrays(src, tok, dst, n, bundles=bundles)


def dfa_token_automaton(
    dfa: DFA, vocab, state_budget: int = DEFAULT_STATE_BUDGET, at_start: bool = True
) -> TokenAutomaton:
    """The token automaton of the byte language ``dfa`` over ``vocab`` (a :class:`TokenVocabulary` or a
    tokenizer); ``at_start`` as in :func:`.compile.regex_automaton`."""
    from .compile import accept_empty_start, vocabulary_automaton

    vocab = as_vocabulary(vocab)
    full = concat([DFA.literal(vocab.prefix), dfa]) if at_start and vocab.prefix else dfa
    arrays = _transitions(full.table, vocab)
    initial, final = 0, full.accept.copy()
    if at_start and vocab.prefix and bool(dfa.accept[0]):
        arrays, initial, final = accept_empty_start(arrays, initial, final)
    return vocabulary_automaton(arrays, initial, final, vocab, state_budget, at_start)
