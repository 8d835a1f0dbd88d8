"""Block execution: committed blocks through the rule contracts into the store, one batch per block.

Rules:

- Execution itself is `contracts.run_block`, the one definition the auditor's replay shares.
- The state root after a block is the LtHash of all live state entries (`wire.statehash`); the
  results root is the RFC 6962 root over the block's encoded receipts.
- `Executor.apply` writes the block, its certificate, receipts, state writes, the accumulator and
  the meta record in one synced batch, so a crash leaves all of a block or none of it.
- The first occurrence of a transaction id keeps its index entry; a replay's receipt is stored at
  its position but never moves the index.
- `apply` also says what the block did to the node registry: the validator epochs it scheduled
  (for the replica) and whether any node or node-key record changed (for the peer set).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from consensus import EpochInfo
from contracts import genesis_state, run_block
from node.errors import StorageError
from node.runtime.registry import epochs_written, registry_written
from node.store.storage import BlockStore, Meta, StoreReader
from wire.genesis import Genesis
from wire.merkle import EMPTY_ROOT
from wire.statehash import StateHash
from wire.types import Block, CommitCertificate, Receipt, SignedTransaction, results_root


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedBlock:
    """What applying one block produced: the new meta record and the block's receipts."""

    meta: Meta
    receipts: tuple[Receipt, ...]
    epochs: tuple[EpochInfo, ...] = ()
    registry_changed: bool = False


def genesis_meta(genesis: Genesis, entries: Sequence[tuple[bytes, bytes]]) -> tuple[Meta, StateHash]:
    sh = StateHash()
    for key, value in entries:
        sh.add(key, value)
    meta = Meta(height=0, block_hash=genesis.hash, state_root=sh.root(), results_root=EMPTY_ROOT)
    return meta, sh


class Executor:
    """Owns the state-hash accumulator and applies committed blocks to the store in height order."""

    def __init__(
        self,
        store: BlockStore,
        genesis: Genesis,
        decode: Callable[[bytes], SignedTransaction] = SignedTransaction.decode,
    ) -> None:
        self._store = store
        self._genesis = genesis
        self._decode = decode
        meta = store.meta()
        if meta is None:
            entries = genesis_state(genesis)
            meta, sh = genesis_meta(genesis, entries)
            store.write_genesis_state(entries, meta, sh.lanes_bytes())
        raw = store.state_hash_bytes()
        if raw is None:
            raise StorageError(f"{store.path}: the state accumulator is missing")
        self._state_hash = StateHash.from_bytes(raw)
        if self._state_hash.root() != meta.state_root:
            raise StorageError(f"{store.path}: the state accumulator disagrees with the meta record")
        self.meta = meta

    def apply(self, block: Block, certificate: CommitCertificate) -> AppliedBlock:
        """Execute and store `block` (the next height); return the new meta record and the receipts."""
        height = block.header.height
        if height != self.meta.height + 1:
            raise StorageError(f"block {height} executed out of order after {self.meta.height}")
        result = run_block(StoreReader(self._store), self._genesis.chain_id, block, self._decode)
        sh = self._state_hash.copy()
        for key, value in result.writes:
            sh.update(key, self._store.state_get(key), value)
        meta = Meta(
            height=height,
            block_hash=block.hash,
            state_root=sh.root(),
            results_root=results_root(result.receipts),
        )
        self._store.commit_block(block, certificate, result.receipts, result.writes, meta, sh.lanes_bytes())
        self._state_hash = sh
        self.meta = meta
        return AppliedBlock(
            meta=meta,
            receipts=result.receipts,
            epochs=epochs_written(result.writes),
            registry_changed=registry_written(result.writes),
        )
