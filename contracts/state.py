"""State access for the engine: the reader protocol, write overlays and record encoding.

Rules:

- State keys are UTF-8 paths (`org/cn.gs`, `archive/<person_key>`, ...; the layout is in
  docs/contracts.md and `contracts.keys`). A path segment that may contain `/` or `%` is escaped
  with `seg()` so prefix scans never confuse `doc/a` with `doc/a/b`.
- Values are `wire.codec.encode` of a str-keyed dict (JSON-like), so the read API can render them.
  A stored value that does not decode to a dict is corrupt state: InvariantError.
- An `Overlay` layers writes (value, or None for a delete) over a parent reader. `scan` merges the
  parent's entries with the overlay's in ascending key order. Overlays nest: one per block, one per
  transaction; a rejected transaction's overlay is dropped, an accepted one is merged into the
  block's. Nothing here iterates a set or a dict in insertion order where order matters: the
  written keys are kept sorted.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from contracts.errors import InvariantError
from wire import codec
from wire.errors import WireError
from wire.families import prefix_end


class StateReader(Protocol):
    """What the engine needs from the node's store: point reads and ordered range scans."""

    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries with `start <= key < end`, ascending by key."""
        ...


def encode_record(record: Mapping[str, Any]) -> bytes:
    return codec.encode(dict(record))


def decode_record(key: bytes, raw: bytes) -> dict[str, Any]:
    try:
        value = codec.decode_trusted(raw)  # written by the engine itself; the state root guards it
    except WireError as exc:
        raise InvariantError(f"state value at {key!r} does not decode: {exc}") from exc
    if not isinstance(value, dict):
        raise InvariantError(f"state value at {key!r} is not a record")
    return value


class Overlay:
    """Writes layered over a parent reader; itself a StateReader."""

    __slots__ = ("_keys", "_parent", "_writes")

    def __init__(self, parent: StateReader) -> None:
        self._parent = parent
        self._writes: dict[bytes, bytes | None] = {}
        self._keys: list[bytes] = []  # the written keys, kept sorted

    # -- StateReader
    def get(self, key: bytes) -> bytes | None:
        if key in self._writes:
            return self._writes[key]
        return self._parent.get(key)

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        lo = bisect_left(self._keys, start)
        hi = bisect_left(self._keys, end)
        mine = self._keys[lo:hi]
        i = 0
        for key, value in self._parent.scan(start, end):
            while i < len(mine) and mine[i] < key:
                new = self._writes[mine[i]]
                if new is not None:
                    yield mine[i], new
                i += 1
            if i < len(mine) and mine[i] == key:
                new = self._writes[mine[i]]
                if new is not None:
                    yield key, new
                i += 1
            else:
                yield key, value
        while i < len(mine):
            new = self._writes[mine[i]]
            if new is not None:
                yield mine[i], new
            i += 1

    # -- writes
    def put(self, key: bytes, value: bytes | None) -> None:
        if key not in self._writes:
            insort(self._keys, key)
        self._writes[key] = value

    def written(self) -> list[tuple[bytes, bytes | None]]:
        """Every key written here with its final value (None = delete), ascending."""
        return [(k, self._writes[k]) for k in self._keys]

    def merge_into(self, target: Overlay) -> None:
        for key in self._keys:
            target.put(key, self._writes[key])


class View:
    """Record-level access over an overlay: str keys, dict values."""

    __slots__ = ("overlay",)

    def __init__(self, overlay: Overlay) -> None:
        self.overlay = overlay

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.overlay.get(key.encode("utf-8"))
        return None if raw is None else decode_record(key.encode("utf-8"), raw)

    def require(self, key: str) -> dict[str, Any]:
        rec = self.get(key)
        if rec is None:
            raise InvariantError(f"state record {key} is missing")
        return rec

    def exists(self, key: str) -> bool:
        return self.overlay.get(key.encode("utf-8")) is not None

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        self.overlay.put(key.encode("utf-8"), encode_record(record))

    def delete(self, key: str) -> None:
        self.overlay.put(key.encode("utf-8"), None)

    def scan_prefix(self, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        start = prefix.encode("utf-8")
        for key, raw in self.overlay.scan(start, prefix_end(start)):
            yield key.decode("utf-8"), decode_record(key, raw)

    def scan_range(self, start: str, end: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, raw in self.overlay.scan(start.encode("utf-8"), end.encode("utf-8")):
            yield key.decode("utf-8"), decode_record(key, raw)
