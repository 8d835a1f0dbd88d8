"""Property tests of the canonical encoding (ARCHITECTURE section 3, RELIABILITY A3 and S6)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import codec
from wire.errors import DecodeError, EncodeError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=codec.INT_MIN, max_value=codec.INT_MAX)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=30,
)


@given(values)
def test_decode_inverts_encode(value: Any) -> None:
    data = codec.encode(value)
    assert codec.decode(data) == codec.canonical(value)
    assert codec.encode(codec.decode(data)) == data


@given(st.binary(max_size=200))
@settings(max_examples=500)
def test_any_accepted_bytes_reencode_identically(data: bytes) -> None:
    try:
        value = codec.decode(data)
    except DecodeError:
        return
    assert codec.encode(value) == data


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 9), min_size=2, max_size=6))
def test_unsorted_map_keys_are_rejected(mapping: dict[str, int]) -> None:
    items = sorted(mapping.items(), key=lambda kv: kv[0].encode())
    reversed_bytes = msgpack.packb(dict(reversed(items)), use_bin_type=True)
    with pytest.raises(DecodeError) as err:
        codec.decode(reversed_bytes)
    assert err.value.code == "non_canonical"


@given(st.integers(0, 127))
def test_non_minimal_integer_forms_are_rejected(n: int) -> None:
    for wide in (b"\xcc" + bytes([n]), b"\xcd" + n.to_bytes(2, "big"), b"\xce" + n.to_bytes(4, "big")):
        with pytest.raises(DecodeError):
            codec.decode(wide)


@given(values, st.binary(min_size=1, max_size=5))
def test_trailing_bytes_are_rejected(value: Any, extra: bytes) -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(codec.encode(value) + extra)
    assert err.value.code in {"trailing_bytes", "malformed"}


def test_floats_ext_and_non_str_keys_are_rejected() -> None:
    for bad in (
        msgpack.packb(1.5),
        msgpack.packb([1, 2.0]),
        msgpack.packb(msgpack.ExtType(1, b"x")),
        msgpack.packb({1: 2}),
        b"\xa3\xff\xfe\xfd",  # invalid UTF-8 str
        b"\xdb\xff\xff\xff\xff",  # str32 claiming 4 GiB
        b"\xdd\x7f\xff\xff\xff",  # array32 claiming 2**31 items
    ):
        with pytest.raises(DecodeError):
            codec.decode(bad)
    with pytest.raises(EncodeError):
        codec.encode(1.5)
    with pytest.raises(EncodeError):
        codec.encode({1: 2})
    with pytest.raises(EncodeError):
        codec.encode(2**64)


def test_str8_for_short_string_is_non_canonical() -> None:
    with pytest.raises(DecodeError):
        codec.decode(b"\xd9\x01a")  # 'a' as str8 instead of fixstr


def test_deep_nesting_is_rejected_without_crashing() -> None:
    deep = b"\x91" * 5000 + b"\xc0"
    with pytest.raises(DecodeError):
        codec.decode(deep)
    nested: Any = None
    for _ in range(codec.MAX_DEPTH + 2):
        nested = [nested]
    with pytest.raises(EncodeError):
        codec.encode(nested)


def test_oversize_input_is_refused_before_parsing() -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(b"\xc0" * 10, codec.Limits(max_bytes=5))
    assert err.value.code == "too_large"
