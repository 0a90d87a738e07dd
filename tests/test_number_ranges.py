"""JSON ``number`` ranges: the regex admits only in-range texts (judged on the decimal value and on the parsed
double, as ``jsonschema`` does), admits every in-range plain decimal, and generation emits fractions."""

import json
import math
import re
from fractions import Fraction

import jsonschema
import pytest
from ctrlgen.constraints import JsonSchema, UnsupportedSchemaError
from ctrlgen.guidance.json_schema import schema_to_regex
from ctrlgen.guidance.number_ranges import Bound, number_range_regex, read_bounds
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import random_lm

JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _bound_values():
    short = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False).map(float)
    return st.one_of(
        st.integers(-1000, 1000),
        short,
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from([0, 0.0, 0.1, -0.1, 1e-300, -1e-300, 5e-324, 1e300, 2**60, 9007199254740993, 1e22]),
    )


bounds = st.one_of(st.none(), st.builds(Bound, _bound_values(), st.booleans()))


def _valid(text: str, lo: Bound | None, hi: Bound | None) -> bool:
    """In range as jsonschema judges it (the parsed value) and as the decimal value says (bounds as their
    shortest decimal)."""
    parsed, exact = json.loads(text), Fraction(text)
    for bound, sign in ((lo, 1), (hi, -1)):
        if bound is None:
            continue
        decimal = Fraction(bound.value) if isinstance(bound.value, int) else Fraction(repr(bound.value))
        for x, b in ((parsed, bound.value), (exact, decimal)):  # comparisons are exact; differences are not
            below, equal = (x < b, x == b) if sign == 1 else (x > b, x == b)
            if below or (equal and bound.strict):
                return False
    return True


def _texts_near(values: list) -> list[str]:
    """Texts at, just above and just below each bound (the doubles next to it, written out exactly)."""
    out = []
    for v in values:
        f = float(v)
        for x in (f, math.nextafter(f, math.inf), math.nextafter(f, -math.inf)):
            out.append(_decimal_text(Fraction(x)))
        out.append(str(v) if isinstance(v, int) else repr(v))
        if isinstance(v, int):
            out += [str(v + 1), str(v - 1), f"{v}.5", f"{v}.0"]
    return [t for t in out if JSON_NUMBER.fullmatch(t)]


def _decimal_text(x: Fraction) -> str:
    sign, x = ("-" if x < 0 else ""), abs(x)
    k = 0
    while (x * 10**k).denominator != 1:
        k += 1
    digits = str(int(x * 10**k)).rjust(k + 1, "0")
    return sign + (digits if k == 0 else f"{digits[:-k]}.{digits[-k:]}")


texts = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{'.' + frac if frac else ''}{exp}",
    st.sampled_from(["", "-"]),
    st.one_of(st.just("0"), st.integers(1, 10**7).map(str)),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=22)),
    st.one_of(
        st.just(""),
        st.just(""),
        st.builds(lambda e, s: f"e{s}{e}", st.integers(0, 30), st.sampled_from(["", "+", "-"])),
    ),
)


def _outlines_index(pattern: str):
    from outlines_core import Index, Vocabulary

    # opened by a mark found nowhere else, as the library compiles it (outlines-core's unanchored DFA is
    # exponential in counted repetitions otherwise)
    vocabulary = Vocabulary(0, {ch: [i + 1] for i, ch in enumerate("0123456789.-+eE\x01")})
    return Index(f"\x01(?:{pattern})", vocabulary)


@settings(max_examples=400, deadline=None)
@given(bounds, bounds, st.lists(texts, min_size=1, max_size=12))
def test_number_range_regex_admits_exactly_the_valid_plain_texts(lo, hi, some):
    try:
        pattern = re.compile(number_range_regex(lo, hi))
    except ValueError:
        # refused only when no plain decimal is in range on both readings
        assert lo is not None and hi is not None and (lo.value > hi.value or lo.value == hi.value)
        return
    _outlines_index(pattern.pattern)  # the engine that compiles it for real accepts it (nesting, size)
    candidates = some + _texts_near([b.value for b in (lo, hi) if b is not None])
    for text in candidates:
        matched = pattern.fullmatch(text) is not None
        valid = _valid(text, lo, hi)
        if matched:
            assert valid, (text, lo, hi)  # sound: never a text out of range
        plain = "e" not in text and not (text.startswith("-") and Fraction(text) == 0)
        # next to a strict bound of extreme magnitude (or 0) the boundary may be rounded inwards (documented)
        extreme = any(b is not None and b.strict and not 1e-25 < abs(b.value) < 1e25 for b in (lo, hi))
        if valid and plain and not extreme:
            assert matched, (text, lo, hi)  # complete: every in-range plain decimal


