"""Bundled token transitions (:mod:`ctrlgen.guidance.token_classes`) build the automaton their triples build."""

from __future__ import annotations

import numpy as np
from ctrlgen.guidance.automaton import TransitionArrays, from_transitions
from ctrlgen.guidance.compile import accept_empty_start
from ctrlgen.guidance.token_classes import TokenBundles
from hypothesis import given, settings
from hypothesis import strategies as st

V = 12  # tokens 0..11; 0 ends, 1 is the mask


@st.composite
def bundled_arrays(draw):
    """Transitions over a few states: some (state, token) pairs as triples, the rest of a state's moves as bundle
    rows over shared parts, never the same pair twice."""
    n = draw(st.integers(1, 6))
    parts = draw(st.lists(st.sets(st.integers(0, V - 1), max_size=6), min_size=1, max_size=3))
    src, tok, dst, b_src, b_part, b_dst = [], [], [], [], [], []
    for s in range(n):
        used: set[int] = set()
        for p in draw(st.lists(st.integers(0, len(parts) - 1), max_size=2, unique=True)):
            if parts[p] & used:
                continue
            used |= parts[p]
            b_src.append(s)
            b_part.append(p)
            b_dst.append(draw(st.integers(-1, n - 1)))
        for t in draw(st.sets(st.integers(0, V - 1), max_size=4)) - used:
            src.append(s)
            tok.append(t)
            dst.append(draw(st.integers(-1, n - 1)))
    start = np.zeros(len(parts) + 1, dtype=np.int64)
    start[1:] = np.cumsum([len(p) for p in parts])
    part_tok = np.array([t for p in parts for t in sorted(p)], dtype=np.int32)
    bundles = TokenBundles(
        np.array(b_src, dtype=np.int32), np.array(b_part, dtype=np.int64), np.array(b_dst, dtype=np.int32), start,
        part_tok,
    )  # fmt: skip
    arrays = TransitionArrays(
        np.array(src, dtype=np.int32), np.array(tok, dtype=np.int32), np.array(dst, dtype=np.int32), n,
        bundles=bundles,
    )  # fmt: skip
    final = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return arrays, final


def _same(a, b) -> None:
    assert np.array_equal(a.table, b.table)
    assert np.array_equal(a.token_class, b.token_class)
    assert np.array_equal(a.accept, b.accept)
    assert (a.start, a.end_state, a.end_tokens) == (b.start, b.end_state, b.end_tokens)


@given(bundled_arrays(), st.sets(st.integers(2, V - 1), max_size=3), st.booleans())
@settings(max_examples=300, deadline=None)
def test_bundle_rows_build_the_automaton_their_triples_build(case, not_first, empty_start):
    arrays, final = case
    flat = arrays.expanded()
    assert flat.bundles is None or not len(flat.bundles)
    assert len(flat.src) == len(arrays.src) + int(arrays.bundles.sizes().sum())
    if empty_start:
        arrays, initial, final_a = accept_empty_start(arrays, 0, final.copy())
        flat, initial_f, final_f = accept_empty_start(flat, 0, final.copy())
        assert initial == initial_f and np.array_equal(final_a, final_f)
    else:
        initial, final_a, final_f = 0, final, final
    built = from_transitions(arrays, initial, final_a, V, (0,), (1,), not_first=frozenset(not_first))
    expected = from_transitions(flat, initial, final_f, V, (0,), (1,), not_first=frozenset(not_first))
    _same(built, expected)


def test_a_part_left_empty_by_the_dropped_tokens_is_no_edge():
    # state 0 reaches 1 only by a part holding the mask token alone: 1 is unreachable and trimmed
    bundles = TokenBundles(
        np.array([0], dtype=np.int32), np.array([0]), np.array([1], dtype=np.int32), np.array([0, 1]),
        np.array([1], dtype=np.int32),
    )  # fmt: skip
    arrays = TransitionArrays(
        np.array([0], dtype=np.int32), np.array([3], dtype=np.int32), np.array([2], dtype=np.int32), 3,
        bundles=bundles,
    )  # fmt: skip
    automaton = from_transitions(arrays, 0, np.array([False, True, True]), V, (0,), (1,))
    assert automaton.table.shape[0] == 3  # start, 2, end
    assert automaton.accepts([3, 0])
    assert not automaton.accepts([1, 0])
