"""Payload schemas: strict, introspectable descriptions of every transaction payload, and the one
check of a payload against them, compiled per schema (the contracts at execution, the node at
admission, the SDK and the CLI before anything is signed).

Rules:

- A payload is an object (str-keyed dict). Validation is strict: an unknown field, a missing
  required field, a wrong type (bool is not int), a string or list over its limit, a value outside
  its range or enum, a malformed date: each raises `SchemaError(code, path, what)` with a stable
  reason code (`not_an_object`, `unknown_field`, `missing_field`, `wrong_type`, `too_long`,
  `too_short`, `out_of_range`, `bad_value`, `bad_format`, `duplicate_item`) naming the field path.
- Each `Obj` compiles its check once when it is made (`compile_check`: a closure per field type,
  so a payload pays no dispatch on schema types); `validate()` runs it. tests/property keeps the
  plain interpreter this replaced and checks both give the same result or refusal on any payload.
- `validate()` returns the normalised payload: every declared field present (absent optional
  fields take their default, None unless stated), in the same JSON-like value space.
- Every type has `to_json()`; `from_json()` rebuilds the type from it, so the SDK validates with
  this very code against the copy of the contracts' schemas it ships (`client_sdk/schemas.json`).
- Personal data never goes into clear fields (issue 18.6, `wire/cleartext.py`): a string the
  schema does not constrain by a pattern (a `Str` without one, and every string and key inside
  a `Json` value) that holds an ID number (18 or 15 digits) or a mobile number is refused with
  `personal_data_in_clear`. A prose field (`Str(text=True)`: free text no rule reads) may hold a
  sealed text instead (`wire.cleartext.SEALED_TEXT_PREFIX`, at most SEALED_TEXT_MAX characters
  whatever its own limit): the message says to seal it; other fields say to leave the number out.
- Pure: no IO, clock or randomness (the contracts import it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, assert_never

from wire.cleartext import PERSONAL_IN_CLEAR, SEALED_TEXT_MAX, SEALED_TEXT_PREFIX, is_sealed_text, personal_in
from wire.errors import SchemaError

_HEX = re.compile(r"^[0-9a-f]*$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _fail(code: str, path: str, what: str) -> SchemaError:
    return SchemaError(code, path, what)


def _valid_date(text: str) -> bool:
    m = _DATE_RE.match(text)
    if not m:
        return False
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Str:
    """A string; `text`: free prose no rule reads, which the SDK may seal (`wire/cleartext.py`)."""

    max_len: int = 128
    min_len: int = 1
    pattern: str | None = None
    text: bool = False

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "str",
            "min_len": self.min_len,
            "max_len": self.max_len,
            "pattern": self.pattern,
        }
        if self.text:
            doc["text"] = True
        return doc


@dataclass(frozen=True, slots=True)
class Int:
    lo: int = 0
    hi: int = 2**63 - 1

    def to_json(self) -> dict[str, Any]:
        return {"type": "int", "min": self.lo, "max": self.hi}


@dataclass(frozen=True, slots=True)
class Bool:
    def to_json(self) -> dict[str, Any]:
        return {"type": "bool"}


@dataclass(frozen=True, slots=True)
class Date:
    """A calendar date `YYYY-MM-DD`."""

    def to_json(self) -> dict[str, Any]:
        return {"type": "date", "format": "YYYY-MM-DD"}


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month `YYYY-MM`."""

    def to_json(self) -> dict[str, Any]:
        return {"type": "month", "format": "YYYY-MM"}


@dataclass(frozen=True, slots=True)
class Hex:
    """Lower-case hex of exactly `nbytes` bytes."""

    nbytes: int = 32

    def to_json(self) -> dict[str, Any]:
        return {"type": "hex", "bytes": self.nbytes}


@dataclass(frozen=True, slots=True)
class Enum:
    values: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": "enum", "values": list(self.values)}


@dataclass(frozen=True, slots=True)
class List:
    item: FieldType
    max_len: int
    min_len: int = 0
    unique: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "list",
            "item": self.item.to_json(),
            "min_len": self.min_len,
            "max_len": self.max_len,
            "unique": self.unique,
        }


@dataclass(frozen=True, slots=True)
class Json:
    """A JSON-like value without floats or nulls: bool, int, str, lists and str-keyed maps, nested
    at most `max_depth` deep, each list or map at most `max_items` long, strings `max_str` long."""

    max_depth: int = 4
    max_items: int = 256
    max_str: int = 1024

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "json",
            "max_depth": self.max_depth,
            "max_items": self.max_items,
            "max_str": self.max_str,
        }


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    required: bool = True
    nullable: bool = False
    default: Any = None
    doc: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": self.type.to_json(),
            "required": self.required,
            "nullable": self.nullable,
            "default": self.default,
            "doc": self.doc,
        }


