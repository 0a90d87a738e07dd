"""The parts of :mod:`.schema_automata` that are not the compiler itself: the error it raises, the automata every
compile shares (string contents, canonical numbers, whitespace; built once per setting), how literal values are
spelled, the document's member order, and small readings of schema nodes."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from .byte_automata import DFA, NFA, concat, union
from .pattern_automata import PatternNotCompiled, pattern_dfa, string_content_dfa

#: every number value written one way: no exponent, no trailing zero in the fraction, no fraction on an integral
#: value, no ``-0`` (so that set operations on texts are set operations on values)
NUMBER = r"(?:0|-?[1-9][0-9]*)(?:\.[0-9]*[1-9])?|-0\.[0-9]*[1-9]"


def lit(text: str) -> DFA:
    return DFA.literal(text.encode("utf-8"))


class SchemaNotCompiled(ValueError):
    """A schema keyword this compiler cannot turn into an automaton exactly; ``path`` names where."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path or "/"


def spelled(value: Any) -> str:
    """How the automaton writes a literal value: compact JSON, integral floats as integers (``1.0`` is the
    integer 1 to JSON Schema)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(spelled(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{spelled(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def anchored(node: Any, name: str) -> Any:
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
        found = anchored(child, name)
        if found is not None:
            return found
    return None


def without(node: dict, *keys: str) -> dict:
    return {k: v for k, v in node.items() if k not in keys}


def disjoint_branches(branches: Any) -> bool:
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


def object_texts(budget: int) -> DFA:
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


def names_in_order(root: Any, resolve=None) -> dict[str, int]:
    """Every property name under ``root`` (``properties`` keys, ``required`` entries, keys of object values in
    ``const``/``enum``), ranked by first appearance: for the whole document, the member order of every object the
    compiler spells. With ``resolve`` (a reference -> its schema), references are followed, each once."""
    rank: dict[str, int] = {}
    seen: set[str] = set()

    def walk(node: Any, literal: bool) -> None:
        if isinstance(node, dict):
            if literal:
                names = list(node)
            else:
                props = node.get("properties")
                names = list(props) if isinstance(props, dict) else []
                required = node.get("required")
                names += [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
                ref = node.get("$ref")
                if resolve is not None and isinstance(ref, str) and ref not in seen:
                    seen.add(ref)
                    try:
                        walk(resolve(ref, ""), False)
                    except SchemaNotCompiled:
                        pass  # compiling the reference reports it
            for name in names:
                rank.setdefault(name, len(rank))
            for key, child in node.items():
                walk(child, literal or key in ("const", "enum"))
        elif isinstance(node, list):
            for child in node:
                walk(child, literal)

    walk(root, False)
    return rank


@dataclass
class Pieces:
    """What every schema compiled with the same whitespace and budget shares (automata are immutable)."""

    ws: DFA
    content: DFA  #: string contents, JSON's escapes canonical
    number: DFA  #: canonical numbers
    objects: DFA  #: texts holding an object
    kinds: tuple[DFA, DFA]  #: texts starting as an object, as an array
    free: dict = field(default_factory=dict)  #: free values by (depth, ordered-mode names)


@functools.lru_cache(maxsize=8)
def shared_pieces(whitespace: str, budget: int) -> Pieces:
    rest = NFA()
    r = rest.state()
    rest.add(r, 0, 255, r)
    tail = rest.determinize(r, [r], budget)  # every byte string
    return Pieces(
        whitespace_dfa(whitespace, budget),
        string_content_dfa(budget),
        pattern_dfa(NUMBER, search=False, budget=budget),
        object_texts(budget),
        (concat([lit("{"), tail]), concat([lit("["), tail])),
    )


def whitespace_dfa(pattern: str, budget: int) -> DFA:
    """The texts allowed at each structural place: ``pattern`` (ECMA syntax, whole match), which must spell JSON
    whitespace only (space, tab, line feed, carriage return), or the documents would not parse."""
    from ..constraints.errors import InvalidConstraintError

    try:
        ws = pattern_dfa(pattern, search=False, budget=budget)
    except PatternNotCompiled as e:
        raise InvalidConstraintError(f"whitespace pattern {pattern!r}: {e}") from None
    blank = union([DFA.literal(c) for c in (b" ", b"\t", b"\n", b"\r")]).star()
    stray = (ws - blank).shortest()
    if stray is not None:
        raise InvalidConstraintError(
            f"whitespace pattern {pattern!r} matches {stray.decode('utf-8', 'replace')!r}, which is not JSON "
            "whitespace (space, tab, line feed, carriage return)"
        )
    return ws


@functools.lru_cache(maxsize=16)
def nesting_at_most(depth: int) -> DFA:
    """Byte strings whose ``{``/``[`` outside JSON strings never open more than ``depth`` levels at once: with the
    texts of a JSON automaton, those of its values nesting at most that deep."""
    import numpy as np

    modes = 3  # outside strings, inside, after a backslash inside
    table = np.full(((depth + 1) * modes, 256), -1, dtype=np.int32)
    for d in range(depth + 1):
        out, inside, escaped = d * modes, d * modes + 1, d * modes + 2
        table[out, :] = out
        table[out, ord('"')] = inside
        for opening in b"{[":
            table[out, opening] = (d + 1) * modes if d < depth else -1
        for closing in b"}]":
            table[out, closing] = (d - 1) * modes if d > 0 else -1
        table[inside, :] = inside
        table[inside, ord("\\")] = escaped
        table[inside, ord('"')] = out
        table[escaped, :] = inside
    return DFA(table, np.ones(table.shape[0], dtype=bool)).minimized()
