"""Templates: literal text with fixed-length slots to fill."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import ClassVar

from .base import Constraint

__all__ = ["Slot", "Template"]


@dataclass(frozen=True)
class Slot(Constraint):
    """A gap of exactly ``tokens`` generated tokens, optionally matching ``regex`` or one of ``choices``."""

    tokens: int
    regex: str | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tokens, int) or self.tokens < 1:
            raise ValueError(f"a slot needs a positive token count, got {self.tokens!r}")
        if self.regex is not None and self.choices is not None:
            raise ValueError("give a slot a regex or choices, not both")
        if self.choices is not None:
            if isinstance(self.choices, str) or not self.choices:
                raise ValueError("choices must be a non-empty list of strings")
            object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def pattern(self) -> str | None:
        """The slot's content as a regex (choices become an escaped alternation), None for free text."""
        if self.choices is not None:
            return "(" + "|".join(re.escape(c) for c in self.choices) + ")"
        return self.regex


@dataclass(frozen=True, init=False)
class Template(Constraint):
    """Literal text with slots, e.g. ``Template("The {4} is a {2} near {3}.")``.

    ``{N}`` is a slot of exactly N tokens of free text; ``{name}`` is the :class:`Slot` given as
    ``slots={"name": Slot(3, regex=...)}``; ``{{`` and ``}}`` are literal braces. Literal text is kept byte
    for byte.
    """

    composable: ClassVar[bool] = False

    parts: tuple[str | Slot, ...]

    def __init__(self, text: str, slots: dict[str, Slot] | None = None) -> None:
        slots = dict(slots or {})
        parts: list[str | Slot] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as e:
            raise ValueError(f"cannot parse template {text!r}: {e} (write literal braces as {{{{ and }}}})") from None
        for literal, field, spec, conversion in parsed:
            if literal and parts and isinstance(parts[-1], str):
                parts[-1] += literal  # the parser splits literal text at escaped braces
            elif literal:
                parts.append(literal)
            if field is None:
                continue
            if spec or conversion:
                raise ValueError(f"template slot {{{field}}} takes no format spec or conversion")
            if field.isdigit():
                parts.append(Slot(int(field)))
            elif field in slots:
                parts.append(slots[field])
            else:
                raise ValueError(f"template slot {{{field}}} is neither a token count nor one of {sorted(slots)}")
        if not any(isinstance(p, Slot) for p in parts):
            raise ValueError(f"template {text!r} has no slot to fill")
        object.__setattr__(self, "parts", tuple(parts))

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(p for p in self.parts if isinstance(p, Slot))

    def composition_hint(self) -> str:
        return "a template lays out the whole canvas; put a slot's rule in the slot (Slot(n, regex=...))"

    def describe(self) -> str:
        return "Template(" + "".join(p if isinstance(p, str) else f"{{{p.tokens}}}" for p in self.parts) + ")"
