"""JSON Schema compiled to a byte automaton (:mod:`.byte_automata`), node by node, with automaton operations
where a regex has none: ``allOf`` is an intersection, ``anyOf`` a union, ``oneOf`` the strings of exactly one
branch, ``not`` a complement within JSON values, ``if``/``then``/``else`` ``(if & then) | (~if & else)``.

What a document looks like: the automaton spells each valid value one way: object members in one order for the
whole document (names by first appearance in it, named members first, other keys after them), JSON's own string
escapes, numbers as ``json`` writes integers and decimals, with the ``whitespace`` language (default: an optional
single space) at each structural place (after ``{``, ``[``, ``,``, ``:`` and before ``}``, ``]``, ``,``, ``:``).
So a value is reachable iff it is valid: the contract is on values, not on every way of writing them. One
caveat: a text may repeat a key that the schema leaves open (JSON parsers keep the last value); the value read
is still valid, except under a subtraction that the repeated key escapes, and output validation catches those.

Objects: ``properties``, ``required`` (names without a property schema take ``additionalProperties``),
``additionalProperties``, ``patternProperties`` (keys grouped by the patterns they match), ``propertyNames``,
``minProperties``/``maxProperties`` (a member counter), ``dependentRequired``/``dependentSchemas``/``dependencies``
(objects without the key, or with it and what it asks). Arrays: ``prefixItems``/``items``/``additionalItems``,
``minItems``/``maxItems``, ``contains`` with ``minContains``/``maxContains`` (a counter of the items that match),
``uniqueItems`` over finitely many scalar values (the set written so far). Numbers: bounds (exact decimal ranges),
whole ``multipleOf`` (a remainder automaton). Strings: lengths, ``pattern`` (ECMA-262), the formats of
:data:`FORMATS`. References inside the document, recursive ones unrolled ``ref_depth`` times.

A keyword a node cannot be compiled with exactly raises :class:`SchemaNotCompiled` naming the keyword and its
path. Values the schema leaves free (``{}``, ``true``, a missing ``items``) nest objects and arrays at most
``free_depth`` levels deep; deeper free values are left out and the path is recorded in
:attr:`SchemaAutomaton.narrowed` (a free value of any depth is not a regular language).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._byte_kernels import deepest_nesting
from .byte_automata import DEFAULT_BYTE_STATE_BUDGET, DFA, NFA, concat, repeat, union
from .formats import format_regex
from .number_ranges import integer_bounds, number_range_regex, read_bounds
from .pattern_automata import (
    _ALL,
    JSON_STRING,
    PatternNotCompiled,
    dialect_safe_content_dfa,
    dialect_sensitive,
    pattern_dfa,
)
from .ranges import integer_range_regex
from .schema_pieces import (
    SchemaNotCompiled,
    anchored,
    disjoint_branches,
    lit,
    names_in_order,
    nesting_at_most,
    shared_pieces,
    spelled,
    without,
)

__all__ = ["SchemaNotCompiled", "SchemaAutomaton", "schema_automaton"]

TYPES = ("null", "boolean", "object", "array", "number", "string")
#: uniqueItems: the most item values, and sets of them, compiled
_UNIQUE_DOMAIN = 16
_UNIQUE_STATES = 4096
#: patternProperties of one object compiled together (their key groups are the subsets), members counted
_PATTERN_GROUPS = 6
_MEMBER_COUNT = 64
#: keywords with no effect on validity
ANNOTATIONS = frozenset(
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$anchor", "contentMediaType", "contentEncoding", "$vocabulary", "$defs", "definitions",
    }
)  # fmt: skip
#: the keywords compiled here; any other keyword of the JSON Schema vocabularies is refused by name
COMPILED = frozenset(
    {
        "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
        "maxLength", "pattern", "format", "properties", "required", "additionalProperties", "items", "prefixItems",
        "additionalItems", "multipleOf",
        "minItems", "maxItems", "anyOf", "allOf", "oneOf", "not", "if", "then", "else", "$ref", "uniqueItems",
        "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
        "dependentSchemas", "dependencies", "contains", "minContains", "maxContains",
    }
)  # fmt: skip
FORMATS = frozenset({"date-time", "date", "time", "uuid", "email", "ipv4", "ipv6", "uri", "uri-reference"})
#: the formats JSON Schema defines (2020-12, and draft 4-7's names): asserted, so refused by name until compiled;
#: any other format is an annotation, as the specification says of unknown formats
DEFINED_FORMATS = frozenset(
    {
        "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
        "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer",
        "relative-json-pointer", "regex", "host-name", "ip-address", "color", "utc-millisec",
    }
)  # fmt: skip
_INTEGER = r"0|-?[1-9][0-9]*"


@dataclass(frozen=True)
class SchemaAutomaton:
    """The automaton of a schema's documents and what it leaves out (``narrowed``: paths of free values cut at
    ``free_depth``)."""

    dfa: DFA
    narrowed: tuple[str, ...]


@dataclass
class _Compiler:
    root: Any
    free_depth: int = 2
    budget: int = DEFAULT_BYTE_STATE_BUDGET
    ref_depth: int = 3
    whitespace: str = r"[ ]?"
    closed: bool = False
    narrowed: list[str] = field(default_factory=list)
    _refs: list[str] = field(default_factory=list)
    _validator: Any = None
    #: in ordered mode (see :meth:`minus`), the names every object spells at their rank, named by it or not
    order: frozenset[str] | None = None
    #: compiling a side to be subtracted: patterns must then cover what either regex dialect matches
    negative: bool = False
    #: nesting level of the value being compiled (0: the document), and, per depth-bound cut, the deepest level up
    #: to which what was cut is still whole (see :meth:`subtrahend`)
    level: int = 0
    cuts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        pieces = shared_pieces(self.whitespace, self.budget)  # shared by every compile with the same settings
        self.ws, self.content, self.canonical_number = pieces.ws, pieces.content, pieces.number
        self.objects, self.kinds, self._free = pieces.objects, pieces.kinds, pieces.free
        self.quote, self.colon, self.comma = lit('"'), lit(":"), lit(",")
        self.rank = names_in_order(self.root)  # one member order for every object of the document
        self._free_ordered: dict = {}
        self._combined: dict = {}  # see combined_once

    # -- pieces ------------------------------------------------------------------------------------------------

    def around(self, *parts: DFA) -> DFA:
        return concat(list(parts), self.budget)

    def string_of(self, content: DFA) -> DFA:
        return self.around(lit('"'), content, lit('"'))

    def key(self, name: str) -> DFA:
        return lit(json.dumps(name, ensure_ascii=False))

    def literal(self, value: Any) -> DFA:
        """The texts of one value: its canonical spelling with the optional spaces every value has."""
        if isinstance(value, dict):
            members = [(k, self.literal(v), True) for k, v in sorted(value.items(), key=lambda kv: self.ranked(kv[0]))]
            return self.object_members(members, [])
        if isinstance(value, list):
            return self.array_items([self.literal(v) for v in value], DFA.empty(), len(value), len(value))
        return lit(spelled(value))

    def ranked(self, name: str) -> tuple[int, str]:
        return (self.rank.get(name, len(self.rank)), name)

    def minus(self, left: list[tuple[Any, str]], right: list[tuple[Any, str]], path: str, what: str) -> DFA:
        """The values valid under every node of ``left`` and not under every node of ``right``.

        Values other than objects are written one way (up to the optional spaces, which both sides allow alike),
        so subtracting texts subtracts values. Objects are written with named members in one order for the
        whole document (:func:`names_in_order`) and other keys after them in any order; a key named on one
        side only would sit in its place there and among the others on the other side. So when both sides hold
        objects, they are compiled again in *ordered mode*: every object spells every name either side mentions
        at its place, named by it or not (valued by its ``additionalProperties``), and only keys outside those
        names are extra. Then each side spells a value in the same ways, and the text difference is exact."""
        a, b = self.subtrahend(self.conjunction(left), right, path)
        names = _names_under([n for n, _ in left + right], self)
        if self.order is not None:
            if names <= self.order:
                return a - b
            raise _MoreNames(names | self.order)
        if not any(
            not (a & kind & self.objects).is_empty() and not (b & kind & self.objects).is_empty() for kind in self.kinds
        ):
            return a - b
        while True:
            self.order = frozenset(names)
            try:
                a, b = self.subtrahend(self.conjunction(left), right, path)
                break
            except _MoreNames as more:
                names = more.names
            finally:
                self.order = None
        return a - b

    def subtrahend(self, a: DFA, right: list[tuple[Any, str]], path: str) -> tuple[DFA, DFA]:
        """``a``, and the values of ``right`` to take from it. Where ``right`` was cut at a depth bound (free values,
        recursion), it is exact only on texts nesting at most that deep (a free value starts at depth 0 or more, a
        recursion adds a level per turn): deeper texts of ``a`` are left out (recorded in ``narrowed``) rather than
        kept for want of their match in ``right``: the bounds may narrow what is generated, never let an invalid
        value through."""
        before, cuts_before = len(self.narrowed), len(self.cuts)
        self.negative = not self.negative
        try:
            b = self.conjunction(right)
        finally:
            self.negative = not self.negative
        if len(self.cuts) > cuts_before:
            exact_to = min(self.cuts[cuts_before:]) - self.level  # relative to the value compiled here
            del self.narrowed[before:], self.cuts[cuts_before:]  # what the subtracted side lacks is not lacking here
            if deepest_nesting(a.table) > exact_to:
                a = a & nesting_at_most(exact_to) if exact_to >= 0 else DFA.empty()
                self.narrowed.append(path)
                self.cuts.append(self.level + exact_to)
        return a, b

    def inner(self, nodes: list[tuple[Any, str]]) -> DFA:
        """The values of a member or an item: one level deeper than the value being compiled."""
        self.level += 1
        try:
            return self.conjunction(nodes)
        finally:
            self.level -= 1

    def free(self, depth: int) -> DFA:
        """Any JSON value nesting at most ``depth`` objects/arrays (in ordered mode, with its names in place; the
        names' ranks are the document's: those are kept for this compile only)."""
        names = tuple(sorted(self.order or (), key=self.ranked))
        cache = self._free if self.order is None else self._free_ordered
        if (depth, names) in cache:
            return cache[depth, names]
        scalars = union([lit("null"), lit("true"), lit("false"), self.canonical_number, self.string_of(self.content)])
        if depth == 0:
            cache[depth, names] = scalars
            return scalars
        inner = self.free(depth - 1)
        others = self.string_of(self.other_keys(list(names)))
        obj = self.object_members([(n, inner, False) for n in names], [(others, inner)])  # names in their places
        arr = self.array_items([], inner, 0, None)
        cache[depth, names] = union([scalars, obj, arr], self.budget)
        return cache[depth, names]

    # -- nodes -------------------------------------------------------------------------------------------------

    def value(self, node: Any, path: str) -> DFA:
        """The texts of the values valid under ``node``."""
        return self.conjunction([(node, path)])

    def conjunction(self, nodes: list[tuple[Any, str]]) -> DFA:
        """The values valid under every node (an ``allOf``), compiled together: objects and arrays are merged
        member by member, so each value keeps one spelling and nothing valid is lost to a member order."""
        pushed: list[str] = []
        try:
            flat = self.flatten(nodes, pushed)
            if flat is None:
                return DFA.empty()
            if not flat:
                self.narrowed.append(nodes[0][1] if nodes else "")  # cut at free_depth
                self.cuts.append(self.level + self.free_depth)
                return self.free(self.free_depth)
            return self.combined_once(flat)
        finally:
            for _ in pushed:
                self._refs.pop()

    def flatten(self, nodes: list[tuple[Any, str]], pushed: list[str]) -> list[tuple[dict, str]] | None:
        """The schema objects to satisfy together: ``allOf`` and ``$ref`` expanded, ``true`` dropped; None when
        one of them is ``false`` (or a reference recurses past ``ref_depth``)."""
        out: list[tuple[dict, str]] = []
        todo = list(nodes)
        while todo:
            node, path = todo.pop(0)
            if node is True:
                continue
            if node is False:
                return None
            if not isinstance(node, dict):
                raise SchemaNotCompiled(f"a schema must be an object or a boolean, got {type(node).__name__}", path)
            self.check_keywords(node, path)
            if "allOf" in node:
                todo += [(b, f"{path}/allOf/{i}") for i, b in enumerate(node["allOf"])]
            if "$ref" in node:
                ref = node["$ref"]
                if self._refs.count(ref) >= self.ref_depth:
                    self.narrowed.append(f"{path}/$ref")
                    self.cuts.append(self.level - 1)  # a value here is lost: texts reaching this level
                    return None
                self._refs.append(ref)
                pushed.append(ref)
                todo.append((self.resolve(ref, f"{path}/$ref"), f"{path}/$ref"))
            rest = {k: v for k, v in node.items() if k not in ("allOf", "$ref") and k not in ANNOTATIONS}
            if rest:
                out.append((rest, path))
        return out

    def check_keywords(self, node: dict, path: str) -> None:
        unknown = sorted(k for k in node if k not in COMPILED and k not in ANNOTATIONS and _is_keyword(k))
        if unknown:
            raise SchemaNotCompiled(f"keyword {unknown[0]!r} is not compiled", f"{path}/{unknown[0]}")
        fmt = node.get("format")
        if fmt in DEFINED_FORMATS and fmt not in FORMATS:
            raise SchemaNotCompiled(f"format {fmt!r} is not compiled", f"{path}/format")

    def combined_once(self, flat: list[tuple[dict, str]]) -> DFA:
        """:meth:`combined`, kept for a single node by its content, so that one object schema under two names (a
        start and an end point) is compiled once per document: the automaton is kept with what its compile
        recorded (narrowed paths relative to the node's path, cuts relative to the level), which a later use
        records again at its own path and level. The automaton does not depend on either; it does on the mode
        (ordered names, a subtracted side) and on the references being unrolled, which are part of the key."""
        if len(flat) != 1:
            return self.combined(flat)
        node, path = flat[0]
        try:
            key = (json.dumps(_without_prose(node)), self.order, self.negative, tuple(self._refs))
        except (TypeError, ValueError):
            return self.combined(flat)
        if key in self._combined:
            dfa, narrowed, cuts = self._combined[key]
            self.narrowed += [path + suffix for suffix in narrowed]
            self.cuts += [self.level + cut for cut in cuts]
            return dfa
        before, cuts_before = len(self.narrowed), len(self.cuts)
        dfa = self.combined(flat)
        added = self.narrowed[before:]
        if all(p.startswith(path) for p in added):
            cuts = [cut - self.level for cut in self.cuts[cuts_before:]]
            self._combined[key] = (dfa, [p[len(path) :] for p in added], cuts)
        return dfa

    def combined(self, flat: list[tuple[dict, str]]) -> DFA:
        """The conjunction of flat schema objects: branching keywords distributed over it, then the merge."""
        for i, (node, path) in enumerate(flat):
            for key in ("anyOf", "oneOf"):
                if key in node and (key == "anyOf" or disjoint_branches(node[key])):
                    # (rest & (b1 | b2)) = (rest & b1) | (rest & b2): each branch merged with the rest
                    rest = [*flat[:i], (without(node, key), path), *flat[i + 1 :]]
                    branches = [self.conjunction([*rest, (b, f"{path}/{key}/{j}")]) for j, b in enumerate(node[key])]
                    return union(branches, self.budget)
        for i, (node, path) in enumerate(flat):
            for key in ("dependentRequired", "dependentSchemas", "dependencies"):
                if node.get(key):
                    # "if the object has `name`, then ...": objects without it, or with it and what it asks
                    name, wants = next(iter(node[key].items()))
                    left = {k: v for k, v in node[key].items() if k != name}
                    rest = [*flat[:i], ({**without(node, key), **({key: left} if left else {})}, path), *flat[i + 1 :]]
                    needs = (
                        {"required": [name, *wants]}
                        if isinstance(wants, list)
                        else {"required": [name], "allOf": [wants]}
                    )
                    branches = [({"properties": {name: False}}, f"{path}/{key}"), (needs, f"{path}/{key}/{name}")]
                    return union([self.conjunction([*rest, b]) for b in branches], self.budget)
        for i, (node, path) in enumerate(flat):
            if "oneOf" in node:  # branches that may overlap: each minus the others
                rest = [*flat[:i], (without(node, "oneOf"), path), *flat[i + 1 :]]
                branches = node["oneOf"]
                out = []
                for j, b in enumerate(branches):
                    mine = [*rest, (b, f"{path}/oneOf/{j}")]
                    others = [o for k, o in enumerate(branches) if k != j]
                    out.append(
                        self.minus(mine, [({"anyOf": others}, f"{path}/oneOf")], f"{path}/oneOf", "oneOf")
                        if others
                        else self.conjunction(mine)
                    )
                return union(out, self.budget)
            if "not" in node:
                rest = [*flat[:i], (without(node, "not"), path), *flat[i + 1 :]]
                return self.minus(rest, [(node["not"], f"{path}/not")], f"{path}/not", "not")
            if "if" in node:
                rest = [*flat[:i], (without(node, "if", "then", "else"), path), *flat[i + 1 :]]
                yes = self.conjunction([*rest, (node["if"], f"{path}/if"), (node.get("then", True), f"{path}/then")])
                no = [*rest, (node.get("else", True), f"{path}/else")]
                return yes | self.minus(no, [(node["if"], f"{path}/if")], f"{path}/if", "if/else")
        return self.base(flat)

    def resolve(self, ref: Any, path: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaNotCompiled(f"only references inside the document are compiled, got {ref!r}", path)
        if len(ref) > 1 and not ref.startswith("#/"):  # a plain-name fragment: the schema with that anchor
            found = anchored(self.root, ref[1:])
            if found is None:
                raise SchemaNotCompiled(f"reference {ref!r} names no $anchor", path)
            return found
        target = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                target = target[int(part)] if isinstance(target, list) else target[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise SchemaNotCompiled(f"reference {ref!r} points nowhere", path) from None
        return target

    def base(self, flat: list[tuple[dict, str]]) -> DFA:
        """The values of the types every node allows, each type under every node's keywords for it."""
        listed = [
            node["enum"] if "enum" in node else [node["const"]] for node, _ in flat if "enum" in node or "const" in node
        ]
        if listed:  # finitely many values: those valid under every node (jsonschema judges), spelled out
            kept = {spelled(v): v for v in listed[0] if all(self.valid(v, node, where) for node, where in flat)}
            return union([self.literal(v) for v in kept.values()], self.budget) if kept else DFA.empty()
        types = set(TYPES) | {"integer"}
        for node, _ in flat:
            if "type" in node:
                named = {node["type"]} if isinstance(node["type"], str) else set(node["type"])
                if "number" in named:
                    named.add("integer")
                types &= named
        if "number" in types:
            types.discard("integer")
        path = flat[0][1]
        parts = [self.typed(t, flat, path) for t in TYPES + ("integer",) if t in types]
        return union(parts, self.budget) if parts else DFA.empty()

    def valid(self, value: Any, node: dict, path: str) -> bool:
        """Whether ``value`` is valid under ``node``, a part of the root schema (references resolve in it)."""
        if self._validator is None:
            import jsonschema

            cls = jsonschema.validators.validator_for(self.root, default=jsonschema.Draft202012Validator)
            self._validator = cls(self.root, format_checker=cls.FORMAT_CHECKER)
        try:
            return bool(self._validator.evolve(schema=node).is_valid(value))
        except Exception as e:  # noqa: BLE001 - a reference jsonschema cannot resolve, a number it cannot judge
            raise SchemaNotCompiled(f"jsonschema cannot judge the listed value {value!r}: {e}", path) from None

    def typed(self, kind: str, flat: list[tuple[dict, str]], path: str) -> DFA:
        if kind == "null":
            return lit("null")
        if kind == "boolean":
            return lit("true") | lit("false")
        if kind == "object":
            return self.object([n for n, _ in flat], path)
        if kind == "array":
            return self.array([n for n, _ in flat], path)
        out = None
        for node, where in flat:
            part = self.number(kind, node, where) if kind in ("integer", "number") else self.string(node, where)
            out = part if out is None else out & part
        return out

    def number(self, kind: str, node: dict, path: str) -> DFA:
        out = self.bounded(kind, node)
        if "multipleOf" in node:
            out = out & self.multiples(node["multipleOf"], f"{path}/multipleOf")
        return out

    def bounded(self, kind: str, node: dict) -> DFA:
        lo, hi = read_bounds(node)
        if lo is None and hi is None:
            return pattern_dfa(_INTEGER, search=False) if kind == "integer" else self.canonical_number
        try:
            if kind == "integer":
                regex = integer_range_regex(*integer_bounds(lo, hi))
            else:
                regex = number_range_regex(lo, hi)
        except ValueError:  # no number in range
            return DFA.empty()
        return pattern_dfa(regex, search=False, budget=self.budget) & self.canonical_number

    def multiples(self, step: Any, path: str) -> DFA:
        """The integers divisible by a whole ``step``, as a remainder automaton over their decimal digits (a
        multiple of a whole number is an integer, which the canonical spelling writes without a fraction)."""
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step != int(step) or step < 1:
            raise SchemaNotCompiled(f"multipleOf {step!r}: only whole steps are compiled", path)
        k = int(step)
        if k + 3 > self.budget:
            raise SchemaNotCompiled(f"multipleOf {k} needs {k} states, past the budget of {self.budget:,}", path)
        table = np.full((k + 3, 256), -1, dtype=np.int32)  # 0 start, 1 after "-", 2 the integer 0, 3 + r
        table[0, ord("-")] = 1
        table[0, ord("0")] = 2
        for d in range(1, 10):
            table[0, ord("0") + d] = table[1, ord("0") + d] = 3 + d % k
        for r in range(k):
            for d in range(10):
                table[3 + r, ord("0") + d] = 3 + (10 * r + d) % k
        accept = np.zeros(k + 3, dtype=bool)
        accept[2] = accept[3] = True
        return DFA(table, accept).minimized()

    @property
    def safe_keys(self) -> DFA:
        """String contents on whose characters ECMA-262 and Python's re read every pattern alike."""
        return _safe_contents(self.budget)

    def string(self, node: dict, path: str) -> DFA:
        content = self.content
        lo, hi = node.get("minLength", 0), node.get("maxLength")
        if lo or hi is not None:
            nfa = NFA()
            s, t = nfa.state(), nfa.state()
            JSON_STRING(nfa, s, _ALL, t)
            one = nfa.determinize(s, [t], self.budget)
            content = content & repeat(one, int(lo), None if hi is None else int(hi), self.budget)
        if "pattern" in node:
            try:
                matching = pattern_dfa(node["pattern"], JSON_STRING, budget=self.budget)
            except PatternNotCompiled as e:
                raise SchemaNotCompiled(str(e), f"{path}/pattern") from None
            if self.negative and dialect_sensitive(node["pattern"]):
                # to be subtracted: every text either dialect could match (they agree on the safe characters)
                matching = matching | (self.content - self.safe_keys)
            content = content & matching
        text = self.string_of(content)
        fmt = node.get("format")
        if fmt in FORMATS:
            text = text & pattern_dfa(format_regex(fmt), search=False, budget=self.budget)
        return text

    def object(self, nodes: list[dict], path: str) -> DFA:
        """Objects valid under every node. A name's value is under every node's schema for it: its property and
        the ``patternProperties`` its name matches, else that node's ``additionalProperties``. Keys no node names
        are grouped by the patterns they match, each group with its values' schema; ``propertyNames`` limits every
        key, ``minProperties``/``maxProperties`` count the members, ``required`` names must be written."""
        named = {n for node in nodes for n in node.get("properties", {})}
        named |= {n for node in nodes for n in node.get("required", [])}
        names = sorted(named | (self.order or set()), key=self.ranked)
        patterns = [  # (pattern, its key contents, its value schema, the node it is from)
            (pattern, self.key_pattern(pattern, f"{path}/patternProperties/{pattern}"), sub, k)
            for k, node in enumerate(nodes)
            for pattern, sub in node.get("patternProperties", {}).items()
        ]
        where = f"{path}/patternProperties"
        sensitive = [p for node in nodes for p in node.get("patternProperties", {}) if dialect_sensitive(p)]
        if sensitive and self.negative:
            raise SchemaNotCompiled(
                f"patternProperties {sensitive[0]!r} reads differently in ECMA-262 and Python's re (jsonschema's), "
                "and is subtracted here",
                f"{path}/patternProperties",
            )
        if len(patterns) > _PATTERN_GROUPS:
            raise SchemaNotCompiled(f"more than {_PATTERN_GROUPS} patternProperties are not compiled", path)
        key_schemas = [(node["propertyNames"], f"{path}/propertyNames") for node in nodes if "propertyNames" in node]
        members = []
        for name in names:
            # a name the nodes do not mention (ordered mode) is an extra key in its place: closed objects refuse it
            default = True if name in named else not self.closed
            content = json.dumps(name, ensure_ascii=False)[1:-1].encode()
            matched = {}
            for pattern, dfa, sub, k in patterns:
                hit = dfa.accepts(content)
                if pattern in sensitive and _python_search(pattern, name) != hit:
                    raise SchemaNotCompiled(
                        f"the name {name!r} matches {pattern!r} in one of ECMA-262 and Python's re only", where
                    )
                if hit:
                    matched[k, id(sub)] = (sub, where)
            subs = list(matched.values())
            for k, node in enumerate(nodes):
                if name in node.get("properties", {}):
                    subs.append((node["properties"][name], f"{path}/properties/{name}"))
                elif not any(key[0] == k for key in matched):
                    subs.append((node.get("additionalProperties", default), f"{path}/additionalProperties"))
            allowed = all(self.valid(name, sub, where) for sub, where in key_schemas)
            value = self.inner(subs) if allowed else DFA.empty()
            needed = any(name in node.get("required", []) for node in nodes)
            if needed or not value.is_empty():
                members.append((name, value, needed))
        extras = self.extra_members(nodes, names, patterns, key_schemas, path, bool(sensitive))
        lo = max((int(node.get("minProperties", 0)) for node in nodes), default=0)
        caps = [int(node["maxProperties"]) for node in nodes if "maxProperties" in node]
        if extras and lo > max(1, sum(needed for _, _, needed in members)):
            # other keys would be counted as written, and a text may repeat one (JSON keeps the last): too few
            raise SchemaNotCompiled(
                f"minProperties {lo} over an object that takes keys it does not name is not compiled (a repeated "
                "key would count twice)",
                f"{path}/minProperties",
            )
        return self.object_members(members, extras, lo, min(caps) if caps else None, path)

    def key_pattern(self, pattern: str, path: str) -> DFA:
        """String contents (as JSON escapes them) of the keys ``pattern`` matches (a search, as JSON Schema says)."""
        try:
            return pattern_dfa(pattern, JSON_STRING, budget=self.budget)
        except PatternNotCompiled as e:
            raise SchemaNotCompiled(str(e), path) from None

    def extra_members(self, nodes, names, patterns, key_schemas, path, sensitive: bool) -> list[tuple[DFA, DFA]]:
        """(key texts, value texts) of the keys not in ``names``, one pair per set of patterns they match. Where a
        pattern may read differently in ECMA-262 and Python's re (``sensitive``), only keys of the characters on
        which they agree are written, so that the patterns a key matches are the same for jsonschema."""
        others = self.other_keys(names)
        if sensitive:
            others = others & self.safe_keys
        out = []
        for picked in range(1 << len(patterns)):
            keys = others
            for bit, (_, dfa, _, _) in enumerate(patterns):
                keys = keys & dfa if picked >> bit & 1 else keys - dfa
                if keys.is_empty():
                    break
            if keys.is_empty():
                continue
            subs = []
            for k, node in enumerate(nodes):
                mine = [
                    (sub, f"{path}/patternProperties")
                    for bit, (_, _, sub, j) in enumerate(patterns)
                    if j == k and picked >> bit & 1
                ]
                # closed: objects that do not say so take no keys they do not name
                subs += mine or [(node.get("additionalProperties", not self.closed), f"{path}/additionalProperties")]
            value = self.inner(subs)
            if value.is_empty():
                continue
            key_texts = self.string_of(keys)
            for sub, where in key_schemas:
                key_texts = key_texts & self.value(sub, where)
            if not key_texts.is_empty():
                out.append((key_texts, value))
        return out

    def other_keys(self, names: list[str]) -> DFA:
        """String contents of the keys not in ``names``."""
        taken = [DFA.literal(json.dumps(n, ensure_ascii=False)[1:-1].encode()) for n in names]
        return self.content - union(taken, self.budget) if taken else self.content

    def object_members(
        self, members, extras: list[tuple[DFA, DFA]], lo: int = 0, hi: int | None = None, path: str = ""
    ) -> DFA:
        """``{`` the named members in order (optional ones may be left out), then any number of members from
        ``extras`` (key texts, value texts), ``lo`` to ``hi`` members in all, ``}``. The states count the members
        written, up to ``hi`` (or up to ``lo``, past which more are all alike, and at least 1)."""
        cap = hi if hi is not None else max(lo, 1)  # at least "none yet" and "some": the comma depends on it
        if not extras:
            cap = min(cap, len(members))  # no more members than the named ones can be written
            if lo > len(members):
                return DFA.empty()
        if cap > _MEMBER_COUNT:
            raise SchemaNotCompiled(f"counting more than {_MEMBER_COUNT} members is not compiled", path)

        def after(c: int) -> int | None:  # the count after one more member; None past hi
            if hi is not None and c + 1 > hi:
                return None
            return min(c + 1, cap)

        nfa = NFA()
        ws = self.ws
        start, end = nfa.state(), nfa.state()
        cur = [nfa.state() for _ in range(cap + 1)]
        s, fs = nfa.add_chain([lit("{"), ws])
        nfa.add_empty(start, s)
        for q in fs:
            nfa.add_empty(q, cur[0])
        separator = [ws, self.comma, ws]

        def attach(sources: list[int], member: list[DFA], targets: list[int]) -> None:
            """From each count state through one more member to its next count state: one copy of the member per
            count it leads to (the first member has no comma before it)."""
            shared: dict[int, int] = {}
            for c in range(cap + 1):
                d = after(c)
                if d is None:
                    continue
                if d not in shared:
                    shared[d], fs = nfa.add_chain(member)
                    for q in fs:
                        nfa.add_empty(q, targets[d])
                if c:
                    s, fs = nfa.add_chain(separator)
                    nfa.add_empty(sources[c], s)
                    for q in fs:
                        nfa.add_empty(q, shared[d])
                else:
                    nfa.add_empty(sources[c], shared[d])

        for name, value, needed in members:
            nxt = [nfa.state() for _ in range(cap + 1)]
            if not needed:
                for c in range(cap + 1):
                    nfa.add_empty(cur[c], nxt[c])
            attach(cur, [self.key(name), ws, self.colon, ws, value], nxt)
            cur = nxt
        for keys, value in extras:
            attach(cur, [keys, ws, self.colon, ws, value], cur)
        for c in range(lo, cap + 1):
            s, fs = nfa.add_chain([ws, lit("}")])
            nfa.add_empty(cur[c], s)
            for q in fs:
                nfa.add_empty(q, end)
        return nfa.determinize(start, [end], self.budget)

    def array(self, nodes: list[dict], path: str) -> DFA:
        """Arrays valid under every node: each position under every node's schema for it."""
        shapes = []
        for node in nodes:
            prefix, items = node.get("prefixItems", []), node.get("items", True)
            if isinstance(items, list):  # draft 2019 and before: items as a list is prefixItems
                prefix, items = items, node.get("additionalItems", True)
            shapes.append((prefix, items))
        longest = max(len(p) for p, _ in shapes)
        first_nodes = [
            [(p[j] if j < len(p) else items, f"{path}/items/{j}") for p, items in shapes] for j in range(longest)
        ]
        rest_nodes = [(items, f"{path}/items") for _, items in shapes]
        lo = max(int(node.get("minItems", 0)) for node in nodes)
        caps = [int(node["maxItems"]) for node in nodes if "maxItems" in node]
        hi = min(caps) if caps else None
        containing = [node for node in nodes if "contains" in node]
        unique = any(node.get("uniqueItems") is True for node in nodes) and (hi is None or hi > 1)
        if containing:
            if len(containing) > 1 or unique:
                raise SchemaNotCompiled("contains is compiled once per array, without uniqueItems", f"{path}/contains")
            node = containing[0]
            cmin = int(node.get("minContains", 1))
            cmax = int(node["maxContains"]) if "maxContains" in node else None
            if max(cmin, cmax or 0) > _MEMBER_COUNT:
                raise SchemaNotCompiled(f"counting more than {_MEMBER_COUNT} items is not compiled", f"{path}/contains")
            wanted = [(node["contains"], f"{path}/contains")]

            def split(at: list[tuple[Any, str]]) -> list[tuple[DFA, int]]:  # items that count, and the others
                self.level += 1
                try:
                    return [
                        (self.conjunction([*at, *wanted]), 1),
                        (self.minus(at, wanted, f"{path}/contains", "contains"), 0),
                    ]
                finally:
                    self.level -= 1

            return self.array_items([split(at) for at in first_nodes], split(rest_nodes), lo, hi, (cmin, cmax))
        firsts = [self.inner(at) for at in first_nodes]
        rest = self.inner(rest_nodes)
        if unique:
            return self.unique_items(firsts, rest, lo, hi, f"{path}/uniqueItems")
        return self.array_items(firsts, rest, lo, hi)

    def unique_items(self, firsts: list[DFA], rest: DFA, lo: int, hi: int | None, path: str) -> DFA:
        """Arrays of distinct items, where every position allows finitely many scalars (enums, booleans, null):
        a scalar has one spelling, so distinct texts are distinct values, and the automaton's state is the set of
        items written so far (their number is its size). Other item domains are refused by name."""
        choices = [f.texts(_UNIQUE_DOMAIN) for f in [*firsts, rest]]
        if any(c is None for c in choices) or any(t[:1] in (b"{", b"[") for c in choices for t in c):
            raise SchemaNotCompiled(
                f"uniqueItems is compiled only over at most {_UNIQUE_DOMAIN} scalar values (enums, booleans, null)",
                path,
            )
        domain = sorted({t for c in choices for t in c})
        index = {t: k for k, t in enumerate(domain)}
        top = len(domain) if hi is None else min(hi, len(domain))
        nfa = NFA()
        start, end = nfa.state(), nfa.state()
        seen = {0: nfa.state()}
        s, fs = nfa.add_chain([lit("["), self.ws])
        nfa.add_empty(start, s)
        for q in fs:
            nfa.add_empty(q, seen[0])
        todo = [0]
        while todo:
            used = todo.pop()
            count = used.bit_count()
            if len(seen) > _UNIQUE_STATES:
                raise SchemaNotCompiled(f"uniqueItems needs more than {_UNIQUE_STATES:,} sets of items", path)
            if count >= lo:
                s, fs = nfa.add_chain([self.ws, lit("]")])
                nfa.add_empty(seen[used], s)
                for q in fs:
                    nfa.add_empty(q, end)
            if count >= top:
                continue
            for text in choices[min(count, len(firsts))]:
                bit = 1 << index[text]
                if used & bit:
                    continue
                nxt = used | bit
                if nxt not in seen:
                    seen[nxt] = nfa.state()
                    todo.append(nxt)
                item = DFA.literal(text)
                s, fs = nfa.add_chain([self.ws, self.comma, self.ws, item] if count else [item])
                nfa.add_empty(seen[used], s)
                for q in fs:
                    nfa.add_empty(q, seen[nxt])
        return nfa.determinize(start, [end], self.budget)

    def array_items(self, firsts, rest, lo: int, hi: int | None, counted: tuple[int, int | None] = (0, 0)) -> DFA:
        """``[`` the ``firsts`` in order, then items of ``rest``, ``lo`` to ``hi`` items in all, ``]``.

        A position is a DFA, or alternatives ``[(DFA, 1 or 0), ...]``: items that count (``contains``) or not;
        ``counted`` = (least, most or None) items that count. States: (position, count so far), where the
        positions past the last one that matters (the first items, ``lo``) are one loop."""
        ws = self.ws
        sep = [ws, self.comma, ws]
        cmin, cmax = counted
        ccap = cmax if cmax is not None else cmin
        bounded = max(len(firsts), lo)
        last = hi if hi is not None else bounded + 1  # bounded + 1: the loop, at least one item written

        def alternatives(pos: int) -> list[tuple[DFA, int]]:
            item = firsts[pos] if pos < len(firsts) else rest
            return [(item, 0)] if isinstance(item, DFA) else item

        nfa = NFA()
        start, end = nfa.state(), nfa.state()
        states = {(0, 0): nfa.state()}
        s, fs = nfa.add_chain([lit("["), ws])
        nfa.add_empty(start, s)
        for q in fs:
            nfa.add_empty(q, states[0, 0])
        todo = [(0, 0)]
        while todo:
            pos, c = todo.pop()
            here = states[pos, c]
            if pos >= lo and c >= cmin:
                s, fs = nfa.add_chain([ws, lit("]")])
                nfa.add_empty(here, s)
                for q in fs:
                    nfa.add_empty(q, end)
            if hi is not None and pos >= hi:
                continue
            nxt = min(pos + 1, last)
            for item, inc in alternatives(min(pos, bounded)):
                d = c + inc
                if (cmax is not None and d > cmax) or item.is_empty():
                    continue
                d = min(d, ccap)
                if (nxt, d) not in states:
                    states[nxt, d] = nfa.state()
                    todo.append((nxt, d))
                s, fs = nfa.add_chain([*sep, item] if pos else [item])
                nfa.add_empty(here, s)
                for q in fs:
                    nfa.add_empty(q, states[nxt, d])
        return nfa.determinize(start, [end], self.budget)


@functools.lru_cache(maxsize=4)
def _safe_contents(budget: int) -> DFA:
    return dialect_safe_content_dfa(budget)


def _python_search(pattern: str, text: str) -> bool:
    """How jsonschema reads ``pattern`` on ``text`` (Python's ``re.search``)."""
    import re

    return re.search(pattern, text) is not None


class _MoreNames(Exception):
    """Raised in ordered mode by a subtraction whose sides mention names the mode does not place: the outermost
    subtraction starts again with them."""

    def __init__(self, names: frozenset[str]) -> None:
        super().__init__(sorted(names))
        self.names = names


def _names_under(nodes: list[Any], compiler: _Compiler) -> frozenset[str]:
    """The names mentioned anywhere under ``nodes``, references followed."""
    return frozenset(names_in_order(nodes, compiler.resolve))


#: keywords whose values are data, not schemas: nothing inside them is prose to leave out
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def _without_prose(value: Any) -> Any:
    """A schema without its text annotations (``title``, ``description``, ``$comment`` holding a string) at any
    depth, data keywords left whole: two schemas that differ only in what they say about themselves map to the
    same value. (A property *named* ``description`` has a schema, never a string, so it stays.)"""
    if isinstance(value, dict):
        return {
            k: v if k in _DATA_KEYWORDS else _without_prose(v)
            for k, v in value.items()
            if not (k in ("title", "description", "$comment") and isinstance(v, str))
        }
    if isinstance(value, list):
        return [_without_prose(v) for v in value]
    return value


def _is_keyword(key: str) -> bool:
    from .json_schema import VOCABULARY

    return key in VOCABULARY


def schema_automaton(
    schema: Any,
    free_depth: int = 2,
    budget: int = DEFAULT_BYTE_STATE_BUDGET,
    ref_depth: int = 3,
    whitespace: str = r"[ ]?",
    closed: bool = False,
) -> SchemaAutomaton:
    """The byte automaton of ``schema``'s documents (see the module docstring); an invalid schema raises
    :class:`~ctrlgen.constraints.InvalidSchemaError` with ``jsonschema``'s message.

    ``whitespace`` is what may stand at each structural place; ``closed`` reads every object schema that does not
    give ``additionalProperties`` as ``additionalProperties: false`` (keys named by ``properties`` or ``required``
    stay allowed): a stated narrowing the caller asks for, for models that would otherwise invent keys."""
    from .json_schema import _check

    _check(schema)
    compiler = _Compiler(schema, free_depth, budget, ref_depth, whitespace, closed)
    dfa = compiler.value(schema, "")
    return SchemaAutomaton(dfa, tuple(dict.fromkeys(compiler.narrowed)))
