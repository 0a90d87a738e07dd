"""The hard-constraint guide: exact logit masks and joint commits from token automata, at every step.

A guide holds one or more *spans* of the canvas, each read by its own automaton (a whole-canvas constraint
is one span; a template has one span per slot, its literal text fixed around them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..constraints.errors import UnsatisfiableConstraintError
from .automaton import TokenAutomaton
from .categorical import MaskedRows
from .feasibility import DeviceAutomaton, allowed_classes, joint_sample, mask_vocabulary, reachability
from .interface import Guide, StepState

__all__ = ["Span", "ConstraintGuide", "BanTokens"]


@dataclass(frozen=True)
class Span:
    """Positions ``[start, stop)`` of the canvas, read by ``automaton``; ``name`` is used in errors.

    A span may continue beyond the canvas, when a long text is written canvas after canvas: ``head`` holds
    the ``(B, H)`` (or ``(1, H)``) tokens it already has on earlier canvases, read before the canvas's
    positions, and ``tail`` counts the positions it still has on later canvases, free for the DP. The
    automaton then reads head, canvas and tail as one text: what is committed now always leaves the rest
    completable within the positions that remain.
    """

    start: int
    stop: int
    automaton: TokenAutomaton
    name: str = ""
    head: torch.Tensor | None = None
    tail: int = 0

    def view(self, tokens: torch.Tensor, masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The span's tokens and free positions with its head and tail around them, and the head's length."""
        t, m = tokens[:, self.start : self.stop], masked[:, self.start : self.stop]
        h = 0
        if self.head is not None and self.head.shape[1]:
            head = self.head.to(t.device).expand(t.shape[0], -1)
            h = head.shape[1]
            t, m = torch.cat([head, t], dim=1), torch.cat([torch.zeros_like(head, dtype=torch.bool), m], dim=1)
        if self.tail:
            t = torch.cat([t, torch.zeros(t.shape[0], self.tail, dtype=t.dtype, device=t.device)], dim=1)
            m = torch.cat([m, torch.ones(m.shape[0], self.tail, dtype=torch.bool, device=m.device)], dim=1)
        return t, m, h


