"""Closed-form bounds that refuse an oversized constraint *before* it is compiled.

Compiling ``Length(10**9)`` would build a billion counter states, and ``Regex("a{100000}")`` a hundred
thousand DFA states walked against the whole vocabulary, only to find the text cannot fit the canvas. Two
cheap bounds settle such requests at once:

* :func:`fewest_tokens` is a lower bound on the tokens any text satisfying the constraint needs: characters
  it must have, over the most characters one token can write. A request whose bound exceeds the canvas
  is unsatisfiable, whatever the automaton would say.
* :func:`regex_size` estimates the states of a pattern's automaton from its syntax tree (repetitions
  unrolled), so a pattern far over the state budget is refused by name before outlines-core starts.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache, singledispatch

from ..constraints import Intersection, JsonSchema, Length, Regex, Slot, Template
from ..constraints.base import Constraint
from .vocabulary import TokenVocabulary

try:  # Python >= 3.11
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

__all__ = ["fewest_tokens", "fit_to_canvas", "regex_min_chars", "regex_size", "most_chars_per_token"]

_UNBOUNDED = _sre.MAXREPEAT


def most_chars_per_token(vocab: TokenVocabulary) -> int:
    """An upper bound on the characters one token adds to the decoded text (its bytes, plus a space a
    decoder may put between words)."""
    return vocab.max_token_bytes + 1


@lru_cache(maxsize=256)
def _parsed(pattern: str):
    return _sre_parse.parse(pattern)


def regex_min_chars(pattern: str) -> int | None:
    """The fewest characters a full match of ``pattern`` (Python ``re`` syntax) has; None when Python cannot
    read the pattern (its own error is reported elsewhere)."""
    try:
        return int(_parsed(pattern).getwidth()[0])
    except (re.error, OverflowError, RecursionError):
        return None


def regex_size(pattern: str) -> int | None:
    """An estimate of the states of ``pattern``'s automaton: the positions of its syntax tree with every
    counted repetition unrolled (``a{1000}`` is 1000, ``(ab){3,5}`` is 10). A DFA can be larger still
    (``(a|b)*a(a|b){20}``), never much smaller for such patterns. None when Python cannot read it."""
    try:
        return _size(_parsed(pattern))
    except (re.error, OverflowError, RecursionError):
        return None


def _size(items) -> int:
    total = 0
    for op, arg in items:
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
            lo, hi, inner = arg
            reps = lo + 1 if hi == _UNBOUNDED else hi
            total += max(reps, 1) * _size(inner)
        elif op == _sre.SUBPATTERN:
            total += _size(arg[-1])
        elif op == _sre.BRANCH:
            total += sum(_size(branch) for branch in arg[1])
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            total += _size(arg[1])
        else:
            total += 1
    return total


@singledispatch
def fewest_tokens(constraint: Constraint, vocab: TokenVocabulary) -> int:
    """A lower bound on the tokens of any text that satisfies ``constraint`` (0 when nothing cheap is known)."""
    return 0


def _tokens_for_chars(chars: int, vocab: TokenVocabulary) -> int:
    return math.ceil(chars / most_chars_per_token(vocab))


@fewest_tokens.register
def _(constraint: Length, vocab: TokenVocabulary) -> int:
    if constraint.unit == "tokens":
        return constraint.min
    if constraint.unit == "words":  # words of one character, one separator between each two
        return _tokens_for_chars(max(2 * constraint.min - 1, 0), vocab)
    return _tokens_for_chars(constraint.min, vocab)


@fewest_tokens.register
def _(constraint: Regex, vocab: TokenVocabulary) -> int:
    chars = regex_min_chars(constraint.body)
    return 0 if chars is None else _tokens_for_chars(chars, vocab)


@fewest_tokens.register
def _(constraint: Slot, vocab: TokenVocabulary) -> int:
    return constraint.tokens


@fewest_tokens.register
def _(constraint: Template, vocab: TokenVocabulary) -> int:
    literal = sum(len(p) for p in constraint.parts if isinstance(p, str))
    slots = sum(p.tokens for p in constraint.parts if isinstance(p, Slot))
    return slots + _tokens_for_chars(literal, vocab)


@fewest_tokens.register
def _(constraint: Intersection, vocab: TokenVocabulary) -> int:
    return max((fewest_tokens(p, vocab) for p in constraint.parts), default=0)


@fewest_tokens.register
def _(constraint: JsonSchema, vocab: TokenVocabulary) -> int:
    return 0  # the schema's regex is checked by size when it is compiled


@singledispatch
def fit_to_canvas(constraint: Constraint, tokens: int, vocab: TokenVocabulary) -> Constraint:
    """``constraint`` with upper bounds no text of at most ``tokens`` tokens can reach lowered to what the canvas
    holds: the same texts on that canvas, and a counter of ``tokens`` states instead of ``Length(max=10**9)``'s
    billion. Constraints without such bounds come back unchanged."""
    return constraint


@fit_to_canvas.register
def _(constraint: Length, tokens: int, vocab: TokenVocabulary) -> Constraint:
    chars = tokens * most_chars_per_token(vocab)
    cap = {"tokens": tokens, "chars": chars, "words": (chars + 1) // 2}[constraint.unit]
    if constraint.max is None or constraint.max <= cap or constraint.min > cap:
        return constraint
    if constraint.unit == "tokens":
        return Length(min=constraint.min, max=cap)
    return Length(**{constraint.unit: (constraint.min, cap)})


@fit_to_canvas.register
def _(constraint: Intersection, tokens: int, vocab: TokenVocabulary) -> Constraint:
    return Intersection(tuple(fit_to_canvas(p, tokens, vocab) for p in constraint.parts))