@dataclass(frozen=True, slots=True)
class Obj:
    fields: tuple[Field, ...]
    names: frozenset[str] = frozenset()  # derived from fields (checked against them once, below)
    # derived from fields: the compiled check of this object (`compile_check`), made once here
    check: Check = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(f.name for f in self.fields))
        object.__setattr__(self, "check", _compile_obj(self.names, self.fields))

    def to_json(self) -> dict[str, Any]:
        return {"type": "object", "fields": [f.to_json() for f in self.fields]}

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


FieldType = Str | Int | Bool | Date | Month | Hex | Enum | List | Json | Obj


def req(name: str, ftype: FieldType, doc: str = "", *, nullable: bool = False) -> Field:
    return Field(name, ftype, required=True, nullable=nullable, doc=doc)


def opt(name: str, ftype: FieldType, doc: str = "", *, default: Any = None) -> Field:
    """An optional field: may be absent or null; absent/null normalise to `default`."""
    return Field(name, ftype, required=False, nullable=True, default=default, doc=doc)


def validate(schema: Obj, payload: Any) -> dict[str, Any]:
    """Validate `payload` against `schema` strictly and return the normalised payload; raises
    `SchemaError(code, path, what)` naming the first problem."""
    out: dict[str, Any] = schema.check(payload, "")
    return out


Check = Callable[[Any, str], Any]
"""A compiled check: (value, its path) -> the normalised value, or SchemaError."""


def compile_check(ftype: FieldType) -> Check:
    """The check of `ftype` as one closure per type, built once per schema (an `Obj` compiles itself
    when it is made): the dispatch on the type and the reading of its parameters happen here, not
    for every value. The checks, their order, codes, paths and messages are the rules above."""
    match ftype:
        case Str(max_len=max_len, min_len=min_len, pattern=pattern, text=text):
            match_pattern = None if pattern is None else _compiled(pattern).match

            def check_str(value: Any, path: str) -> Any:
                if type(value) is not str:
                    raise _fail("wrong_type", path, "expected a string")
                if text and value.startswith(SEALED_TEXT_PREFIX):
                    if len(value) > SEALED_TEXT_MAX or not is_sealed_text(value):
                        raise _fail(
                            "bad_format", path, f"not a sealed text of at most {SEALED_TEXT_MAX} characters"
                        )
                    return value
                if len(value) > max_len:
                    raise _fail("too_long", path, f"{len(value)} characters exceed {max_len}")
                if len(value) < min_len:
                    raise _fail("too_short", path, f"at least {min_len} characters required")
                if match_pattern is None:
                    _no_personal_data(value, path, sealable=text)
                elif not match_pattern(value):
                    raise _fail("bad_format", path, f"does not match {pattern}")
                return value

            return check_str
        case Int(lo=lo, hi=hi):

            def check_int(value: Any, path: str) -> Any:
                if type(value) is not int:
                    raise _fail("wrong_type", path, "expected an integer")
                if not lo <= value <= hi:
                    raise _fail("out_of_range", path, f"{value} outside [{lo}, {hi}]")
                return value

            return check_int
        case Bool():
            return _check_bool
        case Date():
            return _check_date
        case Month():
            return _check_month
        case Hex(nbytes=nbytes):
            size = 2 * nbytes

            def check_hex(value: Any, path: str) -> Any:
                if type(value) is not str:
                    raise _fail("wrong_type", path, "expected a hex string")
                if len(value) != size or not _HEX.match(value):
                    raise _fail("bad_format", path, f"expected {size} lower-case hex digits")
                return value

            return check_hex
        case Enum(values=values):

            def check_enum(value: Any, path: str) -> Any:
                if type(value) is not str:
                    raise _fail("wrong_type", path, "expected a string")
                if value not in values:
                    raise _fail("bad_value", path, f"{value!r} is not one of {', '.join(values)}")
                return value

            return check_enum
        case List(item=item, max_len=max_len, min_len=min_len, unique=unique):
            check_item = compile_check(item)

            def check_list(value: Any, path: str) -> Any:
                if type(value) is not list:
                    raise _fail("wrong_type", path, "expected a list")
                if len(value) > max_len:
                    raise _fail("too_long", path, f"{len(value)} items exceed {max_len}")
                if len(value) < min_len:
                    raise _fail("too_short", path, f"at least {min_len} items required")
                items = [check_item(v, f"{path}[{i}]") for i, v in enumerate(value)]
                if unique and len({repr(v) for v in items}) != len(items):
                    raise _fail("duplicate_item", path, "items must be distinct")
                return items

            return check_list
        case Json():
            spec = ftype

            def check_json(value: Any, path: str) -> Any:
                return _check_json(spec, value, path, 0)

            return check_json
        case Obj():
            return ftype.check
        case _:
            assert_never(ftype)


