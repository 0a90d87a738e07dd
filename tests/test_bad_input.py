"""Bad and oversized input: a typed error that names the problem, at once; never a hang, a crash or an
untyped exception from deep inside."""

import subprocess
import sys

import pytest
from ctrlgen.constraints import (
    ConstraintError,
    ConstraintTooLargeError,
    InvalidConstraintError,
    Length,
    Regex,
    Slot,
    Template,
    UnsatisfiableConstraintError,
)
from ctrlgen.constraints.regex import UnsupportedPatternError
from ctrlgen.guidance.compile import compile_constraint
from ctrlgen.guidance.size_bounds import fewest_tokens, regex_min_chars, regex_size
from ctrlgen.guidance.vocabulary import token_vocabulary
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlgen import CtrlgenError
from ctrlgen.constrained import plan_constraints

OVERSIZED = [
    "Length(10**9)",
    "Length(10**7)",
    "Length(words=10**6)",
    "Length(chars=10**8)",
    "Regex('a{100000}')",
    "Regex('(ab){60000}c')",
    "Template('x {100000} y')",
    "Length(10**9) & Regex('a+')",
]


def test_oversized_requests_are_refused_at_once(default_tokenizer, tmp_path):
    """Each would unroll millions of states before finding it cannot fit; the bound refuses it first. In a
    subprocess with a generous limit, so that a regression fails instead of hanging the suite."""
    code = (
        "from transformers import AutoTokenizer\n"
        "from ctrlgen.constraints import Length, Regex, Template, UnsatisfiableConstraintError\n"
        "from ctrlgen.constrained import plan_constraints\n"
        f"tok = AutoTokenizer.from_pretrained({str(default_tokenizer.name_or_path)!r})\n"
        f"for text in {OVERSIZED!r}:\n"
        "    try:\n"
        "        plan_constraints([eval(text)], tok, None, 256)\n"
        "    except UnsatisfiableConstraintError as e:\n"
        "        assert 'needs at least' in str(e), e\n"
        "    else:\n"
        "        raise SystemExit(f'{text} was not refused')\n"
    )
    env = {**__import__("os").environ, "CTRLGEN_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]


def test_upper_bounds_past_the_canvas_are_capped_not_refused(default_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))
    plan = plan_constraints([Length(min=2, max=10**9)], default_tokenizer, 40, 256)
    assert plan.length == 40
    automaton = plan.guide.spans[0].automaton
    assert automaton.num_states <= 45  # a counter up to the canvas, not to a billion
    end = default_tokenizer.pad_token_id
    assert automaton.accepts([5] * 40) and not automaton.accepts([5] + [end] * 39)


def test_a_bound_past_the_state_budget_is_named_without_a_canvas(default_tokenizer):
    with pytest.raises(ConstraintTooLargeError, match="budget"):
        compile_constraint(Length(10**9), default_tokenizer)
    with pytest.raises(ConstraintTooLargeError, match="unrolls to about"):
        compile_constraint(Regex("[a-z]{0,300000}"), default_tokenizer)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: Length(2.5), InvalidConstraintError, "whole number"),
        (lambda: Length(True), InvalidConstraintError, "whole number"),
        (lambda: Length("3"), InvalidConstraintError, "whole number"),
        (lambda: Length(-1), InvalidConstraintError, "at least 0"),
        (lambda: Length(min=5, max=2), InvalidConstraintError, "min <= max"),
        (lambda: Length(words=(1, 2, 3)), InvalidConstraintError, "pair"),
        (lambda: Length(), InvalidConstraintError, "needs a count"),
        (lambda: Regex("("), InvalidConstraintError, "missing ), unterminated subpattern at position 0"),
        (lambda: Regex("[a-"), InvalidConstraintError, "unterminated character set at position 0"),
        (lambda: Regex("ab(?=c)"), UnsupportedPatternError, "look-ahead"),
        (lambda: Regex(r"(a)\1"), UnsupportedPatternError, "backreference"),
        (lambda: Regex(r"\bcat\b"), UnsupportedPatternError, "word boundar"),
        (lambda: Regex(5), InvalidConstraintError, "must be a string"),
        (lambda: Slot(2, regex="("), InvalidConstraintError, "Slot(2, regex=...): invalid regular expression '('"),
        (lambda: Slot(True), InvalidConstraintError, "whole number"),
        (lambda: Slot(2, choices=[1, 2]), InvalidConstraintError, "strings"),
        (lambda: Template("A {0} B"), InvalidConstraintError, "positive"),
        (lambda: Template("A {3 B"), InvalidConstraintError, "cannot parse template"),
        (lambda: Template("plain"), InvalidConstraintError, "no slot"),
        (lambda: Template(None), InvalidConstraintError, "a template is a string"),
    ],
)
def test_malformed_constraints_raise_typed_errors_that_say_what(make, error, words):
    with pytest.raises(error) as info:
        make()
    assert words in str(info.value)
    assert isinstance(info.value, CtrlgenError) and isinstance(info.value, ConstraintError)


def test_anchors_a_full_match_implies_are_accepted():
    assert Regex("^[a-z]+$").body == "[a-z]+"
    assert Regex(r"\A\d\Z").body == r"\d"
    assert Regex(r"a\$").body == r"a\$"  # an escaped dollar is text


def test_an_empty_language_is_unsatisfiable_not_an_encoding_issue(default_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))
    with pytest.raises(UnsatisfiableConstraintError, match="no text matches"):
        compile_constraint(Regex(r"[^\s\S]"), default_tokenizer)


def test_every_constraint_error_is_a_ctrlgen_error():
    import ctrlgen.constraints.errors as errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if issubclass(cls, Warning):  # warnings (a narrowed schema) are not raised
            assert issubclass(cls, UserWarning), name
            continue
        assert issubclass(cls, CtrlgenError), name


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[ab]{0,3}(\((ab|a|b)\))?[ab]{0,2}(\{[0-9]{1,2}(,[0-9]{0,2})?\})?", fullmatch=True), st.data())
def test_width_bound_holds_for_matches(pattern, data):
    """No full match is shorter than the bound, and the size estimate is at least the bound."""
    import re

    try:
        re.compile(pattern)
    except re.error:
        assert regex_min_chars(pattern) is None
        return
    width = regex_min_chars(pattern)
    text = data.draw(st.from_regex(pattern, fullmatch=True), label="match")
    assert len(text) >= width
    assert regex_size(pattern) >= width


def test_fewest_tokens_is_a_lower_bound(default_tokenizer):
    """On real outputs of the default tokenizer: the bound never exceeds the tokens a satisfying text took."""
    vocab = token_vocabulary(default_tokenizer)
    for text in ["hello world", "a b c d e f", "The Eagle is a coffee shop near Burger King.", "x" * 40]:
        tokens = len(default_tokenizer(text)["input_ids"])
        words = len(text.split())
        assert fewest_tokens(Length(words=words), vocab) <= tokens
        assert fewest_tokens(Length(chars=len(text)), vocab) <= tokens
        assert fewest_tokens(Regex(f".{{{len(text)}}}"), vocab) <= tokens
