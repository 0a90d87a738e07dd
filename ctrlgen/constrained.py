"""Planning a constrained generation: compile hard constraints, size the canvas, lay out templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .constraints import Constraint, Intersection, Slot, Template, UnsatisfiableConstraintError
from .guidance.compile import compile_constraint
from .guidance.guide import ConstraintGuide, Span

__all__ = ["ConstraintPlan", "plan_constraints", "canvas_length_for"]

#: Extra canvas positions beyond the shortest completion when the canvas is sized from a constraint.
HEADROOM = 24


@dataclass
class ConstraintPlan:
    """What the sampler needs for constrained generation."""

    length: int
    guide: ConstraintGuide
    fixed: dict[int, int] = field(default_factory=dict)  #: canvas position -> token fixed from the start
    validators: tuple = ()

    def canvas(self, rows: int, mask_token_id: int) -> torch.Tensor:
        canvas = torch.full((rows, self.length), mask_token_id, dtype=torch.long)
        for pos, tok in self.fixed.items():
            canvas[:, pos] = tok
        return canvas


def canvas_length_for(shortest: int, max_canvas: int) -> int:
    """Shortest completion plus headroom (as much again for long ones), capped by the model's canvas."""
    return min(max_canvas, shortest + max(HEADROOM, shortest))


def _template_plan(template: Template, tokenizer, max_canvas: int, most_probable: bool) -> ConstraintPlan:
    fixed: dict[int, int] = {}
    spans: list[Span] = []
    pos = 0
    parts = list(template.parts)
    for k, part in enumerate(parts):
        if isinstance(part, str):
            if part.endswith(" ") and k + 1 < len(parts) and isinstance(parts[k + 1], Slot):
                # Byte-level BPE attaches a space to the word after it: the slot's first token carries the
                # literal's trailing space (the text stays byte for byte the same, and reads as the model
                # learned it, " food" rather than " " + "food").
                part = part[:-1]
                inner = parts[k + 1].pattern or r"(?s:.)*"
                parts[k + 1] = Slot(parts[k + 1].tokens, regex=f" (?:{inner})")
            for tok in tokenizer(part, add_special_tokens=False)["input_ids"]:
                fixed[pos] = tok
                pos += 1
        else:
            compiled = compile_constraint(part, tokenizer)
            spans.append(Span(pos, pos + part.tokens, compiled.automaton, name=f"slot at token {pos}"))
            pos += part.tokens
    if pos > max_canvas:
        raise UnsatisfiableConstraintError(
            f"{template.describe()} takes {pos} tokens, more than the model's canvas of {max_canvas}", shortest=pos
        )
    return ConstraintPlan(pos, ConstraintGuide(spans, most_probable), fixed)


def plan_constraints(
    constraints: Sequence[Constraint], tokenizer, length: int | None, max_canvas: int, most_probable: bool = False
) -> ConstraintPlan:
    """Compile ``constraints`` (their exact intersection) into a guide over a canvas.

    When ``length`` is None the canvas is sized from the constraint; an unsatisfiable request raises
    :class:`UnsatisfiableConstraintError` naming the shortest length that would work.
    """
    templates = [c for c in constraints if isinstance(c, Template)]
    if templates:
        if len(constraints) > 1:
            raise ValueError("a Template lays out the whole canvas and cannot be combined with other constraints")
        plan = _template_plan(templates[0], tokenizer, max_canvas, most_probable)
        if length is not None and length != plan.length:
            raise UnsatisfiableConstraintError(
                f"{templates[0].describe()} takes exactly {plan.length} tokens, not {length}", shortest=plan.length
            )
        return plan
    combined = constraints[0] if len(constraints) == 1 else Intersection(tuple(constraints))
    compiled = compile_constraint(combined, tokenizer)
    shortest = compiled.automaton.shortest_accepted()
    if shortest is None:
        raise UnsatisfiableConstraintError(f"no text satisfies {combined.describe()}", shortest=None)
    if shortest > max_canvas:
        raise UnsatisfiableConstraintError(
            f"{combined.describe()} needs at least {shortest} tokens, more than the model's canvas of {max_canvas}",
            shortest=shortest,
        )
    if length is None:
        length = canvas_length_for(shortest, max_canvas)
    elif length < shortest:
        raise UnsatisfiableConstraintError(
            f"{combined.describe()} cannot be met in {length} tokens: the shortest text that satisfies it takes "
            f"{shortest} tokens",
            shortest=shortest,
        )
    guide = ConstraintGuide([Span(0, length, compiled.automaton, combined.describe())], most_probable)
    return ConstraintPlan(length, guide, {}, compiled.validators)
