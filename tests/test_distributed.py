"""Training beyond one process goes through Lightning's strategies, not code of ours: ``ctrlgen train
--strategy ddp --devices 2`` on two CPU processes (gloo), a resume under DDP, and the run folder written once.

The CLI runs in a subprocess because Lightning's ``ddp`` strategy re-launches the command line itself for the
ranks above 0, the way a user runs it; the whole test takes about half a minute on two cores.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ctrlgen
from tests.conftest import tiny_corpus

#: Small enough that two processes on two cores train in seconds; process start-up dominates.
_TINY = dict(
    vocab_size=300,
    d_model=32,
    n_layers=1,
    n_heads=2,
    d_ff=64,
    dropout=0.0,
    canvas_length=32,
    max_canvas=32,
    batch_size=4,
    warmup_steps=0,
    val_every=1,
    progress=False,
)
_WORLD = 2
#: Variables through which a launcher (torchrun, SLURM, an outer Lightning run) would hand this test's
#: subprocess a rank of its own; the run must pick its ranks itself.
_LAUNCHER_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "MASTER_PORT")


def _ctrlgen_train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``ctrlgen train ARGS --accelerator cpu --devices 2 --strategy ddp`` through the installed entry point."""
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS and not k.startswith("SLURM_")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # two processes, two cores: one thread each
    cmd = [str(Path(sys.executable).parent / "ctrlgen"), "train", *args]
    cmd += ["--accelerator", "cpu", "--devices", str(_WORLD), "--strategy", "ddp"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _check_ran(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    # Every rank runs the CLI; only rank 0 reports (the others would race its write of training.json).
    assert proc.stdout.count("model written to") == 1, proc.stdout


def _checkpoints(out: Path) -> dict:
    """The one checkpoint a run leaves behind to resume from; nothing else of the checkpoint writers'."""
    ckpt_dir = out / "checkpoints"
    names = sorted(p.name for p in ckpt_dir.iterdir())
    assert names.count("last.ckpt") == 1 and not [n for n in names if n.startswith("last-v")], names
    assert not [n for n in names if n.endswith(".tmp")], names  # AtomicCheckpointIO renamed every file it wrote
    assert not [p for p in out.iterdir() if p.name.startswith(".export-")]  # _export cleaned up after itself
    return torch.load(ckpt_dir / "last.ckpt", map_location="cpu", weights_only=False)


def _val_batches_per_pass(n_val: int, world: int) -> int:
    """Validation batches one rank sees per pass: Lightning's DistributedSampler pads the set to a multiple
    of the world size and gives each rank its share."""
    return math.ceil(math.ceil(n_val / world) / _TINY["batch_size"])


def test_ddp_two_processes_train_resume_and_export_once(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("\n".join(tiny_corpus(300)) + "\n")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**_TINY, "data": [str(data)]}))
    out = tmp_path / "run"
    common = ["--config", str(config), "--out", str(out)]

    _check_ran(_ctrlgen_train(*common, "--max-steps", "2", cwd=tmp_path))
    ckpt = _checkpoints(out)
    history = json.loads((out / "training.json").read_text())
    assert [r["global_step"] for r in history["runs"]] == [2]
    assert ckpt["global_step"] == 2
    # Both ranks took part: each validation pass on rank 0 covered only its half of the validation set.
    n_val = history["latest"]["n_val_docs"]
    val_progress = ckpt["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    per_pass = _val_batches_per_pass(n_val, _WORLD)
    assert per_pass != _val_batches_per_pass(n_val, 1)
    assert val_progress["current"]["completed"] == per_pass
    assert val_progress["total"]["completed"] == 2 * per_pass  # val_every 1: a pass after each of the 2 steps

    # The exported model is the trained one (rank 0's weights after fit, not the initial save) and generates.
    lm = ctrlgen.load(out, device="cpu")
    trained = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    exported = lm.denoiser.state_dict()
    assert exported.keys() == trained.keys()
    assert all(torch.equal(exported[k], v) for k, v in trained.items())
    texts = lm.generate(n=2, length=8, seed=0)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)

    _check_ran(_ctrlgen_train(*common, "--resume", "--max-steps", "4", cwd=tmp_path))
    ckpt = _checkpoints(out)
    history = json.loads((out / "training.json").read_text())
    assert [r["global_step"] for r in history["runs"]] == [2, 4]
    assert history["latest"]["global_step"] == 4 == ckpt["global_step"]
    # Continued, not restarted: the loop counters carry run 1's validation passes, and the resumed run logged
    # from step 2 on, into its own log folder (the first run's metrics are kept).
    val_progress = ckpt["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    assert val_progress["total"]["completed"] == 4 * per_pass
    assert (out / "logs" / "version_0" / "metrics.csv").is_file()
    with (out / "logs" / "version_1" / "metrics.csv").open() as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("val/loss")]
    assert steps and min(steps) >= 2, steps
    ctrlgen.load(out, device="cpu").generate(n=1, length=8, seed=0)


def test_a_strategy_lightning_refuses_is_a_typed_error(tmp_path):
    """FSDP needs GPUs: Lightning refuses it on CPU, and ctrlgen says so by name instead of a traceback."""
    from ctrlgen import InvalidArgumentError, TrainConfig, train

    data = tmp_path / "d.txt"
    data.write_text("a b c .\n" * 50)
    with pytest.raises(InvalidArgumentError, match="fsdp"):
        train(
            TrainConfig(
                data=[str(data)],
                out=str(tmp_path / "r"),
                accelerator="cpu",
                devices=2,
                strategy="fsdp",
                vocab_size=270,
                d_model=32,
                n_layers=1,
                n_heads=2,
                d_ff=64,
                canvas_length=16,
                max_steps=1,
                progress=False,
            )
        )
