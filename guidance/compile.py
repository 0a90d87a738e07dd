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
import threading
import weakref
from dataclasses import dataclass
from functools import singledispatch
from itertools import chain
from pathlib import Path

import numpy as np
from numba import njit

from ..constraints import Intersection, JsonSchema, Length, Regex, Slot
from ..constraints.base import Constraint
from ..constraints.errors import ConstraintError, ConstraintTooLargeError
from .automaton import DEFAULT_STATE_BUDGET, TokenAutomaton, TransitionArrays, from_transitions, product
from .index_builder import build_index
from .regex_classes import python_shorthands
from .regex_exclude import exclude_character
from .size_bounds import regex_size
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
    pattern: str, vocab, state_budget: int = DEFAULT_STATE_BUDGET, at_start: bool = True, label: str | None = None
) -> TokenAutomaton:
    """The token automaton of ``pattern`` over ``vocab`` (a :class:`TokenVocabulary` or a tokenizer).

    With ``at_start`` (the default) the text opens the canvas: the vocabulary's forced prefix is read
    first and tokens the decoder writes differently in first position are kept out of it. Without it the
    automaton spells a piece of text in the middle of a canvas (a template slot after literal text).
    Cached on disk. ``label`` names the constraint in error messages (default: the pattern).
    """
    vocab = as_vocabulary(vocab)
    full = f"{_literal(vocab.prefix)}(?:{pattern})" if at_start and vocab.prefix else pattern
    key = hashlib.sha256(f"{full}\x00{vocab.fingerprint}\x00{at_start}\x00{_CACHE_VERSION}".encode()).hexdigest()[:32]
    path = cache_dir() / f"{key}.npz"
    cached = _load(path, state_budget)
    if cached is not None:
        return cached
    transitions, initial, final = _regex_transitions(full, pattern, vocab, at_start, label)
    automaton = vocabulary_automaton(transitions, initial, final, vocab, state_budget, at_start)
    _save(path, automaton)
    return automaton


def vocabulary_automaton(
    arrays: TransitionArrays, initial: int, final: np.ndarray, vocab: TokenVocabulary, state_budget: int,
    at_start: bool,
) -> TokenAutomaton:  # fmt: skip
    """Token transitions read off a text language, made an automaton with ``vocab``'s conventions: end tokens
    to the end state, the mask token dropped, first-token rules at the start, rewritten byte sequences kept out."""
    automaton = from_transitions(
        arrays,
        initial,
        final,
        len(vocab),
        vocab.end_ids,
        () if vocab.mask_id is None else (vocab.mask_id,),
        state_budget,
        vocab.not_first if at_start else (),
    )
    if vocab.forbidden_sequences:
        automaton = product(automaton, _without_sequences(vocab), state_budget)
    return automaton


def accept_empty_start(
    arrays: TransitionArrays, initial: int, final: np.ndarray
) -> tuple[TransitionArrays, int, np.ndarray]:
    """The empty response (all end tokens, which decodes to ``""`` without the forced prefix) accepted: the
    initial state made final, on a copy of it when text leads back to it (such text is not complete)."""
    if arrays.enters(initial):
        arrays = arrays.expanded(at=initial)
        row = np.flatnonzero(arrays.src == initial)
        arrays, initial = arrays.with_state(arrays.tok[row], arrays.dst[row])
        final = np.append(final, False)
    final[initial] = True
    return arrays, initial, final


