"""Byte automata and the pattern compiler: every language checked against brute force (Python's ``re`` over all
short strings), every operation against the set operation it stands for."""

import itertools
import json
import re

import pytest
from ctrlgen.constraints import ConstraintTooLargeError
from ctrlgen.guidance.byte_automata import DFA, NFA, concat, repeat, union, utf8_sequences
from ctrlgen.guidance.pattern_automata import JSON_STRING, PatternNotCompiled, pattern_dfa, string_content_dfa
from hypothesis import given, settings
from hypothesis import strategies as st

ALPHABET = "abc"
WORDS = ["".join(w) for n in range(6) for w in itertools.product(ALPHABET, repeat=n)]


def _atoms():
    return st.sampled_from(["a", "b", "c", ".", "[ab]", "[^a]", "(?:a|bc)", "\\w", "[a-b]"])


def _regex(anchors: bool):
    def extend(inner):
        rep = st.sampled_from(["*", "+", "?", "{2}", "{0,2}", "{1,}", "*?"])
        return st.one_of(
            st.tuples(inner, inner).map(lambda p: p[0] + p[1]),
            st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
            st.tuples(inner, rep).map(lambda p: f"(?:{p[0]}){p[1]}"),
            st.tuples(inner).map(lambda p: f"({p[0]})"),
        )

    base = st.one_of(_atoms(), st.sampled_from(["^", "$"])) if anchors else _atoms()
    return st.recursive(base, extend, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(_regex(anchors=False))
def test_a_whole_match_automaton_accepts_exactly_what_re_fullmatch_does(pattern):
    dfa = pattern_dfa(pattern, search=False)
    for w in WORDS:
        assert dfa.accepts(w.encode()) == bool(re.fullmatch(pattern, w)), (pattern, w)


@settings(max_examples=150, deadline=None)
@given(_regex(anchors=True))
def test_a_search_automaton_accepts_exactly_what_re_search_finds_anchors_anywhere(pattern):
    try:
        expected = {w: bool(re.search(pattern, w)) for w in WORDS}
    except re.error:  # "nothing to repeat" on a repeated anchor: Python refuses it too
        with pytest.raises(PatternNotCompiled):
            pattern_dfa(pattern)
        return
    dfa = pattern_dfa(pattern)
    for w in WORDS:
        assert dfa.accepts(w.encode()) == expected[w], (pattern, w)


@settings(max_examples=80, deadline=None)
@given(_regex(anchors=False), _regex(anchors=False))
def test_products_are_the_set_operations(p, q):
    a, b = pattern_dfa(p, search=False), pattern_dfa(q, search=False)
    both, either, only = a & b, a | b, a - b
    for w in WORDS:
        x, y = a.accepts(w.encode()), b.accepts(w.encode())
        assert both.accepts(w.encode()) == (x and y)
        assert either.accepts(w.encode()) == (x or y)
        assert only.accepts(w.encode()) == (x and not y)
    assert union([a, b]).equivalent(either)
    assert (a | b).includes(a) and a.includes(a & b)


@settings(max_examples=60, deadline=None)
@given(_regex(anchors=False), _regex(anchors=False), st.integers(0, 2), st.integers(0, 2))
def test_concatenation_and_repetition_match_brute_force(p, q, lo, extra):
    a, b = pattern_dfa(p, search=False), pattern_dfa(q, search=False)
    ab = concat([a, b])
    counted = repeat(a, lo, lo + extra)
    starred = repeat(a, lo, None)
    for w in WORDS[:60]:
        assert ab.accepts(w.encode()) == bool(re.fullmatch(f"(?:{p})(?:{q})", w)), (p, q, w)
        assert counted.accepts(w.encode()) == bool(re.fullmatch(f"(?:{p}){{{lo},{lo + extra}}}", w)), (p, lo, w)
        assert starred.accepts(w.encode()) == bool(re.fullmatch(f"(?:{p}){{{lo},}}", w)), (p, lo, w)


@settings(max_examples=60, deadline=None)
@given(_regex(anchors=False))
def test_minimal_automata_of_equal_languages_have_equal_sizes(pattern):
    a = pattern_dfa(pattern, search=False)
    doubled = pattern_dfa(f"(?:{pattern})|(?:{pattern})", search=False)
    assert doubled.equivalent(a) and doubled.num_states == a.num_states
    assert (a - a).is_empty() and (a & a).equivalent(a)
    shortest = a.shortest()
    if shortest is None:
        assert not any(re.fullmatch(pattern, w) for w in WORDS)
    else:
        assert re.fullmatch(pattern, shortest.decode()) and all(
            not re.fullmatch(pattern, w) for w in WORDS if len(w) < len(shortest)
        )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0x10FFFF), st.integers(0, 0x10FFFF), st.lists(st.integers(0, 0x10FFFF), max_size=20))
def test_utf8_sequences_cover_exactly_their_code_points(x, y, probes):
    lo, hi = min(x, y), max(x, y)
    dfa = DFA.code_points([(lo, hi)])
    for cp in [lo, hi, lo + 1, hi - 1, *probes]:
        if 0 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
            assert dfa.accepts(chr(cp).encode()) == (lo <= cp <= hi), hex(cp)
    seqs = utf8_sequences(lo, hi)
    assert all(1 <= len(s) <= 4 for s in seqs)


def test_invalid_utf8_is_never_text():
    text = DFA.any_text()
    for bad in (b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"):
        assert not text.accepts(bad), bad
    assert text.accepts("héllo € 😀".encode())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_json_string_contents_have_one_spelling_the_json_module_writes(value):
    contents = string_content_dfa()
    spelled = json.dumps(value, ensure_ascii=False)[1:-1].encode()
    assert contents.accepts(spelled), spelled
    assert not contents.accepts(b'"' + spelled)  # a raw quote ends the string: never content
    assert not contents.accepts(spelled + b"\\")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='ab"\\\n\té', max_size=6))
