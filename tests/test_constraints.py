"""Hard constraints end to end on an untrained model: every output satisfies its constraint, by construction."""

import itertools
import re

import pytest
import torch
from ctrlgen.constraints import (
    ConstraintError,
    Length,
    Regex,
    Slot,
    Template,
    UnsatisfiableConstraintError,
)
from ctrlgen.guidance.compile import compile_constraint
from ctrlgen.guidance.vocabulary import token_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import random_lm, small_regexes


def _min_tokens(text: str, pieces: set[str]) -> float:
    best = [0.0] + [float("inf")] * len(text)
    for i in range(1, len(text) + 1):
        for j in range(max(0, i - 6), i):
            if text[j:i] in pieces:
                best[i] = min(best[i], best[j] + 1)
    return best[len(text)]


def _brute_force_satisfiable(pattern: str, length: int, pieces: set[str]) -> bool:
    longest = length * max(len(p) for p in pieces)
    for n in range(longest + 1):
        for chars in itertools.product("ab", repeat=n):
            text = "".join(chars)
            if re.fullmatch(pattern, text) and _min_tokens(text, pieces) <= length:
                return True
    return False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(small_regexes(), st.integers(1, 3), st.integers(0, 1000))
def test_regex_outputs_match_and_unsatisfiable_exactly_when_brute_force_finds_nothing(
    ab_tokenizer, pattern, length, seed
):
    lm = random_lm(ab_tokenizer)
    pieces = {b.decode() for b in token_bytes(ab_tokenizer) if b and set(b) <= set(b"ab")}
    satisfiable = _brute_force_satisfiable(pattern, length, pieces)
    if not satisfiable:
        with pytest.raises(UnsatisfiableConstraintError):
            lm.generate(n=2, length=length, constraints=[Regex(pattern)], seed=seed)
        return
    for sampler in ("ancestral", "confidence"):
        for text in lm.generate(n=3, length=length, constraints=[Regex(pattern)], seed=seed, sampler=sampler, steps=2):
            assert re.fullmatch(pattern, text), (pattern, text)


@pytest.fixture(scope="module")
def lm(default_tokenizer):
    return random_lm(default_tokenizer)


@pytest.mark.parametrize("pattern", [r"[A-Z][a-z]+ \d{3}-\d{4}", r"(yes|no)", r"[a-z ]{5,12}\.", r"\{\"k\": \d+\}"])
@pytest.mark.parametrize("sampler", ["ancestral", "confidence", "semi-ar"])
def test_regex_outputs_match(lm, pattern, sampler):
    for text in lm.generate(n=4, constraints=[Regex(pattern)], seed=0, sampler=sampler, steps=8):
        assert re.fullmatch(pattern, text), text


def _content_tokens(lm, tokens_row):
    row = tokens_row.tolist()
    return row[: row.index(lm.end_token_id)] if lm.end_token_id in row else row


def test_length_counts_generated_tokens(lm):
    plan_canvas = torch.full((4, 40), lm.mask_token_id)
    from ctrlgen.constrained import plan_constraints

    plan = plan_constraints([Length(24)], lm.tokenizer, 40, 256)
    tokens = lm.sample_tokens(plan_canvas, guides=[plan.guide], seed=0, steps=10)
    assert all(len(_content_tokens(lm, r)) == 24 for r in tokens)


@pytest.mark.parametrize(
    "constraint,count",
    [
        (Length(words=7), lambda t: len(t.split()) == 7),
        (Length(chars=15), lambda t: len(t) == 15),
        (Length(words=(2, 4)), lambda t: 2 <= len(t.split()) <= 4),
        (Regex("[a-z ]+") & Length(min=3, max=6), lambda t: re.fullmatch("[a-z ]+", t)),
    ],
)
def test_reader_lengths_hold_whatever_the_tokenization(lm, constraint, count):
    for text in lm.generate(n=4, constraints=[constraint], seed=1, steps=6):
        assert count(text), text


def test_template_keeps_literal_text_and_slot_lengths(lm):
    template = Template("The {4} is a {2} near {3}.")
    texts = lm.fill(template, n=4, seed=0, steps=3)
    for text in texts:
        assert re.fullmatch(r"The .+ is a .+ near .+\.", text, flags=re.S), text
    from ctrlgen.constrained import plan_constraints

    plan = plan_constraints([template], lm.tokenizer, None, 256)
    tokens = lm.sample_tokens(plan.canvas(3, lm.mask_token_id), guides=[plan.guide], seed=0)
    spans = [(s.start, s.stop) for s in plan.guide.spans]
    assert [b - a for a, b in spans] == [4, 2, 3]
    for row in tokens:
        assert all(row[p] == t for p, t in plan.fixed.items())
        assert lm.end_token_id not in row.tolist()