class ConstraintGuide(Guide):
    """Masks every masked position to the tokens that keep its span completable, and draws the positions
    committed in one step jointly.

    Parameters
    ----------
    spans:
        Disjoint canvas spans and their automata.
    most_probable:
        Commit the most probable valid assignment (max-product) instead of sampling one.
    """

    #: :meth:`process_logits` and :meth:`sample` work on the rows of the masked positions
    #: (:class:`~ctrlgen.guidance.categorical.MaskedRows`) when :class:`ctrlgen.sampling.Sampler` offers them:
    #: the vocabulary-wide work of a step then scales with the masked positions, not with ``B * L * V``.
    takes_masked_rows: ClassVar[bool] = True

    def __init__(self, spans: list[Span], most_probable: bool = False, devices: dict | None = None) -> None:
        self.spans = spans
        self.most_probable = most_probable
        #: automata laid out for the kernels, by (automaton, device): shared between guides when given
        self._device: dict[tuple[int, str], DeviceAutomaton] = {} if devices is None else devices
        self._allowed: list[torch.Tensor] = []

    def _dev(self, i: int, device: torch.device) -> DeviceAutomaton:
        automaton = self.spans[i].automaton
        key = (id(automaton), str(device))
        if key not in self._device or self._device[key].automaton is not automaton:
            self._device[key] = DeviceAutomaton.build(automaton, device)
        return self._device[key]

    def window(self, start: int, stop: int, done: torch.Tensor) -> ConstraintGuide:
        """The guide of canvas positions ``[start, stop)`` of a longer text written canvas after canvas, with
        ``done`` (``(B, start)``) the tokens of the earlier canvases: spans cut to the window, carrying their
        earlier tokens as ``head`` and their later positions as ``tail``. Shares this guide's automata."""
        spans = []
        for span in self.spans:
            lo, hi = max(span.start, start), min(span.stop, stop)
            if lo >= hi:
                continue
            head = done[:, span.start : lo] if lo > span.start else None
            spans.append(Span(lo - start, hi - start, span.automaton, span.name, head, span.stop - hi))
        return ConstraintGuide(spans, self.most_probable, self._device)

    def prepare(self, tokens: torch.Tensor, masked: torch.Tensor) -> None:
        for i, span in enumerate(self.spans):
            if span.stop > tokens.shape[1]:
                raise UnsatisfiableConstraintError(
                    f"{span.name or 'constraint'} needs positions up to {span.stop}, canvas has {tokens.shape[1]}"
                )
            dev = self._dev(i, tokens.device)
            _, bwd = reachability(dev, *span.view(tokens, masked)[:2])
            if (bwd[:, 0, dev.start] == 0).any():
                shortest = span.automaton.shortest_accepted()
                length = span.stop - span.start + span.tail + (0 if span.head is None else span.head.shape[1])
                if shortest is None:
                    hint = "no text satisfies it at any length"
                elif shortest > length:
                    hint = f"the shortest text that satisfies it takes {shortest} tokens, the canvas has {length}"
                else:
                    hint = "the fixed tokens on the canvas cannot be completed into a valid text"
                raise UnsatisfiableConstraintError(
                    f"{span.name or 'constraint'} cannot be met on this canvas: {hint}",
                    shortest=shortest,
                )

    def process_logits(self, state: StepState) -> torch.Tensor | MaskedRows:
        """Forbid, at every masked position of each span, the tokens whose class would leave the span
        impossible to complete (and tokens of no class); fixed positions are left alone.

        The mask is built and applied on the rows of the masked positions only (``(M, V)``, never
        ``(B, L, V)``). Under :class:`ctrlgen.sampling.Sampler`'s loop the state offers those rows
        (``state.masked_rows``, this step's own copy): they are masked in place and returned as they are.
        Given a plain :class:`StepState`, the result is a new dense tensor, as the :class:`Guide` contract says;
        ``state.log_probs`` is never written either way.
        """
        rows = getattr(state, "masked_rows", None)
        dense = rows is None
        if dense:
            rows = MaskedRows.gather(state.log_probs, state.masked)
        self._allowed, self._tail_live = [], []
        for i, span in enumerate(self.spans):
            dev = self._dev(i, state.tokens.device)
            tokens, masked, h = span.view(state.tokens, state.masked)
            fwd, bwd = reachability(dev, tokens, masked)
            allowed = allowed_classes(dev, tokens, masked, fwd, bwd)  # (B, head + l + tail, C)
            self._allowed.append(allowed)
            # the tail is free in every row: its live states, at its first column, are those of any row
            self._tail_live.append(bwd[0, tokens.shape[1] - span.tail] if span.tail else None)
            k, r, c = rows.locate(span.start, span.stop)
            mask_vocabulary(dev, rows.values, allowed[r, c + h], k)  # on the span's masked rows, in place
        return rows.dense() if dense else rows

    def sample(
        self, state: StepState, probs: torch.Tensor | MaskedRows, commit: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor | None:
        """Draw each span's committed positions jointly (:func:`joint_sample`). ``probs`` is the dense
        ``(B, L, V)`` distribution or, from :class:`ctrlgen.sampling.Sampler` (this guide declares
        :attr:`takes_masked_rows`), its rows at the masked positions; only those rows are read."""
        if not isinstance(probs, MaskedRows):
            probs = MaskedRows.gather(probs, state.masked | commit)
        out = candidates.clone()
        for i, span in enumerate(self.spans):
            sub = slice(span.start, span.stop)
            if not commit[:, sub].any():
                continue
            dev = self._dev(i, state.tokens.device)
            tokens, masked, h = span.view(state.tokens, state.masked)
            committing = torch.zeros_like(masked)
            committing[:, h : h + span.stop - span.start] = commit[:, sub]
            inside = probs.within(span.start, span.stop)
            inside = MaskedRows(inside.rows, inside.cols + h, inside.values)
            drawn = joint_sample(
                dev, tokens, masked, committing, inside, self._allowed[i], state.generator,
                self.most_probable or bool(getattr(state, "greedy", False)), span.tail, self._tail_live[i],
            )  # fmt: skip
            out[:, sub] = drawn[:, h : h + span.stop - span.start]
        return out


class BanTokens(Guide):
    """Forbids some tokens at every masked position (a rewrite must not end the text early)."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = list(token_ids)

    #: :meth:`process_logits` works on the masked rows when the sampler offers them (see :class:`ConstraintGuide`).
    takes_masked_rows: ClassVar[bool] = True

    def process_logits(self, state: StepState) -> torch.Tensor | MaskedRows:
        rows = getattr(state, "masked_rows", None)
        if rows is not None:  # the sampler's rows of the masked positions, this step's own copy
            if len(rows) and self.token_ids:
                ids = torch.tensor(self.token_ids, dtype=torch.long, device=rows.values.device)
                rows.values.index_fill_(1, ids, float("-inf"))
            return rows
        log_probs = state.log_probs.clone()
        banned = log_probs[..., self.token_ids]
        log_probs[..., self.token_ids] = torch.where(state.masked.unsqueeze(-1), float("-inf"), banned)
        return log_probs
