"""The block store: blocks, certificates, receipts, state and consensus records in one LevelDB
(`storage.py`), the check of what it holds at start (`integrity.py`), proofs read from it
(`proofs.py`), and online backup and restore (`backup.py`).

A store restored from a backup carries the marker `RESTORED`: `open_store` then checks it in full
whatever `verify_on_start` says, and removes the marker only once that check passed.

After a check `open_store` closes the store and opens it again: LevelDB maps every table file it
reads (up to 1,000 of them), and the check reads the whole state, so the node would otherwise
start with all of it counted in its memory (880-900 MB per node at a million transactions,
measured); reopened, it maps only what it reads from then on.

May import: `wire`, `contracts` (genesis state, for the integrity check), `node.errors`. Never
the runtime, the API, privacy, the CLI or the dev tools.
"""

from __future__ import annotations

import logging
from pathlib import Path

from node.store.backup import RESTORED_MARKER
from node.store.integrity import IntegrityError, IntegrityReport, verify_store
from node.store.storage import BlockReader, BlockStore, Meta, StoreReader, TxLocation
from wire.genesis import Genesis


def open_store(
    data_dir: Path, genesis: Genesis, verify_on_start: str, *, compress: bool = False
) -> BlockStore:
    """Open the store of `genesis` in `data_dir` and check what it holds (fail fast on lock,
    corruption, another chain); closed again when the check fails. `compress`: LevelDB writes
    snappy-compressed tables (`[store] compression`)."""
    marker = Path(data_dir) / RESTORED_MARKER
    restored = marker.exists()
    store = BlockStore.open(data_dir, genesis.hash, compress=compress)
    try:
        if store.snapshot_pending():  # a snapshot install that did not finish: start it over
            store.reset_for_snapshot()
            store.clear_snapshot_pending()
        if restored:
            logging.getLogger("orgledger.store").info("restored from a backup: checking the whole store")
        report = verify_store(store, genesis, "full" if restored else verify_on_start)
    except BaseException:
        store.close()
        raise
    if restored:
        marker.unlink()
    if report.state_entries or report.blocks_checked:  # drop the tables the check mapped
        store.close()
        store = BlockStore.open(data_dir, genesis.hash, compress=compress)
    return store


__all__ = [
    "BlockReader",
    "BlockStore",
    "IntegrityError",
    "IntegrityReport",
    "Meta",
    "StoreReader",
    "TxLocation",
    "open_store",
    "verify_store",
]
