"""Classifier-free guidance towards the prompt, and a model's measured generation defaults
(``generation_defaults.json``): what the caller leaves out comes from the model, what it gives wins."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ctrlgen
from ctrlgen import AncestralSampler, GenerationDefaults, InvalidArgumentError, Regex
from ctrlgen.denoising import guided_log_probs

PROMPT = "the mill serves"


def _log_probs(lm, prompt, weight: float, canvas: torch.Tensor) -> torch.Tensor:
    return lm._canvas_denoiser(lm._prefixes(prompt), None, 1.0, weight)(canvas)


def test_guidance_combines_the_prompted_and_unprompted_distributions(tiny_lm):
    canvas = torch.full((2, 6), tiny_lm.mask_token_id)
    canvas[1, 2] = tiny_lm.tokenizer(" food", add_special_tokens=False)["input_ids"][0]
    cond = _log_probs(tiny_lm, PROMPT, 1.0, canvas)
    free = tiny_lm.denoise(canvas)
    assert not torch.allclose(cond, free)  # the prompt matters to this model
    for w in (0.0, 2.0, 3.5):
        guided = _log_probs(tiny_lm, PROMPT, w, canvas)
        # by hand, at a masked position: softmax of free + w (cond - free) over the tokens both allow
        for row, pos in ((0, 0), (1, 4)):
            c, f = cond[row, pos], free[row, pos]
            ok = torch.isfinite(c)
            expect = torch.log_softmax(f[ok] + w * (c[ok] - f[ok]), dim=-1)
            assert torch.allclose(guided[row, pos, ok], expect, atol=1e-5)
            assert torch.isinf(guided[row, pos, ~ok]).all()
        assert guided[1, 2].argmax() == canvas[1, 2] and guided[1, 2].max() == 0  # a committed token stays
    assert torch.allclose(_log_probs(tiny_lm, PROMPT, 0.0, canvas), free, atol=1e-5)  # w = 0: no prompt at all


def test_weight_one_is_plain_conditional_sampling(tiny_lm):
    kw = dict(prompt=PROMPT, n=3, length=10, seed=4)
    assert tiny_lm.generate(prompt_weight=1.0, **kw) == tiny_lm.generate(**kw)
    assert tiny_lm.generate(prompt_weight=3.0, **kw) != tiny_lm.generate(**kw)


@settings(max_examples=8, deadline=None)
@given(weight=st.floats(0.0, 4.0), seed=st.integers(0, 2**16))
def test_guided_outputs_still_satisfy_their_constraint(tiny_lm, weight, seed):
    texts = tiny_lm.generate(
        prompt=PROMPT, constraints=[Regex(r" [a-z]+ food( [a-z]+)?")], n=2, seed=seed, prompt_weight=weight
    )
    assert all(re.fullmatch(r" [a-z]+ food( [a-z]+)?", t) for t in texts), texts


def test_guided_log_probs_keep_impossible_tokens_impossible():
    cond = torch.log_softmax(torch.tensor([[0.0, 1.0, float("-inf"), 2.0]]), -1)
    free = torch.log_softmax(torch.tensor([[1.0, 0.0, float("-inf"), 0.0]]), -1)
    out = guided_log_probs(free, cond, 2.0)
    assert torch.isinf(out[0, 2]) and math.isclose(out.exp().sum().item(), 1.0, rel_tol=1e-6)
    assert out[0, 3] > cond[0, 3]  # what the prompt favours, guidance favours more


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "2"])
def test_bad_weights_are_typed_errors(tiny_lm, bad):
    with pytest.raises(InvalidArgumentError, match="prompt_weight"):
        tiny_lm.generate(prompt=PROMPT, prompt_weight=bad, length=4)


def test_a_weight_without_a_prompt_is_refused(tiny_lm):
    with pytest.raises(InvalidArgumentError, match="needs a prompt"):
        tiny_lm.generate(prompt_weight=2.0, length=4)


def test_measured_defaults_round_trip_and_fill_what_the_caller_leaves_out(tiny_lm, tmp_path):
    tiny_lm.save_pretrained(tmp_path / "m")
    assert not (tmp_path / "m" / "generation_defaults.json").exists()  # nothing measured, nothing written
    (tmp_path / "m" / "generation_defaults.json").write_text(
        json.dumps({"sampler": "confidence", "steps": 5, "temperature": 0.5, "prompt_weight": 2.0, "measured": "here"})
    )
    lm = ctrlgen.load(tmp_path / "m")
    assert lm.generation_defaults == GenerationDefaults("confidence", 5, 0.5, None, 2.0, "here")
    kw = dict(prompt=PROMPT, n=2, length=10, seed=1)
    explicit = tiny_lm.generate(sampler="confidence", steps=5, temperature=0.5, prompt_weight=2.0, **kw)
    assert lm.generate(**kw) == explicit
    assert lm.generate(temperature=1.0, prompt_weight=1.0, **kw) == tiny_lm.generate(
        sampler="confidence", steps=5, **kw
    )  # what the caller gives wins
    # a sampler instance keeps its own settings
    assert lm.generate(sampler=AncestralSampler(steps=10), prompt=PROMPT, n=2, length=10, seed=1) == tiny_lm.generate(
        sampler="ancestral", steps=10, prompt=PROMPT, prompt_weight=2.0, n=2, length=10, seed=1
    )
    # measured on prompts, they hold on prompts: unprompted generation keeps the library's defaults
    assert lm.generate(n=2, length=10, seed=1) == tiny_lm.generate(n=2, length=10, seed=1)
    assert lm.generate(n=2, length=10, seed=1) != lm.generate(sampler="confidence", steps=5, n=2, length=10, seed=1)
    lm.save_pretrained(tmp_path / "again")
    assert ctrlgen.load(tmp_path / "again").generation_defaults == lm.generation_defaults


@pytest.mark.parametrize(
    "content, match",
    [
        ({"temperatur": 0.5}, "unknown generation settings"),
        ({"steps": 0}, "steps"),
        ({"top_p": 1.5}, "top_p"),
        ({"prompt_weight": "x"}, "prompt_weight"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_defaults_files_are_typed_errors(tiny_lm, tmp_path, content, match):
    tiny_lm.save_pretrained(tmp_path)
    (tmp_path / "generation_defaults.json").write_text(json.dumps(content))
    with pytest.raises(InvalidArgumentError, match=match):
        ctrlgen.load(tmp_path)
