"""Word grouping and word selection for rewrites."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from ctrlgen.rewriting import pick_words, random_order, word_spans

pieces = st.lists(st.sampled_from(["the", " food", " was", "n't", " dis", "gust", "ing", " !", ".", "--", " _", "x"]))


def test_word_spans_keep_words_whole():
    words = ["dis", "appointed", " !", " i", " can", "cel", "led", ",", " sadly", "."]
    spans = word_spans(words)
    expected = ["disappointed", " !", " i", " cancelled", ",", " sadly", "."]
    assert ["".join(words[i] for i in s) for s in spans] == expected


@given(pieces)
def test_word_spans_partition_positions_in_order(ps):
    spans = word_spans(ps)
    assert [i for s in spans for i in s] == list(range(len(ps)))
    for s in spans:  # only a span's first token may start with white space
        assert all(not ps[i][:1].isspace() for i in s[1:])


@given(st.lists(st.integers(1, 4), min_size=1, max_size=12), st.integers(1, 20), st.integers(0, 1000))
def test_pick_words_respects_the_budget(sizes, budget, seed):
    spans, start = [], 0
    for size in sizes:
        spans.append(list(range(start, start + size)))
        start += size
    order = random_order(len(spans), torch.Generator().manual_seed(seed))
    chosen = pick_words(spans, budget, order)
    first = spans[order[0]]
    assert set(first) <= set(chosen)  # the first word in the order is always taken
    assert len(chosen) <= max(budget, len(first))
    assert all(set(s) <= set(chosen) or not set(s) & set(chosen) for s in spans)  # whole words only
