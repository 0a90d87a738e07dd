"""A byte automaton (:mod:`.byte_automata`) read with a model's tokens: its :class:`TokenAutomaton`.

outlines-core builds token automata from regexes only; a language made with automaton operations (an ``allOf``
intersection, a ``not`` complement) has no regex, so ctrlgen reads it with the vocabulary itself. The tokens'
bytes (:class:`TokenVocabulary`) are stored once as a trie; from every state of the byte automaton a depth-first
walk of the trie follows the bytes while the automaton has a way on, and every token ending on the way is a
transition (compiled with numba: the walk only visits (state, trie node) pairs that stay alive, so a state that
allows few bytes costs little whatever the vocabulary).

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

from .automaton import DEFAULT_STATE_BUDGET, TokenAutomaton, TransitionArrays
from .byte_automata import DFA, concat
from .vocabulary import TokenVocabulary, as_vocabulary

__all__ = ["dfa_token_automaton", "TokenTrie"]


@dataclass(frozen=True)
class TokenTrie:
    """The vocabulary's token bytes as a trie in flat arrays (node 0 the root): the children of node ``n`` are
    ``child_byte/child_node[child_start[n]:child_start[n + 1]]``, the tokens spelled by it
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
        lens = np.array([len(c) for c in children], dtype=np.int64)
        child_start = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        child_byte = np.array([b for c in children for b in c], dtype=np.int64)
        child_node = np.array([n for c in children for n in c.values()], dtype=np.int64)
        tlens = np.array([len(t) for t in tokens], dtype=np.int64)
        token_start = np.concatenate([[0], np.cumsum(tlens)]).astype(np.int64)
        token_ids = np.array([t for ts in tokens for t in ts], dtype=np.int64)
        return cls(child_start, child_byte, child_node, token_start, token_ids)


_TRIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _trie(vocab: TokenVocabulary) -> TokenTrie:
    if vocab not in _TRIES:
        _TRIES[vocab] = TokenTrie.build(vocab)
    return _TRIES[vocab]


@njit(cache=True)
def _walk(table, child_start, child_byte, child_node, token_start, token_ids):  # pragma: no cover - jit
    """(src, tok, dst) of every token transition of the byte automaton ``table``."""
    cap = 1024
    src = np.empty(cap, dtype=np.int64)
    tok = np.empty(cap, dtype=np.int64)
    dst = np.empty(cap, dtype=np.int64)
    count = 0
    stack_node = np.empty(64, dtype=np.int64)
    stack_state = np.empty(64, dtype=np.int64)
    for s in range(table.shape[0]):
        top = 0
        stack_node[0] = 0
        stack_state[0] = s
        top = 1
        while top > 0:
            top -= 1
            node = stack_node[top]
            q = stack_state[top]
            for k in range(token_start[node], token_start[node + 1]):
                if count == cap:
                    cap *= 2
                    src = np.concatenate((src, np.empty(cap - count, dtype=np.int64)))
                    tok = np.concatenate((tok, np.empty(cap - count, dtype=np.int64)))
                    dst = np.concatenate((dst, np.empty(cap - count, dtype=np.int64)))
                src[count] = s
                tok[count] = token_ids[k]
                dst[count] = q
                count += 1
            for k in range(child_start[node], child_start[node + 1]):
                r = table[q, child_byte[k]]
                if r < 0:
                    continue
                if top == stack_node.shape[0]:
                    stack_node = np.concatenate((stack_node, np.empty(top, dtype=np.int64)))
                    stack_state = np.concatenate((stack_state, np.empty(top, dtype=np.int64)))
                stack_node[top] = child_node[k]
                stack_state[top] = r
                top += 1
    return src[:count], tok[:count], dst[:count]


def dfa_token_automaton(
    dfa: DFA, vocab, state_budget: int = DEFAULT_STATE_BUDGET, at_start: bool = True
) -> TokenAutomaton:
    """The token automaton of the byte language ``dfa`` over ``vocab`` (a :class:`TokenVocabulary` or a
    tokenizer); ``at_start`` as in :func:`.compile.regex_automaton`."""
    from .compile import accept_empty_start, vocabulary_automaton

    vocab = as_vocabulary(vocab)
    full = concat([DFA.literal(vocab.prefix), dfa]) if at_start and vocab.prefix else dfa
    trie = _trie(vocab)
    src, tok, dst = _walk(
        full.table.astype(np.int64), trie.child_start, trie.child_byte, trie.child_node, trie.token_start,
        trie.token_ids,
    )  # fmt: skip
    arrays = TransitionArrays(src, tok, dst, full.num_states)
    initial, final = 0, full.accept.copy()
    if at_start and vocab.prefix and bool(dfa.accept[0]):
        arrays, initial, final = accept_empty_start(arrays, initial, final)
    return vocabulary_automaton(arrays, initial, final, vocab, state_budget, at_start)
