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
        True (default): a keyword that cannot be compiled exactly raises ``UnsupportedSchemaError`` naming it.
        False: the compilable part is enforced while sampling, and outputs are validated with ``jsonschema``
        and resampled a bounded number of times.
    whitespace:
        Regex for the optional whitespace between JSON tokens (default ``[ ]?``: at most one space).
    """

    schema_json: str
    strict: bool
    whitespace: str

    def __init__(self, schema: Any, strict: bool = True, whitespace: str = r"[ ]?") -> None:
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

    @property
    def schema(self) -> dict | bool:
        return json.loads(self.schema_json)

    def describe(self) -> str:
        text = self.schema_json
        return f"JsonSchema({text[:60] + '...' if len(text) > 60 else text})"
