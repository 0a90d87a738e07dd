"""Sampler logic on a dummy denoiser (fixed random logits over a vocabulary of 8): no training needed."""

import re

import pytest
import torch
from ctrlgen.constraints import Length, Regex
from ctrlgen.guidance import ConstraintGuide, Guide, Span, StepOutput, StepState
from ctrlgen.guidance.categorical import draw_categorical, sampling_probs
from ctrlgen.guidance.compile import compile_constraint
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ctrlgen.errors import InvalidArgumentError
from ctrlgen.masking import subs_log_probs
from ctrlgen.sampling import (
    SAMPLERS as REGISTERED,
)
from ctrlgen.sampling import (
    AncestralSampler,
    ConfidenceSampler,
    RemaskingSampler,
    SemiAutoregressiveSampler,
)
from tests.conftest import small_regexes

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


# --- the sampler step ---------------------------------------------------------------------------------------


def _reference_run(sampler, denoise, canvas, mask, guides, generator):
    """The reverse loop as it was before the step refactor (one loop, unmasking only): the step-based
    ``run`` must give the same tokens, draw for draw."""
    x = canvas.clone()
    for guide in guides:
        guide.prepare(x, x == mask)
    num_steps = sampler.total_steps(x.shape[1])
    cached_x, cached = None, None
    for step in range(num_steps):
        masked = x == mask
        if not masked.any():
            break
        if cached_x is None or not torch.equal(cached_x, x):
            cached_x, cached = x.clone(), denoise(x)
        t, s = 1.0 - step / num_steps, 1.0 - (step + 1) / num_steps
        state = StepState(x, masked, cached, step, num_steps, t, s, generator)
        for guide in guides:
            if guide.is_active(step, num_steps):
                state.log_probs = guide.process_logits(state)
        probs = sampling_probs(state.log_probs, sampler.temperature, sampler.top_p)
        candidates = draw_categorical(probs, generator)
        candidate_probs = probs.gather(-1, candidates.unsqueeze(-1)).squeeze(-1)
        commit = sampler.select(state, candidate_probs, generator) & masked
        for guide in guides:
            drawn = guide.sample(state, probs, commit, candidates)
            if drawn is not None:
                candidates = drawn
        x = torch.where(commit, candidates, x)
        for guide in guides:
            guide.update(StepOutput(x, commit, probs, step))
    return x


class EvenTokensJointly(Guide):
    """A guide that forbids odd tokens and draws the committed ones itself (uses the generator)."""

    def process_logits(self, state):
        lp = state.log_probs.clone()
        lp[..., 3::2] = float("-inf")
        return lp

    def sample(self, state, probs, commit, candidates):
        out = candidates.clone()
        drawn = draw_categorical(probs, state.generator)
        out[commit] = drawn[commit]
        return out


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(range(3)),
    st.integers(1, 30),
    st.integers(1, 3),
    st.one_of(st.none(), st.integers(1, 40)),
    st.integers(0, 2**31 - 1),
    st.booleans(),
    st.booleans(),
)
def test_step_based_run_gives_the_old_loops_tokens(which, length, batch, steps, seed, with_fixed, guided):
    canvas = _canvas(batch, length)
    if with_fixed:
        canvas[:, ::3] = 5
    guides = [EvenTokensJointly()] if guided else []
    sampler = SAMPLERS[which](steps)
    new_denoiser, old_denoiser = DummyDenoiser(seed % 7), DummyDenoiser(seed % 7)
    new = sampler.run(new_denoiser, canvas, MASK, guides, torch.Generator().manual_seed(seed))
    old = _reference_run(sampler, old_denoiser, canvas, MASK, guides, torch.Generator().manual_seed(seed))
    assert torch.equal(new, old)
    assert new_denoiser.calls == old_denoiser.calls  # the cache skips the same forwards


def test_step_output_defaults_to_nothing_remasked():
    out = StepOutput(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool), torch.zeros(2, 3, V), 0)
    assert out.remasked.shape == (2, 3) and out.remasked.dtype == torch.bool and not out.remasked.any()


def test_step_can_be_called_on_its_own():
    x = _canvas(2, 6)
    x[:, 0] = 5
    state = StepState(
        x, x == MASK, DummyDenoiser()(x), 0, 1, 1.0, 0.0, torch.Generator().manual_seed(0), x != MASK, MASK
    )
    out = RemaskingSampler(steps=1).step(state)
    assert isinstance(out, StepOutput)
    assert torch.equal(out.committed, x == MASK) and not out.remasked.any()  # the last step commits all
    assert (out.tokens[:, 0] == 5).all() and not (out.tokens == MASK).any()


