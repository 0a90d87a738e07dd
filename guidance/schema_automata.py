"""JSON Schema compiled to a byte automaton (:mod:`.byte_automata`), node by node, with automaton operations
where a regex has none: ``allOf`` is an intersection, ``anyOf`` a union, ``oneOf`` the strings of exactly one
branch, ``not`` a complement within JSON values, ``if``/``then``/``else`` ``(if & then) | (~if & else)``.

What a document looks like: the automaton spells each valid value one way (object members in the schema's
order, named properties first, other keys after them; JSON's own string escapes; numbers as ``json`` writes
integers and decimals) with an optional single space at each structural place (after ``{``, ``[``, ``,``,
``:`` and before ``}``, ``]``, ``,``, ``:``). So a value is reachable iff it is valid: the contract is on values,
not on every way of writing them.

A keyword a node cannot be compiled with exactly raises :class:`SchemaNotCompiled` naming the keyword and its
path. Values the schema leaves free (``{}``, ``true``, a missing ``items``) nest objects and arrays at most
``free_depth`` levels deep; deeper free values are left out and the path is recorded in
:attr:`SchemaAutomaton.narrowed` (a free value of any depth is not a regular language).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .byte_automata import DEFAULT_BYTE_STATE_BUDGET, DFA, NFA, concat, repeat, union
from .formats import format_regex
from .number_ranges import integer_bounds, number_range_regex, read_bounds
from .pattern_automata import _ALL, JSON_STRING, PatternNotCompiled, pattern_dfa, string_content_dfa
from .ranges import integer_range_regex

__all__ = ["SchemaNotCompiled", "SchemaAutomaton", "schema_automaton"]

TYPES = ("null", "boolean", "object", "array", "number", "string")
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
        "minItems", "maxItems", "anyOf", "allOf", "oneOf", "not", "if", "then", "else", "$ref",
    }
)  # fmt: skip
FORMATS = frozenset({"date-time", "date", "time", "uuid", "email"})
#: the formats JSON Schema defines (2020-12, and draft 4-7's names): asserted, so refused by name until compiled;
#: any other format is an annotation, as the specification says of unknown formats
DEFINED_FORMATS = frozenset(
    {
        "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
        "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer",
        "relative-json-pointer", "regex", "host-name", "ip-address", "color", "utc-millisec",
    }
)  # fmt: skip
#: every number value written one way: no exponent, no trailing zero in the fraction, no fraction on an integral
#: value, no ``-0`` (so that set operations on texts are set operations on values)
_NUMBER = r"(?:0|-?[1-9][0-9]*)(?:\.[0-9]*[1-9])?|-0\.[0-9]*[1-9]"
_INTEGER = r"0|-?[1-9][0-9]*"


class SchemaNotCompiled(ValueError):
    """A schema keyword this compiler cannot turn into an automaton exactly; ``path`` names where."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path or "/"


@dataclass(frozen=True)
class SchemaAutomaton:
    """The automaton of a schema's documents and what it leaves out (``narrowed``: paths of free values cut at
    ``free_depth``)."""

    dfa: DFA
    narrowed: tuple[str, ...]


def _lit(text: str) -> DFA:
    return DFA.literal(text.encode("utf-8"))


