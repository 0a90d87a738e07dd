"""The model shipped inside the package loads with no argument and writes text."""

import ctrlgen
from ctrlgen.pipeline import DEFAULT_MODEL_DIR


def test_default_model_is_shipped_small_and_loads():
    assert (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_size < 25 * 2**20
    lm = ctrlgen.load()
    texts = lm.generate(n=4, length=48, seed=0, steps=24, top_p=0.9)
    assert len(texts) == 4
    assert sum(len(t.split()) for t in texts) >= 8  # it writes words, not only end tokens
    assert texts == lm.generate(n=4, length=48, seed=0, steps=24, top_p=0.9)
