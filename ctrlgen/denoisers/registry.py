"""One registry from a checkpoint's ``config.json`` to the adapter that loads it; nothing else branches on
model kinds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError, UnsupportedModelError
from .base import Denoiser

__all__ = ["register_denoiser", "denoiser_class_for", "load_denoiser", "REGISTRY"]


@dataclass(frozen=True)
class _Entry:
    name: str
    matches: Callable[[dict], bool]
    load: Callable[..., Denoiser]
    remote_code: bool = False  #: the checkpoint's own code must run (``trust_remote_code=True``)


REGISTRY: list[_Entry] = []


def register_denoiser(
    name: str, matches: Callable[[dict], bool], load: Callable[..., Denoiser], remote_code: bool = False
) -> None:
    """Add an adapter: ``matches(config_dict)`` says whether it reads a checkpoint, ``load(path, **kw)`` loads
    it. Later registrations take precedence, so a user's adapter can replace a built-in one."""
    REGISTRY.insert(0, _Entry(name, matches, load, remote_code))


def _model_type(config: dict) -> str:
    return str(config.get("model_type", "")).lower()


def _is_masked_lm(config: dict) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return config.get("model_type") in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def _builtins() -> None:
    from .bidirectional_lm import DreamDenoiser, LLaDADenoiser
    from .diffusion_gemma import DiffusionGemmaDenoiser
    from .masked_lm import MaskedLMDenoiser
    from .native import NativeDenoiser

    # inserted at the front one by one: the last line here is tried first
    register_denoiser("masked LM", _is_masked_lm, MaskedLMDenoiser.from_pretrained)
    register_denoiser(
        "DiffusionGemma", lambda c: _model_type(c) == "diffusion_gemma", DiffusionGemmaDenoiser.from_pretrained
    )
    register_denoiser("Dream", lambda c: _model_type(c) == "dream", DreamDenoiser.from_pretrained, remote_code=True)
    register_denoiser("LLaDA", lambda c: _model_type(c) == "llada", LLaDADenoiser.from_pretrained, remote_code=True)
    register_denoiser("ctrlgen", lambda c: c.get("model_type") == "ctrlgen-denoiser", NativeDenoiser.from_pretrained)


def _config_dict(path: str | Path, **hub_kwargs) -> dict:
    local = Path(path)
    if local.exists():
        if not local.is_dir() or not (local / "config.json").is_file():
            raise ModelNotFoundError(f"{local} holds no model (no config.json)")
        if not any(local.glob("*.safetensors")) and not any(local.glob("*.bin")):
            raise ModelNotFoundError(f"{local} holds no model weights (*.safetensors)")
        try:
            return json.loads((local / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ModelNotFoundError(f"{local / 'config.json'} cannot be read: {e}") from None
    if str(path).startswith((".", "/", "~")) or str(path).count("/") > 1:
        raise ModelNotFoundError(f"no such model directory: {path}")  # a path, not a hub id (owner/name or name)
    from transformers import PretrainedConfig

    try:
        config, _ = PretrainedConfig.get_config_dict(str(path), **hub_kwargs)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"could not read the config of {path}: {e}") from None
    return config


def denoiser_class_for(config: dict) -> _Entry:
    """The registry entry that reads a checkpoint with this ``config.json`` content."""
    if not REGISTRY:
        _builtins()
    for entry in REGISTRY:
        if entry.matches(config):
            return entry
    known = ", ".join(e.name for e in REGISTRY)
    raise UnsupportedModelError(
        f"no adapter for a checkpoint of model_type {config.get('model_type')!r} "
        f"(architectures {config.get('architectures')}); supported: {known}"
    )


def load_denoiser(path: str | Path, trust_remote_code: bool = False, **hub_kwargs) -> Denoiser:
    """Load any supported checkpoint (a directory or a hub id) as a :class:`Denoiser`."""
    config = _config_dict(path, **hub_kwargs)
    entry = denoiser_class_for(config)
    if entry.remote_code:
        if not trust_remote_code and "auto_map" in config:
            raise UnsupportedModelError(
                f"{path} is a {entry.name}-style checkpoint whose model code ships with it: load it with "
                "trust_remote_code=True (`--trust-remote-code` on the command line) if you trust that code"
            )
        return entry.load(path, trust_remote_code=trust_remote_code, **hub_kwargs)
    return entry.load(path, **hub_kwargs)
