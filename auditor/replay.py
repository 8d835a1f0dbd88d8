"""The auditor's replay: every block from genesis through the node's own executor, in memory.

Rules: the replay starts from `contracts.genesis_state(genesis)` and applies blocks strictly in
order through `contracts.run_block` (the node's definition of executing a block), so the
receipts and roots it derives are the ones an honest node stores. The state root is the root of
the authenticated state map (`wire.statemap`), kept in memory with value hashes only in its
leaves and only its current version (stale nodes are dropped at once). It keeps the roots of the
last exec_lag + 1 heights only: what the next headers must carry. A replay may also start at a
height s from a state that someone claims (`Replayer.at`, a segment of auditor/segments.py): it
knows only the roots of s then, and the caller must check them against the certified ones before
trusting anything it derives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

from sortedcontainers import SortedList

from contracts import genesis_state, run_block
from contracts.nodes import EPOCH_KEY_PREFIX as EPOCH_PREFIX
from wire import statemap
from wire.genesis import Genesis
from wire.merkle import EMPTY_ROOT
from wire.types import Block, Receipt, results_root


class MemoryState:
    """The replayed ledger state: a dict with its keys kept sorted (a contracts StateReader).

    The sorted keys are a `sortedcontainers.SortedList`: O(log n) inserts, where a plain list's
    insort moves half the keys each time and made replay slow down as the state grew."""

    def __init__(self, entries: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._data: dict[bytes, bytes] = dict(entries)
        self._keys: SortedList = SortedList(self._data)

    def set(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            if self._data.pop(key, None) is not None:
                self._keys.remove(key)
            return
        if key not in self._data:
            self._keys.add(key)
        self._data[key] = value

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        for k in self._keys.irange(start, end, inclusive=(True, False)):
            yield k, self._data[k]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for k in self._keys:
            yield k, self._data[k]

    def __len__(self) -> int:
        return len(self._keys)


class MemoryMap:
    """The state map of the current height only: nodes by (position, version), stale ones dropped."""

    def __init__(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        self.nodes: dict[tuple[bytes, int], bytes] = {}
        self.root: statemap.Ref | None = None
        self.apply(0, entries)

    def node(self, position: bytes, version: int) -> bytes:
        return self.nodes[(position, version)]

    def apply(self, version: int, writes: Iterable[tuple[bytes, bytes | None]]) -> bytes:
        hashed = [(k, None if v is None else hashlib.sha256(v).digest()) for k, v in writes]
        self.root, changes = statemap.update(self.node, self.root, version, hashed, hashed=True)
        for position, old in changes.stale:
            del self.nodes[(position, old)]
        for position, data in changes.nodes:
            self.nodes[(position, version)] = data
        return statemap.root_hash(self.root)


class Replayer:
    """Replays blocks from genesis exactly as the node's executor does; keeps recent roots."""

    def __init__(
        self,
        genesis: Genesis,
        *,
        height: int = 0,
        entries: Sequence[tuple[bytes, bytes]] | None = None,
        results_root: bytes = EMPTY_ROOT,
    ) -> None:
        self.chain_id = genesis.chain_id
        self.lag = genesis.consensus.exec_lag
        if entries is None:
            entries = genesis_state(genesis)
        self.state = MemoryState(entries)
        self.map = MemoryMap(entries)
        self.height = height
        self.roots: dict[int, tuple[bytes, bytes]] = {
            height: (statemap.root_hash(self.map.root), results_root)
        }
        self.wrote_epochs = False  # the last block applied scheduled or changed a validator epoch

    @classmethod
    def at(
        cls, genesis: Genesis, height: int, entries: Sequence[tuple[bytes, bytes]], results_root: bytes
    ) -> Replayer:
        """A replay starting after block `height` from the (claimed) state `entries`, sorted by key."""
        return cls(genesis, height=height, entries=entries, results_root=results_root)

    def has_roots_for_header(self, height: int) -> bool:
        return max(0, height - self.lag) in self.roots

    def roots_for_header(self, height: int) -> tuple[bytes, bytes]:
        return self.roots[max(0, height - self.lag)]

    def apply(self, block: Block) -> tuple[Receipt, ...]:
        height = block.header.height
        if height != self.height + 1:
            raise ValueError(f"replay of block {height} after {self.height}")
        result = run_block(self.state, self.chain_id, block)
        state_root = self.map.apply(height, result.writes)
        for key, value in result.writes:
            self.state.set(key, value)
        self.wrote_epochs = any(key.startswith(EPOCH_PREFIX) for key, _ in result.writes)
        self.height = height
        self.roots[height] = (state_root, results_root(result.receipts))
        self.roots.pop(height - self.lag - 1, None)
        return result.receipts
