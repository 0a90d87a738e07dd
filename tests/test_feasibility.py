"""The any-order feasibility DP and the joint sampler against brute force, on small automata."""

import itertools
import math

import numpy as np
import torch
from ctrlgen.guidance.automaton import from_transitions, product
from ctrlgen.guidance.categorical import MaskedRows
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
    if not completions(automaton, canvas):
        return
    g = torch.Generator().manual_seed(seed)
    committed = _joint_commit(
        automaton, canvas, g, 0.6, lambda: torch.rand(1, len(canvas), V, generator=g, dtype=torch.float64)
    )
    assert completions(automaton, committed)


def _joint_commit(automaton, canvas, g, share, make_probs, most_probable=False):
    """One joint draw on ``canvas``: a random ``share`` of its masked positions committed, with the class
    weights of ``make_probs()`` (the mask token's zeroed); the canvas with the committed tokens written in."""
    dev = DeviceAutomaton.build(automaton)
    tokens = torch.tensor([canvas])
    masked = tokens == MASK
    fwd, bwd = reachability(dev, tokens, masked)
    allowed = allowed_classes(dev, tokens, masked, fwd, bwd)
    commit = masked & (torch.rand(masked.shape, generator=g) < share)
    probs = make_probs().to(torch.float64)
    probs[..., MASK] = 0
    out = joint_sample(dev, tokens, masked, commit, probs, allowed, g, most_probable)[0].tolist()
    return [o if c else t for o, t, c in zip(out, canvas, commit[0].tolist())]


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


def test_a_tail_on_later_canvases_counts_yes_or_no():
    """Positions on later canvases weigh a path by whether some text completes it, not by how many: the draw
    over the canvas is the model restricted to the assignments that stay completable. Here ``a`` opens the
    door to every text and ``b`` to one; counting completions would draw ``a`` almost always."""
    transitions = {0: {2: 1, 3: 2}, 1: {2: 1, 3: 1, 4: 1}, 2: {4: 3}, 3: {4: 2}}
    automaton = from_transitions(transitions, 0, [1, 2], V, END, (MASK,))
    dev = DeviceAutomaton.build(automaton)
    seen, tail, draws = 2, 4, 20000
    g = torch.Generator().manual_seed(1)
    p = torch.rand(seen + tail, V, generator=g, dtype=torch.float64) + 0.2
    p[:, MASK] = 0
    p = p / p.sum(-1, keepdim=True)
    tokens = torch.full((draws, seen + tail), MASK)
    masked = torch.ones(draws, seen + tail, dtype=torch.bool)
    commit = masked.clone()
    commit[:, seen:] = False
    fwd, bwd = reachability(dev, tokens[:1], masked[:1])
    allowed = allowed_classes(dev, tokens[:1], masked[:1], fwd, bwd).expand(draws, -1, -1)
    rows = MaskedRows.gather(p.expand(draws, -1, -1), masked.clone())
    rows = MaskedRows(rows.rows[rows.cols < seen], rows.cols[rows.cols < seen], rows.values[rows.cols < seen])
    out = joint_sample(dev, tokens, masked, commit, rows, allowed, g, tail=tail)[:, :seen]
    support = [
        list(s)
        for s in itertools.product([END, 2, 3, 4], repeat=seen)
        if completions(automaton, list(s) + [MASK] * tail)
    ]
    weight = np.array([np.prod([p[i, t].item() for i, t in enumerate(seq)]) for seq in support])
    expected = weight / weight.sum() * draws
    counts = {tuple(seq): 0 for seq in support}
    for row in out.tolist():
        assert tuple(row) in counts  # every draw stays completable
        counts[tuple(row)] += 1
    observed = np.array([counts[tuple(seq)] for seq in support])
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < _chi2_critical(len(support) - 1), (chi2, counts, expected)


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


# --- the guide's vocabulary mask, on the masked rows only ------------------------------------------------------


@st.composite
def canvas_batches(draw):
    n = draw(st.integers(1, 4))
    return [
        [draw(st.sampled_from([MASK, MASK, END, 2, 3, 4])) for _ in range(n)] for _ in range(draw(st.integers(1, 3)))
    ]


def _brute_force_vocab_mask(automaton, canvas) -> torch.Tensor:
    """``(L, V)`` bool: token ``v`` may go at masked position ``i`` iff some accepted completion of the canvas
    (every token of the vocabulary tried at every masked position) puts it there; all False at fixed ones."""
    out = torch.zeros(len(canvas), V, dtype=torch.bool)
    for seq in itertools.product(*[range(V) if t == MASK else [t] for t in canvas]):
        if automaton.accepts(list(seq)):
            for i, t in enumerate(seq):
                out[i, t] |= canvas[i] == MASK
    return out


