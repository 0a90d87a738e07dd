"""Compiling constraint objects into token automata for one vocabulary (one ``singledispatch`` point).

Constraints compile against a :class:`~.vocabulary.TokenVocabulary` (a tokenizer is accepted too, and read
with :func:`~.vocabulary.token_vocabulary`). Regex-based automata go through outlines-core's ``Index`` over
the vocabulary's real token bytes and are cached on disk, keyed by (pattern, vocabulary fingerprint), in
``$CTRLGEN_CACHE`` (default ``~/.cache/ctrlgen``).

A regex describes the *decoded* text. Tokenizers with a forced leading space (WordPiece, SentencePiece)
write ``prefix + text`` in token bytes and their decoder drops the prefix, so a regex ``R`` compiles as
``prefix(?:R)``, plus the empty response when ``R`` accepts the empty text: the automaton reads the token
bytes, and the decoded text fully matches ``R``.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from dataclasses import dataclass
from functools import singledispatch
from pathlib import Path

import numpy as np

from ..constraints import Intersection, JsonSchema, Length, Regex, Slot
from ..constraints.base import Constraint
from ..constraints.errors import ConstraintError, ConstraintTooLargeError
from .automaton import DEFAULT_STATE_BUDGET, TokenAutomaton, from_transitions, product
from .json_schema import schema_to_regex
from .vocabulary import TokenVocabulary, as_vocabulary

__all__ = [
    "CompiledConstraint",
    "compile_constraint",
    "regex_automaton",
    "length_automaton",
    "slot_automaton",
    "cache_dir",
]

#: Bumped whenever what a cached automaton means changes (v2: vocabularies with prefixes and pad ids).
_CACHE_VERSION = "v2"


@dataclass(frozen=True)
class CompiledConstraint:
    """A constraint compiled for one vocabulary: its automaton, and a validator for what it leaves out."""

    automaton: TokenAutomaton
    validators: tuple = ()  #: callables ``str -> str | None`` (None = valid, else the reason)
    description: str = ""


def cache_dir() -> Path:
    return Path(os.environ.get("CTRLGEN_CACHE", Path.home() / ".cache" / "ctrlgen")) / "automata"


def _literal(data: bytes) -> str:
    """``data`` as a regex matching exactly it (every character escaped as ``\\x{..}``)."""
    return "".join(ch if ch.isalnum() and ch.isascii() else f"\\x{{{ord(ch):x}}}" for ch in data.decode("utf-8"))


def _load(path: Path, state_budget: int) -> TokenAutomaton | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            automaton = TokenAutomaton(
                z["table"],
                z["token_class"],
                z["accept"],
                int(z["start"]),
                int(z["end_state"]),
                int(z["end_token"]),
                tuple(int(t) for t in z["end_tokens"]),
            )
    except (OSError, KeyError, ValueError):
        path.unlink(missing_ok=True)  # a damaged cache entry is rebuilt
        return None
    if automaton.num_states > state_budget:
        raise ConstraintTooLargeError(f"automaton has {automaton.num_states} states, over the budget of {state_budget}")
    return automaton


def _save(path: Path, automaton: TokenAutomaton) -> None:
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
        end_tokens=np.array(automaton.end_tokens, dtype=np.int64),
    )
    os.replace(tmp, path)


def regex_automaton(
    pattern: str, vocab, state_budget: int = DEFAULT_STATE_BUDGET, at_start: bool = True
) -> TokenAutomaton:
    """The token automaton of ``pattern`` over ``vocab`` (a :class:`TokenVocabulary` or a tokenizer).

    With ``at_start`` (the default) the text opens the canvas: the vocabulary's forced prefix is read
    first and tokens the decoder writes differently in first position are kept out of it. Without it the
    automaton spells a piece of text in the middle of a canvas (a template slot after literal text).
    Cached on disk.
    """
    vocab = as_vocabulary(vocab)
    full = f"{_literal(vocab.prefix)}(?:{pattern})" if at_start and vocab.prefix else pattern
    key = hashlib.sha256(f"{full}\x00{vocab.fingerprint}\x00{at_start}\x00{_CACHE_VERSION}".encode()).hexdigest()[:32]
    path = cache_dir() / f"{key}.npz"
    cached = _load(path, state_budget)
    if cached is not None:
        return cached
    transitions, initial, finals = _regex_transitions(full, pattern, vocab, at_start)
    automaton = from_transitions(
        transitions,
        initial,
        finals,
        len(vocab),
        vocab.end_ids,
        () if vocab.mask_id is None else (vocab.mask_id,),
        state_budget,
        vocab.not_first if at_start else (),
    )
    if vocab.forbidden_sequences:
        automaton = product(automaton, _without_sequences(vocab), state_budget)
    _save(path, automaton)
    return automaton


def _regex_transitions(full: str, pattern: str, vocab: TokenVocabulary, at_start: bool) -> tuple[dict, int, set[int]]:
    """Token transitions, initial state and final states of ``full`` over ``vocab``'s token bytes.

    outlines-core compiles ``full`` followed by a sentinel character no token contains (see
    :attr:`TokenVocabulary.probe`): a state is final exactly when the sentinel token leads from it to a
    match, and the sentinel's transitions are then removed. Compiling ``full`` alone would lose transitions
    out of final states (outlines-core keeps a token there only if it ends in a match or before one).

    When ``full`` is ``prefix(?:pattern)``, the initial state is made final too if ``pattern`` accepts the
    empty text (probed with a token spelling the prefix): the empty response, all end tokens, decodes to
    ``""``.
    """
    from outlines_core import Index

    sentinel, sentinel_id, prefix_id, probe = vocab.probe
    regex = f"(?:{full}){_literal(sentinel.encode())}"
    try:
        index = Index(regex, probe)
    except Exception as e:  # outlines-core reports bad patterns with its own exception types
        try:  # a state the vocabulary cannot leave: retry with every byte available (pruned afterwards)
            index = Index(regex, vocab.probe_with_bytes)
        except Exception:
            raise ConstraintError(f"cannot compile regex {pattern!r}: {e}") from None
    matched, transitions, initial = index.get_final_states(), index.get_transitions(), index.get_initial_state()

    def complete(state: int | None) -> bool:
        return state is not None and transitions.get(state, {}).get(sentinel_id) in matched

    finals = {q for q in transitions if complete(q)}
    real = len(vocab)  # every id from here on is a probe token
    kept = {q: {t: d for t, d in moves.items() if t < real} for q, moves in transitions.items()}
    if at_start and prefix_id is not None and complete(transitions.get(initial, {}).get(prefix_id)):
        if any(d == initial for moves in kept.values() for d in moves.values()):
            # text that leads back to the initial state is not complete: accept the empty text on a copy
            fresh = max([*kept, *(d for moves in kept.values() for d in moves.values())]) + 1
            kept[fresh], initial = dict(kept.get(initial, {})), fresh
        finals.add(initial)
    return kept, initial, finals


_WITHOUT_SEQUENCES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _without_sequences(vocab: TokenVocabulary) -> TokenAutomaton:
    """Every canvas whose token bytes contain none of ``vocab.forbidden_sequences`` (built once per vocabulary).

    The decoder rewrites those byte strings when a byte-fallback run spells them (SentencePiece's ``"▁"``
    becomes a space), so a text containing them would not decode to what the automaton read.
    """
    if vocab not in _WITHOUT_SEQUENCES:
        automaton = None
        for seq in vocab.forbidden_sequences:
            part = _without_sequence(vocab, seq)
            automaton = part if automaton is None else product(automaton, part)
        _WITHOUT_SEQUENCES[vocab] = automaton
    return _WITHOUT_SEQUENCES[vocab]


def _kmp_failure(seq: bytes) -> list[int]:
    fail, k = [0] * len(seq), 0
    for i in range(1, len(seq)):
        while k and seq[i] != seq[k]:
            k = fail[k - 1]
        if seq[i] == seq[k]:
            k += 1
        fail[i] = k
    return fail


def _without_sequence(vocab: TokenVocabulary, seq: bytes) -> TokenAutomaton:
    """States count how much of ``seq`` the bytes read so far end with (Knuth-Morris-Pratt); a token that
    completes ``seq`` has no transition."""
    fail, alphabet = _kmp_failure(seq), set(seq)

    def advance(state: int, data: bytes) -> int | None:
        for byte in data:
            while state and byte != seq[state]:
                state = fail[state - 1]
            if byte == seq[state]:
                state += 1
            if state == len(seq):
                return None
        return state

    transitions: dict[int, dict[int, int]] = {q: {} for q in range(len(seq))}
    for tok, data in enumerate(vocab.token_bytes):
        if not data:
            continue
        touches = not alphabet.isdisjoint(data)
        for q in range(len(seq)):
            nxt = advance(q, data) if touches else 0
            if nxt is not None:
                transitions[q][tok] = nxt
    forbidden = () if vocab.mask_id is None else (vocab.mask_id,)
    return from_transitions(transitions, 0, set(range(len(seq))), len(vocab), vocab.end_ids, forbidden)


def length_automaton(lo: int, hi: int | None, vocab) -> TokenAutomaton:
    """Between ``lo`` and ``hi`` content tokens (any token with bytes: not an end, mask or special token),
    then end tokens. ``vocab`` is a :class:`TokenVocabulary` or a tokenizer."""
    vocab = as_vocabulary(vocab)
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
    token_class = np.array([0 if b else -1 for b in vocab.token_bytes], dtype=np.int32)
    token_class[list(vocab.end_ids)] = 1
    return TokenAutomaton(table, token_class, accept, 0, end_state, vocab.end_id, vocab.end_ids)


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
def compile_constraint(constraint: Constraint, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    """Compile a hard constraint for ``vocab`` (a :class:`TokenVocabulary`, or a tokenizer read with
    :func:`~.vocabulary.token_vocabulary`)."""
    raise TypeError(f"{type(constraint).__name__} is not a hard constraint that compiles to an automaton")


@compile_constraint.register
def _(constraint: Regex, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    return CompiledConstraint(regex_automaton(constraint.pattern, vocab, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: Length, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    lo, hi = constraint.min, constraint.max
    if constraint.unit == "tokens":
        return CompiledConstraint(length_automaton(lo, hi, vocab), (), constraint.describe())
    if constraint.unit == "words":
        pattern = _words_regex(lo, hi)
    else:
        pattern = rf"(?s:.){{{lo},{'' if hi is None else hi}}}"
    return CompiledConstraint(regex_automaton(pattern, vocab, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: JsonSchema, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    compiled = schema_to_regex(constraint.schema, constraint.strict, constraint.whitespace)
    automaton = regex_automaton(compiled.regex, vocab, state_budget)
    return CompiledConstraint(automaton, (_json_validator(constraint.schema),), constraint.describe())


def slot_automaton(
    slot: Slot, vocab, at_start: bool = False, state_budget: int = DEFAULT_STATE_BUDGET
) -> TokenAutomaton:
    """Exactly ``slot.tokens`` content tokens, spelling text that matches the slot's pattern (if any).

    A slot is a piece of a template: by default its text is read as it stands in the middle of the canvas
    (no forced prefix). A slot that opens the canvas takes ``at_start=True``, so that the vocabulary's
    forced prefix and first-position rules apply to it (see :func:`regex_automaton`).
    """
    exact = length_automaton(slot.tokens, slot.tokens, vocab)
    if slot.pattern is None:
        return exact
    inner = regex_automaton(slot.pattern, vocab, state_budget, at_start=at_start)
    return product(inner, exact, state_budget)


@compile_constraint.register
def _(constraint: Slot, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    return CompiledConstraint(slot_automaton(constraint, vocab, False, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: Intersection, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    vocab = as_vocabulary(vocab)  # read once, not once per part
    parts = [compile_constraint(p, vocab, state_budget) for p in constraint.parts]
    automaton = parts[0].automaton
    for part in parts[1:]:
        automaton = product(automaton, part.automaton, state_budget)
    return CompiledConstraint(automaton, tuple(v for p in parts for v in p.validators), constraint.describe())