@pytest.mark.parametrize(
    ("node", "inside", "outside"),
    [
        ({"minimum": -2.5, "maximum": 7.25}, ["-2.5", "7.25", "0.125", "3", "-2.49"], ["-2.51", "7.2501", "8"]),
        ({"minimum": 0}, ["0", "0.0", "0.5", "12.75", "1e5", "2.5E-3"], ["-0.5", "-1", "-0", "-1e5"]),
        ({"minimum": 0.1, "maximum": 0.9}, ["0.1", "0.5", "0.9", "0.10"], ["0.09", "0.95", "1", "0"]),
        ({"exclusiveMaximum": 0.1}, ["0.0999", "-3", "-1e9"], ["0.1", "0.09999999999999999999", "0.2"]),
        ({"minimum": 0, "exclusiveMinimum": True, "maximum": 1}, ["0.5", "1"], ["0", "0.0", "1.5"]),  # draft 4
        ({"exclusiveMinimum": 0}, ["0.001", "2"], ["0", "0.0", "0." + "0" * 400 + "1"]),
    ],
)
def test_number_range_examples(node, inside, outside):
    pattern = re.compile(number_range_regex(*read_bounds(node)))
    for text in inside:
        assert pattern.fullmatch(text), text
    for text in outside:
        assert not pattern.fullmatch(text), text


def test_a_tiny_exclusive_bound_stays_shallow_and_exact():
    """Near zero a double's rounding boundary has hundreds of digits: runs of zeros are one repetition, and
    the smallest double above the bound is still admitted (as its shortest decimal)."""
    pattern = number_range_regex(Bound(1e-300, True), Bound(1e-299))
    assert pattern.count("(") < 250  # the nesting limit of the regex crate outlines-core uses
    compiled = re.compile(pattern)
    inside = math.nextafter(1e-300, 1)
    assert compiled.fullmatch(_decimal_text(Fraction(repr(inside))))  # its shortest decimal, written plainly
    assert not compiled.fullmatch(_decimal_text(Fraction(repr(1e-300))))
    assert not compiled.fullmatch(_decimal_text(Fraction(1e-300)))


def test_number_schema_no_longer_narrowed_to_integers():
    compiled = schema_to_regex({"type": "number", "minimum": -2.5, "maximum": 7.25})
    assert re.fullmatch(compiled.regex, "3.75") and not re.fullmatch(compiled.regex, "7.5")
    integer = schema_to_regex({"type": "integer", "minimum": -2.5, "maximum": 7.25})
    assert re.fullmatch(integer.regex, "7") and not re.fullmatch(integer.regex, "3.5")


def test_enum_values_filtered_by_exact_bounds():
    compiled = schema_to_regex({"type": "number", "enum": [0.5, 0.1, 2], "exclusiveMinimum": 0.1, "maximum": 1})
    assert re.fullmatch(compiled.regex, "0.5")
    assert not re.fullmatch(compiled.regex, "0.1") and not re.fullmatch(compiled.regex, "2")


def test_empty_range_is_named():
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_regex({"type": "number", "minimum": 1, "exclusiveMaximum": 1})
    assert "minimum:no-number-in-range" in info.value.keywords[0]


@settings(max_examples=6, deadline=None)
@given(
    st.decimals(min_value=-50, max_value=50, places=2, allow_nan=False, allow_infinity=False).map(float),
    st.decimals(min_value="0.05", max_value=20, places=2, allow_nan=False, allow_infinity=False).map(float),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_generated_numbers_are_in_range(default_tokenizer, lo, width, exclusive, seed):
    key_lo, key_hi = ("exclusiveMinimum", "exclusiveMaximum") if exclusive else ("minimum", "maximum")
    schema = {
        "type": "object",
        "properties": {"x": {"type": "number", key_lo: lo, key_hi: lo + width}},
        "required": ["x"],
        "additionalProperties": False,
    }
    lm = random_lm(default_tokenizer)
    for text in lm.generate(n=8, constraints=[JsonSchema(schema)], seed=seed, steps=8):
        jsonschema.validate(json.loads(text), schema)
    assert lm.last_report.resampled == 0


def test_fractions_occur_in_generated_numbers(default_tokenizer):
    schema = {
        "type": "object",
        "properties": {"x": {"type": "number", "minimum": 0, "maximum": 1}},
        "required": ["x"],
        "additionalProperties": False,
    }
    lm = random_lm(default_tokenizer)
    values = [json.loads(t)["x"] for t in lm.generate(n=16, constraints=[JsonSchema(schema)], seed=0, steps=8)]
    assert all(0 <= v <= 1 for v in values)
    assert sum(isinstance(v, float) and 0 < v < 1 for v in values) >= 4, values


def test_counted_repetitions_compile_without_blowup(default_tokenizer, tmp_path):
    """outlines-core builds its DFA for unanchored search too; without the opening mark, ``1[0-9]{16}``
    took seconds and a 20-digit integer bound minutes (exponential). Run in a subprocess with a generous
    limit, so a regression fails instead of hanging the suite."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from transformers import AutoTokenizer\n"
        "from ctrlgen.constraints import JsonSchema, Regex\n"
        "from ctrlgen.guidance.compile import compile_constraint\n"
        f"tok = AutoTokenizer.from_pretrained({str(default_tokenizer.name_or_path)!r})\n"
        "compile_constraint(JsonSchema({'type': 'integer', 'minimum': 10**30 + 7}), tok)\n"
        "compile_constraint(JsonSchema({'type': 'number', 'maximum': 9223372036854775807}), tok)\n"
        "compile_constraint(Regex('x[0-9]{40}y'), tok)\n"
    )
    env = {**__import__("os").environ, "CTRLGEN_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=240, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
