"""Prompted generation on ctrlgen's own model, the CLI's prompt options, and fixes found from outside:
sampler instances keep the caller's settings, ``&`` refuses what it cannot intersect with a typed error."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from ctrlgen.constraints import ConstraintError
from ctrlgen.constraints.base import CompositionError

import ctrlgen
from ctrlgen import AncestralSampler, ConfidenceSampler, InvalidArgumentError, Length, Regex, Slot, Style, Template


def test_prompt_is_context_not_output(tiny_lm):
    texts = tiny_lm.generate(prompt="the mill serves", constraints=[Regex(r"[a-z ]+")], n=3, seed=0, length=8)
    assert len(texts) == 3 and all(re.fullmatch(r"[a-z ]+", t) for t in texts)
    echoed = tiny_lm.generate(
        prompt="the mill serves", constraints=[Regex(r"[a-z ]+")], n=3, seed=0, length=8, echo=True
    )
    assert echoed == ["the mill serves" + t for t in texts]


def test_prompts_condition_the_model(tiny_lm):
    """Different prompts give different distributions (the prompt reaches the network)."""
    canvas_lp = []
    for prompt in ("the mill serves", "in the riverside ,"):
        prefix = tiny_lm._prefixes(prompt)
        import torch

        canvas = torch.full((1, 6), tiny_lm.mask_token_id)
        canvas_lp.append(tiny_lm._canvas_denoiser(prefix, None, 1.0)(canvas))
    assert not torch.allclose(canvas_lp[0], canvas_lp[1])


def test_batch_of_prompts_gives_n_per_prompt(tiny_lm):
    texts = tiny_lm.generate(prompt=["a", "the mill serves chinese food in"], n=2, constraints=[Length(3)], seed=1)
    assert len(texts) == 4
    assert tiny_lm.last_report.n == 4


@pytest.mark.parametrize("bad", [42, [], [1, 2], [{"role": "user"}], {"role": "user", "content": "x"}, [[]], ["a", []]])
def test_bad_prompts_are_typed_errors(tiny_lm, bad):
    with pytest.raises(InvalidArgumentError):
        tiny_lm.generate(prompt=bad, n=1, length=4)


def test_sampler_instance_keeps_the_arguments_given(tiny_lm):
    kw = dict(n=2, length=12, seed=3)
    by_name = tiny_lm.generate(sampler="confidence", steps=4, temperature=0.5, top_p=0.9, **kw)
    by_instance = tiny_lm.generate(sampler=ConfidenceSampler(), steps=4, temperature=0.5, top_p=0.9, **kw)
    assert by_name == by_instance
    configured = tiny_lm.generate(sampler=ConfidenceSampler(steps=4, temperature=0.5, top_p=0.9), **kw)
    assert configured == by_name
    assert tiny_lm._sampler(AncestralSampler(), None, None, None).schedule == tiny_lm.schedule


def test_and_refuses_what_it_cannot_intersect():
    template = Template("A {2} b.")
    with pytest.raises(CompositionError, match="lays out the whole canvas"):
        template & Length(3)
    with pytest.raises(CompositionError, match="soft"):
        Style("sentiment", "positive") & Regex("[a-z]+")
    with pytest.raises(ConstraintError):
        Regex("a") & Template("x {1}")
    assert isinstance(Slot(2, regex="[a-z]+") & Length(2), ctrlgen.constraints.Intersection)


def test_cli_prompt_file_and_schema(tmp_path, tiny_run):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the mill serves\n\nin the riverside ,\n")
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"a": {"enum": ["x", "y"]}}, "required": ["a"]}))
    cmd = [sys.executable, "-m", "ctrlgen.cli", "generate", "--model", str(tiny_run), "--prompt-file", str(prompts)]
    out = subprocess.run([*cmd, "--schema", str(schema), "-n", "2", "--seed", "0"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4 and all(json.loads(line)["a"] in ("x", "y") for line in lines)
    both = subprocess.run([*cmd, "--prompt", "x"], capture_output=True, text=True)
    assert both.returncode == 2 and "not both" in both.stderr and "Traceback" not in both.stderr


def test_a_hub_id_without_owner_is_tried_as_a_hub_id(monkeypatch):
    """``bert-base-uncased`` is a hub id, not a missing directory: offline, the error says the config could not
    be read (with a network, or a cached copy, it would load)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ctrlgen.ModelNotFoundError, match="could not read the config"):
        ctrlgen.load("no-such-model-ctrlgen-test")