def test_a_step_that_remasks_a_fixed_position_is_refused():
    class Rogue(AncestralSampler):
        def step(self, state, guides=()):
            out = super().step(state, guides)
            bad = state.fixed & (state.s > 0)
            return StepOutput(out.tokens.masked_fill(bad, MASK), out.committed, out.probs, out.step, bad)

    canvas = _canvas(1, 6)
    canvas[:, 0] = 5
    with pytest.raises(RuntimeError, match="fixed from the start"):
        Rogue(steps=3).run(DummyDenoiser(), canvas, MASK, generator=torch.Generator().manual_seed(0))


# --- ReMDM ---------------------------------------------------------------------------------------------------


class Recorder(Guide):
    """Records every step's commits and remasks, and the canvas before it."""

    def __init__(self):
        self.before, self.outputs = [], []

    def process_logits(self, state):
        self.before.append((state.tokens.clone(), state.t, state.s))
        return state.log_probs

    def update(self, output):
        self.outputs.append(output)


REMDM_VARIANTS = [
    dict(),  # the default: ReMDM-loop, max-capped eta = 0.02
    dict(loop=False, eta=0.04),
    dict(loop=False, remasking="rescale", eta=0.5),
    dict(loop=False, remasking="conf"),
    dict(remasking="conf"),
    dict(loop=False, t_switch=0.5, eta=0.2),
]


@pytest.mark.parametrize("kwargs", REMDM_VARIANTS)
def test_remdm_remasks_but_never_fixed_positions_and_ends_unmasked(kwargs):
    canvas = _canvas(4, 32)
    canvas[:, ::5] = 5
    fixed = canvas != MASK
    recorder = Recorder()
    out = RemaskingSampler(steps=64, **kwargs).run(
        DummyDenoiser(), canvas, MASK, [recorder], torch.Generator().manual_seed(0)
    )
    assert not (out == MASK).any() and (out[fixed] == 5).all()
    remasked = sum(int(o.remasked.sum()) for o in recorder.outputs)
    assert remasked > 0
    for (before, _, s), o in zip(recorder.before, recorder.outputs):
        assert not (o.remasked & fixed).any()
        assert not (o.remasked & (before == MASK)).any()  # only committed tokens are remasked
        assert not (o.remasked & o.committed).any()
        assert (o.tokens[o.remasked] == MASK).all()
        if s <= 0:
            assert not o.remasked.any()
    # every free position ends committed: commits minus remasks is the number of free positions
    assert sum(int(o.committed.sum()) for o in recorder.outputs) - remasked == int((~fixed).sum())


@pytest.mark.parametrize("kwargs", REMDM_VARIANTS)
def test_remdm_same_seed_same_tokens(kwargs):
    runs = [
        RemaskingSampler(steps=40, **kwargs).run(
            DummyDenoiser(), _canvas(3, 20), MASK, generator=torch.Generator().manual_seed(s)
        )
        for s in (7, 7, 8)
    ]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_remdm_loop_remasks_only_inside_its_window():
    sampler = RemaskingSampler(steps=100, eta=0.2)
    recorder = Recorder()
    sampler.run(DummyDenoiser(), _canvas(4, 24), MASK, [recorder], torch.Generator().manual_seed(0))
    remask_times = [(t, s) for (_, t, s), o in zip(recorder.before, recorder.outputs) if o.remasked.any()]
    assert remask_times
    assert all(t <= sampler.t_on and s >= sampler.t_off for t, s in remask_times)


def test_remdm_with_zero_sigma_is_mdlm_draw_for_draw():
    for seed in range(5):
        canvas = _canvas(3, 17)
        canvas[:, 2] = 4
        a = AncestralSampler(steps=9).run(DummyDenoiser(), canvas, MASK, generator=torch.Generator().manual_seed(seed))
        b = RemaskingSampler(steps=9, eta=0.0, loop=False).run(
            DummyDenoiser(), canvas, MASK, generator=torch.Generator().manual_seed(seed)
        )
        assert torch.equal(a, b)