def test_template_slots_with_regex_and_choices(lm):
    template = Template(
        "Rated {r} by {who}.",
        slots={"r": Slot(1, regex="[1-5]"), "who": Slot(2, choices=["locals", "visitors", "critics"])},
    )
    for text in lm.fill(template, n=6, seed=0):
        assert re.fullmatch(r"Rated [1-5] by (locals|visitors|critics)\.", text), text


def test_template_literal_braces():
    assert Template("{{x}} {2}").parts[0] == "{x} "


def test_unsatisfiable_names_the_shortest_length(lm):
    with pytest.raises(UnsatisfiableConstraintError) as info:
        lm.generate(n=1, length=5, constraints=[Length(12)])
    assert info.value.shortest == 12 and "12" in str(info.value)
    with pytest.raises(UnsatisfiableConstraintError, match="no text"):
        lm.generate(n=1, constraints=[Regex("a") & Regex("b")])


def test_bad_constraints_raise_typed_errors(lm):
    with pytest.raises(ConstraintError, match="invalid regular expression '\\(unclosed': missing \\)"):
        lm.generate(n=1, constraints=[Regex("(unclosed")])
    with pytest.raises(ValueError):
        Length(-1)
    with pytest.raises(ValueError):
        Length(words=(5, 2))
    with pytest.raises(ValueError):
        Template("no slots here")
    with pytest.raises(ValueError):
        Template("{name}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(small_regexes(), small_regexes(), st.lists(st.sampled_from("ab"), max_size=6))
def test_intersection_laws(ab_tokenizer, p, q, chars):
    a = compile_constraint(Regex(p) & Regex(q), ab_tokenizer).automaton
    b = compile_constraint(Regex(q) & Regex(p), ab_tokenizer).automaton
    ids = [ab_tokenizer.convert_tokens_to_ids(c) for c in chars] + [ab_tokenizer.pad_token_id]
    only_p = compile_constraint(Regex(p), ab_tokenizer).automaton
    assert a.accepts(ids) == b.accepts(ids)
    if a.accepts(ids):
        assert only_p.accepts(ids)


def test_state_budget_fails_fast(default_tokenizer):
    from ctrlgen.constraints import ConstraintTooLargeError

    with pytest.raises(ConstraintTooLargeError, match="budget"):
        compile_constraint(Regex(r"[a-z]{40}"), default_tokenizer, state_budget=10)


def test_compiled_automata_are_cached_on_disk(default_tokenizer):
    from ctrlgen.guidance.compile import cache_dir

    before = set(cache_dir().glob("*.npz")) if cache_dir().exists() else set()
    first = compile_constraint(Regex(r"cache-test-[0-9]{2}"), default_tokenizer).automaton
    added = set(cache_dir().glob("*.npz")) - before
    assert len(added) == 1
    again = compile_constraint(Regex(r"cache-test-[0-9]{2}"), default_tokenizer).automaton
    assert (first.table == again.table).all() and (first.token_class == again.token_class).all()


def test_most_probable_commits_are_valid(lm):
    for text in lm.generate(n=3, constraints=[Regex(r"(red|green|blue) [0-9]{2}")], seed=0, most_probable=True):
        assert re.fullmatch(r"(red|green|blue) [0-9]{2}", text)


def test_canvas_makes_room_for_long_texts_a_constraint_admits(default_tokenizer):
    """A schema whose shortest document is short but whose optional properties make long ones gets at least
    the unconstrained canvas, so no property is lost for want of room; a constraint of short texts only keeps
    a short canvas."""
    from ctrlgen.constraints import JsonSchema

    from ctrlgen.constrained import DEFAULT_CANVAS, plan_constraints

    props = {k: {"enum": ["a value of words", "another value"]} for k in "abcdef"}
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, **props}}
    schema |= {"required": ["name"], "additionalProperties": False}
    plan = plan_constraints([JsonSchema(schema)], default_tokenizer, None, 200)
    assert plan.length == DEFAULT_CANVAS
    full = '{"name": "Aromi", ' + ", ".join(f'"{k}": "a value of words"' for k in "abcdef") + "}"
    assert len(default_tokenizer(full, add_special_tokens=False)["input_ids"]) <= plan.length
    assert plan_constraints([Regex("(yes|no)")], default_tokenizer, None, 200).length < DEFAULT_CANVAS
    assert plan_constraints([JsonSchema(schema)], default_tokenizer, None, 40).length == 40  # the room caps it
