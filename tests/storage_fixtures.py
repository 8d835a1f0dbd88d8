"""Blocks for storage tests: structurally valid, cheap to make (certificates are not verified here)."""

from __future__ import annotations

from collections.abc import Sequence

from node.store.storage import BlockStore, Meta
from wire import codec, statemap
from wire.merkle import merkle_root
from wire.types import RECEIPT_ACCEPTED, Block, BlockHeader, CommitCertificate, Receipt

CHAIN = "storage-test"
GENESIS_HASH = b"\x42" * 32


def make_block(
    height: int, prev_hash: bytes, n_txs: int = 3
) -> tuple[Block, CommitCertificate, list[Receipt]]:
    txs = tuple(codec.encode([height, i, b"x" * 20]) for i in range(n_txs))
    header = BlockHeader(
        chain_id=CHAIN,
        height=height,
        view=0,
        timestamp_ms=1_700_000_000_000 + height,
        prev_block_hash=prev_hash,
        tx_root=merkle_root(txs),
        prev_state_root=b"\x00" * 32,
        prev_results_root=b"\x00" * 32,
        validators_hash=b"\x01" * 32,
        proposer=0,
    )
    block = Block(header=header, txs=txs)
    cert = CommitCertificate(height=height, view=0, block_hash=block.hash, signatures=((0, b"\x00" * 64),))
    receipts = [
        Receipt(tx_id=(b"%08d%08d" % (height, i)) * 2, status=RECEIPT_ACCEPTED, writes=(f"k/{height}/{i}",))
        for i in range(n_txs)
    ]
    return block, cert, receipts


def commit(
    store: BlockStore,
    block: Block,
    cert: CommitCertificate,
    receipts: Sequence[Receipt],
    writes: Sequence[tuple[bytes, bytes | None]],
    results_root: bytes = b"\x00" * 32,
) -> Meta:
    """Commit `block` with its state map updated by `writes`, as the executor does."""
    height = block.header.height
    last = store.meta()
    root = None if last is None else store.map_root(last.height)
    new_root, changes = statemap.update(store.map_node, root, height, writes)
    meta = Meta(
        height=height,
        block_hash=block.hash,
        state_root=statemap.root_hash(new_root),
        results_root=results_root,
    )
    store.commit_block(block, cert, receipts, writes, meta, changes, new_root)
    return meta
