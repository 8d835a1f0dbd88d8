"""The one parser of hex ids: transaction ids, block and state hashes, person keys, envelopes, blobs.

Rules: an id is exactly 64 lowercase hex characters (32 bytes); `is_hex_id` tests a string,
`parse_hex_id` returns the bytes or raises `BadIdError` (code `bad_id`) naming what was expected.
`parse_hex` is the general form for hex of another (or any) size, same error.
"""

from __future__ import annotations

import re

from wire.errors import BadIdError

HEX_ID = re.compile(r"^[0-9a-f]{64}$")
_HEX = re.compile(r"^(?:[0-9a-f]{2})*$")


def is_hex_id(value: object) -> bool:
    """True when `value` is a str of exactly 64 lowercase hex characters."""
    return isinstance(value, str) and HEX_ID.match(value) is not None


def parse_hex_id(value: object, what: str = "the id") -> bytes:
    """The 32 bytes of a 64-character lowercase hex id; BadIdError otherwise."""
    if not is_hex_id(value):
        raise BadIdError(f"{what} must be 64 lowercase hex characters")
    return bytes.fromhex(str(value))


def parse_hex(value: object, what: str, size: int | None = None, max_chars: int = 1 << 20) -> bytes:
    """Lowercase hex of `size` bytes (any size when None) as bytes; BadIdError otherwise."""
    if not isinstance(value, str) or len(value) > max_chars or not _HEX.match(value):
        raise BadIdError(f"{what} must be lowercase hex")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise BadIdError(f"{what} must be {size} bytes ({2 * size} hex characters)")
    return raw
