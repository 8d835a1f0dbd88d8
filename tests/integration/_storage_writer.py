"""Child process for the kill -9 test: commits blocks as fast as it can until killed.

Each block h writes state `counter = h` and `block/<h>`, so a reader can check that the state
matches the height exactly: a partial batch would show up as a mismatch.
"""

from __future__ import annotations

import sys
from pathlib import Path

from node.store.storage import BlockStore, Meta
from tests.storage_fixtures import GENESIS_HASH, make_block
from wire import statemap


def main(path: str) -> None:
    store = BlockStore.open(Path(path), GENESIS_HASH)
    meta = store.meta()
    height = 0 if meta is None else meta.height
    prev = GENESIS_HASH if meta is None else meta.block_hash
    root = None if meta is None else store.map_root(height)
    print("ready", flush=True)
    while True:
        height += 1
        block, cert, receipts = make_block(height, prev, n_txs=20)
        writes = [(b"counter", str(height).encode()), (b"block/%d" % height, block.hash)]
        root, changes = statemap.update(store.map_node, root, height, writes)
        meta = Meta(
            height=height,
            block_hash=block.hash,
            state_root=statemap.root_hash(root),
            results_root=b"\x00" * 32,
        )
        store.commit_block(block, cert, receipts, writes, meta, changes, root)
        prev = block.hash


if __name__ == "__main__":
    main(sys.argv[1])
