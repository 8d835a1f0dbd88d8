"""The block store: blocks, certificates, receipts, state and consensus records in one LevelDB
(`storage.py`), the check of what it holds at start (`integrity.py`), and proofs read from it
(`proofs.py`).

May import: `wire`, `contracts` (genesis state, for the integrity check), `node.errors`. Never
the runtime, the API, privacy, the CLI or the dev tools.
"""

from __future__ import annotations

from pathlib import Path

from node.store.integrity import IntegrityError, IntegrityReport, verify_store
from node.store.storage import BlockStore, Meta, StoreReader, TxLocation
from wire.genesis import Genesis


def open_store(data_dir: Path, genesis: Genesis, verify_on_start: str) -> BlockStore:
    """Open the store of `genesis` in `data_dir` and check what it holds (fail fast on lock,
    corruption, another chain); closed again when the check fails."""
    store = BlockStore.open(data_dir, genesis.hash)
    try:
        if store.snapshot_pending():  # a snapshot install that did not finish: start it over
            store.reset_for_snapshot()
            store.clear_snapshot_pending()
        verify_store(store, genesis, verify_on_start)
    except BaseException:
        store.close()
        raise
    return store


__all__ = [
    "BlockStore",
    "IntegrityError",
    "IntegrityReport",
    "Meta",
    "StoreReader",
    "TxLocation",
    "open_store",
    "verify_store",
]
