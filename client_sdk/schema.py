"""Client-side payload validation: the node's schema rules, applied before anything is signed.

Rules:

- The schemas are the node's own (`contracts.tx_types_json()`, copied into the package data file
  `client_sdk/schemas.json` by `scripts/gen_builders.py`; a test fails when the copy is stale).
  It is read once, at import, through `importlib.resources`, so an installed wheel finds it too.
- `validate(tx_type, payload)` applies exactly the checks of `contracts/schema.py`, in the same
  order, with the same reason codes and field paths, and returns the normalised payload (every
  declared field present, absent optional fields at their default). A mistake raises
  `PayloadError(code, path, what)` naming the first problem, as the node would have in its receipt
  (tests/unit/test_sdk_schema.py compares both on generated payloads).
- This module imports nothing of the project but the SDK (tests/unit/test_layering.py).
"""

from __future__ import annotations

import json
import re
from datetime import date
from importlib import resources
from typing import Any

from client_sdk.errors import PayloadError


def _load_schemas() -> dict[str, dict[str, Any]]:
    text = resources.files("client_sdk").joinpath("schemas.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, Any]] = json.loads(text)
    return loaded


SCHEMAS: dict[str, dict[str, Any]] = _load_schemas()
"""The node's payload schemas, by tx_type (read-only)."""

_HEX = re.compile(r"^[0-9a-f]*$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_COMPILED: dict[str, re.Pattern[str]] = {}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def tx_types() -> list[str]:
    return sorted(SCHEMAS)


def spec(tx_type: str) -> dict[str, Any]:
    """The node's description of a transaction type: family, description, signers, payload schema."""
    try:
        return SCHEMAS[tx_type]
    except KeyError:
        raise PayloadError("unknown_tx_type", "", f"{tx_type!r} is not a transaction type") from None


def validate(tx_type: str, payload: Any) -> dict[str, Any]:
    """Check `payload` against the schema of `tx_type` and return it normalised."""
    out = _check(spec(tx_type)["payload"], payload, "")
    assert isinstance(out, dict)
    return out


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _COMPILED.get(pattern)
    if found is None:
        found = _COMPILED[pattern] = re.compile(pattern)
    return found


def _fail(code: str, path: str, what: str) -> PayloadError:
    return PayloadError(code, path, what)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _valid_date(text: str) -> bool:
    m = _DATE_RE.match(text)
    if not m:
        return False
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def _valid_month(text: str) -> bool:
    m = _MONTH_RE.match(text)
    return m is not None and 1 <= int(m[2]) <= 12


def _check(schema: dict[str, Any], value: Any, path: str) -> Any:
    kind = schema["type"]
    if kind == "str":
        if type(value) is not str:
            raise _fail("wrong_type", path, "expected a string")
        if len(value) > schema["max_len"]:
            raise _fail("too_long", path, f"{len(value)} characters exceed {schema['max_len']}")
        if len(value) < schema["min_len"]:
            raise _fail("too_short", path, f"at least {schema['min_len']} characters required")
        pattern = schema["pattern"]
        if pattern is not None and not _compiled(pattern).match(value):
            raise _fail("bad_format", path, f"does not match {pattern}")
        return value
    if kind == "int":
        if type(value) is not int:
            raise _fail("wrong_type", path, "expected an integer")
        if not schema["min"] <= value <= schema["max"]:
            raise _fail("out_of_range", path, f"{value} outside [{schema['min']}, {schema['max']}]")
        return value
    if kind == "bool":
        if type(value) is not bool:
            raise _fail("wrong_type", path, "expected a boolean")
        return value
    if kind == "date":
        if type(value) is not str:
            raise _fail("wrong_type", path, "expected a date string")
        if not _valid_date(value):
            raise _fail("bad_format", path, "expected a valid YYYY-MM-DD date")
        return value
    if kind == "month":
        if type(value) is not str:
            raise _fail("wrong_type", path, "expected a month string")
        if not _valid_month(value):
            raise _fail("bad_format", path, "expected a valid YYYY-MM month")
        return value
    if kind == "hex":
        if type(value) is not str:
            raise _fail("wrong_type", path, "expected a hex string")
        if len(value) != 2 * schema["bytes"] or not _HEX.match(value):
            raise _fail("bad_format", path, f"expected {2 * schema['bytes']} lower-case hex digits")
        return value
    if kind == "enum":
        if type(value) is not str:
            raise _fail("wrong_type", path, "expected a string")
        if value not in schema["values"]:
            raise _fail("bad_value", path, f"{value!r} is not one of {', '.join(schema['values'])}")
        return value
    if kind == "list":
        if type(value) is not list:
            raise _fail("wrong_type", path, "expected a list")
        if len(value) > schema["max_len"]:
            raise _fail("too_long", path, f"{len(value)} items exceed {schema['max_len']}")
        if len(value) < schema["min_len"]:
            raise _fail("too_short", path, f"at least {schema['min_len']} items required")
        items = [_check(schema["item"], v, f"{path}[{i}]") for i, v in enumerate(value)]
        if schema["unique"] and len({repr(v) for v in items}) != len(items):
            raise _fail("duplicate_item", path, "items must be distinct")
        return items
    if kind == "json":
        return _check_json(schema, value, path, 0)
    if kind == "object":
        if type(value) is not dict:
            raise _fail("not_an_object", path, "expected an object")
        fields = schema["fields"]
        known = {f["name"] for f in fields}
        unknown = sorted(k for k in value if k not in known)
        if unknown:
            raise _fail("unknown_field", _join(path, unknown[0]), "is not a field of this payload")
        out: dict[str, Any] = {}
        for f in fields:
            name = f["name"]
            sub = _join(path, name)
            if name not in value:
                if f["required"]:
                    raise _fail("missing_field", sub, "is required")
                out[name] = f["default"]
                continue
            v = value[name]
            if v is None:
                if not f["nullable"]:
                    raise _fail("wrong_type", sub, "may not be null")
                out[name] = f["default"]
                continue
            out[name] = _check(f["schema"], v, sub)
        return out
    raise _fail("bad_schema", path, f"the SDK does not know schema type {kind!r} (regenerate it)")


def _check_json(schema: dict[str, Any], value: Any, path: str, depth: int) -> Any:
    if depth > schema["max_depth"]:
        raise _fail("too_long", path, f"nested deeper than {schema['max_depth']}")
    if type(value) in (bool, int):
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            raise _fail("out_of_range", path, "outside the 64-bit range")
        return value
    if type(value) is str:
        if len(value) > schema["max_str"]:
            raise _fail("too_long", path, f"{len(value)} characters exceed {schema['max_str']}")
        return value
    if type(value) is list:
        if len(value) > schema["max_items"]:
            raise _fail("too_long", path, f"{len(value)} items exceed {schema['max_items']}")
        return [_check_json(schema, v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if type(value) is dict:
        if len(value) > schema["max_items"]:
            raise _fail("too_long", path, f"{len(value)} entries exceed {schema['max_items']}")
        if any(type(k) is not str or not k or len(k) > 128 for k in value):
            raise _fail("bad_format", path, "map keys are non-empty strings of at most 128 characters")
        return {k: _check_json(schema, value[k], _join(path, k), depth + 1) for k in sorted(value)}
    raise _fail("wrong_type", path, "expected a bool, integer, string, list or map")


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
