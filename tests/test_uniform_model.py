"""A native denoiser trained on the uniform-noise process, end to end: training, the bound, constrained
generation with both uniform samplers, templates, rewriting, the CLI."""

import json
import re

import jsonschema
import pytest
import torch

from tests.conftest import TINY


@pytest.fixture(scope="module")
def uniform_run(corpus_file, tmp_path_factory):
    from ctrlgen import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "uniform"
    cfg = TrainConfig(
        data=[str(corpus_file)], out=str(out), max_steps=300, accelerator="cpu", process="uniform", **TINY
    )
    return train(cfg)


@pytest.fixture(scope="module")
def uniform_lm(uniform_run):
    import ctrlgen

    return ctrlgen.load(uniform_run)


def test_the_run_records_its_process_and_its_bound(uniform_run, uniform_lm):
    assert json.loads((uniform_run / "config.json").read_text())["process"] == "uniform"
    assert uniform_lm.denoiser.process_name == "uniform"
    summary = json.loads((uniform_run / "training.json").read_text())
    bound = summary["latest"].get("val_loss")
    assert bound is not None and 0 < bound < 20


def test_the_trained_bound_beats_the_untrained_one(uniform_lm, corpus_file):
    """The NELBO of the trained model on its data is below that of a fresh model of the same shape."""
    from ctrlgen.model import DenoiserModel
    from ctrlgen.processes import process_for

    tok = uniform_lm.denoiser.tokenizer
    lines = corpus_file.read_text().splitlines()[:64]
    ids = [tok(line)["input_ids"][:24] for line in lines]
    batch = torch.tensor([row + [tok.pad_token_id] * (24 - len(row)) for row in ids])
    process = process_for(uniform_lm.denoiser)
    trained = uniform_lm.denoiser.model.eval()
    fresh = DenoiserModel(trained.config).eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with torch.no_grad():
        ours = process.loss(lambda z: trained(z), batch, g()).loss.item()
        theirs = process.loss(lambda z: fresh(z), batch, g()).loss.item()
    assert ours < 0.7 * theirs


@pytest.mark.parametrize("sampler", ["entropy-bound", "ancestral"])
def test_constrained_generation_on_a_uniform_model(uniform_lm, sampler):
    from ctrlgen import JsonSchema, Length, Regex

    schema = {"type": "object", "properties": {"name": {"enum": ["Aromi", "Zizzi"]}, "n": {"type": "integer"}},
              "required": ["name", "n"], "additionalProperties": False}  # fmt: skip
    for doc in uniform_lm.generate(n=3, constraints=[JsonSchema(schema)], sampler=sampler, seed=0, steps=12):
        jsonschema.validate(json.loads(doc), schema)
    for text in uniform_lm.generate(n=3, constraints=[Regex(r"[a-z]+ is [a-z]+ \.")], sampler=sampler, seed=1):
        assert re.fullmatch(r"[a-z]+ is [a-z]+ \.", text)
    for text in uniform_lm.generate(n=3, constraints=[Length(words=5)], sampler=sampler, seed=2, steps=8):
        assert len(text.split()) == 5


def test_templates_and_rewrites_on_a_uniform_model(uniform_lm):
    for text in uniform_lm.fill("The {2} is near {3}.", n=2, seed=0):
        assert text.startswith("The ") and " is near " in text and text.endswith(".")
    source = "the cafe is in the city centre ."
    out = uniform_lm.rewrite(source, strength=0.3, n=2, seed=0)
    assert len(out) == 2 and all(isinstance(t, str) and t for t in out)


def test_samplers_of_the_other_process_are_refused_by_name(uniform_lm, tiny_lm):
    from ctrlgen.errors import UnknownSamplerError
    from ctrlgen.sampling import ConfidenceSampler, EntropyBoundSampler

    with pytest.raises(UnknownSamplerError, match="entropy-bound"):
        uniform_lm.generate(n=1, sampler="remdm")
    with pytest.raises(UnknownSamplerError, match="uniform"):
        uniform_lm.generate(n=1, sampler=ConfidenceSampler())
    with pytest.raises(UnknownSamplerError, match="remdm"):
        tiny_lm.generate(n=1, sampler="entropy-bound")
    with pytest.raises(UnknownSamplerError, match="masking"):
        tiny_lm.generate(n=1, sampler=EntropyBoundSampler())


def test_cli_trains_and_samples_a_uniform_model(corpus_file, tmp_path, capsys):
    from ctrlgen.cli import main

    out = tmp_path / "u"
    train = ["train", "--data", str(corpus_file), "--out", str(out), "--max-steps", "30", "--vocab-size", "300"]
    train += ["--canvas-length", "16", "--batch-size", "16", "--val-every", "30", "--accelerator", "cpu"]
    train += ["--no-progress"]
    assert main([*train, "--process", "uniform"]) in (0, None)
    assert json.loads((out / "config.json").read_text())["process"] == "uniform"
    capsys.readouterr()
    assert main(["generate", "--model", str(out), "-n", "2", "--regex", "[a-z ]+", "--seed", "0"]) in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(re.fullmatch("[a-z ]+", line) for line in lines)
    assert main([*train, "--process", "gaussian"]) == 2
    assert "masking, uniform" in capsys.readouterr().err


def test_each_uniform_family_samples_with_its_measured_default(uniform_lm):
    """``sampler=None``: ancestral for ctrlgen's own uniform models (entropy-bound writes their end padding
    first, benchmarks/processes.py), DiffusionGemma's published entropy-bound for DiffusionGemma."""
    from ctrlgen.denoisers.diffusion_gemma import DiffusionGemmaDenoiser
    from ctrlgen.sampling import EntropyBoundSampler, UniformAncestralSampler

    assert isinstance(uniform_lm._sampler(None, None, None, None), UniformAncestralSampler)
    assert DiffusionGemmaDenoiser.default_sampler == "entropy-bound"
    assert isinstance(uniform_lm._sampler("entropy-bound", None, None, None), EntropyBoundSampler)
