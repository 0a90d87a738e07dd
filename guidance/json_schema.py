"""JSON schema -> regex, with outlines-core's gaps closed or reported.

outlines-core's ``build_regex_from_schema`` compiles the structure (types, properties, enums, arrays,
strings with length and pattern, references) but silently ignores some keywords, so its regex alone can
produce invalid documents (integer ``minimum``/``maximum`` among them). Here:

* the schema is checked against its metaschema (``InvalidSchemaError`` carries ``jsonschema``'s message);
* integer and number bounds are compiled into exact range regexes (:mod:`.ranges` for integers,
  :mod:`.number_ranges` for numbers: fractions included, exclusive bounds, draft-4 boolean exclusives);
* every other keyword outside a list known to compile exactly is reported by name and path
  (``UnsupportedSchemaError``), or, with ``strict=False``, dropped from the regex and left to validation.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from ..constraints.errors import InvalidSchemaError, UnsupportedSchemaError
from .formats import format_regex
from .number_ranges import Bound, integer_bounds, number_range_regex, read_bounds
from .ranges import integer_range_regex
from .regex_classes import ecma_shorthands

__all__ = ["CompiledSchema", "schema_to_regex", "EXACT_KEYWORDS"]

#: Keywords with no effect on validity.
ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$schema",
        "$id",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$anchor",
        "contentMediaType",
        "contentEncoding",
        "$vocabulary",
    }
)
#: Keywords compiled exactly (outlines-core's regex, or our own range regexes for the bounds).
EXACT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "const",
        "anyOf",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "$ref",
        "$defs",
        "definitions",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "format",
    }
)
#: Every keyword of the JSON Schema vocabularies (2020-12 and the older drafts' names). A keyword outside
#: them has no effect on validity (the specification says to ignore unknown keywords), so it is not reported.
VOCABULARY = frozenset(
    {
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "prefixItems",
        "items",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "additionalItems",
        "dependencies",
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "format",
        "$ref",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
        "$defs",
        "definitions",
        "contentSchema",
    }
)
#: ``format`` values outlines-core compiles.
FORMATS = frozenset({"date-time", "date", "time", "uuid", "email", "uri"})
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_ONE = (
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)


@dataclass(frozen=True)
class CompiledSchema:
    """The regex for a schema, and what it leaves to validation."""

    regex: str
    dropped: tuple[str, ...]  #: keywords (with paths) not enforced by the regex; outputs must be validated
    schema: Any


def _check(schema: Any) -> None:
    """Raise :class:`InvalidSchemaError` unless ``schema`` is valid under its metaschema. A compile checks the
    same schema more than once (the constraint, then its automaton), and checking costs milliseconds: the
    verdicts of the last schemas seen are kept, by their JSON text."""
    try:
        text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):  # not JSON at all: checked as it is
        _check_now(schema)
        return
    _check_text(text)


@functools.lru_cache(maxsize=64)
def _check_text(text: str) -> None:
    _check_now(json.loads(text))


def _check_now(schema: Any) -> None:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise InvalidSchemaError(f"invalid JSON schema: {e.message}") from None


def _in_bounds(value: Any, lo: Bound | None, hi: Bound | None) -> bool:
    """Whether an enum/const value survives the node's bounds, compared as ``jsonschema`` compares (bounds
    only constrain numbers)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return True
    if lo is not None and (value <= lo.value if lo.strict else value < lo.value):
        return False
    return hi is None or (value < hi.value if hi.strict else value <= hi.value)


def _disjoint(branches: Any) -> bool:
    """Whether no value can be valid under two of the ``oneOf`` branches, judged from their ``type`` (single,
    pairwise different, integer and number counted as overlapping) or their ``const``/``enum`` values."""
    if not isinstance(branches, list) or not all(isinstance(b, dict) for b in branches):
        return False
    types = [b.get("type") for b in branches]
    if all(isinstance(t, str) for t in types):
        kinds = ["number" if t == "integer" else t for t in types]
        if len(set(kinds)) == len(kinds):
            return True
    values = []
    for b in branches:
        if "const" in b:
            values.append({json.dumps(b["const"], sort_keys=True)})
        elif isinstance(b.get("enum"), list):
            values.append({json.dumps(v, sort_keys=True) for v in b["enum"]})
        else:
            return False
    return sum(len(v) for v in values) == len(set().union(*values))


