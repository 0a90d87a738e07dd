"""JSON-schema constraints: every output validates with jsonschema; gaps of outlines-core closed or named."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
from ctrlgen.constraints import (
    InvalidSchemaError,
    JsonSchema,
    UnsatisfiableConstraintError,
    UnsupportedSchemaError,
)
from ctrlgen.guidance.compile import compile_constraint
from ctrlgen.guidance.json_schema import schema_to_regex
from ctrlgen.guidance.ranges import integer_range_regex
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA, random_lm

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "restaurant.schema.json"
SUITE = SHARED_DATA / "json-schema-test-suite" / "draft2020-12"


@given(
    st.one_of(st.none(), st.integers(-3000, 3000)),
    st.one_of(st.none(), st.integers(-3000, 3000)),
    st.integers(-5000, 5000),
)
def test_integer_range_regex_is_exact(lo, hi, x):
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    inside = (lo is None or x >= lo) and (hi is None or x <= hi)
    pattern = integer_range_regex(lo, hi)
    assert bool(re.fullmatch(pattern, str(x))) == inside
    for boundary in (lo, hi):
        if boundary is not None:
            assert re.fullmatch(pattern, str(boundary))
    assert not re.fullmatch(pattern, "-0") and not re.fullmatch(pattern, "01")


def test_example_schema_with_the_default_model():
    import ctrlgen

    schema = json.loads(EXAMPLE.read_text())
    lm = ctrlgen.load()
    texts = lm.generate(n=6, constraints=[JsonSchema(schema)], seed=0, steps=24)
    for text in texts:
        jsonschema.validate(json.loads(text), schema)
    assert lm.last_report.resampled == 0


def test_integer_bounds_are_enforced(default_tokenizer):
    schema = {
        "type": "object",
        "properties": {
            "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            "n": {"type": "number", "exclusiveMinimum": 10},
        },
        "required": ["stars", "n"],
    }
    lm = random_lm(default_tokenizer)
    for text in lm.generate(n=8, constraints=[JsonSchema(schema)], seed=0, steps=10):
        doc = json.loads(text)
        jsonschema.validate(doc, schema)
    assert lm.last_report.resampled == 0


def test_unsupported_keyword_is_named_and_lenient_mode_validates(default_tokenizer):
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2, "uniqueItems": True}},
        "required": ["tags"],
    }
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_regex(schema)
    assert info.value.keywords == ["/properties/tags/uniqueItems"]
    lm = random_lm(default_tokenizer)
    for text in lm.generate(n=6, constraints=[JsonSchema(schema, strict=False)], seed=0, steps=6, max_resamples=20):
        jsonschema.validate(json.loads(text), schema)


def test_invalid_schema_carries_jsonschema_message():
    with pytest.raises(InvalidSchemaError, match="is not valid"):
        schema_to_regex({"type": "objekt"})
    with pytest.raises(InvalidSchemaError, match="not valid JSON"):
        JsonSchema("{not json")


def test_pydantic_model():
    pydantic = pytest.importorskip("pydantic")

    class Review(pydantic.BaseModel):
        stars: int
        text: str

    assert json.loads(JsonSchema(Review).schema_json)["required"] == ["stars", "text"]


def _suite_schemas():
    if not SUITE.is_dir():
        return []
    out = []
    for path in sorted(SUITE.glob("*.json")):
        for k, case in enumerate(json.loads(path.read_text())):
            out.append(pytest.param(case["schema"], id=f"{path.stem}-{k}"))
    return out


@pytest.fixture(scope="module")
def suite_lm(default_tokenizer):
    return random_lm(default_tokenizer)


@pytest.mark.skipif(not SUITE.is_dir(), reason=f"JSON Schema Test Suite not found at {SUITE}")
@pytest.mark.parametrize("schema", _suite_schemas())
def test_every_output_validates_for_suite_schemas_that_compile(suite_lm, schema):
    from ctrlgen.constraints import ConstraintError

    try:
        compile_constraint(JsonSchema(schema), suite_lm.tokenizer)
    except (UnsupportedSchemaError, InvalidSchemaError, UnsatisfiableConstraintError):
        pytest.skip("schema does not compile exactly (reported by name), or no document is valid")
    try:
        texts = suite_lm.generate(n=2, constraints=[JsonSchema(schema)], seed=0, steps=8, max_resamples=0)
    except ConstraintError as e:
        if "still fail validation" in str(e):
            raise
        pytest.skip(f"no document fits: {e}")
    for text in texts:
        jsonschema.validate(json.loads(text), schema)


@pytest.mark.parametrize("name", ["date", "uuid", "email", "date-time", "time", "uri", "uri-reference", "ipv4", "ipv6"])
def test_every_string_a_format_regex_allows_is_json_and_passes_jsonschemas_format_check(name):
    """Random members of each format's automaton (walks over a byte vocabulary): valid JSON strings, and of the
    format wherever jsonschema checks it (date exactly, with leap years; uuid; email)."""
    import random

    from ctrlgen.guidance.formats import format_regex

    from tests.test_regex_exclude import _Language

    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    language = _Language(format_regex(name))
    members = language.members(random.Random(0), 300, longest=200)
    assert len(members) > 5
    for text in members:
        value = json.loads(text)
        assert isinstance(value, str)
        assert checker.conforms(value, name), (name, value)


def test_a_format_with_a_length_bound_is_reported_not_dropped():
    from ctrlgen.guidance.json_schema import schema_to_regex

    schema = {"type": "string", "format": "email", "maxLength": 40}
    with pytest.raises(UnsupportedSchemaError, match="format:email"):
        schema_to_regex(schema)
    assert schema_to_regex(schema, strict=False).dropped == ("/format:email+maxLength",)


def test_open_objects_warn_of_their_depth_bound_and_closed_ones_take_only_named_keys(default_tokenizer):
    from ctrlgen.constraints import NarrowedSchemaWarning
    from ctrlgen.guidance.schema_automata import schema_automaton

    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    with pytest.warns(NarrowedSchemaWarning, match="additionalProperties") as caught:
        compile_constraint(JsonSchema(schema), default_tokenizer)
    assert caught[0].message.paths == ("/additionalProperties",)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a closed object leaves nothing free: no warning
        compile_constraint(JsonSchema(schema, closed=True), default_tokenizer)
    opened, closed = schema_automaton(schema).dfa, schema_automaton(schema, closed=True).dfa
    assert opened.accepts(b'{"a":1,"b":[true]}') and not closed.accepts(b'{"a":1,"b":[true]}')
    assert opened.accepts(b'{"a": 1}') and closed.accepts(b'{"a": 1}')


def test_bad_json_schema_options_are_named(default_tokenizer):
    from ctrlgen.constraints import InvalidConstraintError

    with pytest.raises(InvalidConstraintError, match="free_depth"):
        JsonSchema({"type": "object"}, free_depth=-1)
    with pytest.raises(InvalidConstraintError, match="ref_depth"):
        JsonSchema({"type": "object"}, ref_depth=2.5)
    with pytest.raises(InvalidConstraintError, match="not JSON whitespace"):
        compile_constraint(JsonSchema({"type": "integer"}, whitespace="[ x]?"), default_tokenizer)
    tabs = compile_constraint(JsonSchema({"type": "array"}, whitespace="\t?"), default_tokenizer)
    assert tabs.automaton.shortest_accepted() >= 1