def test_remdm_rates_follow_the_paper():
    sampler = RemaskingSampler(loop=False, eta=0.04)
    x = _canvas(1, 4)
    x[0, :2] = 3
    fixed = torch.tensor([[True, False, False, False]])
    state = StepState(x, x == MASK, None, 5, 10, 0.5, 0.4, None, fixed, MASK)
    unmask, sigma = sampler.rates(state)
    a_t, a_s = 0.5, 0.6  # log-linear: alpha(t) = 1 - t
    sig = min(0.04, (1 - a_s) / a_t)
    assert unmask[0, 2].item() == pytest.approx((a_s - (1 - sig) * a_t) / (1 - a_t))
    assert sigma[0].tolist() == pytest.approx([0.0, sig, 0.0, 0.0])  # only committed, non-fixed positions
    last = StepState(x, x == MASK, None, 9, 10, 0.1, 0.0, None, fixed, MASK)
    unmask, sigma = sampler.rates(last)
    assert (unmask == 1).all() and (sigma == 0).all()


def test_remdm_confidence_schedule_prefers_low_confidence_tokens():
    x = torch.tensor([[3, 3, 3, MASK]])
    fixed = torch.zeros_like(x, dtype=torch.bool)
    psi = torch.tensor([[0.9, 0.1, 0.5, 1.0]], dtype=torch.float64)
    state = StepState(x, x == MASK, None, 3, 10, 0.7, 0.6, None, fixed, MASK, psi)
    _, sigma = RemaskingSampler(loop=False, remasking="conf").rates(state)
    assert sigma[0, 1] > sigma[0, 2] > sigma[0, 0] > 0 and sigma[0, 3] == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(eta=-0.1),
        dict(eta=1.5),
        dict(eta=float("nan")),
        dict(remasking="entropy"),
        dict(t_on=0.05, t_off=0.5),
        dict(t_off=0.0),
        dict(t_on=1.0),
        dict(alpha_on=1.0),
        dict(alpha_on=0.0),
        dict(loop=False, t_switch=0.0),
        dict(loop=False, t_switch=1.5),
        dict(t_switch=0.5),  # switch and loop exclude each other
        dict(steps=0),
    ],
)
def test_bad_remdm_arguments(kwargs):
    with pytest.raises(InvalidArgumentError):
        RemaskingSampler(**kwargs)


def test_remdm_is_registered():
    assert REGISTERED["remdm"] is RemaskingSampler
    sampler = REGISTERED["remdm"](steps=4, temperature=0.9, top_p=0.95, schedule=None)
    assert sampler.eta == 0.02 and sampler.loop and sampler.remasking == "cap"


# --- hard constraints under every registered sampler ---------------------------------------------------------


class RandomTokenDenoiser:
    """Fixed random logits over a real tokenizer's vocabulary (the model never helps the constraint)."""

    def __init__(self, vocab_size: int, mask_token_id: int, seed: int = 0) -> None:
        self.mask_token_id = mask_token_id
        self.table = 2.0 * torch.randn(64, vocab_size, generator=torch.Generator().manual_seed(seed))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.table[: x.shape[1]].expand(x.shape[0], -1, -1).clone()
        return subs_log_probs(logits, x, self.mask_token_id)


@st.composite
def hard_constraints(draw):
    """A regex over a/b, or a token-length range."""
    if draw(st.booleans()):
        return Regex(draw(small_regexes()))
    lo = draw(st.integers(0, 5))
    return Length(min=lo, max=lo + draw(st.integers(0, 3)))


def _satisfies(constraint, tokenizer, row: list[int]) -> bool:
    end = tokenizer.pad_token_id
    content = row[: row.index(end)] if end in row else row
    if isinstance(constraint, Regex):
        return re.fullmatch(constraint.pattern, tokenizer.decode(content)) is not None
    return constraint.min <= len(content) <= constraint.max


