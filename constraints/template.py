"""Templates: literal text with fixed-length slots to fill."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import ClassVar

from .base import Constraint
from .errors import InvalidConstraintError
from .regex import check_pattern, strip_outer_anchors

__all__ = ["Slot", "Template"]


@dataclass(frozen=True)
class Slot(Constraint):
    """A gap of exactly ``tokens`` generated tokens, optionally matching ``regex`` or one of ``choices``."""

    tokens: int
    regex: str | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 1:
            raise InvalidConstraintError(f"a slot needs a positive whole number of tokens, got {self.tokens!r}")
        if self.regex is not None and self.choices is not None:
            raise InvalidConstraintError("give a slot a regex or choices, not both")
        if self.regex is not None:
            check_pattern(self.regex, f"Slot({self.tokens}, regex=...)")
        if self.choices is not None:
            if isinstance(self.choices, str) or not self.choices:
                raise InvalidConstraintError("choices must be a non-empty list of strings")
            choices = tuple(self.choices)
            if not all(isinstance(c, str) for c in choices):
                raise InvalidConstraintError(f"choices must be strings, got {choices!r}")
            object.__setattr__(self, "choices", choices)

    @property
    def pattern(self) -> str | None:
        """The slot's content as a regex (choices become an escaped alternation), None for free text."""
        if self.choices is not None:
            return "(" + "|".join(re.escape(c) for c in self.choices) + ")"
        return None if self.regex is None else strip_outer_anchors(self.regex)[0]

    def describe(self) -> str:
        if self.regex is not None:
            rule = f", regex={self.regex!r}"
        else:
            rule = "" if self.choices is None else f", choices={self.choices!r}"
        return f"Slot({self.tokens}{rule})"


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
        if not isinstance(text, str):
            raise InvalidConstraintError(f"a template is a string, got {type(text).__name__}")
        slots = dict(slots or {})
        for name, slot in slots.items():
            if not isinstance(slot, Slot):
                raise InvalidConstraintError(f"slots[{name!r}] must be a Slot, got {type(slot).__name__}")
        parts: list[str | Slot] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as e:
            raise InvalidConstraintError(
                f"cannot parse template {text!r}: {e} (write literal braces as {{{{ and }}}})"
            ) from None
        for literal, field, spec, conversion in parsed:
            if literal and parts and isinstance(parts[-1], str):
                parts[-1] += literal  # the parser splits literal text at escaped braces
            elif literal:
                parts.append(literal)
            if field is None:
                continue
            if spec or conversion:
                raise InvalidConstraintError(f"template slot {{{field}}} takes no format spec or conversion")
            if field.isdecimal() and field.isascii():
                parts.append(Slot(int(field)))
            elif field in slots:
                parts.append(slots[field])
            else:
                raise InvalidConstraintError(
                    f"template slot {{{field}}} is neither a token count nor one of {sorted(slots)}"
                )
        if not any(isinstance(p, Slot) for p in parts):
            raise InvalidConstraintError(f"template {text!r} has no slot to fill")
        object.__setattr__(self, "parts", tuple(parts))

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(p for p in self.parts if isinstance(p, Slot))

    def composition_hint(self) -> str:
        return "a template lays out the whole canvas; put a slot's rule in the slot (Slot(n, regex=...))"

    def describe(self) -> str:
        return "Template(" + "".join(p if isinstance(p, str) else f"{{{p.tokens}}}" for p in self.parts) + ")"
