"""Client-side payload validation: the node's schema rules, applied before anything is signed.

Rules:

- The schemas are the node's own (`contracts.tx_types_json()`, copied into the package data file
  `client_sdk/schemas.json` by `scripts/gen_builders.py`; a test fails when the copy is stale).
  It is read once, at import, through `importlib.resources`, so an installed wheel finds it too.
- `validate(tx_type, payload)` runs the one interpreter, `wire/schema.py`, over the schema rebuilt
  from that copy (`wire.schema.from_json`), so the checks, their order, reason codes and field
  paths are the node's own; it returns the normalised payload (every declared field present,
  absent optional fields at their default). A mistake raises `PayloadError(code, path, what)`
  naming the first problem, as the node would have in its receipt.
- This module imports nothing of the project but the SDK and `wire` (tests/unit/test_layering.py).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from client_sdk.errors import PayloadError
from wire import schema as wire_schema
from wire.errors import SchemaError
from wire.schema import Obj, from_json


def _load_schemas() -> dict[str, dict[str, Any]]:
    text = resources.files("client_sdk").joinpath("schemas.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, Any]] = json.loads(text)
    return loaded


SCHEMAS: dict[str, dict[str, Any]] = _load_schemas()
"""The node's payload schemas, by tx_type (read-only)."""


def tx_types() -> list[str]:
    return sorted(SCHEMAS)


def spec(tx_type: str) -> dict[str, Any]:
    """The node's description of a transaction type: family, description, signers, payload schema."""
    try:
        return SCHEMAS[tx_type]
    except KeyError:
        raise PayloadError("unknown_tx_type", "", f"{tx_type!r} is not a transaction type") from None


@cache
def _typed(tx_type: str) -> Obj:
    found = from_json(spec(tx_type)["payload"])
    if not isinstance(found, Obj):
        raise PayloadError("bad_schema", "", f"the payload schema of {tx_type!r} is not an object")
    return found


def validate(tx_type: str, payload: Any) -> dict[str, Any]:
    """Check `payload` against the schema of `tx_type` and return it normalised."""
    schema = _typed(tx_type)
    try:
        return wire_schema.validate(schema, payload)
    except SchemaError as exc:
        raise PayloadError(exc.code, exc.path, exc.what) from None


def coerce(tx_type: str, payload: Any) -> Any:
    """Convenience conversions before validation: `datetime.date` to `YYYY-MM-DD` in date fields,
    `bytes` to lower-case hex in hex fields, tuples to lists; anything else is left for `validate`
    to judge."""
    return _coerce(spec(tx_type)["payload"], payload)


def _coerce(schema: dict[str, Any], value: Any) -> Any:
    kind = schema["type"]
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "month" and isinstance(value, date):
        return value.isoformat()[:7]
    if kind == "hex" and isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if kind == "list" and isinstance(value, list | tuple):
        return [_coerce(schema["item"], v) for v in value]
    if kind == "object" and isinstance(value, dict):
        by_name = {f["name"]: f["schema"] for f in schema["fields"]}
        return {k: (_coerce(by_name[k], v) if k in by_name else v) for k, v in value.items()}
    return value
