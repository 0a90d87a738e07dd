import shutil
import subprocess
import sys

import pytest
import torch

import ctrlgen
from ctrlgen import (
    InvalidArgumentError,
    ModelNotFoundError,
    TokenizerMismatchError,
    UnknownSamplerError,
    train_tokenizer,
)
from tests.conftest import tiny_corpus


@pytest.mark.parametrize("sampler", ["ancestral", "confidence", "semi-ar"])
def test_generate_honours_n_length_and_seed(tiny_lm, sampler):
    a = tiny_lm.generate(n=5, length=20, sampler=sampler, seed=3, batch_size=2)
    b = tiny_lm.generate(n=5, length=20, sampler=sampler, seed=3, batch_size=2)
    c = tiny_lm.generate(n=5, length=20, sampler=sampler, seed=4, batch_size=2)
    assert len(a) == 5 and a == b and a != c
    for text in a:
        assert len(tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"]) <= 20


def test_no_mask_token_in_samples(tiny_lm):
    canvas = torch.full((8, 24), tiny_lm.mask_token_id)
    tokens = tiny_lm.sample_tokens(canvas, seed=0)
    assert tokens.shape == (8, 24) and not (tokens == tiny_lm.mask_token_id).any()
    assert all("<|mask|>" not in t for t in tiny_lm.decode(tokens))


def test_trained_model_writes_corpus_like_text(tiny_lm):
    texts = tiny_lm.generate(n=16, length=24, seed=0, sampler="confidence")
    vocabulary = set(" ".join(tiny_corpus()).split())
    words = [w for t in texts for w in t.split()]
    assert words and sum(w in vocabulary for w in words) / len(words) > 0.8


def test_save_load_round_trip_gives_identical_samples(tiny_lm, tmp_path):
    tiny_lm.save_pretrained(tmp_path / "copy")
    again = ctrlgen.load(tmp_path / "copy")
    assert again.generate(n=4, length=16, seed=11) == tiny_lm.generate(n=4, length=16, seed=11)


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=-2), dict(length=0), dict(n=1.5), dict(batch_size=0)])
def test_bad_generate_arguments(tiny_lm, kwargs):
    with pytest.raises(InvalidArgumentError):
        tiny_lm.generate(**kwargs)


def test_canvas_longer_than_model_supports(tiny_lm):
    with pytest.raises(InvalidArgumentError, match="longest sequence"):
        tiny_lm.generate(length=tiny_lm.model.config.max_canvas + 1)


def test_unknown_sampler(tiny_lm):
    with pytest.raises(UnknownSamplerError, match="ancestral"):
        tiny_lm.generate(sampler="beam")


def test_directory_without_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="holds no model"):
        ctrlgen.load(tmp_path)
    with pytest.raises(ModelNotFoundError):
        ctrlgen.load(tmp_path / "does-not-exist")


def test_weights_missing(tiny_run, tmp_path):
    shutil.copytree(tiny_run, tmp_path / "m", ignore=shutil.ignore_patterns("*.safetensors", "checkpoints"))
    with pytest.raises(ModelNotFoundError, match="weights"):
        ctrlgen.load(tmp_path / "m")


def test_mismatched_tokenizer(tiny_lm):
    other = train_tokenizer(["completely different words here"] * 20, vocab_size=280)
    with pytest.raises(TokenizerMismatchError, match="does not match"):
        ctrlgen.DiffusionLM(tiny_lm.model, other)


def test_same_size_tokenizer_with_other_merges_is_rejected(tiny_lm):
    other = train_tokenizer(tiny_corpus(seed=5)[::-1] + ["zzzz qqqq"] * 50, vocab_size=len(tiny_lm.tokenizer))
    if len(other) != len(tiny_lm.tokenizer):
        pytest.skip("tokenizer trained to a different size; the size check covers it")
    with pytest.raises(TokenizerMismatchError):
        ctrlgen.DiffusionLM(tiny_lm.model, other)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ctrlgen.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_generate_is_reproducible(tiny_run):
    a = _cli("generate", "--model", str(tiny_run), "-n", "3", "--length", "16", "--seed", "0")
    b = _cli("generate", "--model", str(tiny_run), "-n", "3", "--length", "16", "--seed", "0")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 3


def test_cli_reports_bad_input_without_traceback(tmp_path):
    result = _cli("generate", "--model", str(tmp_path), "-n", "1")
    assert result.returncode == 2 and "holds no model" in result.stderr and "Traceback" not in result.stderr


def test_cli_train_then_load(corpus_file, tmp_path):
    out = tmp_path / "cli-run"
    result = _cli(
        "train",
        "--data",
        str(corpus_file),
        "--out",
        str(out),
        "--max-steps",
        "5",
        "--vocab-size",
        "280",
        "--canvas-length",
        "16",
        "--batch-size",
        "8",
        "--accelerator",
        "cpu",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(ctrlgen.load(out).generate(n=2, length=8, seed=0)) == 2
