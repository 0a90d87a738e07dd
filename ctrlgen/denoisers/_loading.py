"""Loading a checkpoint's weights without silently starting any of them at random.

``from_pretrained`` in transformers fills weights a checkpoint lacks with fresh random values and only logs a
warning; a model whose head is random writes garbage that looks like output. Every adapter loads through
:func:`load_weights`, which refuses such a checkpoint by name (``strict_weights=False`` lets it through).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError

__all__ = ["load_weights"]


def load_weights(loader: Callable[..., Any], path: str | Path, what: str, extra_ok: bool = True, **kwargs) -> Any:
    """``loader(path, output_loading_info=True, **kwargs)`` with its loading report checked: weights the
    checkpoint lacks, or holds in another shape, raise :class:`ModelNotFoundError` naming them. Weights the
    checkpoint has and the model does not use (a pre-training head) are fine when ``extra_ok``; for a model
    whose checkpoints hold exactly its weights (ours) they mean the config is wrong, and are refused too."""
    strict = kwargs.pop("strict_weights", True)
    try:
        model, info = loader(str(path), output_loading_info=True, **kwargs)
    except ModelNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file surfaces as whatever its reader raises
        raise ModelNotFoundError(f"could not load {what} from {path!s}: {type(e).__name__}: {e}") from e
    missing = list(info.get("missing_keys") or [])
    extra = [] if extra_ok else list(info.get("unexpected_keys") or [])
    mismatched = [k[0] if isinstance(k, tuple) else k for k in info.get("mismatched_keys") or []]
    if strict and (missing or mismatched or extra):
        parts = []
        if missing:
            parts.append(
                f"{len(missing)} weights missing ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''})"
            )
        if mismatched:
            parts.append(f"{len(mismatched)} of another shape ({', '.join(mismatched[:4])})")
        if extra:
            parts.append(f"{len(extra)} weights the config has no place for ({', '.join(sorted(extra)[:4])})")
        raise ModelNotFoundError(
            f"{path}: the checkpoint does not fit its config as {what}: {'; '.join(parts)} (the model would "
            "start partly at random; pass strict_weights=False to load it anyway)"
        )
    return model
