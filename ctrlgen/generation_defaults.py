"""Decoding settings measured for one model, kept beside its weights (``generation_defaults.json``).

The library's own defaults (ancestral sampling at temperature 1, no prompt guidance) are right for a model
nobody has measured. A model that was measured, such as the shipped default model, knows better: its
directory may hold the settings that did best on its benchmarks, and ``generate`` uses them for every
argument the caller leaves out when it is given a prompt (the benchmarks are prompted tasks; unprompted text
keeps the library's defaults). An argument given explicitly always wins. This is the role Hugging Face's
``generation_config.json`` plays for its models; ctrlgen keeps its own file because the settings differ
(a sampler, reverse steps, prompt guidance).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidArgumentError

__all__ = ["GenerationDefaults", "GENERATION_DEFAULTS_FILE"]

GENERATION_DEFAULTS_FILE = "generation_defaults.json"


@dataclass(frozen=True)
class GenerationDefaults:
    """What ``generate`` uses for an argument left as None; None here falls back to the library's default."""

    sampler: str | None = None
    steps: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    #: classifier-free guidance towards the prompt (only applied when a prompt is given)
    prompt_weight: float | None = None
    #: where these settings were measured (free text, for the reader; ``generate`` ignores it)
    measured: str | None = None

    def __post_init__(self) -> None:
        if self.measured is not None and not isinstance(self.measured, str):
            raise InvalidArgumentError(f"generation default 'measured' must be text, got {self.measured!r}")
        if self.sampler is not None and not isinstance(self.sampler, str):
            raise InvalidArgumentError(f"generation default 'sampler' must be a sampler name, got {self.sampler!r}")
        steps = self.steps
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise InvalidArgumentError(f"generation default 'steps' must be a positive integer, got {self.steps!r}")
        for name in ("temperature", "top_p", "prompt_weight"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidArgumentError(f"generation default {name!r} must be a finite number, got {value!r}")
        if self.temperature is not None and self.temperature < 0:
            raise InvalidArgumentError(f"generation default 'temperature' must be >= 0, got {self.temperature!r}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise InvalidArgumentError(f"generation default 'top_p' must be in (0, 1], got {self.top_p!r}")

    @classmethod
    def read(cls, directory: str | Path) -> GenerationDefaults:
        """The settings in ``directory`` (none when it holds no such file, e.g. a hub id); a typed error names an
        unknown key or a bad value."""
        path = Path(directory) / GENERATION_DEFAULTS_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidArgumentError(f"{path}: not readable JSON ({e})") from None
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{path}: expected a JSON object of settings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(f"{path}: unknown generation settings {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def write(self, directory: str | Path) -> None:
        """Write the settings that are set (no file when none is)."""
        given = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if not given:
            return
        Path(directory, GENERATION_DEFAULTS_FILE).write_text(json.dumps(given, indent=2) + "\n", encoding="utf-8")

    def resolve(self, name: str, given):
        """``given`` when the caller passed it, else this model's setting (None: the library's default)."""
        return getattr(self, name) if given is None else given