class _Rewriter:
    """Walks a schema: collects unsupported keywords, swaps bounded numbers for placeholders."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.unsupported: list[str] = []
        self.placeholders: dict[str, str] = {}

    def visit(self, node: Any, path: str) -> Any:
        if node is True or (isinstance(node, dict) and set(node) <= ANNOTATIONS):
            # "any value": outlines-core's regex for it mis-groups an alternation (text after a value could
            # be accepted); a scalar of any type is a valid, exactly compiled subset
            return {"anyOf": [{"type": t} for t in ("string", "integer", "number", "boolean", "null")]}
        if not isinstance(node, dict):
            return node
        for key in list(node):
            if key not in VOCABULARY or key in EXACT_KEYWORDS or key == "pattern":
                continue  # unknown keywords have no effect on validity; exact ones are compiled
            if key == "oneOf" and _disjoint(node[key]):
                node["anyOf"] = node.pop("oneOf")  # no document can match two branches: oneOf = anyOf
                continue
            if key == "uniqueItems" and node[key] is False:
                continue
            self.unsupported.append(f"{path}/{key}")
            if not self.strict and key != "oneOf":  # oneOf becomes anyOf below; validation does the rest
                node.pop(key)
        if isinstance(node.get("required"), list) and any(
            r not in node.get("properties", {}) for r in node["required"]
        ):
            # outlines-core only emits listed properties: a required name with no schema would be missing
            self.unsupported.append(f"{path}/required:without-properties")
        for name in node.get("properties", {}) if isinstance(node.get("properties"), dict) else ():
            if json.dumps(name) != f'"{name}"':  # names that need escaping are emitted unescaped by outlines-core
                self.unsupported.append(f"{path}/properties/{json.dumps(name)}:needs-escaping")
        if "enum" in node or "const" in node:
            node = self._literals(node, path)
        elif node.get("format") in FORMATS and _may_be_string(node):
            node = self._format(node, path)
        elif "pattern" in node:
            node = self._pattern(node, path)
        if "format" in node and node["format"] not in FORMATS:
            self.unsupported.append(f"{path}/format:{node['format']}")
            if not self.strict:
                node.pop("format")
        if not self.strict and "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        for key in _SUBSCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                for name, sub in node[key].items():
                    node[key][name] = self.visit(sub, f"{path}/{key}/{name}")
        for key in _SUBSCHEMA_LISTS:
            if isinstance(node.get(key), list):
                node[key] = [self.visit(sub, f"{path}/{key}/{i}") for i, sub in enumerate(node[key])]
        for key in _SUBSCHEMA_ONE:
            if isinstance(node.get(key), dict):
                node[key] = self.visit(node[key], f"{path}/{key}")
        if "const" in node and str(node["const"]).startswith("__ctrlgen_"):
            return node
        return self._bounds(node, path)

    def _pattern(self, node: dict, path: str) -> dict:
        """A string ``pattern`` as our own regex: outlines-core does not enforce anchored patterns. Exact when
        the pattern can only match characters that JSON writes unescaped; reported otherwise."""
        inner = _json_safe_pattern(node["pattern"])
        if inner is not None and ("minLength" in node or "maxLength" in node):
            inner = _with_length(node["pattern"], node.get("minLength", 0), node.get("maxLength"))
        if inner is None or node.get("type", "string") != "string":
            self.unsupported.append(f"{path}/pattern")
            if not self.strict:
                node.pop("pattern")
            return node
        key = f"__ctrlgen_pattern_{len(self.placeholders)}__"
        # JSON Schema patterns are ECMA-262: \d is [0-9], \w is [A-Za-z0-9_] (not Unicode-wide)
        self.placeholders[key] = f'"{ecma_shorthands(inner)}"'
        return {k: v for k, v in node.items() if k in ANNOTATIONS} | {"const": key}

    def _format(self, node: dict, path: str) -> dict:
        """A string ``format`` as our own regex (:mod:`.formats`): outlines-core ignores the format when the
        node also has a length bound, and reads ``\\d`` as any Unicode digit. A length bound or a pattern on top
        of a format is not compiled (the two regexes would need intersecting): reported by name."""
        extra = [k for k in ("minLength", "maxLength", "pattern") if k in node]
        if extra:
            self.unsupported.append(f"{path}/format:{node['format']}+{'+'.join(extra)}")
            if self.strict:
                return node
            node = {k: v for k, v in node.items() if k not in extra}  # validation checks them
        key = f"__ctrlgen_format_{len(self.placeholders)}__"
        self.placeholders[key] = format_regex(node["format"])
        types = node.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        others = [t for t in types if t != "string"]
        placeholder = {k: v for k, v in node.items() if k in ANNOTATIONS} | {"const": key}
        if not others:
            return placeholder
        rest = {k: v for k, v in node.items() if k not in ("format", "type")}
        return {"anyOf": [placeholder, {**rest, "type": others}]}

    def _literals(self, node: dict, path: str) -> dict:
        """``enum``/``const`` as an alternation of their exact JSON texts (outlines-core does not escape
        control characters in them, and turns an empty enum into something)."""
        values = node["enum"] if "enum" in node else [node["const"]]
        lo, hi = read_bounds(node)
        values = [v for v in values if _in_bounds(v, lo, hi)]
        texts = [json.dumps(v, ensure_ascii=False) for v in values]
        if not texts:
            self.unsupported.append(f"{path}/enum:no-value-allowed")
        key = f"__ctrlgen_literal_{len(self.placeholders)}__"
        self.placeholders[key] = "|".join(_escape(t) for t in texts) if texts else "null"  # reported above
        return {k: v for k, v in node.items() if k in ANNOTATIONS} | {"const": key}

    def _bounds(self, node: dict, path: str) -> dict:
        if not any(k in node for k in _BOUNDS):
            return node
        types = node.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        numeric = [t for t in types if t in ("integer", "number")]
        lo, hi = read_bounds(node)
        if "enum" in node or "const" in node:
            values = node["enum"] if "enum" in node else [node.pop("const")]
            node["enum"] = [v for v in values if _in_bounds(v, lo, hi)]
            return {k: v for k, v in node.items() if k not in _BOUNDS}
        if not numeric:
            if types:  # bounds on non-numbers have no effect
                return {k: v for k, v in node.items() if k not in _BOUNDS}
            numeric, types = ["integer"], ["integer", *types]
            self.unsupported.append(f"{path}/type:any-with-bounds")  # untyped bounded schema: numbers only
        try:
            if "number" in numeric:
                regex = number_range_regex(lo, hi)
            else:
                regex = integer_range_regex(*integer_bounds(lo, hi))
        except ValueError as e:  # no number in range, or a bound that is not finite
            self.unsupported.append(f"{path}/minimum:no-number-in-range ({e})")
            regex = "null"  # never emitted: the keyword is reported above
        key = f"__ctrlgen_range_{len(self.placeholders)}__"
        self.placeholders[key] = regex
        others = [t for t in types if t not in ("integer", "number")]
        rest = {k: v for k, v in node.items() if k not in _BOUNDS and k != "type"}
        if not others:
            return {**{k: v for k, v in rest.items() if k in ANNOTATIONS}, "const": key}
        return {"anyOf": [{"const": key}, {**rest, "type": others}]}


def _may_be_string(node: dict) -> bool:
    """Whether ``node``'s ``type`` lets a string through (its ``format`` then constrains that string)."""
    types = node.get("type")
    return types == "string" or (isinstance(types, list) and "string" in types)


