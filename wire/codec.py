"""Canonical msgpack encoding: the single byte representation of every signed or hashed object.

Rules (ARCHITECTURE section 3):

- Only these value types exist: None, bool, int (-2**63 .. 2**64-1), str (UTF-8), bytes, list and
  map with str keys. No floats, no ext types, no other key types.
- Maps are encoded with keys in ascending order of their UTF-8 bytes; a decoder rejects any other
  order (and duplicate keys). Records (the typed objects of `wire.types`) are positional arrays
  `[tag, version, field...]`, never maps.
- msgpack always offers several encodings of one value (e.g. an int as uint8 or uint32); the
  canonical one is what `msgpack.packb` emits, which is the shortest. The decoder checks
  canonicality by re-encoding what it decoded and comparing bytes, so
  `encode(decode(b)) == b` for every accepted `b` and `decode(encode(x)) == x` for every encodable x.
- Decoding rejects trailing bytes, oversize fields (limits below, enforced by msgpack before
  allocation), nesting deeper than `MAX_DEPTH`, and invalid UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from wire.errors import DecodeError, EncodeError

MAX_DEPTH = 24
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Upper bounds checked by msgpack before it allocates anything."""

    max_bytes: int = 16 * 1024 * 1024
    max_str_len: int = 1024 * 1024
    max_bin_len: int = 16 * 1024 * 1024
    max_array_len: int = 100_000
    max_map_len: int = 4_096


DEFAULT_LIMITS = Limits()


def _ext_refused(code: int, data: bytes) -> Any:
    raise DecodeError(f"msgpack ext type {code} is not allowed", code="non_canonical")


def canonical(value: Any, depth: int = 0) -> Any:
    """Validate `value` and return it with every map's keys sorted (a canonical copy).

    Tuples become lists. Raises EncodeError for anything outside the allowed value types.
    Python orders str by code point, which is exactly the order of their UTF-8 bytes, so sorting
    the keys as str gives the canonical byte order. Scalars inside maps and lists are checked in
    line (no call per leaf): this runs for every value the contracts write.
    """
    t = type(value)
    if t is dict:
        return _canonical_map(value, depth)
    if t is list or t is tuple:
        return _canonical_list(value, depth)
    if t is str or t is bytes or t is bool or value is None:
        return value
    if t is int:
        if not INT_MIN <= value <= INT_MAX:
            raise EncodeError(f"integer {value} out of the 64-bit range")
        return value
    return _canonical_slow(value, depth)


