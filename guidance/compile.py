"""Compiling constraint objects into token automata for one tokenizer (one ``singledispatch`` point).

Regex-based automata go through outlines-core's ``Index`` over the model's own vocabulary and are cached on
disk, keyed by (pattern, tokenizer fingerprint), in ``$CTRLGEN_CACHE`` (default ``~/.cache/ctrlgen``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import singledispatch
from pathlib import Path

import numpy as np

from ..constraints import Intersection, JsonSchema, Length, Regex, Slot
from ..constraints.base import Constraint
from ..constraints.errors import ConstraintError
from .automaton import DEFAULT_STATE_BUDGET, TokenAutomaton, from_transitions, product
from .json_schema import schema_to_regex
from .vocabulary import outlines_vocabulary, tokenizer_fingerprint

__all__ = ["CompiledConstraint", "compile_constraint", "regex_automaton", "length_automaton", "cache_dir"]


@dataclass(frozen=True)
class CompiledConstraint:
    """A constraint compiled for one tokenizer: its automaton, and a validator for what it leaves out."""

    automaton: TokenAutomaton
    validators: tuple = ()  #: callables ``str -> str | None`` (None = valid, else the reason)
    description: str = ""


def cache_dir() -> Path:
    return Path(os.environ.get("CTRLGEN_CACHE", Path.home() / ".cache" / "ctrlgen")) / "automata"


def regex_automaton(pattern: str, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET) -> TokenAutomaton:
    """The token automaton of ``pattern`` over ``tokenizer``'s vocabulary (cached on disk)."""
    key = hashlib.sha256(f"{pattern}\x00{tokenizer_fingerprint(tokenizer)}\x00v1".encode()).hexdigest()[:32]
    path = cache_dir() / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return TokenAutomaton(
                    z["table"], z["token_class"], z["accept"], int(z["start"]), int(z["end_state"]), int(z["end_token"])
                )
        except (OSError, KeyError, ValueError):
            path.unlink(missing_ok=True)  # a damaged cache entry is rebuilt
    from outlines_core import Index

    try:
        index = Index(pattern, outlines_vocabulary(tokenizer))
    except Exception as e:  # outlines-core reports bad patterns with its own exception types
        raise ConstraintError(f"cannot compile regex {pattern!r}: {e}") from None
    automaton = from_transitions(
        index.get_transitions(),
        index.get_initial_state(),
        index.get_final_states(),
        len(tokenizer),
        tokenizer.pad_token_id,
        (tokenizer.mask_token_id,),
        state_budget,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        table=automaton.table,
        token_class=automaton.token_class,
        accept=automaton.accept,
        start=automaton.start,
        end_state=automaton.end_state,
        end_token=automaton.end_token,
    )
    os.replace(tmp, path)
    return automaton


def length_automaton(lo: int, hi: int | None, tokenizer) -> TokenAutomaton:
    """Between ``lo`` and ``hi`` content tokens (any token but end and mask), then end tokens."""
    vocab = len(tokenizer)
    end, mask = tokenizer.pad_token_id, tokenizer.mask_token_id
    top = lo if hi is None else hi
    n = top + 2  # counter states 0..top, then the end state
    end_state = top + 1
    table = np.full((n, 2), -1, dtype=np.int32)  # class 0: content, class 1: end
    table[np.arange(top), 0] = np.arange(1, top + 1)
    if hi is None:
        table[top, 0] = top  # at least lo: loop once the minimum is reached
    accept = np.zeros(n, dtype=bool)
    accept[lo : top + 1] = True
    table[accept, 1] = end_state
    accept[end_state] = True
    table[end_state, 1] = end_state
    token_class = np.zeros(vocab, dtype=np.int32)
    token_class[end], token_class[mask] = 1, -1
    return TokenAutomaton(table, token_class, accept, 0, end_state, end)


def _json_validator(schema):
    import jsonschema

    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)

    def check(text: str) -> str | None:
        import json

        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            return f"not JSON: {e.msg}"
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        return None if error is None else error.message

    return check


#: Exactly the characters Python's ``str.split()`` treats as whitespace, so a word count by this regex
#: equals ``len(text.split())`` (the regex ``\s`` class differs, on U+001C..U+001F for one).
_SPACE_CHARS = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
_WS = "[" + "".join(f"\\x{{{ord(ch):x}}}" for ch in _SPACE_CHARS) + "]"
_WORD = "[^" + _WS[1:]


def _words_regex(lo: int, hi: int | None) -> str:
    if hi == 0:
        return f"{_WS}*"
    more = f"{{{max(lo - 1, 0)},{'' if hi is None else hi - 1}}}"
    body = f"{_WORD}+({_WS}+{_WORD}+){more}"
    return f"{_WS}*{body}{_WS}*" if lo > 0 else f"{_WS}*({body})?{_WS}*"


@singledispatch
def compile_constraint(
    constraint: Constraint, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET
) -> CompiledConstraint:
    """Compile a hard constraint for ``tokenizer``."""
    raise TypeError(f"{type(constraint).__name__} is not a hard constraint that compiles to an automaton")


@compile_constraint.register
def _(constraint: Regex, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    return CompiledConstraint(regex_automaton(constraint.pattern, tokenizer, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: Length, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    lo, hi = constraint.min, constraint.max
    if constraint.unit == "tokens":
        return CompiledConstraint(length_automaton(lo, hi, tokenizer), (), constraint.describe())
    if constraint.unit == "words":
        pattern = _words_regex(lo, hi)
    else:
        pattern = rf"(?s:.){{{lo},{'' if hi is None else hi}}}"
    return CompiledConstraint(regex_automaton(pattern, tokenizer, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: JsonSchema, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    compiled = schema_to_regex(constraint.schema, constraint.strict, constraint.whitespace)
    automaton = regex_automaton(compiled.regex, tokenizer, state_budget)
    return CompiledConstraint(automaton, (_json_validator(constraint.schema),), constraint.describe())


@compile_constraint.register
def _(constraint: Slot, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    exact = length_automaton(constraint.tokens, constraint.tokens, tokenizer)
    if constraint.pattern is None:
        return CompiledConstraint(exact, (), constraint.describe())
    inner = regex_automaton(constraint.pattern, tokenizer, state_budget)
    return CompiledConstraint(product(inner, exact, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: Intersection, tokenizer, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    parts = [compile_constraint(p, tokenizer, state_budget) for p in constraint.parts]
    automaton = parts[0].automaton
    for part in parts[1:]:
        automaton = product(automaton, part.automaton, state_budget)
    return CompiledConstraint(automaton, tuple(v for p in parts for v in p.validators), constraint.describe())
