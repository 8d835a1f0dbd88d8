"""Tamper detection at node start: check the stored chain and state before serving or signing anything.

Rules (RELIABILITY A2, 5.6):

- `verify_on_start` (node.toml `[integrity]`) is `full` (every block), `recent` (the default: the
  last `RECENT_BLOCKS` blocks, plus the whole state) or `off`.
- For each checked height h: the stored block decodes, names this chain and height h, its hash is
  in the hash index at h, its `prev_block_hash` is the hash of block h - 1 (the genesis hash for
  block 1), its transactions hash to its `tx_root`, its certificate verifies against the
  validator set in force at h (the ledger's `valset/epoch/` records in the stored state, which the
  state check below covers); the stored receipts are one per transaction with the transaction's id, the
  transaction index points at (or before) this position, the receipts hash to the results root
  stored for h, and the roots stored for h are the ones the header of h + exec_lag carries.
- The genesis roots are re-derived from the genesis; the roots stored for the top height equal
  the meta record; the state map's root is rebuilt from a scan of every state entry in one pass
  (`wire.statemap.root_of_sorted`) and must be the meta record's state root. In `full` mode the
  stored map is also walked from its root and must hold as many entries as the state.
- A failure raises `IntegrityError` (a `StorageCorruptError`, code `storage_corrupt`) naming the
  height or key; the node stops with it.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from contracts import genesis_state
from contracts.nodes import iter_epochs
from node.errors import StorageCorruptError, StorageError
from node.store.storage import BlockStore, StoreReader
from wire import statemap
from wire.certificate import ValidatorSet, verify_certificate
from wire.epochs import ValidatorEpoch, validators_at
from wire.errors import CertificateError, DecodeError
from wire.genesis import Genesis
from wire.merkle import EMPTY_ROOT, merkle_root
from wire.txproof import tx_id_of
from wire.types import Block, CommitCertificate, results_root

log = logging.getLogger("orgledger.integrity")

MODES = ("full", "recent", "off")
RECENT_BLOCKS = 256


class IntegrityError(StorageCorruptError):
    code = "storage_corrupt"

    def __init__(self, message: str, *, height: int | None = None, key: bytes | None = None) -> None:
        where = f" at height {height}" if height is not None else ""
        super().__init__(f"storage_corrupt{where}: {message} (the data directory was modified or damaged)")
        self.height, self.key = height, key


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    mode: str
    height: int
    blocks_checked: int
    state_entries: int
    seconds: float


def _block(store: BlockStore, height: int) -> Block:
    raw = store.block_bytes(height)
    if raw is None:
        raise IntegrityError("the block is missing", height=height)
    try:
        return Block.decode(raw)
    except DecodeError as exc:
        raise IntegrityError(f"the stored block does not decode ({exc.message})", height=height) from exc


def verify_store(store: BlockStore, genesis: Genesis, mode: str = "recent") -> IntegrityReport:
    """Check the store as described above; raise IntegrityError on the first problem."""
    if mode not in MODES:
        raise ValueError(f"verify_on_start must be one of {', '.join(MODES)}")
    started = time.monotonic()
    try:
        meta = store.meta()
    except StorageError as exc:
        raise IntegrityError(f"the meta record is unreadable: {exc}") from exc
    if mode == "off" or meta is None:
        return IntegrityReport(mode, 0 if meta is None else meta.height, 0, 0, 0.0)
    try:
        top, blocks, entries = _verify(
            store, genesis, mode, meta.height, meta.block_hash, meta.state_root, meta.results_root
        )
    except IntegrityError:
        raise
    except StorageError as exc:  # a record that does not decode, a checksum mismatch
        raise IntegrityError(str(exc)) from exc
    report = IntegrityReport(mode, top, blocks, entries, time.monotonic() - started)
    log.info(
        "integrity (%s): %d blocks to height %d and %d state entries verified in %.2f s",
        mode,
        report.blocks_checked,
        report.height,
        report.state_entries,
        report.seconds,
    )
    return report


def _verify(
    store: BlockStore,
    genesis: Genesis,
    mode: str,
    top: int,
    top_hash: bytes,
    top_state_root: bytes,
    top_results_root: bytes,
) -> tuple[int, int, int]:
    base = store.base_height()  # a node that joined by snapshot holds no block below it
    genesis_roots = store.roots(0)
    if base == 0 and genesis_roots != (statemap.root_of(genesis_state(genesis)), EMPTY_ROOT):
        raise IntegrityError("the stored genesis roots are not those of the genesis", height=0)

    lo = base + 1 if mode == "full" else max(base + 1, top - RECENT_BLOCKS + 1)
    if lo == 1:
        prev_hash = genesis.hash
    else:
        prev_hash = _block(store, lo - 1).hash
    epochs = [ValidatorEpoch(start, ValidatorSet(keys)) for start, keys, _ in iter_epochs(StoreReader(store))]
    for h in range(lo, top + 1):
        try:
            validators = validators_at(epochs, h) if epochs else genesis.validators
            prev_hash = _check_height(store, genesis, h, prev_hash, genesis_roots, validators)
        except IntegrityError:
            raise
        except StorageError as exc:  # a stored record that does not decode, a checksum mismatch
            raise IntegrityError(str(exc), height=h) from exc
    if prev_hash != top_hash:
        raise IntegrityError("the meta record names another last block", height=top)
    if store.roots(top) != (top_state_root, top_results_root):
        raise IntegrityError("the roots stored for the last block differ from the meta record", height=top)

    entries = 0

    def counted() -> Iterator[tuple[bytes, bytes]]:
        nonlocal entries
        for item in store.state_items():
            entries += 1
            yield item

    if statemap.root_of_sorted(counted()) != top_state_root:
        raise IntegrityError(
            f"the {entries} state entries do not hash to the state root of height {top} "
            "(a state entry was added, removed or changed)",
            height=top,
        )
    if mode == "full":
        _check_map(store, top, top_state_root, entries)
    return top, top - lo + 1, entries


def _check_map(store: BlockStore, top: int, state_root: bytes, entries: int) -> None:
    """The stored map at `top` holds exactly the flat state, entry by entry (leaves come in key
    order from `iter_nodes`, like the state scan)."""
    root = store.map_root(top)
    if statemap.root_hash(root) != state_root:
        raise IntegrityError("the state map's root is not the state root of the meta record", height=top)
    leaves = (
        (node.key, node.value)
        for _, _, node in statemap.iter_nodes(store.map_node, root)
        if isinstance(node, statemap.Leaf)
    )
    sentinel = (b"", b"")
    for leaf, entry in itertools.zip_longest(leaves, store.state_items(), fillvalue=sentinel):
        if leaf != entry:
            key = (leaf if leaf != sentinel else entry)[0]
            raise IntegrityError(f"the state map and the state differ at key {key[:80]!r}", height=top)


def _check_height(
    store: BlockStore,
    genesis: Genesis,
    h: int,
    prev_hash: bytes,
    genesis_roots: tuple[bytes, bytes] | None,
    validators: ValidatorSet,
) -> bytes:
    """Check block h and what was stored with it; return its hash."""
    lag = genesis.consensus.exec_lag
    chain_id = genesis.chain_id
    block = _block(store, h)
    header = block.header
    if header.chain_id != chain_id or header.height != h:
        raise IntegrityError(
            f"the stored block is block {header.height} of chain {header.chain_id!r}", height=h
        )
    if store.height_of(block.hash) != h:
        raise IntegrityError("the block's hash is not in the hash index at this height", height=h)
    if header.prev_block_hash != prev_hash:
        raise IntegrityError(f"the block does not follow block {h - 1} (prev_block_hash differs)", height=h)
    if merkle_root(block.txs) != header.tx_root:
        raise IntegrityError("the transactions do not hash to the header's tx_root", height=h)
    cert_raw = store.certificate_bytes(h)
    if cert_raw is None:
        raise IntegrityError("the commit certificate is missing", height=h)
    try:
        cert = CommitCertificate.decode(cert_raw)
        verify_certificate(cert, validators, chain_id, height=h, block_hash=block.hash)
    except DecodeError as exc:
        raise IntegrityError(f"the certificate does not decode ({exc.message})", height=h) from exc
    except CertificateError as exc:
        raise IntegrityError(f"the certificate does not verify: {exc.message}", height=h) from exc
    receipts = store.receipts(h)
    if len(receipts) != len(block.txs):
        raise IntegrityError(f"{len(receipts)} receipts for {len(block.txs)} transactions", height=h)
    for index, (raw, receipt) in enumerate(zip(block.txs, receipts, strict=True)):
        tx_id = tx_id_of(raw)
        if receipt.tx_id != tx_id:
            raise IntegrityError(f"receipt {index} is not the receipt of transaction {index}", height=h)
        loc = store.tx_location(tx_id)
        if loc is None or loc.height > h or (loc.height == h and loc.index != index):
            raise IntegrityError(f"the transaction index of transaction {index} is wrong", height=h)
    roots = store.roots(h)
    if roots is None:
        raise IntegrityError("the roots after this block are missing", height=h)
    if results_root(receipts) != roots[1]:
        raise IntegrityError("the stored receipts do not hash to the block's results root", height=h)
    carried = genesis_roots if h <= lag else store.roots(h - lag)
    if carried != (header.prev_state_root, header.prev_results_root):
        at = max(0, h - lag)
        raise IntegrityError(
            f"the roots stored for block {at} are not the ones block {h} carries", height=at if at else h
        )
    return block.hash
