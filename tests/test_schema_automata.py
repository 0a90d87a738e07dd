"""JSON Schema compiled to byte automata: what the automaton spells validates, what validates is spelled (checked
on the official JSON Schema Test Suite), and what is not compiled is refused by name."""

import itertools
import json
import random
from pathlib import Path

import jsonschema
import pytest
from ctrlgen.guidance.schema_automata import SchemaNotCompiled, schema_automaton
from ctrlgen.guidance.schema_pieces import spelled as _spelled

SUITE = Path(__file__).resolve().parents[2] / "shared" / "data" / "json-schema-test-suite" / "draft2020-12"


def _validator(schema):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}, "age": {"type": "integer",
     "minimum": 0, "maximum": 120}}, "required": ["name"], "additionalProperties": False},
    {"type": "array", "prefixItems": [{"type": "boolean"}, {"enum": ["x", 2, None]}], "items": {"type": "number",
     "exclusiveMaximum": 10}, "minItems": 1, "maxItems": 4},
    {"oneOf": [{"type": "object", "properties": {"kind": {"const": "a"}, "n": {"type": "integer"}},
                "required": ["kind"]},
               {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["kind"],
                "additionalProperties": False}]},
    {"oneOf": [{"type": "integer"}, {"minimum": 3, "maximum": 20}]},
    {"not": {"type": ["string", "object"]}},
    {"if": {"type": "string"}, "then": {"pattern": "^[a-z]+$"}, "else": {"type": "integer", "maximum": 9}},
    {"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]},
               {"properties": {"b": {"const": 1}}, "required": ["b"]}],
     "properties": {"a": True, "b": True}, "additionalProperties": False},
    {"$defs": {"leaf": {"type": "string", "format": "date"}},
     "type": "object", "properties": {"when": {"$ref": "#/$defs/leaf"}, "tags": {"type": "array",
     "items": {"type": "string", "pattern": "^#?[a-z0-9]{1,4}$"}}}},
    {"anyOf": [{"type": "string", "minLength": 2, "pattern": "é"}, {"type": "null"}, {"const": {"k": [1, 2]}}]},
    {"type": "object", "required": ["free"], "additionalProperties": {"type": "boolean"}},
    {"type": "array", "items": {"enum": ["a", "b", 1, None]}, "uniqueItems": True, "minItems": 1},
    {"type": "object", "properties": {"x-id": {"type": "string"}}, "patternProperties": {"^x-": {"maxLength": 3},
     "[0-9]$": {"type": "integer"}}, "additionalProperties": False, "propertyNames": {"maxLength": 4}},
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {}, "c": {}}, "additionalProperties": False,
     "minProperties": 2, "maxProperties": 2},
    {"type": "object", "properties": {"card": {"type": "string"}, "bill": {"type": "string"}},
     "dependentRequired": {"card": ["bill"]}, "dependentSchemas": {"bill": {"maxProperties": 2}}},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_every_text_the_automaton_spells_validates(schema):
    automaton = schema_automaton(schema)
    validator = _validator(schema)
    rng = random.Random(0)
    for _ in range(60):
        text = automaton.dfa.draw(rng)
        value = json.loads(text)
        assert validator.is_valid(value), (text, list(validator.iter_errors(value))[:1])


#: per schema above: values that validate, then values that do not (checked against jsonschema first)
EXAMPLES = [
    ([{"name": "ab"}, {"name": "", "age": 120}, {"age": 0, "name": 'x"y'}], [{"age": 3}, {"name": "toolong"}]),
    ([[True], [False, "x", 9.5, -3], [True, None, 0]], [[], [1], [True, "y"], [True, 2, 10], [True, 2, 1, 1, 1]]),
    ([{"kind": "a", "n": 3, "z": [1]}, {"kind": "b"}], [{"kind": "b", "n": 1}, {"kind": "c"}, {"n": 1}]),
    ([2, 25, 3.5, 19.25, "x"], [3, 20]),
    ([1, None, [{"a": 1}], True], ["s", {}]),
    (["abc", -4, 9], ["Abc", 10, 1.5]),
    ([{"a": "x", "b": 1}, {"b": 1, "a": ""}], [{"a": "x"}, {"a": "x", "b": 1, "c": 2}]),
    ([{"when": "2024-02-29", "tags": ["#ab", "z9"]}, {}], [{"when": "2023-02-29"}, {"tags": ["ABC"]}]),
    (["éa", None, {"k": [1, 2]}], ["é", "ab", {"k": [2, 1]}]),
    ([{"free": True, "x": False}], [{"x": True}, {"free": 1}]),
    ([["a"], [None, 1, "b", "a"], [1, "a"]], [[], ["a", "a"], [None, None], ["c"]]),
    (
        [{}, {"x-id": "ab"}, {"x-1": 5}, {"x-a": "s", "b2": 7}],
        [{"x-id": "abcd"}, {"x-1": "s"}, {"y": 1}, {"x-abc": ""}],
    ),
    (
        [{"a": 1, "b": {}}, {"b": 1, "c": []}],
        [{"a": 1}, {}, {"a": "1", "b": 2}, {"a": 1, "b": 2, "c": 3}, {"d": 1, "e": 2}],
    ),
    (
        [{}, {"bill": "x"}, {"card": "c", "bill": "b"}, {"x": 1, "bill": "y"}],
        [{"card": "c"}, {"bill": "b", "x": 1, "y": 2}],
    ),
]