def _regex_transitions(
    full: str, pattern: str, vocab: TokenVocabulary, at_start: bool, label: str | None = None
) -> tuple[TransitionArrays, int, np.ndarray]:
    """Token transitions, initial state and final-state mask of ``full`` over ``vocab``'s token bytes.

    outlines-core compiles ``full`` followed by a sentinel character no token contains (see
    :attr:`TokenVocabulary.probe`): a state is final exactly when the sentinel token leads from it to a
    match, and the sentinel's transitions are then removed. Compiling ``full`` alone would lose transitions
    out of final states (outlines-core keeps a token there only if it ends in a match or before one).

    When ``full`` is ``prefix(?:pattern)``, the initial state is made final too if ``pattern`` accepts the
    empty text (probed with a token spelling the prefix): the empty response, all end tokens, decodes to
    ``""``.
    """
    sentinel, sentinel_id, prefix_id, probe = vocab.probe
    # the sentinel also opens the regex: outlines-core builds the regex's DFA for unanchored search as well,
    # and that DFA tracks every position a match could have started at: exponential in a counted repetition
    # (``1[0-9]{16}`` takes seconds, ``{20}`` minutes). A first character found nowhere else in the regex
    # leaves one such position. The index is then read from the state after it.
    # The content is also kept from matching the sentinel (regex_exclude): otherwise every sentinel a ``.`` or
    # a negated class could read would start another candidate match in that DFA (``(?s:.){20}``: a minute).
    mark = _literal(sentinel.encode())
    regex = f"{mark}(?:{exclude_character(full, sentinel)}){mark}"
    # a state the vocabulary cannot leave is retried with every byte available (pruned afterwards); the build
    # runs in a worker process under the compile budget (index_builder)
    index = build_index(regex, probe, vocab.probe_with_bytes, vocab.fingerprint, label or repr(pattern))
    probed = _read_index(index, len(vocab), sentinel_id, -1 if prefix_id is None else prefix_id)
    arrays, initial, final = probed.arrays, probed.start, probed.final
    if at_start and prefix_id is not None and probed.prefix_dst >= 0 and final[probed.prefix_dst]:
        arrays, initial, final = accept_empty_start(arrays, initial, final)
    return arrays, initial, final


@dataclass(frozen=True)
class _Probed:
    """What an outlines-core index over the probe vocabulary says (states renumbered ``0..n-1``)."""

    arrays: TransitionArrays  #: the transitions on real tokens; ``arrays.rank`` holds outlines-core's state ids
    start: int
    final: np.ndarray  #: states from which the sentinel token leads to a match
    prefix_dst: int  #: where the prefix token leads from the start (-1: nowhere)


def _read_index(index, real: int, sentinel_id: int, prefix_id: int) -> _Probed:
    """Read an outlines-core ``Index`` over the probe vocabulary into flat arrays, in compiled passes.

    Its serialised form (its pickle: bincode, variable-length integers) is read by :func:`_parse_index` and
    kept when the result agrees with the index's own answers (:func:`_agrees`); otherwise (another
    outlines-core) the arrays come from ``get_transitions()``, which builds a Python dict per state and is
    several times slower. :func:`_compact` then renumbers the states and reads the probe tokens.
    """
    try:
        blob = _serialised(index)
    except Exception:  # an index that cannot be pickled: read it the slow way
        blob = None
    if blob is not None:
        ok, *contents, eos = _parse_index(np.frombuffer(blob, dtype=np.uint8))
        if ok:
            probed = _probed(contents, real, sentinel_id, prefix_id)
            if probed is not None and _agrees(index, contents, eos, probed, sentinel_id, prefix_id):
                return probed
    probed = _probed(_index_contents(index), real, sentinel_id, prefix_id)
    if probed is None:
        raise ConstraintError("outlines-core's index has no way past the regex's opening mark")
    return probed


def _after_sentinel(contents, sentinel_id: int) -> int:
    """Where the opening sentinel leads from the index's initial state (the regex's own start); -1 if nowhere."""
    initial, _, keys, lens, tok, dst = contents
    at = np.flatnonzero(keys == initial)
    if at.shape[0] != 1:
        return -1
    lo = int(lens[: at[0]].sum())
    hit = np.flatnonzero(tok[lo : lo + int(lens[at[0]])] == sentinel_id)
    return int(dst[lo + hit[0]]) if hit.shape[0] == 1 else -1


def _probed(contents, real: int, sentinel_id: int, prefix_id: int) -> _Probed | None:
    """The reading of an index's contents, from the state after the opening sentinel (None: no such state)."""
    start = _after_sentinel(contents, sentinel_id)
    if start < 0:
        return None
    src, tok, dst, states, start, final, prefix_dst = _compact(start, *contents[1:], real, sentinel_id, prefix_id)
    return _Probed(TransitionArrays(src, tok, dst, int(states.shape[0]), states), int(start), final, int(prefix_dst))


