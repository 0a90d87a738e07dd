"""Soft style constraints: a classifier's gradient steers every reverse step towards a label."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .base import Constraint
from .errors import ConstraintError

__all__ = ["Style", "InvalidStyleError"]


class InvalidStyleError(ConstraintError):
    """A style that cannot be used: unknown classifier name or label, bad scale, wrong tokenizer."""


@dataclass(frozen=True, eq=False)
class Style(Constraint):
    """Steer generation towards ``target`` as judged by ``classifier``.

    Parameters
    ----------
    classifier:
        The name of a classifier shipped with ctrlgen (``"sentiment"``) or a loaded ``StyleClassifier``.
    target:
        A label name of the classifier (``"positive"``) or its index.
    scale:
        Strength of the guidance (0 reproduces unguided sampling exactly); finite, >= 0. None (the default):
        the measured best where it is used: 4 in :meth:`~ctrlgen.DiffusionLM.rewrite`, 1 in ``generate``.
    top_k:
        0: first-order guidance (one gradient per step scores every token). k > 0: exact re-scoring of the
        k most likely tokens at each masked position by the classifier (slower; for small budgets). None (the
        default): 16 in ``rewrite`` (measured), 0 in ``generate``.
    start, stop:
        The share of the reverse process during which the guidance acts (0 = first step, 1 = last): early
        steps decide the content, late ones the wording.
    """

    composable: ClassVar[bool] = False

    classifier: Any
    target: str | int
    scale: float | None = None
    top_k: int | None = None
    start: float = 0.0
    stop: float = 1.0

    def __post_init__(self) -> None:
        for name in ("start", "stop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise InvalidStyleError(f"Style {name} must be a number in [0, 1], got {value!r}")
        if self.start > self.stop:
            raise InvalidStyleError(f"Style start ({self.start}) must not come after stop ({self.stop})")
        scale, top_k = self.scale, self.top_k
        if scale is not None and (
            isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0
        ):
            raise InvalidStyleError(f"Style scale must be a finite number >= 0, got {scale!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
            raise InvalidStyleError(f"Style top_k must be a non-negative integer, got {top_k!r}")

    def with_defaults(self, scale: float, top_k: int) -> Style:
        """This style with the settings it leaves open (None) filled in."""
        return dataclasses.replace(
            self, scale=scale if self.scale is None else self.scale, top_k=top_k if self.top_k is None else self.top_k
        )

    def composition_hint(self) -> str:
        return "style guidance is soft (it reweights, it does not restrict), so it acts next to the hard constraints"

    def describe(self) -> str:
        name = self.classifier if isinstance(self.classifier, str) else getattr(self.classifier, "name", "?")
        return f"Style({name}={self.target}" + ("" if self.scale is None else f", scale={self.scale}") + ")"