def _canonical_map(value: dict[Any, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise EncodeError(f"value nested deeper than {MAX_DEPTH}")
    keys = list(value)
    for key in keys:
        if type(key) is not str:
            raise EncodeError(f"map key {key!r} is not a str")
    keys.sort()
    out: dict[str, Any] = {}
    for key in keys:
        v = value[key]
        tv = type(v)
        if tv is str or tv is bytes or tv is bool or v is None or (tv is int and INT_MIN <= v <= INT_MAX):
            out[key] = v
        else:
            out[key] = canonical(v, depth + 1)
    return out


def _canonical_list(value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        raise EncodeError(f"value nested deeper than {MAX_DEPTH}")
    out: list[Any] = []
    for v in value:
        tv = type(v)
        if tv is str or tv is bytes or tv is bool or v is None or (tv is int and INT_MIN <= v <= INT_MAX):
            out.append(v)
        else:
            out.append(canonical(v, depth + 1))
    return out


def _canonical_slow(value: Any, depth: int) -> Any:
    """Subclasses and other containers (IntEnum, mappings, bytearray, ...)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, int):
        return canonical(int(value), depth)
    if isinstance(value, (list, tuple)):
        return [canonical(v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return canonical(dict(value), depth)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise EncodeError(f"type {type(value).__name__} cannot be encoded canonically")


def encode(value: Any) -> bytes:
    """Canonical bytes of a value (maps sorted, tuples as lists)."""
    try:
        return msgpack.packb(canonical(value), use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:  # pragma: no cover - canonical() checks first
        raise EncodeError(str(exc)) from exc


def encode_trusted(value: Any) -> bytes:
    """Encode a value already known to be canonical (no maps, no floats): the fast path for records."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode canonical bytes strictly; raise DecodeError for anything non-canonical."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("input is not bytes", code="malformed")
    if len(data) > limits.max_bytes:
        raise DecodeError(f"{len(data)} bytes exceed the limit of {limits.max_bytes}", code="too_large")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_ext_refused,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_bin_len,
            max_array_len=limits.max_array_len,
            max_map_len=limits.max_map_len,
            max_ext_len=0,
        )
    except DecodeError:
        raise
    except msgpack.ExtraData as exc:
        raise DecodeError("trailing bytes after the value", code="trailing_bytes") from exc
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise DecodeError(f"malformed msgpack: {exc}", code="malformed") from exc
    _check_decoded(value, 0)
    if encode_trusted(value) != bytes(data):
        raise DecodeError("bytes are not the canonical encoding of their value", code="non_canonical")
    return value


def _check_decoded(value: Any, depth: int) -> None:
    """No floats anywhere, map keys strictly ascending (as str: the order of their UTF-8 bytes)."""
    if depth > MAX_DEPTH:
        raise DecodeError(f"value nested deeper than {MAX_DEPTH}", code="too_deep")
    t = type(value)
    if t is list:
        for v in value:
            tv = type(v)
            if tv is list or tv is dict or tv is float:
                _check_decoded(v, depth + 1)
    elif t is dict:
        prev: str | None = None
        for key, v in value.items():
            if prev is not None and key <= prev:
                raise DecodeError("map keys are not in ascending order", code="non_canonical")
            prev = key
            tv = type(v)
            if tv is list or tv is dict or tv is float:
                _check_decoded(v, depth + 1)
    elif t is float:
        raise DecodeError("floats are not allowed", code="non_canonical")


def decode_trusted(data: bytes) -> Any:
    """Decode bytes this system wrote itself in canonical form (ledger state read back from the
    node's own store, whose integrity the state root guards): no canonicality re-check."""
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, ext_hook=_ext_refused)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise DecodeError(f"malformed msgpack: {exc}", code="malformed") from exc


# ---------------------------------------------------------------------------------------------
# Field checks used by the record types: each takes the decoded value and returns it or raises.


def want_int(value: Any, name: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    if type(value) is not int:
        raise DecodeError(f"{name}: expected int", code="wrong_type")
    if not lo <= value <= hi:
        raise DecodeError(f"{name}: {value} outside [{lo}, {hi}]", code="out_of_range")
    return value


def want_bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise DecodeError(f"{name}: expected bool", code="wrong_type")
    return value


def want_str(value: Any, name: str, max_len: int = 256, min_len: int = 0) -> str:
    if type(value) is not str:
        raise DecodeError(f"{name}: expected str", code="wrong_type")
    if not min_len <= len(value) <= max_len:
        raise DecodeError(f"{name}: length {len(value)} outside [{min_len}, {max_len}]", code="out_of_range")
    return value


def want_bytes(value: Any, name: str, size: int | None = None, max_len: int = 1 << 20) -> bytes:
    if type(value) is not bytes:
        raise DecodeError(f"{name}: expected bytes", code="wrong_type")
    if size is not None and len(value) != size:
        raise DecodeError(f"{name}: expected {size} bytes, got {len(value)}", code="out_of_range")
    if len(value) > max_len:
        raise DecodeError(f"{name}: {len(value)} bytes exceed {max_len}", code="too_large")
    return value


def want_list(value: Any, name: str, max_len: int) -> list[Any]:
    if type(value) is not list:
        raise DecodeError(f"{name}: expected list", code="wrong_type")
    if len(value) > max_len:
        raise DecodeError(f"{name}: {len(value)} items exceed {max_len}", code="too_large")
    return value


def want_record(value: Any, name: str, tag: int, version: int, n_fields: int) -> Sequence[Any]:
    """Check the `[tag, version, field...]` frame of a record and return the fields."""
    if type(value) is not list or len(value) < 2:
        raise DecodeError(f"{name}: expected a record array", code="wrong_type")
    if value[0] != tag or type(value[0]) is not int:
        raise DecodeError(f"{name}: unknown tag {value[0]!r} (expected {tag})", code="unknown_tag")
    if value[1] != version or type(value[1]) is not int:
        raise DecodeError(f"{name}: unsupported version {value[1]!r}", code="unknown_version")
    if len(value) != n_fields + 2:
        raise DecodeError(f"{name}: expected {n_fields} fields, got {len(value) - 2}", code="wrong_arity")
    return value[2:]
