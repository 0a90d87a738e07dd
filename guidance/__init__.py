"""Turning constraints into per-step action on a canvas: the hook interface, and (next) token automata,
the any-order feasibility DP, joint constrained sampling and classifier guidance."""

from .interface import Guide, StepOutput, StepState

__all__ = ["Guide", "StepOutput", "StepState"]
