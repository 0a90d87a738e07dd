"""Turning constraints into per-step action on a canvas: the hook interface, token automata, the
any-order feasibility DP, joint constrained sampling."""

from .automaton import TokenAutomaton, product
from .compile import CompiledConstraint, compile_constraint
from .guide import ConstraintGuide, Span
from .interface import Guide, StepOutput, StepState
from .lexical import WordJudge

__all__ = [
    "Guide",
    "StepOutput",
    "StepState",
    "TokenAutomaton",
    "product",
    "CompiledConstraint",
    "compile_constraint",
    "ConstraintGuide",
    "Span",
    "WordJudge",
]