@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_valid_values_are_spelled_and_invalid_ones_are_not(index):
    schema = SCHEMAS[index]
    automaton = schema_automaton(schema)
    validator = _validator(schema)
    valid, invalid = EXAMPLES[index]
    for value in valid:
        assert validator.is_valid(value), value
        assert any(automaton.dfa.accepts(t.encode()) for t in _spellings(value)), value
        assert automaton.dfa.accepts(json.dumps(value, ensure_ascii=False).encode()) or isinstance(value, dict)
    for value in invalid:
        assert not validator.is_valid(value), value
        assert not any(automaton.dfa.accepts(t.encode()) for t in _spellings(value)), value


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _spellings(value, cap: int = 64) -> list[str]:
    """Compact spellings of a value with its object members in every order (up to ``cap``)."""
    if isinstance(value, dict):
        out = []
        for order in itertools.islice(itertools.permutations(value.items()), 24):
            parts = [[json.dumps(k, ensure_ascii=False) + ":" + s for s in _spellings(x, 4)] for k, x in order]
            out += ["{" + ",".join(c) + "}" for c in itertools.islice(itertools.product(*parts), 8)]
        return out[:cap]
    if isinstance(value, list):
        parts = [_spellings(x, 4) for x in value]
        return ["[" + ",".join(c) + "]" for c in itertools.islice(itertools.product(*parts), cap)]
    return [_spelled(value)]


@pytest.mark.parametrize(
    ("schema", "where", "what"),
    [
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "/uniqueItems", "scalar values"),
        ({"patternProperties": {"(a)\\1": {}}}, "/patternProperties/(a)\\1", "backreference"),
        ({"type": "string", "format": "hostname"}, "/format", "format 'hostname'"),
        ({"type": "object", "minProperties": 2}, "/minProperties", "repeated key"),
        ({"$ref": "other.json#/a"}, "/$ref", "inside the document"),
        ({"type": "string", "pattern": "(a)\\1"}, "/pattern", "backreference"),
        ({"$ref": "#/$defs/missing"}, "/$ref", "points nowhere"),
    ],
)
def test_what_is_not_compiled_is_refused_by_name_and_path(schema, where, what):
    with pytest.raises(SchemaNotCompiled, match=what) as info:
        schema_automaton(schema)
    assert info.value.path == where


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "object"}, {"required": ["a"]}]},
        {"not": {"type": "object", "required": ["a"]}},
        {"type": "object", "oneOf": [{"required": ["id", "win"]}, {"required": ["id", "lose"]}]},
        {"oneOf": [{"properties": {"k": {"type": "string"}}, "additionalProperties": False},
                   {"properties": {"ks": {"type": "array"}}, "additionalProperties": False}]},
        {"if": {"properties": {"b": {"const": 1}}, "required": ["b"]}, "then": {"required": ["c"]},
         "else": {"not": {"required": ["c"]}}},
    ],
)  # fmt: skip
def test_subtracting_objects_is_exact_in_every_member_order(schema):
    """oneOf, not and if/else over objects: a value's members may stand in any order in the value, but the
    automaton's spelling of it is accepted iff the value is valid (checked on every order of small objects)."""
    automaton = schema_automaton(schema)
    validator = _validator(schema)
    values = [None, 5, "x", [], {}, {"a": 1}, {"b": 1}, {"a": 1, "b": 2}, {"id": "i", "win": 1},
              {"id": "i", "lose": 1}, {"id": "i", "win": 1, "lose": 2}, {"k": "s"}, {"ks": []}, {"k": "s", "ks": []},
              {"b": 1, "c": 2}, {"b": 2, "c": 2}, {"c": 1}, {"b": 1}, {"x": {"a": 1}, "a": [1]}]  # fmt: skip
    for value in values:
        spelled = [s for s in _spellings(value) if automaton.dfa.accepts(s.encode())]
        assert bool(spelled) == validator.is_valid(value), value
    rng = random.Random(0)
    for _ in range(50):
        assert validator.is_valid(json.loads(automaton.dfa.draw(rng)))


