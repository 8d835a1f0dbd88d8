"""Frames on an authenticated link, and the bounded queue they wait in.

Every websocket message after the handshake is one binary frame:

    MESSAGE   0x01 payload
    REQUEST   0x02 request_id(u64 big-endian) payload
    RESPONSE  0x03 request_id payload
    ERROR     0x04 request_id reason(ASCII, at most 64 bytes)

The payload is opaque here (the node decodes it with `wire.codec`). A text message, an unknown
kind, a short header or a payload over the limit is a protocol violation: the link is closed.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

from network.errors import ProtocolError


class Kind(IntEnum):
    MESSAGE = 1
    REQUEST = 2
    RESPONSE = 3
    ERROR = 4


HEADER_BYTES_MAX = 9
REASON_BYTES_MAX = 64
_ID = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    request_id: int
    payload: bytes


def message(payload: bytes) -> bytes:
    return b"\x01" + payload


def request(request_id: int, payload: bytes) -> bytes:
    return b"\x02" + _ID.pack(request_id) + payload


def response(request_id: int, payload: bytes) -> bytes:
    return b"\x03" + _ID.pack(request_id) + payload


def error(request_id: int, reason: str) -> bytes:
    raw = reason.encode("ascii", "replace")[:REASON_BYTES_MAX]
    return b"\x04" + _ID.pack(request_id) + raw


def parse(data: bytes, payload_bytes_max: int) -> Frame:
    """Split a frame; raises ProtocolError (code = the drop reason) for anything malformed."""
    if not data:
        raise ProtocolError("empty frame", code="malformed")
    if len(data) > payload_bytes_max + HEADER_BYTES_MAX:
        raise ProtocolError(f"frame of {len(data)} bytes is over the limit", code="too_large")
    kind = data[0]
    if kind == Kind.MESSAGE:
        return Frame(Kind.MESSAGE, 0, data[1:])
    if kind not in (Kind.REQUEST, Kind.RESPONSE, Kind.ERROR):
        raise ProtocolError(f"unknown frame kind {kind}", code="unknown_kind")
    if len(data) < HEADER_BYTES_MAX:
        raise ProtocolError("frame shorter than its header", code="malformed")
    (request_id,) = _ID.unpack_from(data, 1)
    payload = data[HEADER_BYTES_MAX:]
    if kind == Kind.ERROR and len(payload) > REASON_BYTES_MAX:
        raise ProtocolError("error reason too long", code="malformed")
    return Frame(Kind(kind), request_id, payload)


class FrameQueue:
    """A FIFO of byte strings bounded in count and in total bytes. Never blocks the producer:
    `put` returns False when the item does not fit, and the caller counts the drop."""

    def __init__(self, frames_max: int, bytes_max: int) -> None:
        self._items: deque[bytes] = deque()
        self._bytes = 0
        self._frames_max = frames_max
        self._bytes_max = bytes_max
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def put(self, item: bytes) -> bool:
        if self._closed:
            return False
        if len(self._items) >= self._frames_max or self._bytes + len(item) > self._bytes_max:
            return False
        self._items.append(item)
        self._bytes += len(item)
        self._ready.set()
        return True

    async def get(self) -> bytes | None:
        """The next item; None once the queue is closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        self._bytes -= len(item)
        return item

    def close(self) -> int:
        """Refuse further puts and wake the consumer; returns how many items are discarded."""
        self._closed = True
        dropped = len(self._items)
        self._items.clear()
        self._bytes = 0
        self._ready.set()
        return dropped
