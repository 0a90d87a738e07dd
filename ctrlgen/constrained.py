"""Planning a constrained generation: compile hard constraints, size the canvas, lay out templates.

Every hard constraint becomes a guide the same way: it compiles (``compile_constraint``, one dispatch point)
to a token automaton over a span of the canvas. A ``Template`` is the one constraint that also lays out
the canvas: its literal text becomes fixed tokens and each slot a span of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .constraints import Constraint, Intersection, Length, Slot, Template, UnsatisfiableConstraintError
from .guidance.compile import compile_constraint, slot_automaton
from .guidance.guide import ConstraintGuide, Span
from .guidance.size_bounds import fewest_tokens, fit_to_canvas
from .guidance.vocabulary import TokenVocabulary, token_vocabulary

__all__ = ["ConstraintPlan", "plan_constraints", "canvas_length_for"]

#: Extra canvas positions beyond the shortest completion when the canvas is sized from a constraint.
HEADROOM = 24
#: the canvas of an unconstrained call; a constraint that admits texts this long gets at least this much room
DEFAULT_CANVAS = 64


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


def canvas_length_for(shortest: int, max_canvas: int, automaton=None) -> int:
    """Shortest completion plus headroom (as much again for long ones), capped by the model's canvas; and,
    when ``automaton`` admits longer texts, at least the canvas an unconstrained call gets. A canvas sized only
    from the shortest completion would make room for nothing but short texts: a JSON schema whose shortest
    document is ``{"name": "x"}`` would lose every optional property that did not fit, which narrows the
    constraint's outputs without saying so."""
    length = min(max_canvas, shortest + max(HEADROOM, shortest))
    roomy = min(max_canvas, DEFAULT_CANVAS)
    if automaton is not None and length < roomy and automaton.has_text_of_length(length + 1):
        return roomy
    return length


def _with_leading(slot: Slot, text: str) -> Slot:
    """``slot`` whose content must start with ``text`` (a literal's trailing space): tokenizers attach a space
    to the word after it, so the slot's first token carries it."""
    inner = slot.pattern or r"(?s:.)*"
    return Slot(slot.tokens, regex=f"{re.escape(text)}(?:{inner})")


def _refuse_if_too_long(constraint: Constraint, vocab: TokenVocabulary, room: int, exact: bool) -> None:
    """Refuse at once, before anything is compiled, a constraint no text of ``room`` tokens can meet."""
    need = fewest_tokens(constraint, vocab)
    if need > room:
        where = f"in {room} tokens" if exact else f"within the {room} tokens the model has room for"
        tight = isinstance(constraint, Length) and constraint.unit == "tokens"  # then the bound is the answer
        raise UnsatisfiableConstraintError(
            f"{constraint.describe()} cannot be met {where}: it needs at least {need} tokens",
            shortest=need if tight else None,
        )


def _template_plan(template: Template, vocab: TokenVocabulary, max_canvas: int, most_probable: bool) -> ConstraintPlan:
    _refuse_if_too_long(template, vocab, max_canvas, False)
    fixed: dict[int, int] = {}
    spans: list[Span] = []
    pos = 0
    parts = list(template.parts)
    for k, part in enumerate(parts):
        if isinstance(part, str):
            if part.endswith(" ") and k + 1 < len(parts) and isinstance(parts[k + 1], Slot):
                part = part[:-1]
                parts[k + 1] = _with_leading(parts[k + 1], " ")
            if not part:
                continue
            ids = vocab.encode_exact(part, at_start=pos == 0)
            if ids is None:
                raise UnsatisfiableConstraintError(
                    f"the literal text {part!r} of {template.describe()} cannot be written exactly with this "
                    "model's tokenizer: its vocabulary lacks a character or the casing, or (WordPiece, "
                    "SentencePiece) it cannot start a text with a space"
                )
            for tok in ids:
                fixed[pos] = tok
                pos += 1
        else:
            # a slot that opens the canvas reads the vocabulary's forced prefix and first-position rules
            automaton = slot_automaton(part, vocab, at_start=pos == 0)
            spans.append(Span(pos, pos + part.tokens, automaton, name=f"slot at token {pos}"))
            pos += part.tokens
    if pos > max_canvas:
        raise UnsatisfiableConstraintError(
            f"{template.describe()} takes {pos} tokens, more than the {max_canvas} the model has room for",
            shortest=pos,
        )
    return ConstraintPlan(pos, ConstraintGuide(spans, most_probable), fixed)


def plan_constraints(
    constraints: Sequence[Constraint],
    vocab: TokenVocabulary,
    length: int | None,
    max_canvas: int,
    most_probable: bool = False,
) -> ConstraintPlan:
    """Compile ``constraints`` (their exact intersection) into a guide over a canvas.

    ``vocab`` is the model's :class:`~ctrlgen.guidance.vocabulary.TokenVocabulary` (a tokenizer is accepted
    too). When ``length`` is None the canvas is sized from the constraint; an unsatisfiable request raises
    :class:`UnsatisfiableConstraintError` naming the shortest length that would work.
    """
    if not isinstance(vocab, TokenVocabulary):
        vocab = token_vocabulary(vocab)
    templates = [c for c in constraints if isinstance(c, Template)]
    if templates:
        if len(constraints) > 1:
            raise UnsatisfiableConstraintError(
                "a Template lays out the whole canvas and cannot be combined with other hard constraints; "
                "put a slot's rule in the slot (Slot(n, regex=...) or Slot(n, choices=[...]))"
            )
        plan = _template_plan(templates[0], vocab, max_canvas, most_probable)
        if length is not None and length != plan.length:
            raise UnsatisfiableConstraintError(
                f"{templates[0].describe()} takes exactly {plan.length} tokens, not {length}", shortest=plan.length
            )
        return plan
    combined = constraints[0] if len(constraints) == 1 else Intersection(tuple(constraints))
    room = max_canvas if length is None else length
    _refuse_if_too_long(combined, vocab, room, length is not None)
    compiled = compile_constraint(fit_to_canvas(combined, room, vocab), vocab)
    shortest = compiled.automaton.shortest_accepted()
    if shortest is None:
        raise UnsatisfiableConstraintError(f"no text satisfies {combined.describe()}", shortest=None)
    if shortest > max_canvas:
        raise UnsatisfiableConstraintError(
            f"{combined.describe()} needs at least {shortest} tokens, more than the {max_canvas} the model has "
            "room for",
            shortest=shortest,
        )
    if length is None:
        length = canvas_length_for(shortest, max_canvas, compiled.automaton)
    elif length < shortest:
        raise UnsatisfiableConstraintError(
            f"{combined.describe()} cannot be met in {length} tokens: the shortest text that satisfies it takes "
            f"{shortest} tokens",
            shortest=shortest,
        )
    guide = ConstraintGuide([Span(0, length, compiled.automaton, combined.describe())], most_probable)
    return ConstraintPlan(length, guide, {}, compiled.validators)