def test_free_values_are_cut_at_their_depth_and_say_so():
    automaton = schema_automaton({"type": "object", "properties": {"meta": {}}})
    assert automaton.narrowed
    assert automaton.dfa.accepts(b'{"meta":{"a":[1]}}')
    assert not automaton.dfa.accepts(b'{"meta":{"a":[[1]]}}')  # three levels inside a free value
    closed = schema_automaton(
        {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    )
    assert closed.narrowed == ()


def test_recursive_references_unroll_to_their_depth():
    tree = {"$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array",
            "items": {"$ref": "#/$defs/node"}}}, "additionalProperties": False}}, "$ref": "#/$defs/node"}  # fmt: skip
    automaton = schema_automaton(tree, ref_depth=3)
    assert automaton.dfa.accepts(b'{"kids":[{"kids":[{}]}]}')
    assert not automaton.dfa.accepts(b'{"kids":[{"kids":[{"kids":[{}]}]}]}')
    assert automaton.narrowed


@pytest.mark.skipif(not SUITE.is_dir(), reason=f"JSON Schema Test Suite not found at {SUITE}")
def test_the_official_suite_never_sees_an_invalid_document_accepted_nor_a_valid_one_lost():
    from ctrlgen.constraints import InvalidSchemaError

    over, lost, compiled, groups = [], [], 0, 0
    for path in sorted(SUITE.glob("*.json")):
        for group in json.loads(path.read_text()):
            groups += 1
            try:
                automaton = schema_automaton(group["schema"], budget=20_000)
            except (SchemaNotCompiled, InvalidSchemaError):  # jsonschema's metaschema check reads regexes as Python
                continue
            compiled += 1
            validator = _validator(group["schema"])
            for test in group["tests"]:
                valid = validator.is_valid(test["data"])
                accepted = any(automaton.dfa.accepts(s.encode()) for s in _spellings(test["data"]))
                where = (path.name, group["description"], test["description"])
                if accepted and not valid:
                    over.append(where)
                # formats are asserted (jsonschema here checks only some); free values nest to a depth
                if valid and not accepted and path.name != "format.json" and not automaton.narrowed:
                    lost.append(where)
    assert over == []
    assert lost == []
    assert compiled >= 225, (compiled, groups)


def test_unknown_formats_are_annotations_and_old_style_item_lists_are_compiled():
    from ctrlgen.constraints import InvalidSchemaError

    loose = schema_automaton({"type": "string", "format": "int32-like"}).dfa
    assert loose.accepts(b'"anything"') and not loose.accepts(b"1")
    draft7 = "http://json-schema.org/draft-07/schema#"
    pair = {"$schema": draft7, "items": [{"type": "integer"}], "additionalItems": False, "type": "array"}
    pair = schema_automaton(pair).dfa
    assert pair.accepts(b"[1]") and pair.accepts(b"[]") and not pair.accepts(b"[1,2]")
    with pytest.raises(InvalidSchemaError):
        schema_automaton({"type": "strin"})


def test_whole_multiples_are_a_remainder_automaton():
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 40), st.integers(-(10**12), 10**12), st.sampled_from(["integer", "number"]))
    def check(k, value, kind):
        dfa = schema_automaton({"type": kind, "multipleOf": k}).dfa
        assert dfa.accepts(str(value).encode()) == (value % k == 0), (k, value)
        assert not dfa.accepts(f"{value}.5".encode())

    check()
    bounded = schema_automaton({"type": "integer", "multipleOf": 7, "minimum": -20, "maximum": 30}).dfa
    accepted = [v for v in range(-40, 41) if bounded.accepts(str(v).encode())]
    assert accepted == [v for v in range(-20, 31) if v % 7 == 0]
    assert not bounded.accepts(b"-0") and not bounded.accepts(b"07")
    with pytest.raises(SchemaNotCompiled, match=re.escape("multipleOf 0.5")):
        schema_automaton({"type": "number", "multipleOf": 0.5})


