"""The small profile of ``benchmarks/fuzz.py``: random constraints of every kind, with bad and extreme
parameters, on an untrained model. Each call gives valid outputs or a CtrlgenError; never anything else."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz  # noqa: E402


def test_fuzz_profile_finds_no_failure(tmp_path, monkeypatch, random_default_lm):
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))
    result = fuzz.run(cases=60, seed=1, budget=5.0, lm=random_default_lm, progress=False)
    assert result["failures"] == 0, result["failure_examples"]
    assert result["valid_outputs"] > 0 and result["typed_errors"] > 0  # both sides of the property were exercised


@pytest.fixture(scope="module")
def random_default_lm():
    return fuzz._untrained_model()
