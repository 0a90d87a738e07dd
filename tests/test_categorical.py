import torch
from ctrlgen.guidance.categorical import draw_categorical, sampling_probs
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.0, 1e-300, 1e-12, 0.5, 1.0, 3.0]), min_size=2, max_size=12), st.integers(0, 10**6)
)
def test_never_draws_a_zero_weight_candidate(weights, seed):
    w = torch.tensor(weights, dtype=torch.float64)
    if w.sum() == 0:
        w[0] = 1.0
    idx = draw_categorical(w.expand(500, -1), torch.Generator().manual_seed(seed))
    assert (w[idx] > 0).all()


def test_frequencies_match_probabilities():
    p = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)
    idx = draw_categorical(p.expand(20000, -1), torch.Generator().manual_seed(0))
    freq = torch.bincount(idx, minlength=3).double() / idx.numel()
    assert torch.allclose(freq, p, atol=0.015)


def test_same_seed_same_draws():
    p = torch.rand(4, 9, 30)
    a = draw_categorical(p, torch.Generator().manual_seed(7))
    b = draw_categorical(p, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_top_p_keeps_the_smallest_sufficient_set():
    lp = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    probs = sampling_probs(lp, top_p=0.7)
    assert torch.count_nonzero(probs) == 2
    assert torch.allclose(probs.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_temperature_sharpens():
    lp = torch.tensor([0.6, 0.4]).log()
    assert sampling_probs(lp, temperature=0.5)[0] > sampling_probs(lp)[0]


def test_forbidden_row_is_all_zero():
    lp = torch.full((3,), float("-inf"))
    assert sampling_probs(lp).sum() == 0
