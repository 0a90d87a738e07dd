import json
import pickle

import pytest
import torch

from ctrlgen import DataError, TrainConfig, train
from ctrlgen.data import TextSource, read_texts, split_texts
from ctrlgen.training import AtomicCheckpointIO
from tests.conftest import TINY


def _metrics(run):
    rows = (run / "logs" / "version_0" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    col = header.index("train/loss")
    return [float(r.split(",")[col]) for r in rows[1:] if r.split(",")[col]]


def test_loss_falls(tiny_run):
    losses = _metrics(tiny_run)
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, (first, last)
    summary = json.loads((tiny_run / "training.json").read_text())["latest"]
    assert summary["global_step"] == 300
    assert summary["val_ppl_bound"] == pytest.approx(torch.exp(torch.tensor(summary["val_loss"])).item(), rel=1e-4)


def test_fast_dev_run(corpus_file, tmp_path):
    out = train(
        TrainConfig(data=[str(corpus_file)], out=str(tmp_path / "dev"), fast_dev_run=True, accelerator="cpu", **TINY)
    )
    assert (out / "tokenizer.json").exists()


def test_resume_continues_from_last_checkpoint(corpus_file, tmp_path):
    # val_every beyond the run: only the checkpoint written when fit stops exists
    cfg = dict(data=[str(corpus_file)], out=str(tmp_path / "r"), accelerator="cpu", **{**TINY, "val_every": 100})
    cfg["ema_decay"] = 0.9
    last = tmp_path / "r" / "checkpoints" / "last.ckpt"

    def check(step):
        ckpt = torch.load(last, weights_only=False)
        assert ckpt["global_step"] == step
        # EMA: the average is the state_dict, the live weights ride along; both must survive the stop
        live, average = ckpt["current_model_state"], ckpt["state_dict"]
        assert any(not torch.equal(live[k], average[k]) for k in average)
        assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt"]
        return ckpt

    train(TrainConfig(max_steps=12, max_minutes=60, **cfg))
    ckpt = check(12)
    # A later session has its own wall-clock budget: pretend the first run used 100 hours.
    timers = [k for k in ckpt["callbacks"] if "Timer" in k]
    assert timers
    for k in timers:
        ckpt["callbacks"][k]["time_elapsed"] = {"train": 360_000.0, "validate": 0.0, "test": 0.0}
    torch.save(ckpt, last)
    train(TrainConfig(max_steps=15, max_minutes=60, resume=True, **cfg))
    check(15)
    history = json.loads((tmp_path / "r" / "training.json").read_text())["runs"]
    assert [r["global_step"] for r in history] == [12, 15]


def test_export_of_a_checkpoint_loads_and_records_its_step(tiny_run, tmp_path):
    import ctrlgen
    from ctrlgen.training import export_checkpoint

    ckpt = torch.load(tiny_run / "checkpoints" / "last.ckpt", weights_only=False)
    ckpt["global_step"] = 123  # stands for a mid-run checkpoint: the export must say which step it is
    torch.save(ckpt, tmp_path / "mid.ckpt")
    out = export_checkpoint(tmp_path / "mid.ckpt", tiny_run, tmp_path / "exported")
    assert json.loads((out / "training.json").read_text())["exported"]["global_step"] == 123
    exported = ctrlgen.load(out).denoiser.state_dict()
    trained = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    assert all(torch.equal(exported[k], v) for k, v in trained.items())


def test_atomic_checkpoint_leaves_no_temporary_files(tmp_path):
    AtomicCheckpointIO().save_checkpoint({"x": torch.arange(3)}, tmp_path / "a.ckpt")
    assert [p.name for p in tmp_path.iterdir()] == ["a.ckpt"]
    assert torch.equal(torch.load(tmp_path / "a.ckpt")["x"], torch.arange(3))


def test_atomic_checkpoint_keeps_old_file_when_save_fails(tmp_path):
    path = tmp_path / "a.ckpt"
    AtomicCheckpointIO().save_checkpoint({"x": 1}, path)
    with pytest.raises((AttributeError, TypeError, RuntimeError, pickle.PicklingError)):
        AtomicCheckpointIO().save_checkpoint({"x": lambda: None}, path)  # lambdas do not pickle
    assert torch.load(path)["x"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["a.ckpt"]


def test_csv_and_jsonl_sources(tmp_path):
    (tmp_path / "a.csv").write_text('mr,ref\n"x[1]","first text"\n"y[2]","second text"\n')
    (tmp_path / "b.jsonl").write_text('{"text": "third"}\n\n{"text": "fourth"}\n')
    texts = read_texts(
        [
            TextSource.parse(str(tmp_path / "a.csv")),
            TextSource.parse(f"{tmp_path / 'a.csv'}:mr"),
            TextSource(str(tmp_path / "b.jsonl")),
        ]
    )
    assert texts == ["first text", "second text", "x[1]", "y[2]", "third", "fourth"]


@pytest.mark.parametrize(
    "content,name,spec_suffix",
    [
        ("a,b\n1,2\n", "x.csv", ":nope"),
        ('{"other": 1}\n', "x.jsonl", ""),
        ("not json\n", "x.jsonl", ""),
        ("\n\n", "x.txt", ""),
    ],
)
def test_bad_data_raises_data_error(tmp_path, content, name, spec_suffix):
    (tmp_path / name).write_text(content)
    with pytest.raises(DataError):
        read_texts([TextSource.parse(str(tmp_path / name) + spec_suffix)])


def test_missing_file_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_texts([TextSource(str(tmp_path / "missing.txt"))])


def test_split_is_fixed_and_disjoint():
    texts = [f"doc {i}" for i in range(100)]
    a, b = split_texts(texts, 0.1, seed=0), split_texts(texts, 0.1, seed=0)
    assert a == b and len(a[1]) == 10 and not set(a[0]) & set(a[1])


def test_training_prints_steps_not_lightning_notices(corpus_file, tmp_path, capfd):
    """One bar of steps out of max_steps; no accelerator lines, logger advert, Lightning deprecations or
    weights_only notices; --resume without a checkpoint says it starts afresh."""
    cfg = TrainConfig(
        data=[str(corpus_file)],
        out=str(tmp_path / "run"),
        max_steps=6,
        accelerator="cpu",
        resume=True,
        **TINY,
    )
    train(cfg)
    out, err = capfd.readouterr()
    for noise in ("GPU available", "Tip:", "LeafSpec", "weights_only", "Epoch 0/-2"):
        assert noise not in out + err, noise
    assert "no checkpoint at" in err and "starting a new run" in err


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_steps", 0), ("max_steps", -5), ("batch_size", 2.5), ("lr", -1.0), ("dropout", 1.0), ("val_every", True)],
)
def test_bad_training_options_are_named(field, value):
    from ctrlgen import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=field):
        TrainConfig(**{field: value})
