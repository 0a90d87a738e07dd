"""The any-order feasibility DP and the joint sampler against brute force, on small automata."""

import itertools
import math

import numpy as np
import torch
from ctrlgen.guidance.automaton import from_transitions, product
from ctrlgen.guidance.feasibility import DeviceAutomaton, allowed_classes, joint_sample, reachability
from hypothesis import given, settings
from hypothesis import strategies as st

END, MASK, V = 0, 1, 5  # tokens 2, 3, 4 are content


@st.composite
def automata(draw):
    """A random DFA over tokens 2..4 with 1-4 states, some final."""
    n = draw(st.integers(1, 4))
    transitions = {}
    for q in range(n):
        moves = {}
        for tok in range(2, V):
            if draw(st.booleans()):
                moves[tok] = draw(st.integers(0, n - 1))
        transitions[q] = moves
    finals = [q for q in range(n) if draw(st.booleans())]
    return from_transitions(transitions, 0, finals, V, END, (MASK,))


@st.composite
def canvases(draw):
    n = draw(st.integers(1, 4))
    return [draw(st.sampled_from([MASK, MASK, END, 2, 3, 4])) for _ in range(n)]


def completions(automaton, canvas):
    choices = [[END, 2, 3, 4] if t == MASK else [t] for t in canvas]
    return [list(c) for c in itertools.product(*choices) if automaton.accepts(list(c))]


@settings(max_examples=150, deadline=None)
@given(automata(), canvases())
def test_dp_agrees_with_brute_force(automaton, canvas):
    dev = DeviceAutomaton.build(automaton)
    tokens = torch.tensor([canvas])
    masked = tokens == MASK
    fwd, bwd = reachability(dev, tokens, masked)
    valid = completions(automaton, canvas)
    assert bool(bwd[0, 0, automaton.start]) == bool(valid)
    allowed = allowed_classes(dev, tokens, masked, fwd, bwd)[0]
    for i, t in enumerate(canvas):
        if t != MASK:
            continue
        for tok in (END, 2, 3, 4):
            c = automaton.token_class[tok]
            dp_says = bool(c >= 0 and allowed[i, c])
            assert dp_says == any(v[i] == tok for v in valid), (i, tok)


@settings(max_examples=100, deadline=None)
@given(automata(), automata(), canvases())
def test_product_is_the_exact_intersection(a, b, canvas):
    ab = product(a, b)
    assert sorted(map(tuple, completions(ab, canvas))) == sorted(
        set(map(tuple, completions(a, canvas))) & set(map(tuple, completions(b, canvas)))
    )


@settings(max_examples=60, deadline=None)
@given(automata(), canvases(), st.integers(0, 2**32 - 1))
def test_joint_commit_keeps_canvas_completable(automaton, canvas, seed):
    valid = completions(automaton, canvas)
    if not valid:
        return
    dev = DeviceAutomaton.build(automaton)
    tokens = torch.tensor([canvas])
    masked = tokens == MASK
    fwd, bwd = reachability(dev, tokens, masked)
    allowed = allowed_classes(dev, tokens, masked, fwd, bwd)
    g = torch.Generator().manual_seed(seed)
    commit = masked & (torch.rand(masked.shape, generator=g) < 0.6)
    probs = torch.rand(1, len(canvas), V, generator=g, dtype=torch.float64)
    probs[..., MASK] = 0
    out = joint_sample(dev, tokens, masked, commit, probs, allowed, g)[0].tolist()
    assert completions(automaton, [o if c else t for o, t, c in zip(out, canvas, commit[0].tolist())])


def _chi2_critical(df: int, z: float = 3.09) -> float:
    """Upper 0.001 quantile of chi-square (Wilson-Hilferty approximation)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def test_joint_sampler_matches_the_model_restricted_to_the_language():
    # language over a/b/c (tokens 2/3/4): no two equal neighbours, then end; canvas of 3, all committed at once
    transitions = {0: {2: 1, 3: 2, 4: 3}, 1: {3: 2, 4: 3}, 2: {2: 1, 4: 3}, 3: {2: 1, 3: 2}}
    automaton = from_transitions(transitions, 0, [1, 2, 3], V, END, (MASK,))
    dev = DeviceAutomaton.build(automaton)
    n, draws = 3, 20000
    g = torch.Generator().manual_seed(0)
    p = torch.rand(n, V, generator=g, dtype=torch.float64) + 0.2
    p[:, MASK] = 0
    p = p / p.sum(-1, keepdim=True)
    tokens = torch.full((draws, n), MASK)
    masked = torch.ones(draws, n, dtype=torch.bool)
    fwd, bwd = reachability(dev, tokens[:1], masked[:1])
    allowed = allowed_classes(dev, tokens[:1], masked[:1], fwd, bwd).expand(draws, -1, -1)
    out = joint_sample(dev, tokens, masked, masked, p.expand(draws, -1, -1), allowed, g)
    support = completions(automaton, [MASK] * n)
    weight = np.array([np.prod([p[i, t].item() for i, t in enumerate(seq)]) for seq in support])
    expected = weight / weight.sum() * draws
    counts = {tuple(seq): 0 for seq in support}
    for row in out.tolist():
        assert tuple(row) in counts  # every draw is in the language
        counts[tuple(row)] += 1
    observed = np.array([counts[tuple(seq)] for seq in support])
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < _chi2_critical(len(support) - 1), chi2


def test_max_product_returns_the_most_probable_valid_assignment():
    transitions = {0: {2: 1, 3: 2, 4: 3}, 1: {3: 2, 4: 3}, 2: {2: 1, 4: 3}, 3: {2: 1, 3: 2}}
    automaton = from_transitions(transitions, 0, [1, 2, 3], V, END, (MASK,))
    dev = DeviceAutomaton.build(automaton)
    g = torch.Generator().manual_seed(1)
    p = torch.rand(1, 3, V, generator=g, dtype=torch.float64)
    p[..., MASK] = 0
    tokens, masked = torch.full((1, 3), MASK), torch.ones(1, 3, dtype=torch.bool)
    fwd, bwd = reachability(dev, tokens, masked)
    out = joint_sample(
        dev, tokens, masked, masked, p, allowed_classes(dev, tokens, masked, fwd, bwd), g, most_probable=True
    )
    best = max(completions(automaton, [MASK] * 3), key=lambda s: np.prod([p[0, i, t].item() for i, t in enumerate(s)]))
    assert out[0].tolist() == best