_STRING_CHAR = r'([^"\\\x00-\x1F\x7F-\x9F]|\\["\\/bfnrt])'


#: ``\d`` and ``\w`` never match a character JSON escapes; ``\s`` does (newline, tab), as do the negations.
SAFE_CATEGORIES = {"CATEGORY_DIGIT", "CATEGORY_WORD"}


def _json_safe_pattern(pattern: str) -> str | None:
    """The JSON-string-content regex for an ECMA-style search ``pattern``, or None when the pattern may match
    a character JSON must escape (then the raw regex would not be exact).

    Only patterns built from literal characters, non-negated classes and ranges of such characters,
    groups, alternation and repetition qualify; ``^``/``$`` at the ends anchor, otherwise any string content
    may surround the match (JSON Schema patterns search, they do not have to match whole).
    """
    import re._parser as sre_parse  # the standard library's own regex parser

    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    unsafe = {ord('"'), ord("\\")}

    def safe(items) -> bool:
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                if av in unsafe or av < 0x20 or 0x7F <= av <= 0x9F:
                    return False
            elif name == "IN":
                for cop, cav in av:
                    cname = str(cop)
                    if cname == "LITERAL" and (cav in unsafe or cav < 0x20):
                        return False
                    if cname == "RANGE" and (
                        cav[0] <= ord("\\") <= cav[1] or cav[0] <= ord('"') <= cav[1] or cav[0] < 0x20
                    ):
                        return False
                    if cname == "NEGATE" or (cname == "CATEGORY" and str(cav) not in SAFE_CATEGORIES):
                        return False
            elif name in ("MAX_REPEAT", "MIN_REPEAT"):
                if not safe(av[2]):
                    return False
            elif name == "SUBPATTERN":
                if not safe(av[-1]):
                    return False
            elif name == "BRANCH":
                if not all(safe(b) for b in av[1]):
                    return False
            elif name == "AT":
                continue
            elif name == "CATEGORY":
                if str(av) not in SAFE_CATEGORIES:
                    return False
            else:  # ANY, NOT_LITERAL, CATEGORY, backreferences, lookarounds...
                return False
        return True

    if not safe(parsed):
        return None
    body = pattern
    start = body.startswith("^")
    end = body.endswith("$") and not body.endswith("\\$")
    body = body[1 if start else 0 : len(body) - 1 if end else len(body)]
    if "^" in body.replace("[^", "") or "$" in body.replace("\\$", ""):
        return None  # anchors inside: leave it to validation
    return ("" if start else f"{_STRING_CHAR}*") + f"(?:{body})" + ("" if end else f"{_STRING_CHAR}*")


