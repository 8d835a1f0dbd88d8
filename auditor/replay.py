"""The auditor's replay: every block from genesis through the node's own executor, in memory.

Rules: the replay starts from `contracts.genesis_state(genesis)` and applies blocks strictly in
order through `contracts.run_block` (the node's definition of executing a block), so the
receipts and roots it derives are the ones an honest node stores. It keeps the roots of the
last exec_lag + 1 heights only: what the next headers must carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sortedcontainers import SortedList

from contracts import genesis_state, run_block
from contracts.nodes import EPOCH_KEY_PREFIX as EPOCH_PREFIX
from wire.genesis import Genesis
from wire.merkle import EMPTY_ROOT
from wire.statehash import StateHash
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


class Replayer:
    """Replays blocks from genesis exactly as the node's executor does; keeps recent roots."""

    def __init__(self, genesis: Genesis) -> None:
        self.chain_id = genesis.chain_id
        self.lag = genesis.consensus.exec_lag
        entries = genesis_state(genesis)
        self.state = MemoryState(entries)
        self.state_hash = StateHash()
        for k, v in entries:
            self.state_hash.add(k, v)
        self.height = 0
        self.roots: dict[int, tuple[bytes, bytes]] = {0: (self.state_hash.root(), EMPTY_ROOT)}
        self.wrote_epochs = False  # the last block applied scheduled or changed a validator epoch

    def roots_for_header(self, height: int) -> tuple[bytes, bytes]:
        return self.roots[max(0, height - self.lag)]

    def apply(self, block: Block) -> tuple[Receipt, ...]:
        height = block.header.height
        if height != self.height + 1:
            raise ValueError(f"replay of block {height} after {self.height}")
        result = run_block(self.state, self.chain_id, block)
        for key, value in result.writes:
            self.state_hash.update(key, self.state.get(key), value)
        for key, value in result.writes:
            self.state.set(key, value)
        self.wrote_epochs = any(key.startswith(EPOCH_PREFIX) for key, _ in result.writes)
        self.height = height
        self.roots[height] = (self.state_hash.root(), results_root(result.receipts))
        self.roots.pop(height - self.lag - 1, None)
        return result.receipts