def _index_contents(index) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(initial, finals, keys, lens, tok, dst)`` of ``index`` from ``get_transitions()``, in outlines-core's
    state ids: state ``keys[i]`` has ``lens[i]`` transitions, the next ones in ``tok -> dst``."""
    transitions = index.get_transitions()
    moves = list(transitions.values())
    lens = np.fromiter(map(len, moves), dtype=np.int64, count=len(moves))
    total = int(lens.sum())
    return (
        int(index.get_initial_state()),
        np.fromiter(index.get_final_states(), dtype=np.int64),
        np.fromiter(transitions.keys(), dtype=np.int64, count=len(moves)),
        lens,
        np.fromiter(chain.from_iterable(moves), dtype=np.int32, count=total),
        np.fromiter(chain.from_iterable(m.values() for m in moves), dtype=np.int64, count=total),
    )


_PICKLE_LOCK = threading.Lock()


def _serialised(index) -> bytes | None:
    """The bytes of ``index``'s pickle. outlines-core's ``__reduce__`` looks its class up as
    ``outlines_core.Index``, so while something has replaced that attribute (a profiler's timing wrapper) the
    class is put back for the call."""
    import outlines_core

    cls = type(index)
    with _PICKLE_LOCK:
        current = getattr(outlines_core, "Index", None)
        if current is not cls:
            outlines_core.Index = cls
        try:
            reduced = index.__reduce__()
        finally:
            if current is not cls:
                outlines_core.Index = current
    blob = reduced[1][0] if isinstance(reduced, tuple) and len(reduced) == 2 and reduced[1] else None
    return blob if isinstance(blob, bytes) else None


def _agrees(index, contents, eos: int, probed: _Probed, sentinel_id: int, prefix_id: int) -> bool:
    """Whether a reading of ``index`` (:func:`_parse_index`, then :func:`_compact`) gives its initial and final
    states, where the sentinel token leads from every state and the prefix token from the initial one, and
    the first and last transition of every state and 64 more spread over the rest (the end token, which
    ``get_next_state`` does not answer for, as a loop on a final state): a layout other than the one read
    would not."""
    initial, finals, keys, lens, tok, dst = contents
    matched = set(index.get_final_states())
    if initial != index.get_initial_state() or set(finals.tolist()) != matched:
        return False
    if len(set(keys.tolist())) != keys.shape[0]:
        return False
    # _compact numbers the keys first, in order
    for q, final in zip(keys.tolist(), probed.final[: keys.shape[0]].tolist()):
        if (index.get_next_state(q, sentinel_id) in matched) != final:
            return False
    if prefix_id >= 0:
        states = probed.arrays.rank
        start = index.get_next_state(initial, sentinel_id)
        after = None if start is None else index.get_next_state(start, prefix_id)
        known = after is not None and bool((states == after).any())
        if (int(states[probed.prefix_dst]) if probed.prefix_dst >= 0 else None) != (after if known else None):
            return False
    ends = np.cumsum(lens)
    rows = np.flatnonzero(lens > 0)
    picks = (np.arange(1, 65) * 0x9E3779B1) % tok.shape[0] if tok.shape[0] else ends[:0]  # spread out
    pairs = np.concatenate([(ends - lens)[rows], ends[rows] - 1, picks])
    rows = np.concatenate([rows, rows, np.searchsorted(ends, picks, side="right")])
    for q, k in zip(keys[rows].tolist(), pairs.tolist()):
        t, d = int(tok[k]), int(dst[k])
        if (d != q or q not in matched) if t == eos else index.get_next_state(q, t) != d:
            return False
    return True


@njit(cache=True)
def _varint(buf, pos):  # pragma: no cover - jit
    """bincode's variable-length unsigned integer at ``pos``: ``(value, next pos)``, value -1 when malformed."""
    n = buf.shape[0]
    if pos >= n:
        return -1, pos
    b = buf[pos]
    if b < 251:
        return np.int64(b), pos + 1
    width = 2 if b == 251 else 4 if b == 252 else 8 if b == 253 else 0
    if width == 0 or width == 8 or pos + width >= n:  # u64 and u128 do not fit a state or token id
        return -1, pos
    value = np.int64(0)
    for i in range(width):
        value |= np.int64(buf[pos + 1 + i]) << np.int64(8 * i)
    return value, pos + 1 + width


@njit(cache=True)
def _parse_index(buf):  # pragma: no cover - jit
    """Read outlines-core's serialised ``Index`` (``initial, finals, {state: {token: next}}, eos, vocab_size``,
    bincode's standard configuration): ``(ok, initial, finals, keys, lens, tok, dst, eos)``; ``ok`` is False
    when the bytes do not follow that layout exactly."""
    empty = np.zeros(0, dtype=np.int64)
    initial, pos = _varint(buf, 0)
    count, pos = _varint(buf, pos)
    if initial < 0 or count < 0 or count > buf.shape[0]:
        return False, 0, empty, empty, empty, np.zeros(0, dtype=np.int32), empty, -1
    finals = np.empty(count, dtype=np.int64)
    for i in range(count):
        finals[i], pos = _varint(buf, pos)
        if finals[i] < 0:
            return False, 0, empty, empty, empty, np.zeros(0, dtype=np.int32), empty, -1
    count, pos = _varint(buf, pos)
    if count < 0 or count > buf.shape[0]:
        return False, 0, empty, empty, empty, np.zeros(0, dtype=np.int32), empty, -1
    keys = np.empty(count, dtype=np.int64)
    lens = np.empty(count, dtype=np.int64)
    cap = (buf.shape[0] - pos) // 2 + 1  # every transition takes two bytes at least
    tok = np.empty(cap, dtype=np.int32)
    dst = np.empty(cap, dtype=np.int64)
    m = 0
    for i in range(count):
        keys[i], pos = _varint(buf, pos)
        lens[i], pos = _varint(buf, pos)
        if keys[i] < 0 or lens[i] < 0 or m + lens[i] > cap:
            return False, 0, empty, empty, empty, np.zeros(0, dtype=np.int32), empty, -1
        for _ in range(lens[i]):
            t, pos = _varint(buf, pos)
            d, pos = _varint(buf, pos)
            if t < 0 or t > 0x7FFFFFFF or d < 0:
                return False, 0, empty, empty, empty, np.zeros(0, dtype=np.int32), empty, -1
            tok[m] = t
            dst[m] = d
            m += 1
    eos, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    ok = eos >= 0 and size >= 0 and pos == buf.shape[0]
    return ok, initial, finals, keys, lens, tok[:m], dst[:m], eos


@njit(cache=True, inline="always")
def _slot(slot_key, raw, shift, mask):  # pragma: no cover - jit
    """Where ``raw`` is, or would go, in an open-addressing table (Fibonacci hashing, linear probing)."""
    h = np.int64((np.uint64(raw) * np.uint64(0x9E3779B97F4A7C15)) >> shift)
    while slot_key[h] != -1 and slot_key[h] != raw:
        h = (h + 1) & mask
    return h


@njit(cache=True)
def _compact(initial, matched, keys, lens, tok, dst, real, sentinel_id, prefix_id):  # pragma: no cover - jit
    """outlines-core's states renumbered ``0..n-1`` (its states with transitions, its final states and the
    initial one; a transition into any other state, which has no way on, gets ``-1``), the transitions on
    real tokens (``tok < real``), and what the probe tokens say: ``(src, tok, dst, states, initial, final,
    prefix_dst)`` with ``states`` the original ids, ``final`` the states from which the sentinel token leads to
    a match and ``prefix_dst`` where the prefix token leads from the initial state (-1: nowhere)."""
    n_keys, n_matched = keys.shape[0], matched.shape[0]
    total = n_keys + n_matched + 1
    bits = 1
    while (1 << bits) < 2 * total:
        bits += 1
    shift, mask = np.uint64(64 - bits), (1 << bits) - 1
    slot_key = np.full(1 << bits, -1, dtype=np.int64)
    slot_val = np.empty(1 << bits, dtype=np.int32)
    states = np.empty(total, dtype=np.int64)
    n = 0
    for j in range(total):  # the keys, the final states and the initial state
        raw = keys[j] if j < n_keys else matched[j - n_keys] if j < n_keys + n_matched else initial
        h = _slot(slot_key, raw, shift, mask)
        if slot_key[h] == -1:
            slot_key[h] = raw
            slot_val[h] = n
            states[n] = raw
            n += 1
    is_matched = np.zeros(n, dtype=np.bool_)
    for j in range(n_matched):
        is_matched[slot_val[_slot(slot_key, matched[j], shift, mask)]] = True
    start = slot_val[_slot(slot_key, initial, shift, mask)]
    m = tok.shape[0]
    out_src = np.empty(m, dtype=np.int32)
    out_tok = np.empty(m, dtype=np.int32)
    out_dst = np.empty(m, dtype=np.int32)
    final = np.zeros(n, dtype=np.bool_)
    prefix_dst = -1
    k = 0
    i = 0
    for j in range(n_keys):
        s = slot_val[_slot(slot_key, keys[j], shift, mask)]
        for _ in range(lens[j]):
            h = _slot(slot_key, dst[k], shift, mask)
            d = slot_val[h] if slot_key[h] == dst[k] else -1
            t = tok[k]
            if t < real:
                out_src[i] = s
                out_tok[i] = t
                out_dst[i] = d
                i += 1
            elif t == sentinel_id:
                if d >= 0 and is_matched[d]:
                    final[s] = True
            elif t == prefix_id and s == start:
                prefix_dst = d
            k += 1
    return out_src[:i], out_tok[:i], out_dst[:i], states[:n].copy(), start, final, prefix_dst


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

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    # formats are checked too, as far as jsonschema checks them: a user who writes "format": "date" means it
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def check(text: str) -> str | None:
        import json

        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            return f"not JSON: {e.msg}"
        try:
            error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        except (ArithmeticError, ValueError, TypeError, RecursionError) as e:
            # a number Python reads as infinity meets multipleOf, ...: jsonschema cannot judge it, so it is not kept
            return f"jsonschema could not validate the document ({type(e).__name__}: {e})"
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


def _check_size(pattern: str, label: str, state_budget: int) -> None:
    """Refuse, before outlines-core starts, a pattern whose unrolled repetitions alone pass the state budget."""
    size = regex_size(pattern)
    if size is not None and size > state_budget:
        raise ConstraintTooLargeError(
            f"{label} unrolls to about {size:,} automaton states, over the budget of {state_budget:,} "
            "(state_budget=...); use a smaller repetition count"
        )


@compile_constraint.register
def _(constraint: Regex, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    label = constraint.describe()
    _check_size(constraint.body, label, state_budget)
    # \d, \w, \s as the running Python's re reads them (outlines' Rust tables are newer): exact for re.fullmatch
    pattern = python_shorthands(constraint.body)
    return CompiledConstraint(regex_automaton(pattern, vocab, state_budget, label=label), (), label)


@compile_constraint.register
def _(constraint: Length, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    lo, hi = constraint.min, constraint.max
    if max(lo, hi or 0) > state_budget:
        raise ConstraintTooLargeError(
            f"{constraint.describe()} needs a counter of {max(lo, hi or 0):,} states, over the budget of "
            f"{state_budget:,}; on a canvas the count is capped by the canvas (plan_constraints does this)"
        )
    if constraint.unit == "tokens":
        return CompiledConstraint(length_automaton(lo, hi, vocab), (), constraint.describe())
    if constraint.unit == "words":
        pattern = _words_regex(lo, hi)
    else:
        pattern = rf"(?s:.){{{lo},{'' if hi is None else hi}}}"
    return CompiledConstraint(regex_automaton(pattern, vocab, state_budget), (), constraint.describe())


@compile_constraint.register
def _(constraint: JsonSchema, vocab, state_budget: int = DEFAULT_STATE_BUDGET) -> CompiledConstraint:
    from .schema_compile import compile_json_schema

    return compile_json_schema(constraint, vocab, state_budget)


def slot_automaton(
    slot: Slot, vocab, at_start: bool = False, state_budget: int = DEFAULT_STATE_BUDGET
) -> TokenAutomaton:
    """Exactly ``slot.tokens`` content tokens, spelling text that matches the slot's pattern (if any).

    A slot is a piece of a template: by default its text is read as it stands in the middle of the canvas
    (no forced prefix). A slot that opens the canvas takes ``at_start=True``, so that the vocabulary's
    forced prefix and first-position rules apply to it (see :func:`regex_automaton`).
    """
    if slot.tokens > state_budget:
        raise ConstraintTooLargeError(f"{slot.describe()} is over the state budget of {state_budget:,}")
    exact = length_automaton(slot.tokens, slot.tokens, vocab)
    if slot.pattern is None:
        return exact
    _check_size(slot.pattern, slot.describe(), state_budget)
    inner = regex_automaton(
        python_shorthands(slot.pattern), vocab, state_budget, at_start=at_start, label=slot.describe()
    )
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
