"""Shared fixtures: a tiny corpus made by our own code, and a tiny model trained on it in seconds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import strategies as st

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_NAMES = ["the mill", "blue spice", "the eagle", "zizzi", "cotto", "aromi"]
_FOODS = ["chinese", "french", "indian", "italian", "english"]
_AREAS = ["the city centre", "the riverside"]
_PRICES = ["cheap", "moderate", "expensive"]


def tiny_corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Short restaurant sentences from a small grammar: enough structure for a tiny model to learn."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        name, food, area, price = rng.choice(_NAMES), rng.choice(_FOODS), rng.choice(_AREAS), rng.choice(_PRICES)
        docs.append(
            rng.choice(
                [
                    f"{name} serves {food} food in {area} .",
                    f"{name} is a {price} {food} place .",
                    f"in {area} , {name} is {price} .",
                ]
            )
        )
    return docs


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "corpus.txt"
    path.write_text("\n".join(tiny_corpus()) + "\n")
    return path


TINY = dict(
    vocab_size=400,
    d_model=64,
    n_layers=2,
    n_heads=2,
    d_ff=128,
    dropout=0.0,
    canvas_length=24,
    max_canvas=64,
    batch_size=32,
    lr=3e-3,
    warmup_steps=20,
    val_every=100,
    progress=False,
)


@pytest.fixture(scope="session")
def tiny_run(corpus_file, tmp_path_factory) -> Path:
    """A tiny denoiser (~30k parameters) trained for 300 steps; its directory, as ``ctrlgen train`` writes it."""
    from ctrlgen import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    return train(TrainConfig(data=[str(corpus_file)], out=str(out), max_steps=300, accelerator="cpu", **TINY))


@pytest.fixture(scope="session")
def tiny_lm(tiny_run):
    import ctrlgen

    return ctrlgen.load(tiny_run)


def random_lm(tokenizer, seed: int = 0):
    """A DiffusionLM with an untrained one-layer denoiser: near-uniform predictions, the hardest case for
    constraints (the model itself never helps them)."""
    from ctrlgen.tiny_models import untrained_lm

    return untrained_lm(tokenizer, seed=seed)


@pytest.fixture(scope="session")
def ab_tokenizer():
    """A byte-level BPE with a few merges over the letters a and b."""
    from ctrlgen import train_tokenizer

    return train_tokenizer(["ab" * 5, "aab abb", "ba ab aa", "bbb aaa"] * 40, vocab_size=266)


@pytest.fixture(scope="session")
def default_tokenizer():
    import ctrlgen

    return ctrlgen.load().tokenizer


@pytest.fixture(autouse=True, scope="session")
def _private_automaton_cache(tmp_path_factory):
    """Compiled automata go to a fresh cache per test session, so tests never read a stale one."""
    import os

    os.environ["CTRLGEN_CACHE"] = str(tmp_path_factory.mktemp("cache"))


_AB_ATOMS = st.sampled_from(["a", "b", "[ab]", "ab", "ba"])


@st.composite
def small_regexes(draw, depth=2):
    """Random regexes over a and b: concatenation, alternation, option, star and bounded repetition."""
    if depth == 0 or draw(st.booleans()):
        return draw(_AB_ATOMS)
    left, right = draw(small_regexes(depth=depth - 1)), draw(small_regexes(depth=depth - 1))
    shape = draw(st.sampled_from(["cat", "alt", "opt", "star", "rep"]))
    if shape == "cat":
        return left + right
    if shape == "alt":
        return f"({left}|{right})"
    if shape == "opt":
        return f"({left})?"
    if shape == "star":
        return f"({left})*"
    lo = draw(st.integers(0, 3))
    return f"({left}){{{lo},{lo + draw(st.integers(0, 2))}}}"