class FixedWatch(Guide):
    """Fails the run if any step remasks or changes a position fixed from the start."""

    def __init__(self, canvas, fixed):
        self.canvas, self.fixed, self.remasked = canvas, fixed, 0

    def update(self, output):
        assert not (output.remasked & self.fixed).any()
        assert torch.equal(output.tokens[self.fixed], self.canvas[self.fixed])
        self.remasked += int(output.remasked.sum())


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(REGISTERED)),
    hard_constraints(),
    st.integers(1, 8),
    st.one_of(st.none(), st.integers(1, 16)),
    st.integers(0, 2**31 - 1),
    st.data(),
)
def test_every_sampler_meets_hard_constraints_and_keeps_fixed_positions(
    ab_tokenizer, name, constraint, length, steps, seed, data
):
    compiled = compile_constraint(constraint, ab_tokenizer).automaton
    shortest = compiled.shortest_accepted()
    assume(shortest is not None and shortest <= length)
    mask = ab_tokenizer.mask_token_id
    denoise = RandomTokenDenoiser(len(ab_tokenizer), mask, seed % 5)
    sampler = REGISTERED[name](steps=steps)
    if isinstance(sampler, RemaskingSampler) and data.draw(st.booleans(), label="strong remasking"):
        sampler = RemaskingSampler(steps=steps, loop=False, eta=data.draw(st.sampled_from([0.3, 1.0])))

    def run(canvas, seed):
        guide = ConstraintGuide([Span(0, length, compiled)])
        watch = FixedWatch(canvas, canvas != mask)
        out = sampler.run(denoise, canvas, mask, [guide, watch], torch.Generator().manual_seed(seed))
        for row in out.tolist():
            assert compiled.accepts(row), (constraint, row)
            assert _satisfies(constraint, ab_tokenizer, row), (constraint, ab_tokenizer.decode(row))
        return out

    out = run(torch.full((3, length), mask), seed)
    # a canvas with some positions fixed (taken from a valid output, so it stays completable)
    keep = torch.tensor(data.draw(st.lists(st.booleans(), min_size=length, max_size=length), label="fixed"))
    canvas = torch.where(keep, out[0], torch.full_like(out[0], mask)).expand(3, -1).clone()
    again = run(canvas, seed + 1)
    assert torch.equal(again[:, keep], canvas[:, keep])


def test_remasked_positions_are_free_again_for_the_constraint(ab_tokenizer):
    """The hard-constraint guide recomputes feasibility from the canvas each step: its mask equals a fresh
    guide's at every step, and at the step after a remask the remasked position allows its old token and
    others where the rest of the canvas permits (it is free again for the DP)."""
    length, mask = 10, ab_tokenizer.mask_token_id
    compiled = compile_constraint(Regex("[ab]{6,12}"), ab_tokenizer).automaton

    class Before(Guide):  # placed before the constraint guide: keeps the unconstrained log-probs
        def process_logits(self, state):
            self.raw = state.log_probs
            return state.log_probs

    class After(Guide):  # placed after it: checks its mask
        def __init__(self, before):
            self.before, self.pending, self.checked, self.reopened = before, None, 0, 0

        def process_logits(self, state):
            fresh = ConstraintGuide([Span(0, length, compiled)])
            assert torch.equal(
                fresh.process_logits(StepState(**{**vars(state), "log_probs": self.before.raw})), state.log_probs
            )
            if self.pending is not None:
                remasked, old_canvas = self.pending
                rows, cols = remasked.nonzero(as_tuple=True)
                allowed = torch.isfinite(state.log_probs[rows, cols])  # (K, V)
                assert allowed[torch.arange(len(rows)), old_canvas[rows, cols]].all()
                self.checked += len(rows)
                self.reopened += int((allowed.sum(-1) > 1).sum())  # the old token is no longer the only one
            self.canvas = state.tokens
            return state.log_probs

        def update(self, output):
            self.pending = (output.remasked, self.canvas) if output.remasked.any() else None

    before = Before()
    after = After(before)
    guides = [before, ConstraintGuide([Span(0, length, compiled)]), after]
    canvas = torch.full((4, length), mask)
    sampler = RemaskingSampler(steps=40, loop=False, eta=0.5)
    out = sampler.run(
        RandomTokenDenoiser(len(ab_tokenizer), mask), canvas, mask, guides, torch.Generator().manual_seed(0)
    )
    assert after.checked > 0 and after.reopened > 0
    assert all(compiled.accepts(row) for row in out.tolist())


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_constraint_guided_runs_never_build_the_whole_canvas_tensor(ab_tokenizer, monkeypatch, name):
    """With only row-aware guides, no sampler (its own selection rule included) reads the dense ``(B, L, V)``
    log-probabilities or probabilities: the guide's cost stays proportional to the masked positions."""
    from ctrlgen.guidance.categorical import MaskedRows

    def refuse(self):
        raise AssertionError(f"{name} built the dense tensor")

    monkeypatch.setattr(MaskedRows, "dense", refuse)
    length, mask = 9, ab_tokenizer.mask_token_id
    compiled = compile_constraint(Regex("[ab]{3,8}"), ab_tokenizer).automaton
    sampler = REGISTERED[name](steps=6)
    if isinstance(sampler, SemiAutoregressiveSampler):
        sampler = SemiAutoregressiveSampler(steps=6, block_size=3)
    out = sampler.run(
        RandomTokenDenoiser(len(ab_tokenizer), mask),
        torch.full((3, length), mask),
        mask,
        [ConstraintGuide([Span(0, length, compiled)])],
        torch.Generator().manual_seed(0),
    )
    assert all(compiled.accepts(row) for row in out.tolist())


