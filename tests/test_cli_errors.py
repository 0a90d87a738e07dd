"""Every user error on the command line ends as ``ctrlgen: error: ...`` with exit status 2, never a traceback."""

import shutil
from pathlib import Path

import pytest

from ctrlgen.cli import main

DEFAULT = Path(__file__).resolve().parents[1] / "ctrlgen" / "default_model"


@pytest.fixture(scope="module")
def damaged_models(tmp_path_factory):
    """Copies of the default model: weights cut short, a config that disagrees with the weights, a config
    with a word where a number goes."""
    root = tmp_path_factory.mktemp("damaged")
    out = {}
    for name in ("truncated", "layers", "words"):
        target = root / name
        shutil.copytree(DEFAULT, target)
        out[name] = target
    weights = out["truncated"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    for name, edit in (
        ("layers", ('"n_layers": 6', '"n_layers": 4')),
        ("words", ('"d_model": 256', '"d_model": "two hundred"')),
    ):
        config = out[name] / "config.json"
        text = config.read_text()
        assert edit[0] in text
        config.write_text(text.replace(*edit))
    return out


CASES = [
    (["generate", "--words", "-1"], "at least 0"),
    (["generate", "--regex", "("], "invalid regular expression"),
    (["generate", "--regex", "(?=a)b"], "look-ahead"),
    (["generate", "--tokens", "100000"], "needs at least"),
    (["generate", "--device", "cuda:7"], "device"),
    (["generate", "--device", "nonsense"], "device"),
    (["generate", "-n", "0"], "n"),
    (["generate", "--model", "/nonexistent/model"], "no such model"),
    (["generate", "--schema", "/nonexistent.json"], "cannot read schema"),
    (["fill", "A {0} B"], "positive"),
    (["fill", "A {3 B"], "cannot parse template"),
    (["fill", "plain"], "no slot"),
    (["train", "--max-steps", "-5", "--data", "x.txt"], "max_steps"),
    (["train", "--max-steps", "0", "--data", "x.txt"], "max_steps"),
    (["export", "--checkpoint", "missing.ckpt", "--run", ".", "--out", "x"], "no such checkpoint"),
    (["rewrite", "good food", "--style", "sentiment"], "CLASSIFIER=LABEL"),
    (["rewrite", "good food", "--start-time", "0.5"], "start_time applies to models of the embedding process"),
    (["train", "--data", "x.txt", "--tokenizer", "default", "--init-from", "m"], "tokenizer and init_from"),
]


@pytest.mark.parametrize(("argv", "words"), CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_user_errors_exit_2_with_a_message(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path / "cache"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ctrlgen: error: ") and words in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["truncated", "layers", "words"])
def test_damaged_models_are_refused_by_name(damaged_models, name, capsys):
    assert main(["generate", "--model", str(damaged_models[name]), "-n", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ctrlgen: error: ") and str(damaged_models[name]) in err, err


def test_export_of_a_run_directory_that_is_not_one(tmp_path, capsys):
    checkpoint = tmp_path / "x.ckpt"
    checkpoint.write_bytes(b"not a checkpoint")
    assert main(["export", "--checkpoint", str(checkpoint), "--run", "no/such/run", "--out", str(tmp_path / "o")]) == 2
    assert "no such run directory" in capsys.readouterr().err
