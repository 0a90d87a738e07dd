"""One tiny checkpoint of every family, side by side, from one shared tokenizer corpus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .checkpoints import build_masked_lm
from .corpus import corpus_texts
from .families import FAMILIES
from .remote import build_dream_style, build_llada_style


def build_zoo(root: str | Path, families: Sequence[str] | None = None, **kwargs: Any) -> dict[str, Path]:
    """Build one tiny checkpoint per family under ``root/<family>`` and return ``{family: directory}``.

    Parameters
    ----------
    root:
        Parent directory (created if needed).
    families:
        Which of :data:`FAMILIES` to build (default all).
    **kwargs:
        Passed to every builder (``vocab_size``, ``hidden``, ``layers``, ``seed``, ``texts``, ``verify``, ...).
        The tokenizer training corpus is drawn once and shared unless ``texts`` is given.
    """
    root = Path(root)
    families = list(FAMILIES if families is None else families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; expected some of {FAMILIES}")
    if kwargs.get("texts") is None:
        size = int(kwargs.get("vocab_size", 1000))
        kwargs["texts"] = corpus_texts(n=max(2000, min(size, 20000)), seed=int(kwargs.get("seed", 0)))
    else:
        kwargs["texts"] = list(kwargs["texts"])
    built: dict[str, Path] = {}
    for family in families:
        out = root / family
        if family == "llada":
            built[family] = build_llada_style(out, **kwargs)
        elif family == "dream":
            built[family] = build_dream_style(out, **kwargs)
        else:
            built[family] = build_masked_lm(family, out, **kwargs)
    return built