def _guide_output(guide, tokens, log_probs, through_rows):
    """``guide.process_logits`` as a plain caller sees it (dense in, dense out), or through the sampler loop's
    state (rows of the masked positions in, rows out); the dense result either way."""
    from ctrlgen.guidance.categorical import MaskedRows
    from ctrlgen.guidance.interface import StepState

    from ctrlgen.sampling.base import _LoopStepState

    masked = tokens == MASK
    args = (tokens, masked, log_probs, 0, 1, 1.0, 0.0, torch.Generator().manual_seed(0))
    if not through_rows:
        out = guide.process_logits(StepState(*args))
        assert isinstance(out, torch.Tensor)
        return out
    state = _LoopStepState(*args)
    out = guide.process_logits(state)
    assert isinstance(out, MaskedRows) and out is state.masked_rows  # masked in place, on the rows only
    state.log_probs = out
    return state.log_probs


@settings(max_examples=120, deadline=None)
@given(automata(), automata(), canvas_batches(), st.integers(0, 2), st.booleans(), st.integers(0, 2**31 - 1))
def test_guide_vocabulary_mask_matches_brute_force(a, b, canvases, split, through_rows, seed):
    """At every masked position of a span, exactly the tokens on some accepted completion stay finite (with
    their log-probability unchanged); fixed positions and positions outside every span are left alone, and
    the input tensor is never written. One span over the canvas, or two spans and a free position after them
    (a template's layout), each with its own automaton."""
    from ctrlgen.guidance.guide import ConstraintGuide, Span

    tokens = torch.tensor(canvases)
    n = tokens.shape[1]
    if split and n >= 2:
        cut = min(split, n - 1)
        spans = [Span(0, cut, a), Span(cut, n - 1, b)] if n >= 3 else [Span(0, cut, a)]
    else:
        spans = [Span(0, n, a)]
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(tokens.shape + (V,), generator=g).log_softmax(-1)
    log_probs[..., MASK] = float("-inf")  # as SUBS gives
    before = log_probs.clone()
    out = _guide_output(ConstraintGuide(spans), tokens, log_probs, through_rows)
    assert torch.equal(log_probs, before)
    expected = before.clone()
    for r, canvas in enumerate(canvases):
        for span in spans:
            sub = canvas[span.start : span.stop]
            ok = _brute_force_vocab_mask(span.automaton, sub)
            for i, t in enumerate(sub):
                if t == MASK:
                    expected[r, span.start + i][~ok[i]] = float("-inf")
    assert torch.equal(out, expected)


def test_joint_sampler_survives_forward_underflow():
    """Mass on a state that cannot finish in the positions left (here ``D``, three tokens from acceptance with
    one position to go) used to take the whole rescaled weight of a position while the live states, carried by
    floor weights (a nucleus cut gave their classes no mass), underflowed to zero: no accepting state kept any
    weight and the backward pass read past its edge lists (garbage tokens, invalid outputs, crashes). The row
    is now filtered again over the live states: every draw is accepted, and both paths (equally weighted) occur.
    """
    a, b = 2, 3
    transitions = {0: {a: 1, b: 2}, 1: {a: 3}, 2: {a: 5, b: 4}, 3: {b: 9}, 4: {b: 9}, 5: {b: 6}, 6: {b: 7}, 7: {b: 9}}
    automaton = from_transitions(transitions, 0, [9], V, END, (MASK,))
    dev = DeviceAutomaton.build(automaton)
    draws = 400
    tokens = torch.full((draws, 3), MASK)
    masked = torch.ones_like(tokens, dtype=torch.bool)
    fwd, bwd = reachability(dev, tokens[:1], masked[:1])
    allowed = allowed_classes(dev, tokens[:1], masked[:1], fwd, bwd).expand(draws, -1, -1)
    probs = torch.zeros(1, 3, V, dtype=torch.float64)
    probs[0, 0, b] = probs[0, 1, a] = probs[0, 2, a] = 1.0  # no mass on what the live paths need
    for most_probable in (False, True):
        out = joint_sample(
            dev,
            tokens,
            masked,
            masked,
            probs.expand(draws, -1, -1),
            allowed,
            torch.Generator().manual_seed(0),
            most_probable,
        )
        rows = {tuple(r) for r in out.tolist()}
        assert rows <= {(a, a, b), (b, b, b)}, rows
        assert most_probable or rows == {(a, a, b), (b, b, b)}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(2, 60), st.booleans(), st.integers(0, 2**31 - 1))
