"""Property tests of the compiled payload schemas (wire/schema.py): on any payload, valid or not,
the compiled check gives exactly what the interpreter it replaced gave: the same normalised
payload, or the same refusal (reason code, field path and message). The interpreter is kept here,
as it was, as the reference (issue 19: the checks got faster, not different)."""

from __future__ import annotations

from typing import Any, assert_never

from hypothesis import event, given, settings
from hypothesis import strategies as st

from contracts.txtypes import TX_TYPES
from wire.cleartext import SEALED_TEXT_MAX, SEALED_TEXT_PREFIX, is_sealed_text
from wire.errors import SchemaError
from wire.schema import (
    _HEX,
    _MONTH_RE,
    Bool,
    Date,
    Enum,
    FieldType,
    Hex,
    Int,
    Json,
    List,
    Month,
    Obj,
    Str,
    _check_json,
    _compiled,
    _fail,
    _join,
    _no_personal_data,
    _valid_date,
    validate,
)


def _reference(ftype: FieldType, value: Any, path: str) -> Any:
    match ftype:
        case Str(max_len=max_len, min_len=min_len, pattern=pattern, text=text):
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
            if pattern is not None and not _compiled(pattern).match(value):
                raise _fail("bad_format", path, f"does not match {pattern}")
            if pattern is None:
                _no_personal_data(value, path, sealable=text)
            return value
        case Int(lo=lo, hi=hi):
            if type(value) is not int:
                raise _fail("wrong_type", path, "expected an integer")
            if not lo <= value <= hi:
                raise _fail("out_of_range", path, f"{value} outside [{lo}, {hi}]")
            return value
        case Bool():
            if type(value) is not bool:
                raise _fail("wrong_type", path, "expected a boolean")
            return value
        case Date():
            if type(value) is not str:
                raise _fail("wrong_type", path, "expected a date string")
            if not _valid_date(value):
                raise _fail("bad_format", path, "expected a valid YYYY-MM-DD date")
            return value
        case Month():
            if type(value) is not str:
                raise _fail("wrong_type", path, "expected a month string")
            m = _MONTH_RE.match(value)
            if m is None or not 1 <= int(m[2]) <= 12:
                raise _fail("bad_format", path, "expected a valid YYYY-MM month")
            return value
        case Hex(nbytes=nbytes):
            if type(value) is not str:
                raise _fail("wrong_type", path, "expected a hex string")
            if len(value) != 2 * nbytes or not _HEX.match(value):
                raise _fail("bad_format", path, f"expected {2 * nbytes} lower-case hex digits")
            return value
        case Enum(values=values):
            if type(value) is not str:
                raise _fail("wrong_type", path, "expected a string")
            if value not in values:
                raise _fail("bad_value", path, f"{value!r} is not one of {', '.join(values)}")
            return value
        case List(item=item, max_len=max_len, min_len=min_len, unique=unique):
            if type(value) is not list:
                raise _fail("wrong_type", path, "expected a list")
            if len(value) > max_len:
                raise _fail("too_long", path, f"{len(value)} items exceed {max_len}")
            if len(value) < min_len:
                raise _fail("too_short", path, f"at least {min_len} items required")
            items = [_reference(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
            if unique and len({repr(v) for v in items}) != len(items):
                raise _fail("duplicate_item", path, "items must be distinct")
            return items
        case Json():
            return _check_json(ftype, value, path, 0)
        case Obj(fields=fields):
            if type(value) is not dict:
                raise _fail("not_an_object", path, "expected an object")
            known = ftype.names
            if not known.issuperset(value):
                unknown = sorted(k for k in value if k not in known)
                raise _fail("unknown_field", _join(path, unknown[0]), "is not a field of this payload")
            out: dict[str, Any] = {}
            for f in fields:
                sub = _join(path, f.name)
                if f.name not in value:
                    if f.required:
                        raise _fail("missing_field", sub, "is required")
                    out[f.name] = f.default
                    continue
                v = value[f.name]
                if v is None:
                    if not f.nullable:
                        raise _fail("wrong_type", sub, "may not be null")
                    out[f.name] = f.default
                    continue
                out[f.name] = _reference(f.type, v, sub)
            return out
        case _:
            assert_never(ftype)


ID18 = "11010519491231002X"
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.text(max_size=12),
    st.sampled_from(
        ["", "x" * 129, "2020-02-30", "2020-13", f"x {ID18}", SEALED_TEXT_PREFIX + "AAAA", "ab" * 32]
    ),
    st.binary(max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)
SAFE = st.characters(codec="utf-8", exclude_characters="0123456789")  # no ID or phone numbers


def valid(ftype: FieldType) -> st.SearchStrategy[Any]:
    """Values the schema accepts (almost always: a generated text can still look like a number)."""
    match ftype:
        case Str(max_len=max_len, min_len=min_len, pattern=pattern):
            if pattern is not None:
                return st.from_regex(pattern, fullmatch=True).filter(lambda v: min_len <= len(v) <= max_len)
            return st.text(SAFE, min_size=min_len, max_size=min(max_len, 24))
        case Int(lo=lo, hi=hi):
            return st.integers(lo, hi)
        case Bool():
            return st.booleans()
        case Date():
            return st.dates().map(lambda d: d.isoformat()).filter(lambda v: len(v) == 10)
        case Month():
            return st.dates().map(lambda d: d.isoformat()[:7]).filter(lambda v: len(v) == 7)
        case Hex(nbytes=nbytes):
            return st.binary(min_size=nbytes, max_size=nbytes).map(bytes.hex)
        case Enum(values=vals):
            return st.sampled_from(vals)
        case List(item=item, max_len=max_len, min_len=min_len, unique=unique):
            return st.lists(
                valid(item),
                min_size=min_len,
                max_size=max(min_len, min(max_len, 3)),
                unique_by=repr if unique else None,
            )
        case Json(max_items=max_items):
            return st.recursive(
                st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(SAFE, max_size=8),
                lambda c: (
                    st.lists(c, max_size=min(3, max_items))
                    | st.dictionaries(st.text(SAFE, min_size=1, max_size=4), c, max_size=min(3, max_items))
                ),
                max_leaves=6,
            )
        case Obj(fields=fields):
            return st.fixed_dictionaries(
                {f.name: valid(f.type) for f in fields if f.required},
                optional={f.name: valid(f.type) | st.none() for f in fields if not f.required},
            )
        case _:
            assert_never(ftype)


def _places(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a payload (dict keys and list indexes), the payload itself last."""
    out: list[tuple[Any, ...]] = []
    if type(value) is dict:
        for k, v in value.items():
            out += _places(v, (*at, k))
    elif type(value) is list:
        for i, v in enumerate(value):
            out += _places(v, (*at, i))
    return [*out, at]


def _replace(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    head, rest = at[0], at[1:]
    if type(value) is dict:
        return {**value, head: _replace(value[head], rest, new)}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


@st.composite
def payloads(draw: st.DrawFn, schema: Obj) -> Any:
    """A valid payload, half the time with one thing broken: a value replaced, a field dropped,
    an unknown field added, a list item doubled."""
    payload = draw(valid(schema))
    if draw(st.booleans()):
        return payload
    at = draw(st.sampled_from(_places(payload)))
    kind = draw(st.sampled_from(["replace", "drop", "add", "double"]))
    if kind == "replace" or (kind == "drop" and not at):
        return _replace(payload, at, draw(junk))
    if kind == "drop":
        node = payload
        for step in at[:-1]:
            node = node[step]
        if type(node) is dict:
            return _replace(payload, at[:-1], {k: v for k, v in node.items() if k != at[-1]})
        return _replace(payload, at[:-1], [v for i, v in enumerate(node) if i != at[-1]])
    node = payload
    for step in at:
        node = node[step]
    if kind == "add" and type(node) is dict:
        return _replace(payload, at, {**node, draw(st.sampled_from(["aa_unknown", "zz_unknown"])): 1})
    if kind == "double" and type(node) is list and node:
        return _replace(payload, at, [*node, node[0]])
    return _replace(payload, at, draw(junk))


SCHEMAS = sorted(TX_TYPES.items())


def _outcome(check: Any, schema: Obj, payload: Any) -> tuple[str, Any]:
    try:
        return "ok", check(schema, payload)
    except SchemaError as exc:
        return "refused", (exc.code, exc.path, exc.what)


@given(st.data())
@settings(max_examples=1000, deadline=None)
def test_the_compiled_check_accepts_and_refuses_exactly_as_the_interpreter(data: st.DataObject) -> None:
    _, spec = data.draw(st.sampled_from(SCHEMAS), label="tx_type")
    payload = data.draw(payloads(spec.schema), label="payload")
    want = _outcome(lambda s, p: _reference(s, p, ""), spec.schema, payload)
    got = _outcome(validate, spec.schema, payload)
    event(want[0] if want[0] == "ok" else f"refused: {want[1][0]}")
    assert got == want
    assert repr(got) == repr(want)  # bool stays bool, int stays int, order of keys included
