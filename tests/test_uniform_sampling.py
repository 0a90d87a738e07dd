"""Samplers of the uniform-noise process (ctrlgen/sampling/uniform.py) under hard constraints."""

import pytest
import torch
from ctrlgen.guidance import ConstraintGuide, Guide, Span
from ctrlgen.guidance.compile import compile_constraint
from ctrlgen.guidance.feasibility import DeviceAutomaton, reachability
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ctrlgen.errors import InvalidArgumentError
from ctrlgen.masking import subs_log_probs
from ctrlgen.sampling import EntropyBoundSampler, UniformAncestralSampler
from tests.test_samplers import FixedWatch, _satisfies, hard_constraints


class NoisyInputDenoiser:
    """Logits that depend on the tokens the network reads (so the noise matters), SUBS taken on the loop's
    canvas; checks that every free position is read as a token of the noise support, never the placeholder."""

    def __init__(self, vocab_size: int, placeholder: int, support: torch.Tensor, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.table = 2.0 * torch.randn(64, vocab_size, generator=g)
        self.mix = torch.randn(vocab_size, vocab_size, generator=g)
        self.placeholder, self.support = placeholder, support
        self.calls = 0

    def __call__(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        assert inputs is not None, "a uniform sampler must give the network noisy inputs"
        free = x == self.placeholder
        assert torch.equal(inputs[~free], x[~free])
        assert torch.isin(inputs[free], self.support).all()
        self.calls += 1
        logits = self.table[: x.shape[1]] + self.mix[inputs]  # (B, L, V)
        return subs_log_probs(logits, x, self.placeholder)


class Completable(Guide):
    """Fails the run if a step leaves a canvas that no completion can make match."""

    def __init__(self, automaton, placeholder):
        self.dev, self.placeholder, self.steps = DeviceAutomaton.build(automaton), placeholder, 0

    def update(self, output):
        _, bwd = reachability(self.dev, output.tokens, output.tokens == self.placeholder)
        assert bwd[:, 0, self.dev.start].all()
        self.steps += 1


def _support(tokenizer):
    return torch.tensor([i for i in range(len(tokenizer)) if i != tokenizer.mask_token_id])


SAMPLERS = {"entropy-bound": EntropyBoundSampler, "ancestral": UniformAncestralSampler}


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(SAMPLERS)),
    hard_constraints(),
    st.integers(1, 8),
    st.one_of(st.none(), st.integers(1, 12)),
    st.integers(0, 2**31 - 1),
    st.data(),
)
def test_uniform_samplers_meet_hard_constraints_and_stay_completable(
    ab_tokenizer, name, constraint, length, steps, seed, data
):
    compiled = compile_constraint(constraint, ab_tokenizer).automaton
    shortest = compiled.shortest_accepted()
    assume(shortest is not None and shortest <= length)
    placeholder, support = ab_tokenizer.mask_token_id, _support(ab_tokenizer)
    denoise = NoisyInputDenoiser(len(ab_tokenizer), placeholder, support, seed % 5)
    sampler = SAMPLERS[name](steps=steps, noise_ids=support)

    def run(canvas, seed):
        watch = FixedWatch(canvas, canvas != placeholder)
        guides = [ConstraintGuide([Span(0, length, compiled)]), Completable(compiled, placeholder), watch]
        out = sampler.run(denoise, canvas, placeholder, guides, torch.Generator().manual_seed(seed))
        for row in out.tolist():
            assert compiled.accepts(row), (constraint, row)
            assert _satisfies(constraint, ab_tokenizer, row), (constraint, ab_tokenizer.decode(row))
        return out

    out = run(torch.full((3, length), placeholder), seed)
    keep = torch.tensor(data.draw(st.lists(st.booleans(), min_size=length, max_size=length), label="fixed"))
    canvas = torch.where(keep, out[0], torch.full_like(out[0], placeholder)).expand(3, -1).clone()
    again = run(canvas, seed + 1)
    assert torch.equal(again[:, keep], canvas[:, keep])


def test_entropy_bound_accepts_confident_positions_first_and_follows_the_temperature_schedule():
    sampler = EntropyBoundSampler(noise_ids=torch.arange(2, 8))
    assert sampler.total_steps(100) == 48  # the published default, whatever the canvas
    from ctrlgen.guidance.interface import StepState

    length, v = 6, 8
    log_probs = torch.full((1, length, v), -30.0)
    log_probs[0, :3, 2] = 0.0  # three certain positions
    log_probs[0, 3:] = torch.zeros(v).log_softmax(-1)  # three uniform ones (entropy log 8)
    masked = torch.ones(1, length, dtype=torch.bool)
    state = StepState(torch.ones(1, length, dtype=torch.long), masked, log_probs, 0, 48, 1.0, 0.98, torch.Generator())
    accept = sampler.select(state, torch.ones(1, length, dtype=torch.float64), torch.Generator())
    # the three certain positions, then the first uniform one (the entropies before it sum to ~0)
    assert accept[0].tolist() == [True, True, True, True, False, False]
    assert sampler.temperature_at(state) == pytest.approx(0.8)
    last = StepState(torch.ones(1, length, dtype=torch.long), masked, log_probs, 47, 48, 0.02, 0.0, torch.Generator())
    assert sampler.temperature_at(last) == pytest.approx(0.4 + 0.4 / 48)  # transformers' schedule
    assert sampler.select(last, None, torch.Generator()).all()  # the last step accepts everything


def test_a_uniform_sampler_without_noise_tokens_is_refused():
    with pytest.raises(InvalidArgumentError, match="noise_ids"):
        EntropyBoundSampler(steps=2).run(
            NoisyInputDenoiser(8, 1, torch.arange(2, 8)), torch.full((1, 4), 1), 1, (), torch.Generator()
        )


def test_the_last_entropy_bound_step_takes_the_most_probable_tokens(ab_tokenizer):
    """DiffusionGemma returns the argmax canvas of its last step: with one step, the output is the model's argmax
    at every position, whatever the seed; under a hard constraint, one valid text whatever the seed."""
    placeholder, support = ab_tokenizer.mask_token_id, _support(ab_tokenizer)
    v, length = len(ab_tokenizer), 6
    table = torch.randn(length, v, generator=torch.Generator().manual_seed(3))

    def denoise(x, inputs=None):
        return subs_log_probs(table.expand(x.shape[0], -1, -1).clone(), x, placeholder)

    canvas = torch.full((4, length), placeholder)
    expected = table.clone()
    expected[:, placeholder] = float("-inf")
    greedy = EntropyBoundSampler(steps=1, noise_ids=support)
    for seed in range(3):
        out = greedy.run(denoise, canvas, placeholder, (), torch.Generator().manual_seed(seed))
        assert torch.equal(out, expected.argmax(-1).expand(4, -1))
    sampled = EntropyBoundSampler(steps=1, noise_ids=support, argmax_last=False)
    assert not torch.equal(sampled.run(denoise, canvas, placeholder, (), torch.Generator()), out)

    from ctrlgen import Regex

    compiled = compile_constraint(Regex("(ab|ba)+a"), ab_tokenizer).automaton
    outs = set()
    for seed in range(3):
        guide = ConstraintGuide([Span(0, length, compiled)])
        out = greedy.run(denoise, canvas, placeholder, [guide], torch.Generator().manual_seed(seed))
        assert all(compiled.accepts(row) for row in out.tolist())
        outs |= {tuple(row) for row in out.tolist()}
    assert len(outs) == 1