def test_vocabulary_kernels_match_the_tensor_code(m, c, v, some_rows, seed):
    """The compiled kernels behind the mask, the class marginals and the in-class draw give the bits of the
    tensor code they replace (which still runs off the CPU)."""
    from ctrlgen.guidance.categorical import draw_from_uniforms
    from ctrlgen.guidance.feasibility import _draw_in_class, class_weights, mask_vocabulary

    g = torch.Generator().manual_seed(seed)
    # one state per destination: a token's class is where it leads from the start (or none); token 0 ends
    dest = torch.randint(0, c + 1, (v,), generator=g).tolist()
    moves = {t: d for t, d in enumerate(dest) if t > 0 and d > 0}
    automaton = from_transitions({0: moves, **{d: {} for d in range(1, c + 1)}}, 0, list(range(c + 1)), v, 0)
    dev = DeviceAutomaton.build(automaton)
    c = dev.num_classes
    token_class = dev.token_class
    # the mask: kernel (contiguous CPU rows) against the tensor path (a strided view of the same rows)
    values = torch.randn(m, v, generator=g)
    allowed = torch.rand(m, c, generator=g) < 0.5
    sel = torch.randperm(m, generator=g)[: max(1, m // 2)] if some_rows else None
    strided = values.t().contiguous().t()
    rows = allowed if sel is None else allowed[: len(sel)]
    mask_vocabulary(dev, values, rows, sel)
    mask_vocabulary(dev, strided, rows, sel)
    assert torch.equal(values, strided)
    # class marginals: the kernel's sums are index_add_'s, bit for bit
    p = torch.rand(m, v, generator=g, dtype=torch.float64) * (torch.rand(m, v, generator=g) < 0.7)
    ref = torch.zeros(m, c + 1, dtype=torch.float64).index_add_(1, dev.token_bucket, p)[:, :c]
    assert torch.equal(class_weights(dev, p), ref)
    # the in-class draw: the kernel against a cumsum/searchsorted over the whole row, zeros outside the class
    p[0] = 0.0  # a row with no mass on any class: uniform over the class
    k = torch.randint(0, m, (7,), generator=g)
    cls = torch.randint(0, c, (7,), generator=g)
    for most_probable in (False, True):
        seed_u = int(torch.randint(0, 2**31, (1,), generator=g))
        got = _draw_in_class(dev, p, k, cls, torch.Generator().manual_seed(seed_u), most_probable)
        in_class = token_class.unsqueeze(0) == cls.unsqueeze(1)
        tok_w = p[k] * in_class
        tok_w = torch.where(tok_w.sum(-1, keepdim=True) > 0, tok_w, in_class.double())
        u = torch.rand(len(k), 1, generator=torch.Generator().manual_seed(seed_u), dtype=torch.float64)
        want = tok_w.argmax(-1) if most_probable else draw_from_uniforms(tok_w, u)
        assert torch.equal(got, want)
        assert bool((token_class[got] == cls).all())


@st.composite
def extreme_probs(draw, n):
    """Probability rows with zeros, denormals, huge dynamic range, and whole rows of zeros."""
    values = st.sampled_from([0.0, 0.0, 5e-324, 1e-300, 1e-30, 1e-8, 0.5, 1.0, 1e30, 1e300])
    return [[draw(values) for _ in range(V)] for _ in range(n)]


@settings(max_examples=150, deadline=None)
@given(automata(), canvases(), st.data(), st.booleans(), st.integers(0, 2**32 - 1))
def test_joint_sampler_never_leaves_the_language_under_extreme_weights(automaton, canvas, data, best, seed):
    """Whatever the weights (all zero, denormal, 1e300 next to 1e-300), a committed draw keeps the canvas
    completable, or the row is left as it was; never an index out of range (run under NUMBA_BOUNDSCHECK by
    tests/test_kernel_safety.py, where an out-of-range read is an error instead of a crash)."""
    if not completions(automaton, canvas):
        return
    probs = torch.tensor([data.draw(extreme_probs(len(canvas)), label="probs")], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    committed = _joint_commit(automaton, canvas, g, 0.7, lambda: probs, best)
    assert completions(automaton, committed) or committed == canvas


@settings(max_examples=150, deadline=None)
@given(automata())
def test_successors_and_shortest_length_agree_with_brute_force(automaton):
    """The vectorised successor relation and BFS (used to size the canvas) against token-by-token search."""
    tokens = [END, 2, 3, 4]
    pairs = {
        (q, int(automaton.table[q, c]))
        for q in range(automaton.num_states)
        for tok in tokens
        if (c := automaton.token_class[tok]) >= 0 and automaton.table[q, c] >= 0
    }
    src, dst = automaton.successor_pairs()
    assert sorted(zip(src.tolist(), dst.tolist())) == sorted(pairs)
    shortest = next(
        (
            n
            for n in range(automaton.num_states + 2)
            if any(automaton.accepts(list(c)) for c in itertools.product(tokens, repeat=n))
        ),
        None,
    )
    assert automaton.shortest_accepted() == shortest


@given(automata(), st.integers(0, 5))
@settings(deadline=None)  # the brute force reads up to 58k canvases: a timing limit here would measure the machine
def test_text_length_check_agrees_with_brute_force(automaton, n):
    """``has_text_of_length`` (used to give a constraint that admits long texts a full canvas) against
    enumeration: some accepted canvas of n + 2 tokens holds at least n content tokens before its end."""
    content = [2, 3, 4]
    # a text of >= n tokens exists iff one of exactly n tokens extends to an accepted canvas; the automata have
    # at most 4 states, so a shortest extension is at most 4 more tokens and the end token (or none)
    expected = any(
        automaton.accepts(list(prefix) + list(rest) + tail)
        for prefix in itertools.product(content, repeat=n)
        for k in range(0, 5)
        for rest in itertools.product(content, repeat=k)
        for tail in ([], [END])
    )
    assert automaton.has_text_of_length(n) == expected
