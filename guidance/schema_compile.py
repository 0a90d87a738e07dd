"""A :class:`~ctrlgen.constraints.JsonSchema` compiled for one vocabulary.

The exact path: the schema's byte automaton (:mod:`.schema_automata`: a document is in it iff it validates, up
to the stated depth bounds), read with the vocabulary's tokens (:mod:`.dfa_tokens`). It runs in this process
under the compile time budget (:func:`.index_builder.current_budget`; the constructions check the clock as they
go, :func:`.byte_automata.time_limit`), and the result is cached on disk like regex automata.

Where the exact compiler refuses a keyword:

* ``strict=True``: :class:`~ctrlgen.constraints.UnsupportedSchemaError` names it and its path;
* ``strict=False``: outlines-core's regex of the part it compiles (:func:`.json_schema.schema_to_regex`) is
  enforced while sampling, and ``jsonschema`` validates every output (resampled a bounded number of times).

outlines-core's regex is not used in strict mode: it leaves out keys an open object allows and cuts free values
to scalars, so documents that validate could not be written, which the strict contract rules out.
"""

from __future__ import annotations

import hashlib
import json
import warnings

from ..constraints import JsonSchema
from ..constraints.errors import NarrowedSchemaWarning, UnsatisfiableConstraintError, UnsupportedSchemaError
from .automaton import DEFAULT_STATE_BUDGET, TokenAutomaton
from .byte_automata import time_limit
from .index_builder import current_budget
from .vocabulary import as_vocabulary

__all__ = ["compile_json_schema"]

#: Bumped whenever what a cached schema automaton means changes.
_CACHE_VERSION = "schema-v1"


def compile_json_schema(constraint: JsonSchema, vocab, state_budget: int = DEFAULT_STATE_BUDGET):
    """The :class:`~.compile.CompiledConstraint` of ``constraint`` over ``vocab`` (see the module docstring)."""
    from .compile import CompiledConstraint, _json_validator, _load, _save, cache_dir, regex_automaton
    from .json_schema import _check, schema_to_regex
    from .schema_automata import SchemaNotCompiled

    vocab = as_vocabulary(vocab)
    schema = constraint.schema
    _check(schema)
    label = constraint.describe()
    validators = (_json_validator(schema),)
    options = [constraint.whitespace, constraint.closed, constraint.free_depth, constraint.ref_depth]
    key_text = json.dumps([constraint.schema_json, options, vocab.fingerprint, _CACHE_VERSION])
    path = cache_dir() / f"schema-{hashlib.sha256(key_text.encode()).hexdigest()[:32]}.npz"
    notes = path.with_suffix(".json")
    automaton = _load(path, state_budget)
    if automaton is not None:
        narrowed = tuple(json.loads(notes.read_text())) if notes.exists() else ()
    else:
        try:
            automaton, narrowed = _exact(constraint, vocab, state_budget)
        except SchemaNotCompiled as e:
            keyword = e.path
            if constraint.strict:
                raise UnsupportedSchemaError(
                    f"{label}: {e} (JsonSchema(..., strict=False) enforces what compiles and validates outputs "
                    "with jsonschema)",
                    [keyword],
                ) from None
            compiled = schema_to_regex(schema, strict=False, whitespace=constraint.whitespace)
            automaton = regex_automaton(compiled.regex, vocab, state_budget, label=label)
            return CompiledConstraint(automaton, validators, label)
        notes.parent.mkdir(parents=True, exist_ok=True)
        notes.write_text(json.dumps(list(narrowed)))
        _save(path, automaton)
    if narrowed:
        warnings.warn(
            NarrowedSchemaWarning(
                f"{label}: values nest at most free_depth={constraint.free_depth} levels where the schema leaves "
                f"them free, and recursive $ref unrolls ref_depth={constraint.ref_depth} times; deeper documents "
                f"are valid but not generated, at {', '.join(narrowed[:5])}{' ...' if len(narrowed) > 5 else ''}",
                narrowed,
            ),
            stacklevel=2,
        )
    return CompiledConstraint(automaton, validators, label)


def _exact(constraint: JsonSchema, vocab, state_budget: int) -> tuple[TokenAutomaton, tuple[str, ...]]:
    from .dfa_tokens import dfa_token_automaton
    from .schema_automata import schema_automaton

    with time_limit(current_budget(), constraint.describe()):
        compiled = schema_automaton(
            constraint.schema,
            free_depth=constraint.free_depth,
            ref_depth=constraint.ref_depth,
            whitespace=constraint.whitespace,
            closed=constraint.closed,
        )
        if compiled.dfa.is_empty():
            raise UnsatisfiableConstraintError(f"no JSON document is valid under {constraint.describe()}")
        automaton = dfa_token_automaton(compiled.dfa, vocab, state_budget)
    return automaton, compiled.narrowed
