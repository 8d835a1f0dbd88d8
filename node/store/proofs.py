"""Proofs read from the block store: a transaction and its receipt with everything needed to check
them, and pages of state digests. No HTTP here: `node/api/proofs.py` serves these.

Rules:

- `build_tx_proof`: the signed transaction bytes, its index and RFC 6962 inclusion proof into
  block h's `tx_root`, block h's header and commit certificate bytes; and the receipt bytes with
  their inclusion proof into the results root of block h, which the header of block h + exec_lag
  carries (with that header, its certificate and the headers in between), or no receipt proof
  while that block does not exist yet. What is stored but does not decode or point where it
  should raises `StorageCorruptError`.
- `state_digest_page`: live state as (key, SHA-256 of value) at one stated height, each page read
  between two identical reads of the meta record (`StateChangingError` when the state kept changing).
"""

from __future__ import annotations

from typing import Any

from node.errors import StateChangingError, StorageCorruptError
from node.store.storage import BlockStore
from wire.crypto import sha256
from wire.errors import DecodeError
from wire.merkle import inclusion_proof, leaf_hash
from wire.txproof import ReceiptProof, TxProof, tx_id_of
from wire.types import Block, Receipt

_STATE_END = b"\xff" * 64  # state keys are UTF-8 paths: no key starts with 0xff


def _stored_block(store: BlockStore, height: int) -> tuple[Block, bytes]:
    raw, cert = store.block_bytes(height), store.certificate_bytes(height)
    if raw is None or cert is None:
        raise StorageCorruptError(f"block {height} is below the stored height but missing")
    try:
        return Block.decode(raw), cert
    except DecodeError as exc:
        raise StorageCorruptError(f"stored block {height} does not decode: {exc.message}") from exc


def build_tx_proof(
    store: BlockStore, exec_lag: int, tx_id: bytes
) -> tuple[TxProof, Receipt | None, int] | None:
    """(proof, the stored receipt, the height it reflects) for `tx_id`, or None when not committed."""
    top = store.height
    loc = store.tx_location(tx_id)
    if loc is None or loc.height > top or loc.height < 1:
        return None
    block, cert = _stored_block(store, loc.height)
    if not 0 <= loc.index < len(block.txs) or tx_id_of(block.txs[loc.index]) != tx_id:
        raise StorageCorruptError(
            f"the transaction index does not point at this transaction in block {loc.height}"
        )
    leaves = [leaf_hash(t) for t in block.txs]
    receipt = store.receipt(loc.height, loc.index)
    root_height = loc.height + exec_lag
    receipt_proof = None
    if root_height <= top:
        receipts = [r.encode() for r in store.receipts(loc.height)]
        if len(receipts) != len(block.txs):
            raise StorageCorruptError(
                f"block {loc.height} has {len(block.txs)} transactions but {len(receipts)} receipts"
            )
        links = tuple(_stored_block(store, h)[0].header.encode() for h in range(loc.height + 1, root_height))
        root_block, root_cert = _stored_block(store, root_height)
        receipt_proof = ReceiptProof(
            receipt_bytes=receipts[loc.index],
            index=loc.index,
            tree_size=len(receipts),
            path=tuple(inclusion_proof([leaf_hash(r) for r in receipts], loc.index)),
            root_height=root_height,
            link_headers=links,
            header_bytes=root_block.header.encode(),
            certificate_bytes=root_cert,
        )
    proof = TxProof(
        tx_id=tx_id,
        block_height=loc.height,
        index=loc.index,
        tx_bytes=block.txs[loc.index],
        tree_size=len(leaves),
        path=tuple(inclusion_proof(leaves, loc.index)),
        header_bytes=block.header.encode(),
        certificate_bytes=cert,
        receipt=receipt_proof,
        available_at_height=root_height,
    )
    return proof, receipt, top


def state_digest_page(store: BlockStore, after: bytes | None, limit: int) -> dict[str, Any]:
    """One page of (key, SHA-256 of value) after `after`, read at one height."""
    start = b"" if after is None else after + b"\x00"
    for _ in range(5):
        before = store.meta()
        entries: list[list[str]] = []
        last: bytes | None = None
        more = False
        for key, value in store.state_scan(start, _STATE_END):
            if len(entries) == limit:
                more = True
                break
            entries.append([key.hex(), sha256(value).hex()])
            last = key
        if store.meta() == before:
            return {
                "height": 0 if before is None else before.height,
                "state_root": None if before is None else before.state_root.hex(),
                "entries": entries,
                "next_after": last.hex() if more and last is not None else None,
            }
    raise StateChangingError("the state kept changing while it was read; retry")