def test_a_pattern_over_json_strings_reads_the_decoded_value(value):
    dfa = pattern_dfa('^[a"\\\\]+\\n?$', JSON_STRING)
    spelled = json.dumps(value, ensure_ascii=False)[1:-1].encode()
    assert dfa.accepts(spelled) == bool(re.fullmatch('[a"\\\\]+\\n?', value)), (value, spelled)


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        ("(a)\\1", "backreference"),
        ("(?=a)b", "lookaround"),
        ("(?<!a)b", "lookaround"),
        ("\\bword", "word boundary"),
        ("(?i)abc", "inline flags"),
        ("(?>ab)", "atomic"),
        ("a++", "possessive"),
        ("\\Aab", "Python-only"),
        ("\\p{L}", "syntax Python's re and ECMA-262 share"),
    ],
)
def test_what_is_not_compiled_is_refused_by_name(pattern, what):
    with pytest.raises(PatternNotCompiled, match=re.escape(what)):
        pattern_dfa(pattern)


def test_ecma_meanings_of_the_classes_and_the_dot():
    digit, word, space, dot = (pattern_dfa(f"^{p}$") for p in ("\\d", "\\w", "\\s", "."))
    assert digit.accepts(b"7") and not digit.accepts("٣".encode())  # an Arabic-Indic digit is not [0-9]
    assert word.accepts(b"_") and not word.accepts("é".encode())
    assert space.accepts("\u00a0".encode()) and space.accepts(b"\n") and not space.accepts(b"x")
    assert dot.accepts("é".encode()) and not dot.accepts(b"\r") and not dot.accepts("\u2028".encode())


def test_a_determinization_past_its_budget_is_a_typed_error():
    # (a|b)*a(a|b){n}: the classic exponential subset construction
    with pytest.raises(ConstraintTooLargeError, match="budget"):
        pattern_dfa("^[ab]*a[ab]{12}$", budget=1000)
    nfa = NFA()
    s = nfa.state()
    nfa.add_bytes(s, b"xy", s)
    assert nfa.determinize(s, [s]).accepts(b"xyxy")


def test_a_minimisation_past_its_time_budget_stops_with_a_typed_error():
    import numpy as np
    from ctrlgen.constraints import CompileTimeoutError
    from ctrlgen.guidance.byte_automata import time_limit

    # a long chain of states that all look alike until its end: Hopcroft splits it one state at a time
    n = 20_000
    table = np.full((n + 1, 256), -1, dtype=np.int32)
    table[np.arange(n), ord("a")] = np.arange(1, n + 1)
    table[np.arange(n), ord("b")] = np.arange(1, n + 1)
    accept = np.zeros(n + 1, dtype=bool)
    accept[n] = True
    chain = DFA(table, accept)
    assert chain.minimized().num_states == n + 1  # nothing merges: the budget is what stops the next one
    with time_limit(1e-6, "a chain"), pytest.raises(CompileTimeoutError):
        chain.minimized()


def _moore_classes(table, accept) -> int:
    """The number of Myhill-Nerode classes among the states reachable from 0 that can reach acceptance, by
    Moore's refinement on the explicit table (the slow, obvious way)."""
    n = table.shape[0]
    reach, todo = {0}, [0]
    while todo:
        for x in table[todo.pop()]:
            if x >= 0 and int(x) not in reach:
                reach.add(int(x))
                todo.append(int(x))
    live = {q for q in range(n) if accept[q]}
    changed = True
    while changed:
        changed = False
        for q in range(n):
            if q not in live and any(x >= 0 and int(x) in live for x in table[q]):
                live.add(q)
                changed = True
    states = sorted(reach & live)
    if not states:
        return 0
    block = {q: int(accept[q]) for q in states}
    while True:
        sig = {q: (block[q], *(block.get(int(x), -1) for x in table[q])) for q in states}
        ids = {s: i for i, s in enumerate(sorted(set(sig.values())))}
        new = {q: ids[sig[q]] for q in states}
        if len(set(new.values())) == len(set(block.values())):
            return len(set(new.values()))
        block = new


@st.composite
def _class_tables(draw):
    import numpy as np

    n = draw(st.integers(1, 7))
    width = draw(st.integers(1, 4))
    cells = draw(st.lists(st.integers(-1, n - 1), min_size=n * width, max_size=n * width))
    accept = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    column_of = draw(st.lists(st.integers(0, width - 1), min_size=256, max_size=256))
    return (
        np.array(cells, dtype=np.int32).reshape(n, width),
        np.array(accept, dtype=bool),
        np.array(column_of, dtype=np.int64),
    )


@settings(max_examples=300, deadline=None)
@given(_class_tables())
def test_minimising_a_table_over_byte_classes_gives_the_minimal_automaton_of_the_widened_table(case):
    import numpy as np
    from ctrlgen.guidance._minimize import minimal, minimal_classes

    table, accept, column_of = case
    wide = table[:, column_of]
    by_classes, acc_c, status_c = minimal_classes(table, accept, column_of, 1e18)
    by_bytes, acc_b, status_b = minimal(wide, accept, 1e18)
    assert status_c == status_b == 0
    assert np.array_equal(by_classes, by_bytes) and np.array_equal(acc_c, acc_b)
    assert by_bytes.shape[0] == _moore_classes(wide, accept)  # minimal: as many states as language classes
    for word in [b"", *(bytes(w) for n in range(1, 4) for w in itertools.product(range(0, 256, 37), repeat=n))]:
        assert DFA(wide, accept).accepts(word) == (by_bytes.shape[0] > 0 and DFA(by_bytes, acc_b).accepts(word))
