"""Block execution: committed blocks through the rule contracts into the store, one batch per block.

Rules:

- Execution itself is `contracts.run_block`, the one definition the auditor's replay shares.
- The state root after a block is the root of the authenticated state map (`wire.statemap`), to
  which the block's writes are applied in one pass; the results root is the RFC 6962 root over the
  block's encoded receipts.
- `Executor.apply` writes the block, its certificate, receipts, state writes, the map's new nodes
  and stale list, the roots and the meta record in one synced batch, so a crash leaves all of a
  block or none of it. Every `prune_every` blocks the map nodes no root of the last
  `retain_blocks` heights needs are deleted (a separate, idempotent batch).
- The contracts read the stored state through a `BlockReader`: each key from LevelDB once per
  block (the state does not change until the block's batch is written).
- Map nodes are read through a bounded cache (nodes are immutable: a (position, version) is
  written once), so the upper levels are not read from LevelDB for every block.
- The first occurrence of a transaction id keeps its index entry; a replay's receipt is stored at
  its position but never moves the index.
- `apply` also says what the block did to the node registry: the validator epochs it scheduled
  (for the replica) and whether any node or node-key record changed (for the peer set).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from consensus import EpochInfo
from contracts import genesis_state, run_block
from node.errors import StorageError
from node.metrics import StageClock
from node.runtime.registry import epochs_written, registry_written
from node.store.storage import BlockReader, BlockStore, Meta
from wire import statemap
from wire.genesis import Genesis
from wire.merkle import EMPTY_ROOT
from wire.statemap import Changes, Ref
from wire.types import Block, CommitCertificate, Receipt, SignedTransaction, results_root


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedBlock:
    """What applying one block produced: the new meta record and the block's receipts."""

    meta: Meta
    receipts: tuple[Receipt, ...]
    epochs: tuple[EpochInfo, ...] = ()
    registry_changed: bool = False


NODE_CACHE_MAX = 200_000
RETAIN_BLOCKS_DEFAULT = 256
PRUNE_EVERY = 16


def genesis_meta(
    genesis: Genesis, entries: Sequence[tuple[bytes, bytes]]
) -> tuple[Meta, Ref | None, Changes]:
    root, changes = statemap.update(_no_nodes, None, 0, entries)
    meta = Meta(
        height=0, block_hash=genesis.hash, state_root=statemap.root_hash(root), results_root=EMPTY_ROOT
    )
    return meta, root, changes


def _no_nodes(position: bytes, version: int) -> bytes:
    raise KeyError(position)


class Executor:
    """Owns the state map's root and applies committed blocks to the store in height order."""

    def __init__(
        self,
        store: BlockStore,
        genesis: Genesis,
        decode: Callable[[bytes], SignedTransaction] = SignedTransaction.decode,
        *,
        retain_blocks: int = RETAIN_BLOCKS_DEFAULT,
        stages: StageClock | None = None,
    ) -> None:
        self._store = store
        self._stages = stages
        self._genesis = genesis
        self._decode = decode
        self.retain_blocks = max(retain_blocks, 2 * genesis.consensus.watermark_window)
        self._cache: dict[tuple[bytes, int], bytes] = {}
        meta = store.meta()
        if meta is None:
            entries = genesis_state(genesis)
            meta, root, changes = genesis_meta(genesis, entries)
            store.write_genesis_state(entries, meta, changes, root)
        self.meta = meta
        self.root = store.map_root(meta.height)
        if statemap.root_hash(self.root) != meta.state_root:
            raise StorageError(f"{store.path}: the state map's root disagrees with the meta record")

    def node(self, position: bytes, version: int) -> bytes:
        """A map node, through the cache (`wire.statemap.NodeSource`)."""
        key = (position, version)
        found = self._cache.get(key)
        if found is None:
            found = self._store.map_node(position, version)
            self._remember(key, found)
        return found

    def _remember(self, key: tuple[bytes, int], data: bytes) -> None:
        if len(self._cache) >= NODE_CACHE_MAX:
            self._cache.clear()  # immutable entries: dropping them all is always correct
        self._cache[key] = data

    def apply(self, block: Block, certificate: CommitCertificate) -> AppliedBlock:
        """Execute and store `block` (the next height); return the new meta record and the receipts."""
        height = block.header.height
        if height != self.meta.height + 1:
            raise StorageError(f"block {height} executed out of order after {self.meta.height}")
        t0 = time.thread_time()
        result = run_block(BlockReader(self._store), self._genesis.chain_id, block, self._decode)
        receipts_root = results_root(result.receipts)
        t1 = time.thread_time()
        root, changes = statemap.update(self.node, self.root, height, result.writes)
        meta = Meta(
            height=height,
            block_hash=block.hash,
            state_root=statemap.root_hash(root),
            results_root=receipts_root,
        )
        t2 = time.thread_time()
        self._store.commit_block(block, certificate, result.receipts, result.writes, meta, changes, root)
        for position, data in changes.nodes:
            self._remember((position, height), data)
        self.root = root
        self.meta = meta
        if height % PRUNE_EVERY == 0 and height > self.retain_blocks:
            self._store.prune_map(height - self.retain_blocks)
        if self._stages is not None:
            t3 = time.thread_time()
            self._stages.add("execution", t1 - t0)
            self._stages.add("state_map", t2 - t1)
            self._stages.add("storage", t3 - t2)
        return AppliedBlock(
            meta=meta,
            receipts=result.receipts,
            epochs=epochs_written(result.writes),
            registry_changed=registry_written(result.writes),
        )
