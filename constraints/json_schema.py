"""JSON-schema constraints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .base import Constraint

__all__ = ["JsonSchema"]


@dataclass(frozen=True, init=False)
class JsonSchema(Constraint):
    """The generated text is a JSON document valid under ``schema``.

    Parameters
    ----------
    schema:
        A dict, a JSON string, or a Pydantic model class (its ``model_json_schema()``).
    strict:
        True (default): the automaton allows a document if and only if it validates (up to the depth bounds
        below); a keyword that cannot be compiled exactly raises ``UnsupportedSchemaError`` naming it and its
        path. False: what compiles is enforced while sampling, and outputs are validated with ``jsonschema`` and
        resampled a bounded number of times.
    whitespace:
        Regex for the whitespace allowed at each structural place (after ``{``, ``[``, ``,``, ``:``, before ``}``,
        ``]``, ``,``, ``:``); default ``[ ]?``, at most one space. It must match JSON whitespace only.
    closed:
        False (default): an object schema without ``additionalProperties`` allows other keys, as JSON Schema
        says. True: such objects take only the keys their schema names (``properties``, ``required``): a
        narrowing you ask for, so that a model cannot pad a record with invented keys.
    free_depth:
        Values the schema leaves free (``{}``, ``true``, an array without ``items``) nest at most this many
        objects/arrays deep (a free value of any depth is not a regular language). Deeper ones are outside the
        constraint, like text longer than the canvas; when a schema has such values a ``NarrowedSchemaWarning``
        names them.
    ref_depth:
        A recursive ``$ref`` is unrolled this many times (deeper nesting is left out, with the same warning).
    """

    schema_json: str
    strict: bool
    whitespace: str
    closed: bool
    free_depth: int
    ref_depth: int

    def __init__(
        self,
        schema: Any,
        strict: bool = True,
        whitespace: str = r"[ ]?",
        closed: bool = False,
        free_depth: int = 2,
        ref_depth: int = 3,
    ) -> None:
        if hasattr(schema, "model_json_schema"):
            schema = schema.model_json_schema()
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as e:
                from .errors import InvalidSchemaError

                raise InvalidSchemaError(f"schema is not valid JSON: {e}") from None
        if not isinstance(schema, (dict, bool)):
            from .errors import InvalidSchemaError

            raise InvalidSchemaError(
                f"JsonSchema takes a dict, a JSON string or a Pydantic model, got {type(schema).__name__}"
            )
        object.__setattr__(self, "schema_json", json.dumps(schema, sort_keys=False))
        object.__setattr__(self, "strict", strict)
        object.__setattr__(self, "whitespace", whitespace)
        for name, value in (("free_depth", free_depth), ("ref_depth", ref_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16:
                from .errors import InvalidConstraintError

                raise InvalidConstraintError(f"JsonSchema {name} must be a whole number from 0 to 16, got {value!r}")
        if not isinstance(whitespace, str):
            from .errors import InvalidConstraintError

            raise InvalidConstraintError(f"JsonSchema whitespace must be a regex string, got {whitespace!r}")
        object.__setattr__(self, "closed", bool(closed))
        object.__setattr__(self, "free_depth", free_depth)
        object.__setattr__(self, "ref_depth", ref_depth)

    @property
    def schema(self) -> dict | bool:
        return json.loads(self.schema_json)

    def describe(self) -> str:
        text = self.schema_json
        return f"JsonSchema({text[:60] + '...' if len(text) > 60 else text})"
