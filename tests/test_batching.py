"""Length-grouped batches and bounded padding: the same documents, less padding computed per step."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlgen.data import LengthGroupedOrder, _CanvasCollator


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 120), min_size=1, max_size=400), batch=st.integers(1, 40), seed=st.integers(0, 9)
)
def test_every_document_once_per_epoch(lengths, batch, seed):
    order = LengthGroupedOrder(lengths, batch, seed)
    for epoch in range(2):
        order.set_epoch(epoch)
        assert sorted(order) == list(range(len(lengths)))


def test_batches_hold_similar_lengths_and_epochs_differ():
    rng = random.Random(0)
    lengths = [rng.randint(5, 120) for _ in range(3200)]
    order = LengthGroupedOrder(lengths, 32, seed=1)
    grouped = list(order)
    shuffled = list(range(len(lengths)))
    rng.shuffle(shuffled)

    def mean_waste(ids):
        batches = [ids[i : i + 32] for i in range(0, len(ids), 32)]
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches) / len(ids)

    assert mean_waste(grouped) < 0.2 * mean_waste(shuffled)
    order.set_epoch(1)
    assert list(order) != grouped


def test_padding_is_bounded_and_at_least_one_end_token():
    collate = _CanvasCollator(end_id=0, canvas_length=128, random_length=True, seed=0, max_padding=8)
    for n in (3, 40, 127, 200):
        for _ in range(20):
            out = collate([[5] * n, [6] * max(n // 2, 1)])["input_ids"]
            longest = min(n + 1, 128)
            assert longest <= out.shape[1] <= min(128, longest + 8)
    exact = _CanvasCollator(end_id=0, canvas_length=128, random_length=True, seed=0, max_padding=0)
    assert exact([[5] * 10])["input_ids"].shape[1] == 11