def _compile_obj(known: frozenset[str], fields: tuple[Field, ...]) -> Check:
    plan = tuple((f.name, f.required, f.nullable, f.default, compile_check(f.type)) for f in fields)

    def check_obj(value: Any, path: str) -> Any:
        if type(value) is not dict:
            raise _fail("not_an_object", path, "expected an object")
        if not known.issuperset(value):
            unknown = sorted(k for k in value if k not in known)
            raise _fail("unknown_field", _join(path, unknown[0]), "is not a field of this payload")
        out: dict[str, Any] = {}
        for name, required, nullable, default, check in plan:
            if name not in value:
                if required:
                    raise _fail("missing_field", _join(path, name), "is required")
                out[name] = default
                continue
            v = value[name]
            if v is None:
                if not nullable:
                    raise _fail("wrong_type", _join(path, name), "may not be null")
                out[name] = default
                continue
            out[name] = check(v, f"{path}.{name}" if path else name)
        return out

    return check_obj


def _check_bool(value: Any, path: str) -> Any:
    if type(value) is not bool:
        raise _fail("wrong_type", path, "expected a boolean")
    return value


def _check_date(value: Any, path: str) -> Any:
    if type(value) is not str:
        raise _fail("wrong_type", path, "expected a date string")
    if not _valid_date(value):
        raise _fail("bad_format", path, "expected a valid YYYY-MM-DD date")
    return value


def _check_month(value: Any, path: str) -> Any:
    if type(value) is not str:
        raise _fail("wrong_type", path, "expected a month string")
    m = _MONTH_RE.match(value)
    if m is None or not 1 <= int(m[2]) <= 12:
        raise _fail("bad_format", path, "expected a valid YYYY-MM month")
    return value


def _check_json(spec: Json, value: Any, path: str, depth: int) -> Any:
    if depth > spec.max_depth:
        raise _fail("too_long", path, f"nested deeper than {spec.max_depth}")
    if type(value) in (bool, int):
        if type(value) is int and not -(2**63) <= value <= 2**63 - 1:
            raise _fail("out_of_range", path, "outside the 64-bit range")
        return value
    if type(value) is str:
        if len(value) > spec.max_str:
            raise _fail("too_long", path, f"{len(value)} characters exceed {spec.max_str}")
        _no_personal_data(value, path, sealable=False)
        return value
    if type(value) is list:
        if len(value) > spec.max_items:
            raise _fail("too_long", path, f"{len(value)} items exceed {spec.max_items}")
        return [_check_json(spec, v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if type(value) is dict:
        if len(value) > spec.max_items:
            raise _fail("too_long", path, f"{len(value)} entries exceed {spec.max_items}")
        if any(type(k) is not str or not k or len(k) > 128 for k in value):
            raise _fail("bad_format", path, "map keys are non-empty strings of at most 128 characters")
        for k in value:
            _no_personal_data(k, _join(path, k), sealable=False)
        return {k: _check_json(spec, value[k], _join(path, k), depth + 1) for k in sorted(value)}
    raise _fail("wrong_type", path, "expected a bool, integer, string, list or map")


def _no_personal_data(value: str, path: str, *, sealable: bool) -> None:
    found = personal_in(value)
    if found is None:
        return
    advice = (
        "seal the field (client_sdk: PrivacyClient.seal_text or PrivacyClient.text_sealer)"
        if sealable
        else "this field cannot be sealed: leave the number out (refer to people by person key)"
    )
    raise _fail(PERSONAL_IN_CLEAR, path, f"holds {found} in clear; {advice}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def from_json(doc: Any) -> FieldType:
    """The schema type `to_json()` described (raises SchemaError `bad_schema` for an unknown one)."""
    if not isinstance(doc, dict):
        raise _fail("bad_schema", "", "a schema is an object")
    kind = doc.get("type")
    if kind == "str":
        return Str(
            max_len=doc["max_len"],
            min_len=doc["min_len"],
            pattern=doc["pattern"],
            text=bool(doc.get("text", False)),
        )
    if kind == "int":
        return Int(lo=doc["min"], hi=doc["max"])
    if kind == "bool":
        return Bool()
    if kind == "date":
        return Date()
    if kind == "month":
        return Month()
    if kind == "hex":
        return Hex(nbytes=doc["bytes"])
    if kind == "enum":
        return Enum(values=tuple(doc["values"]))
    if kind == "list":
        return List(
            item=from_json(doc["item"]), max_len=doc["max_len"], min_len=doc["min_len"], unique=doc["unique"]
        )
    if kind == "json":
        return Json(max_depth=doc["max_depth"], max_items=doc["max_items"], max_str=doc["max_str"])
    if kind == "object":
        return Obj(
            fields=tuple(
                Field(
                    f["name"],
                    from_json(f["schema"]),
                    required=f["required"],
                    nullable=f["nullable"],
                    default=f["default"],
                    doc=f.get("doc", ""),
                )
                for f in doc["fields"]
            )
        )
    raise _fail("bad_schema", "", f"unknown schema type {kind!r} (regenerate the SDK's schemas)")
