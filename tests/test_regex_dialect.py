"""Python's regex dialect (what ``re.fullmatch`` checks) as regex-syntax (what outlines-core compiles) reads it:
the translation in guidance/regex_classes.py keeps bracketed classes the same set in both."""

import re

import pytest
from ctrlgen.guidance.regex_classes import ecma_shorthands, python_shorthands
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_regex_exclude import _Language

CLASS_PIECES = ["a", "b", "[", "&", "&&", "~", "~~", "-", "--", "^", ":", "]", "\\]", "\\[", "\\d", "\\w", "\\-", "a-c",
                "\\x41-\\x43", "[:alpha:]", "é", "||"]  # fmt: skip
ALPHABET = ["a", "b", "c", "[", "]", "&", "~", "-", "^", ":", "A", "1", "_", "é", "x", "|"]


@st.composite
def class_patterns(draw):
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        body = "".join(draw(st.lists(st.sampled_from(CLASS_PIECES), min_size=1, max_size=4)))
        negate = "^" if draw(st.booleans()) else ""
        parts.append(f"[{negate}{body}]" + draw(st.sampled_from(["", "+", "?", "{2}"])))
        parts.append(draw(st.sampled_from(["", "x", "]", "-"])))
    return "".join(parts)


def _python_pattern_or_none(pattern):
    """The compiled pattern, or None when the Regex constraint refuses it by name (syntax, anchors inside)."""
    from ctrlgen.constraints.regex import check_pattern

    from ctrlgen import CtrlgenError

    try:
        check_pattern(pattern, "test")
    except CtrlgenError:
        return None
    return re.compile(pattern)


@settings(max_examples=200, deadline=None)
@pytest.mark.filterwarnings("ignore::FutureWarning")
@given(class_patterns(), st.randoms(use_true_random=False), st.lists(st.lists(st.sampled_from(ALPHABET), max_size=4)))
def test_translated_classes_match_what_python_matches(pattern, rng, extra):
    compiled = _python_pattern_or_none(pattern)
    if compiled is None:
        return  # the Regex constraint refuses it by name before compiling
    ours = _Language(python_shorthands(pattern))
    for text in ours.members(rng, 20) + ["".join(x) for x in extra]:
        assert ours.matches(text) == bool(compiled.fullmatch(text)), (pattern, python_shorthands(pattern), text)


def test_the_translation_of_each_class_feature():
    assert python_shorthands("[[a]]") == "[\\[a]]"  # Python: '[' or 'a', then ']'
    assert python_shorthands("[a&&b]") == "[a\\&\\&b]"  # not an intersection
    assert python_shorthands("[]a-]") == "[\\]a\\-]"  # a leading ']' and a trailing '-' are characters
    assert python_shorthands("[a-z-0]") == "[a-z\\-0]"
    assert ecma_shorthands("[\\d[]") == "[[0-9]\\[]"
    assert python_shorthands("abc") == "abc"
