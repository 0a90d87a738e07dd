"""What every zoo checkpoint build shares: seeding, saving the tokenizer as real checkpoints do, the metadata
file, and the check that a saved checkpoint loads back to the very model that was built.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

#: metadata file written next to every zoo checkpoint
ZOO_INFO_FILE = "ctrlgen_zoo.json"


@contextlib.contextmanager
def _quiet_and_seeded(seed: int) -> Iterator[None]:
    """Seed torch for a build without disturbing the caller's random state, and hide progress bars."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """Save, then write ``tokenizer_config.json`` the way the real checkpoints' files read.

    transformers 5 writes its internal backend name as the class, the extra special tokens under a key
    transformers 4 reads differently, and the chat template to a separate ``chat_template.jinja``. The
    checkpoints this zoo imitates name the class ``PreTrainedTokenizerFast``, list ``additional_special_tokens``
    and keep ``chat_template`` in ``tokenizer_config.json`` (LLaDA-8B-Instruct's file does all three); both
    major versions of transformers load that layout.
    """
    tokenizer.save_pretrained(out_dir)
    path = out_dir / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = cfg.pop("extra_special_tokens", None)
    if isinstance(extra, list) and extra:
        cfg["additional_special_tokens"] = extra
    jinja = out_dir / "chat_template.jinja"
    if tokenizer.chat_template is not None:
        cfg["chat_template"] = tokenizer.chat_template
        jinja.unlink(missing_ok=True)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _probe_ids(tokenizer: PreTrainedTokenizerFast, length: int = 16) -> torch.Tensor:
    ids = tokenizer.encode('The Mill is a cheap {"food": "Italian"} place near the river.', add_special_tokens=False)
    ids = (ids * length)[:length]
    return torch.tensor([ids, ids[::-1]], dtype=torch.long)


def _write_info(out_dir: Path, info: dict[str, Any]) -> None:
    (out_dir / ZOO_INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_zoo_info(path: str | Path) -> dict[str, Any]:
    """The ``ctrlgen_zoo.json`` metadata of a zoo checkpoint: family, ``requested_vocab_size``,
    ``tokenizer_size`` (``len(tokenizer)``), ``logits_size`` (last dimension of the logits), ``logit_shift``
    (0: position i predicts token i; 1: it predicts token i + 1), ``parameters``, ``seed``, ..."""
    return json.loads((Path(path) / ZOO_INFO_FILE).read_text(encoding="utf-8"))


def _check_loads_back(
    out_dir: Path,
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    loaded: torch.nn.Module,
    loaded_tok: PreTrainedTokenizerFast,
) -> None:
    """Raise unless the loaded tokenizer and model match the built ones (same size and mask id, same logits)."""
    if len(loaded_tok) != len(tokenizer) or loaded_tok.mask_token_id != tokenizer.mask_token_id:
        raise RuntimeError(f"tokenizer saved in {out_dir} does not load back identically")
    probe = _probe_ids(tokenizer)
    with torch.no_grad():
        if not torch.equal(model.eval()(probe).logits, loaded(probe).logits):
            raise RuntimeError(f"model saved in {out_dir} does not load back identically")
