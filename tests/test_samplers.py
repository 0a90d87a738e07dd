"""Sampler logic on a dummy denoiser (fixed random logits over a vocabulary of 8): no training needed."""

import pytest
import torch
from ctrlgen.guidance import Guide
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlgen.errors import InvalidArgumentError
from ctrlgen.masking import subs_log_probs
from ctrlgen.sampling import AncestralSampler, ConfidenceSampler, SemiAutoregressiveSampler

V, MASK, END = 8, 1, 0


class DummyDenoiser:
    """Position-dependent fixed logits; counts its calls."""

    def __init__(self, seed: int = 0) -> None:
        self.table = torch.randn(64, V, generator=torch.Generator().manual_seed(seed))
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        logits = self.table[: x.shape[1]].expand(x.shape[0], -1, -1).clone()
        return subs_log_probs(logits, x, MASK)


SAMPLERS = [
    lambda steps: AncestralSampler(steps=steps),
    lambda steps: ConfidenceSampler(steps=steps),
    lambda steps: SemiAutoregressiveSampler(steps=steps, block_size=4),
]


def _canvas(b, n):
    return torch.full((b, n), MASK)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(range(3)), st.integers(1, 40), st.integers(1, 5), st.one_of(st.none(), st.integers(1, 50)))
def test_no_mask_survives_and_length_is_kept(which, length, batch, steps):
    out = SAMPLERS[which](steps).run(
        DummyDenoiser(), _canvas(batch, length), MASK, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == (batch, length)
    assert not (out == MASK).any()


@pytest.mark.parametrize("which", range(3))
def test_same_seed_same_output_different_seed_differs(which):
    runs = [
        SAMPLERS[which](None).run(DummyDenoiser(), _canvas(4, 30), MASK, generator=torch.Generator().manual_seed(s))
        for s in (1, 1, 2)
    ]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("which", range(3))
def test_fixed_positions_are_kept(which):
    canvas = _canvas(3, 12)
    canvas[:, ::3] = 5
    out = SAMPLERS[which](6).run(DummyDenoiser(), canvas, MASK, generator=torch.Generator().manual_seed(0))
    assert (out[:, ::3] == 5).all()


def test_semi_autoregressive_fills_blocks_left_to_right():
    order = []

    class Recorder(Guide):
        def update(self, output):
            order.append(output.committed[0].nonzero().flatten().tolist())

    SemiAutoregressiveSampler(steps=8, block_size=4).run(
        DummyDenoiser(), _canvas(1, 16), MASK, [Recorder()], torch.Generator().manual_seed(0)
    )
    blocks = [max(p) // 4 for p in order if p]
    assert blocks == sorted(blocks) and blocks[-1] == 3


def test_confidence_commits_schedule_counts():
    counts = []

    class Counter(Guide):
        def update(self, output):
            counts.append(int(output.committed.sum()))

    ConfidenceSampler(steps=4).run(DummyDenoiser(), _canvas(1, 20), MASK, [Counter()], torch.Generator().manual_seed(0))
    assert counts == [5, 5, 5, 5]


def test_guide_mask_is_respected_at_every_step():
    class ForbidOdd(Guide):
        def __init__(self):
            self.steps = 0

        def process_logits(self, state):
            self.steps += 1
            lp = state.log_probs.clone()
            lp[..., 3::2] = float("-inf")
            return lp

    guide = ForbidOdd()
    out = AncestralSampler(steps=10).run(
        DummyDenoiser(), _canvas(8, 10), MASK, [guide], torch.Generator().manual_seed(0)
    )
    assert (out % 2 == 0).logical_or(out < 3).all()
    assert guide.steps >= 1


def test_guide_can_draw_the_committed_tokens():
    class AlwaysSix(Guide):
        def sample(self, state, probs, commit, candidates):
            return torch.full_like(state.tokens, 6)

    out = ConfidenceSampler(steps=5).run(
        DummyDenoiser(), _canvas(2, 10), MASK, [AlwaysSix()], torch.Generator().manual_seed(0)
    )
    assert (out == 6).all()


def test_network_is_skipped_when_nothing_changed():
    denoiser = DummyDenoiser()
    # 200 ancestral steps on 5 positions: most steps commit nothing, so most forwards are cached
    AncestralSampler(steps=200).run(denoiser, _canvas(1, 5), MASK, generator=torch.Generator().manual_seed(0))
    assert denoiser.calls <= 6


@pytest.mark.parametrize(
    "kwargs", [dict(steps=0), dict(temperature=0.0), dict(temperature=float("nan")), dict(top_p=0.0), dict(top_p=1.5)]
)
def test_bad_sampler_arguments(kwargs):
    with pytest.raises(InvalidArgumentError):
        AncestralSampler(**kwargs)
