"""Texts longer than one canvas, canvas after canvas (ctrlgen/blocks.py, ConstraintGuide.window)."""

import json

import jsonschema
import pytest
import torch
from ctrlgen.guidance import ConstraintGuide, Span
from ctrlgen.guidance.compile import compile_constraint
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ctrlgen.blocks import sample_canvas_by_canvas
from ctrlgen.sampling import ConfidenceSampler, EntropyBoundSampler
from tests.test_samplers import RandomTokenDenoiser, _satisfies, hard_constraints
from tests.test_uniform_sampling import Completable


@settings(max_examples=60, deadline=None)
@given(hard_constraints(), st.integers(2, 12), st.integers(1, 5), st.booleans(), st.integers(0, 2**31 - 1))
def test_canvas_by_canvas_sampling_keeps_the_whole_text_completable(
    ab_tokenizer, constraint, total, block, uniform, seed
):
    """Every window leaves the text completable within the positions that remain, and the text matches."""
    compiled = compile_constraint(constraint, ab_tokenizer).automaton
    shortest = compiled.shortest_accepted()
    assume(shortest is not None and shortest <= total)
    mask = ab_tokenizer.mask_token_id
    support = torch.tensor([i for i in range(len(ab_tokenizer)) if i != mask])
    sampler = EntropyBoundSampler(steps=4, noise_ids=support) if uniform else ConfidenceSampler(steps=3)
    full = ConstraintGuide([Span(0, total, compiled)])
    random = RandomTokenDenoiser(len(ab_tokenizer), mask, seed % 5)
    seen = []

    def sample(window, guides, prefixes, j):
        seen.append((window.shape[1], [len(p) for p in prefixes]))
        watch = Completable(guides[0].spans[0].automaton, mask) if guides else None
        denoise = (lambda x, inputs=None: random(x)) if uniform else random
        out = sampler.run(denoise, window, mask, guides, torch.Generator().manual_seed(seed + j))
        if watch is not None:  # the window's tokens with the earlier ones before them: still completable
            span = guides[0].spans[0]
            tokens, masked, _ = span.view(out, out == mask)
            tokens = tokens.masked_fill(masked, mask)  # the tail: free positions
            watch.update(type("Out", (), {"tokens": tokens})())
        return out

    canvas = torch.full((3, total), mask)
    out = sample_canvas_by_canvas(
        canvas, block, [[]], full, [], [], sample, [ab_tokenizer.pad_token_id], ab_tokenizer.pad_token_id
    )
    for row in out.tolist():
        assert compiled.accepts(row), (constraint, row)
        assert _satisfies(constraint, ab_tokenizer, row)
    # each later window is conditioned on the earlier ones: the prefixes grow by one window at a time
    for (width, lengths), (_, after) in zip(seen, seen[1:]):
        assert all(b == a + width for a, b in zip(lengths, after))


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    pytest.importorskip("transformers.models.diffusion_gemma")
    import ctrlgen
    from ctrlgen.tiny_models.diffusion_gemma import build_diffusion_gemma

    return ctrlgen.load(build_diffusion_gemma(tmp_path_factory.mktemp("dg"), vocab_size=1500, canvas_length=16))


def test_a_json_document_of_three_canvases_validates_on_diffusion_gemma(gemma, monkeypatch):
    from ctrlgen import JsonSchema, Length
    from ctrlgen.constrained import plan_constraints

    schema = {
        "type": "array",
        "items": {"type": "integer", "minimum": 100, "maximum": 999},
        "minItems": 14,
        "maxItems": 14,
    }
    plan = plan_constraints([JsonSchema(schema)], gemma.vocabulary, None, 4096)
    assert plan.guide.spans[0].automaton.shortest_accepted() > 2 * gemma.denoiser.max_canvas  # needs 3 canvases
    encoded = []
    real = gemma.denoiser.encode
    monkeypatch.setattr(gemma.denoiser, "encode", lambda p, k: encoded.append(p.shape[1]) or real(p, k))
    for sampler in ("entropy-bound", "ancestral"):
        docs = gemma.generate(n=2, prompt=[{"role": "user", "content": "14 numbers"}], constraints=[JsonSchema(schema)],
                              sampler=sampler, seed=0, steps=6)  # fmt: skip
        for doc in docs:
            jsonschema.validate(json.loads(doc), schema)
    assert len(encoded) >= 6 and encoded[1] == encoded[0] + 16  # the next canvas reads the previous one
    for text in gemma.generate(n=2, prompt="Say", constraints=[Length(words=25)], seed=1, steps=6):
        assert len(text.split()) == 25  # counted across canvases