def test_a_subtraction_never_keeps_a_value_its_subtracted_side_lost_to_a_depth_bound():
    """``not {"required": ["x"]}``: the subtracted side's ``x`` is a free value, cut at ``free_depth``; a deeper
    ``x`` of the other side must not survive the subtraction for want of its match (it is left out instead)."""
    deep = {"type": "array", "items": {"type": "array", "items": {"type": "array"}}}
    schema = {"type": "object", "properties": {"x": deep}, "additionalProperties": False, "not": {"required": ["x"]}}
    automaton = schema_automaton(schema)
    assert automaton.dfa.accepts(b"{}")
    for text in (b'{"x":[]}', b'{"x":[[]]}', b'{"x":[[[]]]}', b'{"x":[[[],[]]]}'):
        assert not automaton.dfa.accepts(text), text


@pytest.mark.parametrize("pattern", [r"^\D+$", r"^[^\d]+$", r"^\W+$", r"^[\W\d]+$", r"^\s+$", r"^[^\s]+$", r"^\S\w$"])
def test_shorthands_allow_only_what_ecma_and_pythons_re_both_match(pattern):
    """jsonschema checks patterns with Python's ``re`` (``\\d`` any Unicode digit), the specification says ECMA-262
    (``\\d`` is ``[0-9]``): every text drawn matches under Python's reading, and the ECMA-only characters are out."""
    import re

    from ctrlgen.guidance.pattern_automata import pattern_dfa

    dfa = pattern_dfa(pattern)
    rng = random.Random(0)
    for _ in range(300):
        text = dfa.draw(rng).decode("utf-8")
        assert re.search(pattern, text), (pattern, text)
    assert not pattern_dfa(r"^\D$").accepts("٣".encode())  # an Arabic-Indic digit: not \D to Python
    assert not pattern_dfa(r"^\d$").accepts("٣".encode())  # nor \d to ECMA
    assert not pattern_dfa(r"^\s$").accepts("\ufeff".encode())  # ECMA white space, not Python's


def test_patterns_read_differently_by_ecma_and_python_never_let_an_invalid_value_through():
    """jsonschema reads patterns with Python's re: a key matching ``^.*$`` there but not in ECMA-262 (a carriage
    return), or a string Python's ``\\d`` matches under ``not``, must not be treated as outside the pattern."""
    keyed = {"type": "object", "patternProperties": {"^.*$": {"type": "object", "required": ["d"]}}}
    negated = {"type": "string", "not": {"pattern": "^\\d+$"}}
    for schema, texts in (
        (keyed, [{"a": {"d": 1}}, {"a\rb": 1}, {"a": 1}, {}]),
        (negated, ["12", "a", "\u0663", "12\n", ""]),
    ):
        automaton = schema_automaton(schema)
        validator = _validator(schema)
        for value in texts:
            if any(automaton.dfa.accepts(t.encode()) for t in _spellings(value)):
                assert validator.is_valid(value), (schema, value)
        rng = random.Random(0)
        for _ in range(300):
            assert validator.is_valid(json.loads(automaton.dfa.draw(rng)))


def _point(text: str) -> dict:
    return {"type": "object", "description": text, "properties": {"tags": {"description": text}}, "required": ["x"]}


def test_a_subschema_repeated_under_two_names_is_compiled_once_and_narrowed_at_both(monkeypatch):
    from ctrlgen.guidance.schema_automata import _Compiler

    schema = {"type": "object", "properties": {"a": _point("the start"), "b": _point("the end")}}
    once = schema_automaton(schema)
    assert "/properties/a/properties/tags" in once.narrowed and "/properties/b/properties/tags" in once.narrowed
    calls = []
    monkeypatch.setattr(_Compiler, "combined_once", lambda self, flat: calls.append(flat) or self.combined(flat))
    every_time = schema_automaton(schema)
    assert calls  # the comparison compiled without the kept results
    assert once.narrowed == every_time.narrowed
    assert once.dfa.equivalent(every_time.dfa)


def test_schemas_that_differ_in_data_that_looks_like_prose_are_not_taken_for_each_other():
    schema = {
        "type": "object",
        "properties": {"a": {"const": {"description": "yes"}}, "b": {"const": {"description": "no"}}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    dfa = schema_automaton(schema).dfa
    assert dfa.accepts(b'{"a":{"description":"yes"},"b":{"description":"no"}}')
    assert not dfa.accepts(b'{"a":{"description":"yes"},"b":{"description":"yes"}}')