def _with_length(pattern: str, lo: int, hi: int | None) -> str | None:
    """An anchored single repeated character pattern (``^[a-z0-9_]+$``, the common case) with
    ``minLength``/``maxLength`` folded into its repetition; None for anything else."""
    import re._parser as sre_parse

    if not (pattern.startswith("^") and pattern.endswith("$")):
        return None
    body = pattern[1:-1]
    parsed = list(sre_parse.parse(body))
    if len(parsed) != 1 or str(parsed[0][0]) != "MAX_REPEAT" or len(parsed[0][1][2]) != 1:
        return None
    rep_lo, rep_hi, item = parsed[0][1]
    if str(item[0][0]) not in ("IN", "LITERAL", "CATEGORY"):  # one character per repetition, or lengths differ
        return None
    unit_end = body.rfind("{") if body.endswith("}") else len(body) - 1
    unit = body[:unit_end] if body[-1] in "+*?}" else None
    if not unit:
        return None
    lo = max(lo, rep_lo)
    hi_r = None if rep_hi == sre_parse.MAXREPEAT else rep_hi
    hi = min(h for h in (hi, hi_r) if h is not None) if (hi is not None or hi_r is not None) else None
    if hi is not None and lo > hi:
        return None
    return f"(?:{unit}){{{lo},{'' if hi is None else hi}}}"


_META = set("\\.+*?()|[]{}^$#&-~")


def _escape(text: str) -> str:
    """Escape regex metacharacters only (Rust's regex rejects some escapes Python's re.escape makes)."""
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def schema_to_regex(schema: Any, strict: bool = True, whitespace: str = r"[ ]?") -> CompiledSchema:
    """Compile ``schema`` to a regex; see the module docstring for what is exact and what is reported."""
    from outlines_core.json_schema import build_regex_from_schema

    _check(schema)
    if schema is True or schema == {}:
        schema = {"type": "object"}  # any document is valid: generate objects
    if schema is False:
        raise UnsupportedSchemaError("the schema `false` accepts no document", ["/"])
    rewriter = _Rewriter(strict)
    rewritten = rewriter.visit(copy.deepcopy(schema), "")
    if rewriter.unsupported and strict:
        names = ", ".join(rewriter.unsupported)
        raise UnsupportedSchemaError(
            f"schema keywords that cannot be compiled exactly: {names} (JsonSchema(..., strict=False) enforces the "
            "rest and validates outputs with jsonschema)",
            rewriter.unsupported,
        )
    try:
        regex = build_regex_from_schema(json.dumps(rewritten), whitespace)
    except Exception as e:  # outlines-core raises its own error types for what it cannot compile
        raise UnsupportedSchemaError(f"outlines-core cannot compile this schema: {e}", [str(e)]) from None
    for key, pattern in rewriter.placeholders.items():
        quoted = re.escape(f'"{key}"') if f'"{key}"' not in regex else f'"{key}"'
        regex = regex.replace(quoted, f"({pattern})")
    return CompiledSchema(regex, tuple(rewriter.unsupported), schema)
