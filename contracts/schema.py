"""Payload schemas of the contracts: the schema types and interpreter are `wire/schema.py`'s (one
definition shared with the SDK); this module adds the contracts' id patterns and turns a schema
failure into the receipt's refusal.

Rules:

- `validate(schema, payload)` is `wire.schema.validate` raising `TxRejected(code, message)` with the
  same stable reason code and field path instead of `SchemaError`.
- Contract modules declare their payloads with the types re-exported here (`req`, `opt`, `Str`, ...).
"""

from __future__ import annotations

from typing import Any

from contracts.errors import TxRejected
from wire import schema as _schema
from wire.errors import SchemaError
from wire.schema import Bool, Date, Enum, Field, FieldType, Hex, Int, Json, List, Month, Obj, Str, opt, req

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
ORG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}(\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$"


def validate(schema: Obj, payload: Any) -> dict[str, Any]:
    """Validate `payload` against `schema` strictly and return the normalised payload."""
    try:
        return _schema.validate(schema, payload)
    except SchemaError as exc:
        raise TxRejected(exc.code, exc.message) from None


__all__ = [
    "ID_PATTERN",
    "ORG_PATTERN",
    "Bool",
    "Date",
    "Enum",
    "Field",
    "FieldType",
    "Hex",
    "Int",
    "Json",
    "List",
    "Month",
    "Obj",
    "Str",
    "opt",
    "req",
    "validate",
]