# --- the step works on the masked rows only: bit for bit the whole-canvas computation ------------------------


def _dense_run(sampler, denoise, canvas, mask, guides, generator, probs_seen):
    """``Sampler.run`` and ``Sampler.step`` as they were before the step worked on the masked rows: plain
    ``StepState``s, temperature, top-p and the draw over the whole ``(B, L, V)`` tensor, the dense ``probs``
    handed to every guide. Appends each step's ``probs`` to ``probs_seen``."""
    from ctrlgen.sampling.base import remaskable

    x = canvas.clone()
    fixed = x != mask
    for guide in guides:
        guide.prepare(x, ~fixed)
    num_steps = sampler.total_steps(x.shape[1])
    commit_probs = torch.ones(x.shape, dtype=torch.float64)
    can_remask = sampler.remasks and bool((~fixed).any())
    cached_x, cached = None, None
    for step in range(num_steps):
        masked = x == mask
        if not masked.any() and not can_remask:
            break
        if cached_x is None or not torch.equal(cached_x, x):
            cached_x, cached = x.clone(), denoise(x)
        t, s = 1.0 - step / num_steps, 1.0 - (step + 1) / num_steps
        state = StepState(x, masked, cached, step, num_steps, t, s, generator, fixed, mask, commit_probs)
        for guide in guides:
            if guide.is_active(step, num_steps):
                state.log_probs = guide.process_logits(state)
        probs = sampling_probs(state.log_probs, sampler.temperature, sampler.top_p)
        candidates = draw_categorical(probs, generator)
        candidate_probs = probs.gather(-1, candidates.unsqueeze(-1)).squeeze(-1)
        commit = sampler.select(state, candidate_probs, generator) & masked
        remasked = sampler.remask(state, generator) & remaskable(state)
        for guide in guides:
            drawn = guide.sample(state, probs, commit, candidates)
            if drawn is not None:
                candidates = drawn
        x = torch.where(commit, candidates, x).masked_fill(remasked, mask)
        probs_seen.append(probs)
        if commit.any():
            drawn_p = probs.gather(-1, x.unsqueeze(-1)).squeeze(-1)
            commit_probs = torch.where(commit, drawn_p, commit_probs)
    return x


class ProbsSeen(Guide):
    """Keeps every step's ``output.probs`` (the dense tensor, built on read)."""

    def __init__(self):
        self.probs = []

    def update(self, output):
        self.probs.append(output.probs)


class TiltDense(Guide):
    """A guide that knows nothing of masked rows: adds a fixed tilt at masked positions (a new dense tensor)."""

    def process_logits(self, state):
        tilt = torch.linspace(-1.0, 1.0, state.log_probs.shape[-1])
        return state.log_probs + tilt * state.masked.unsqueeze(-1)


class Untouched:
    """Wraps a denoiser; checks that what it returned is never written (the loop's cache reuses it)."""

    def __init__(self, denoise):
        self.denoise, self.outputs = denoise, []

    def __call__(self, x):
        out = self.denoise(x)
        self.outputs.append((out, out.clone()))
        return out

    def check(self):
        assert self.outputs and all(torch.equal(a, b) for a, b in self.outputs)


