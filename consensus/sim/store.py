"""SimStore: a key-value store with LevelDB's durability semantics.

- `write(batch, sync)` applies the whole batch atomically.
- A process crash keeps every completed write (the OS has the data).
- A power loss drops every write made since the last `sync=True` write (a sync write flushes the
  log, and with it everything written before it).
"""

from __future__ import annotations

from collections.abc import Iterable


class SimStore:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self._undo: list[tuple[bytes, bytes | None]] = []
        self.writes = 0
        self.sync_writes = 0

    def write(self, batch: Iterable[tuple[bytes, bytes | None]], *, sync: bool) -> None:
        for key, value in batch:
            self._undo.append((key, self.data.get(key)))
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value
        self.writes += 1
        if sync:
            self.sync_writes += 1
            self._undo.clear()

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def items_with_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))

    def power_loss(self) -> int:
        """Undo every write since the last sync write; return how many were lost."""
        lost = len(self._undo)
        for key, old in reversed(self._undo):
            if old is None:
                self.data.pop(key, None)
            else:
                self.data[key] = old
        self._undo.clear()
        return lost