@dataclass
class _Compiler:
    root: Any
    free_depth: int = 2
    budget: int = DEFAULT_BYTE_STATE_BUDGET
    ref_depth: int = 3
    narrowed: list[str] = field(default_factory=list)
    _refs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ws = DFA.literal(b"") | DFA.literal(b" ")
        self.content = string_content_dfa(self.budget)
        self._free: dict[int, DFA] = {}
        self.canonical_number = pattern_dfa(_NUMBER, search=False, budget=self.budget)
        self.objects = _object_texts(self.budget)
        rest = NFA()
        r = rest.state()
        rest.add(r, 0, 255, r)
        tail = rest.determinize(r, [r], self.budget)  # every byte string
        self.kinds = (concat([_lit("{"), tail]), concat([_lit("["), tail]))  # objects, arrays

    # -- pieces ------------------------------------------------------------------------------------------------

    def around(self, *parts: DFA) -> DFA:
        return concat(list(parts), self.budget)

    def string_of(self, content: DFA) -> DFA:
        return self.around(_lit('"'), content, _lit('"'))

    def key(self, name: str) -> DFA:
        return _lit(json.dumps(name, ensure_ascii=False))

    def literal(self, value: Any) -> DFA:
        """The texts of one value: its canonical spelling with the optional spaces every value has."""
        if isinstance(value, dict):
            members = [(k, self.literal(v), True) for k, v in value.items()]
            return self.object_members(members, None, None)
        if isinstance(value, list):
            return self.array_items([self.literal(v) for v in value], DFA.empty(), len(value), len(value))
        return _lit(_spelled(value))

    def minus(self, a: DFA, b: DFA, path: str, what: str) -> DFA:
        """``a - b`` on values. Values other than objects are written one way (up to the optional spaces, which
        both sides allow alike), so subtracting texts subtracts values; an object's members may come in another
        order on each side, so when both sides hold objects (at any depth) a text of ``a`` could be a value of
        ``b`` written differently: refused, unless (for objects, and for arrays holding objects, apart) no such
        text of ``a`` is left or ``b`` has none of that kind."""
        for kind in self.kinds:
            left = (a & kind & self.objects) - b
            if not left.is_empty() and not (b & kind & self.objects).is_empty():
                raise SchemaNotCompiled(f"{what} over objects is not compiled exactly (their members' order)", path)
        return a - b

    def free(self, depth: int, path: str) -> DFA:
        """Any JSON value nesting at most ``depth`` objects/arrays."""
        if depth in self._free:
            if depth == 0:
                self.narrowed.append(path)
            return self._free[depth]
        scalars = union(
            [_lit("null"), _lit("true"), _lit("false"), self.canonical_number, self.string_of(self.content)]
        )
        if depth == 0:
            self.narrowed.append(path)
            self._free[0] = scalars
            return scalars
        inner = self.free(depth - 1, path)
        obj = self.object_members([], self.content, inner)
        arr = self.array_items([], inner, 0, None)
        self._free[depth] = union([scalars, obj, arr], self.budget)
        return self._free[depth]

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
                return self.free(self.free_depth, nodes[0][1] if nodes else "")
            return self.combined(flat)
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
        unknown = [k for k in unknown if not (k == "uniqueItems" and node[k] is False)]
        if unknown:
            raise SchemaNotCompiled(f"keyword {unknown[0]!r} is not compiled", f"{path}/{unknown[0]}")
        fmt = node.get("format")
        if fmt in DEFINED_FORMATS and fmt not in FORMATS:
            raise SchemaNotCompiled(f"format {fmt!r} is not compiled", f"{path}/format")

    def combined(self, flat: list[tuple[dict, str]]) -> DFA:
        """The conjunction of flat schema objects: branching keywords distributed over it, then the merge."""
        for i, (node, path) in enumerate(flat):
            for key in ("anyOf", "oneOf"):
                if key in node and (key == "anyOf" or _disjoint_branches(node[key])):
                    # (rest & (b1 | b2)) = (rest & b1) | (rest & b2): each branch merged with the rest
                    rest = [*flat[:i], (_without(node, key), path), *flat[i + 1 :]]
                    branches = [self.conjunction([*rest, (b, f"{path}/{key}/{j}")]) for j, b in enumerate(node[key])]
                    return union(branches, self.budget)
        for i, (node, path) in enumerate(flat):
            if "oneOf" in node:  # branches that may overlap: each minus the others
                rest = [*flat[:i], (_without(node, "oneOf"), path), *flat[i + 1 :]]
                branches = node["oneOf"]
                out = []
                for j, b in enumerate(branches):
                    mine = self.conjunction([*rest, (b, f"{path}/oneOf/{j}")])
                    others = [self.value(o, f"{path}/oneOf/{k}") for k, o in enumerate(branches) if k != j]
                    out.append(
                        self.minus(mine, union(others, self.budget), f"{path}/oneOf", "oneOf") if others else mine
                    )
                return union(out, self.budget)
            if "not" in node:
                rest = [*flat[:i], (_without(node, "not"), path), *flat[i + 1 :]]
                return self.minus(self.conjunction(rest), self.value(node["not"], f"{path}/not"), f"{path}/not", "not")
            if "if" in node:
                rest = [*flat[:i], (_without(node, "if", "then", "else"), path), *flat[i + 1 :]]
                yes = self.conjunction([*rest, (node["if"], f"{path}/if"), (node.get("then", True), f"{path}/then")])
                no = self.conjunction([*rest, (node.get("else", True), f"{path}/else")])
                cond = self.value(node["if"], f"{path}/if")
                return yes | self.minus(no, cond, f"{path}/if", "if/else")
        return self.base(flat)

    def resolve(self, ref: Any, path: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaNotCompiled(f"only references inside the document are compiled, got {ref!r}", path)
        if len(ref) > 1 and not ref.startswith("#/"):  # a plain-name fragment: the schema with that anchor
            found = _anchored(self.root, ref[1:])
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
        out = union(parts, self.budget) if parts else DFA.empty()
        for node, _ in flat:
            if "enum" in node or "const" in node:
                values = node["enum"] if "enum" in node else [node["const"]]
                out = out & union([self.literal(v) for v in values], self.budget)
        return out

    def typed(self, kind: str, flat: list[tuple[dict, str]], path: str) -> DFA:
        if kind == "null":
            return _lit("null")
        if kind == "boolean":
            return _lit("true") | _lit("false")
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
                content = content & pattern_dfa(node["pattern"], JSON_STRING, budget=self.budget)
            except PatternNotCompiled as e:
                raise SchemaNotCompiled(str(e), f"{path}/pattern") from None
        text = self.string_of(content)
        fmt = node.get("format")
        if fmt in FORMATS:
            text = text & pattern_dfa(format_regex(fmt), search=False, budget=self.budget)
        return text

    def object(self, nodes: list[dict], path: str) -> DFA:
        """Objects valid under every node: each name's value under every node's schema for it (its property,
        else its ``additionalProperties``), required by any, other keys under every ``additionalProperties``."""
        names: list[str] = []
        for node in nodes:
            names += [n for n in node.get("properties", {}) if n not in names]
        for node in nodes:
            names += [n for n in node.get("required", []) if n not in names]
        members = []
        for name in names:
            subs = [
                (node["properties"][name], f"{path}/properties/{name}")
                if name in node.get("properties", {})
                else (node.get("additionalProperties", True), f"{path}/additionalProperties")
                for node in nodes
            ]
            members.append((name, self.conjunction(subs), any(name in node.get("required", []) for node in nodes)))
        extra = self.conjunction(
            [(node.get("additionalProperties", True), f"{path}/additionalProperties") for node in nodes]
        )
        if extra.is_empty():
            return self.object_members(members, None, None)
        taken = [DFA.literal(json.dumps(n, ensure_ascii=False)[1:-1].encode()) for n in names]
        others = self.content - union(taken, self.budget) if taken else self.content
        return self.object_members(members, others, extra)

    def object_members(self, members, extra_keys: DFA | None, extra_value: DFA | None) -> DFA:
        """``{`` the named members in order (optional ones may be left out), then any number of other keys from
        ``extra_keys`` with values ``extra_value``, ``}``."""
        nfa = NFA()
        ws = self.ws
        start = nfa.state()
        open_end = nfa.state()
        nfa.add_bytes(start, b"{", open_end)
        s, f = nfa.add_dfa(ws)
        nfa.add_empty(open_end, s)
        # states: (member index, whether a member was written)
        cur = {False: nfa.state(), True: nfa.state()}
        for q in f:
            nfa.add_empty(q, cur[False])
        for name, value, needed in members:
            nxt = {False: nfa.state(), True: nfa.state()}
            if not needed:
                nfa.add_empty(cur[False], nxt[False])
                nfa.add_empty(cur[True], nxt[True])
            member = self.around(self.key(name), ws, _lit(":"), ws, value)
            first = self.around(member)
            later = self.around(ws, _lit(","), ws, member)
            for written, piece in ((False, first), (True, later)):
                s, fs = nfa.add_dfa(piece)
                nfa.add_empty(cur[written], s)
                for q in fs:
                    nfa.add_empty(q, nxt[True])
            cur = nxt
        if extra_keys is not None and extra_value is not None and not extra_keys.is_empty():
            member = self.around(self.string_of(extra_keys), ws, _lit(":"), ws, extra_value)
            for written, piece in ((False, member), (True, self.around(ws, _lit(","), ws, member))):
                s, fs = nfa.add_dfa(piece)
                nfa.add_empty(cur[written], s)
                for q in fs:
                    nfa.add_empty(q, cur[True])
        end = nfa.state()
        close = self.around(ws, _lit("}"))
        for written in (False, True):
            s, fs = nfa.add_dfa(close)
            nfa.add_empty(cur[written], s)
            for q in fs:
                nfa.add_empty(q, end)
        return nfa.determinize(start, [end], self.budget, minimize=False)

    def array(self, nodes: list[dict], path: str) -> DFA:
        """Arrays valid under every node: each position under every node's schema for it."""
        shapes = []
        for node in nodes:
            prefix, items = node.get("prefixItems", []), node.get("items", True)
            if isinstance(items, list):  # draft 2019 and before: items as a list is prefixItems
                prefix, items = items, node.get("additionalItems", True)
            shapes.append((prefix, items))
        longest = max(len(p) for p, _ in shapes)
        firsts = [
            self.conjunction([(p[j] if j < len(p) else items, f"{path}/items/{j}") for p, items in shapes])
            for j in range(longest)
        ]
        rest = self.conjunction([(items, f"{path}/items") for _, items in shapes])
        lo = max(int(node.get("minItems", 0)) for node in nodes)
        caps = [int(node["maxItems"]) for node in nodes if "maxItems" in node]
        return self.array_items(firsts, rest, lo, min(caps) if caps else None)

    def array_items(self, firsts: list[DFA], rest: DFA, lo: int, hi: int | None) -> DFA:
        """``[`` the ``firsts`` in order, then items of ``rest``, ``lo`` to ``hi`` items in all, ``]``."""
        ws = self.ws
        sep = self.around(ws, _lit(","), ws)
        nfa = NFA()
        start, end = nfa.state(), nfa.state()
        head = nfa.state()
        s, fs = nfa.add_dfa(self.around(_lit("["), ws))
        nfa.add_empty(start, s)
        for q in fs:
            nfa.add_empty(q, head)
        close = self.around(ws, _lit("]"))

        def closing(at: int) -> None:
            s, fs = nfa.add_dfa(close)
            nfa.add_empty(at, s)
            for q in fs:
                nfa.add_empty(q, end)

        cur = head
        count = 0
        limit = hi if hi is not None else None
        bounded = max(len(firsts), lo)
        while True:
            if count >= lo and (limit is None or count <= limit):
                closing(cur)
            if limit is not None and count >= limit:
                break
            item = firsts[count] if count < len(firsts) else rest
            if item.is_empty():
                break
            if count >= bounded and limit is None:  # the rest loop back
                s, fs = nfa.add_dfa(self.around(sep, item) if count else item)
                nfa.add_empty(cur, s)
                loop = nfa.state()
                for q in fs:
                    nfa.add_empty(q, loop)
                closing(loop)
                s, fs = nfa.add_dfa(self.around(sep, item))
                nfa.add_empty(loop, s)
                for q in fs:
                    nfa.add_empty(q, loop)
                break
            nxt = nfa.state()
            s, fs = nfa.add_dfa(self.around(sep, item) if count else item)
            nfa.add_empty(cur, s)
            for q in fs:
                nfa.add_empty(q, nxt)
            cur, count = nxt, count + 1
        return nfa.determinize(start, [end], self.budget, minimize=False)


def _spelled(value: Any) -> str:
    """How the automaton writes a literal value: compact JSON, integral floats as integers (``1.0`` is the
    integer 1 to JSON Schema)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(_spelled(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_spelled(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def _anchored(node: Any, name: str) -> Any:
    """The subschema whose ``$anchor`` (or ``$dynamicAnchor``) is ``name``, searched depth first."""
    if isinstance(node, dict):
        if name in (node.get("$anchor"), node.get("$dynamicAnchor")):
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _anchored(child, name)
        if found is not None:
            return found
    return None


def _without(node: dict, *keys: str) -> dict:
    return {k: v for k, v in node.items() if k not in keys}


def _disjoint_branches(branches: Any) -> bool:
    """Whether no value is valid under two branches, judged on the schemas: by type or by ``const``/``enum``
    (:func:`.json_schema._disjoint`), or objects told apart by a required property whose allowed constants
    differ between branches (a discriminator)."""
    from .json_schema import _disjoint

    if _disjoint(branches):
        return True
    if not isinstance(branches, list) or not all(isinstance(b, dict) and b.get("type") == "object" for b in branches):
        return False
    common = set.intersection(*(set(b.get("required", [])) for b in branches)) if branches else set()
    for name in sorted(common):
        values = []
        for b in branches:
            sub = b.get("properties", {}).get(name)
            if not isinstance(sub, dict) or not ("const" in sub or isinstance(sub.get("enum"), list)):
                break
            vals = [sub["const"]] if "const" in sub else sub["enum"]
            values.append({json.dumps(v, sort_keys=True) for v in vals})
        else:
            if sum(len(v) for v in values) == len(set().union(*values)):
                return True
    return False


def _object_texts(budget: int) -> DFA:
    """JSON texts with a ``{`` outside every string: the texts that hold an object somewhere."""
    nfa = NFA()
    out, inside, escaped, found = nfa.state(), nfa.state(), nfa.state(), nfa.state()
    for lo, hi in ((0, 0x21), (0x23, 0x7A), (0x7C, 0xFF)):
        nfa.add(out, lo, hi, out)
    nfa.add(out, 0x22, 0x22, inside)
    nfa.add(out, 0x7B, 0x7B, found)
    for lo, hi in ((0, 0x21), (0x23, 0x5B), (0x5D, 0xFF)):
        nfa.add(inside, lo, hi, inside)
    nfa.add(inside, 0x22, 0x22, out)
    nfa.add(inside, 0x5C, 0x5C, escaped)
    nfa.add(escaped, 0, 0xFF, inside)
    nfa.add(found, 0, 0xFF, found)
    return nfa.determinize(out, [found], budget)


def _is_keyword(key: str) -> bool:
    from .json_schema import VOCABULARY

    return key in VOCABULARY


def schema_automaton(
    schema: Any, free_depth: int = 2, budget: int = DEFAULT_BYTE_STATE_BUDGET, ref_depth: int = 3
) -> SchemaAutomaton:
    """The byte automaton of ``schema``'s documents (see the module docstring); an invalid schema raises
    :class:`~ctrlgen.constraints.InvalidSchemaError` with ``jsonschema``'s message."""
    from .json_schema import _check

    _check(schema)
    compiler = _Compiler(schema, free_depth, budget, ref_depth)
    dfa = compiler.value(schema, "")
    return SchemaAutomaton(dfa, tuple(dict.fromkeys(compiler.narrowed)))