ROW_SAMPLERS = [
    lambda **kw: AncestralSampler(**kw),
    lambda **kw: ConfidenceSampler(**kw),
    lambda **kw: SemiAutoregressiveSampler(block_size=3, **kw),
    lambda **kw: RemaskingSampler(**kw),
    lambda **kw: RemaskingSampler(loop=False, eta=0.5, **kw),
    lambda **kw: RemaskingSampler(loop=False, remasking="conf", **kw),
]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(range(len(ROW_SAMPLERS))),
    hard_constraints(),
    st.integers(1, 8),
    st.integers(1, 3),
    st.one_of(st.none(), st.integers(1, 12)),
    st.sampled_from([1.0, 0.8]),
    st.sampled_from([1.0, 0.7]),
    st.sampled_from(["alone", "tilt first", "tilt after", "ban"]),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_masked_rows_step_gives_the_whole_canvas_steps_tokens_and_probs(
    ab_tokenizer, which, constraint, length, batch, steps, top_p, temperature, others, most_probable, seed
):
    """The loop on masked rows (the guide masks and draws on ``(M, V)`` rows, the sampler computes on them)
    gives the same tokens, the same dense ``probs`` at every step, and the same forwards as the whole-canvas
    loop; the denoiser's output is never written."""
    from ctrlgen.guidance.guide import BanTokens

    compiled = compile_constraint(constraint, ab_tokenizer).automaton
    assume(compiled.shortest_accepted() is not None and compiled.shortest_accepted() <= length)
    mask = ab_tokenizer.mask_token_id
    sampler = ROW_SAMPLERS[which](steps=steps, top_p=top_p, temperature=temperature)

    def guides():
        guide = ConstraintGuide([Span(0, length, compiled)], most_probable=most_probable)
        extra = {"alone": [], "tilt first": [TiltDense()], "tilt after": [TiltDense()], "ban": [BanTokens([3])]}
        return extra[others] + [guide] if others == "tilt first" else [guide] + extra[others]

    canvas = torch.full((batch, length), mask)
    new_denoise = Untouched(RandomTokenDenoiser(len(ab_tokenizer), mask, seed % 5))
    old_denoise = Untouched(RandomTokenDenoiser(len(ab_tokenizer), mask, seed % 5))
    seen = ProbsSeen()
    new = sampler.run(new_denoise, canvas, mask, guides() + [seen], torch.Generator().manual_seed(seed))
    old_probs = []
    old = _dense_run(sampler, old_denoise, canvas, mask, guides(), torch.Generator().manual_seed(seed), old_probs)
    assert torch.equal(new, old)
    assert len(new_denoise.outputs) == len(old_denoise.outputs)  # the cache skips the same forwards
    assert len(seen.probs) == len(old_probs)
    assert all(torch.equal(a, b) for a, b in zip(seen.probs, old_probs))
    new_denoise.check()
    old_denoise.check()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(2, 40),
    st.sampled_from([1.0, 0.9, 0.3]),
    st.sampled_from([1.0, 0.5, 1.7]),
    st.integers(0, 2**31 - 1),
)
def test_sampling_on_masked_rows_is_the_whole_tensors_bit_for_bit(b, n, v, top_p, temperature, seed):
    """Temperature, top-p, softmax and the inverse-CDF draw, computed on the masked rows only, equal the
    whole-tensor computation on those rows exactly (rows with forbidden tokens and with none allowed too)."""
    from ctrlgen.guidance.categorical import MaskedRows, draw_from_uniforms

    g = torch.Generator().manual_seed(seed)
    lp = (3 * torch.randn(b, n, v, generator=g)).log_softmax(-1)
    lp[torch.rand(b, n, v, generator=g) < 0.3] = float("-inf")
    lp[torch.rand(b, n, generator=g) < 0.1] = float("-inf")  # rows with every token forbidden
    masked = torch.rand(b, n, generator=g) < 0.6
    full = sampling_probs(lp, temperature, top_p)
    rows = MaskedRows.gather(lp, masked)
    part = sampling_probs(rows.values, temperature, top_p)
    assert torch.equal(part, full[masked])
    u = torch.rand(b, n, 1, generator=g, dtype=torch.float64)
    whole = draw_categorical(full, torch.Generator().manual_seed(seed))
    again = draw_from_uniforms(
        part, torch.rand(b, n, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)[masked]
    )
    assert torch.equal(again, whole[masked])
    assert torch.equal(draw_from_uniforms(part, u[masked]), draw_from_uniforms(full, u)[masked])
    # the rows round-trip: dense() is the tensor they came from, with the rows written back
    assert torch.equal(rows.dense(), lp)
    rows.values.fill_(0.5)
    assert torch.equal(rows.dense(), torch.where(masked.unsqueeze(-1), torch.full_like(lp, 0.5), lp))
