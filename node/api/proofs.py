"""The proof routes of the node API: a transaction and its receipt with everything needed to check them.

Rules:

- `GET /v1/proofs/tx/{tx_id}` answers the signed transaction bytes, its index and RFC 6962
  inclusion proof into block h's `tx_root`, block h's header and commit certificate bytes; and
  the receipt bytes with their inclusion proof into the results root of block h, which the header
  of block h + exec_lag carries (with that header, its certificate and the headers in between),
  or `"receipt_proof": null` and `available_at_height` while that block does not exist yet.
  The rendering is `client_sdk.proofs.proof_to_json`, so the SDK parses exactly what we write.
- `GET /v1/proofs/state-digests` pages through the live state as (key, SHA-256 of value) at one
  stated height, so an auditor who replayed the chain can compare the node's state entry by entry
  without reading the values. Each page is read between two identical reads of the meta record.
- Handlers are plain functions on the router (FastAPI runs them in its thread pool: proofs over
  large blocks never stall the event loop) and take no per-route auth, so a dependency added on
  the router (or the app) covers every route here.
- Errors: 400 `bad_id` / `bad_request` for malformed input, 404 `unknown_tx`, 503
  `storage_corrupt` when what is stored does not decode. Every answer states `height`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from client_sdk.proofs import ReceiptProof, TxProof, proof_to_json, tx_id_of
from node.api.app import ApiError, receipt_json
from node.errors import StorageCorruptError, StorageError
from node.store.storage import BlockStore
from wire.crypto import sha256
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.merkle import inclusion_proof, leaf_hash
from wire.types import Block, Receipt, SignedTransaction

STATE_PAGE_DEFAULT = 1000
STATE_PAGE_MAX = 10_000
_STATE_END = b"\xff" * 64  # state keys are UTF-8 paths: no key starts with 0xff


class MerklePath(BaseModel):
    tree_size: int = Field(description="Leaves in the tree (the block's transactions)")
    path: list[str] = Field(description="RFC 6962 audit path, hex hashes, leaf to root")


class ReceiptProofDoc(BaseModel):
    receipt_bytes: str = Field(description="The encoded receipt (hex)")
    index: int
    tree_size: int
    path: list[str] = Field(description="RFC 6962 audit path into the results root of block h")
    root_height: int = Field(description="h + exec_lag: the block whose header carries that results root")
    link_headers: list[str] = Field(description="Header bytes of blocks h+1 .. root_height-1 (hex)")
    header_bytes: str = Field(description="Header of block root_height (hex)")
    certificate_bytes: str = Field(description="Commit certificate of block root_height (hex)")


class TxProofDoc(BaseModel):
    height: int = Field(description="The node's height when it answered")
    tx_id: str
    block_height: int
    index: int
    tx_bytes: str = Field(description="The signed transaction exactly as in the block (hex)")
    tx_proof: MerklePath
    header_bytes: str = Field(description="Header of block h (hex); its SHA-256 is the block hash")
    certificate_bytes: str = Field(description="Commit certificate of block h (hex)")
    block_hash: str = Field(description="Convenience; verify from header_bytes")
    available_at_height: int = Field(description="h + exec_lag: when the receipt becomes provable")
    receipt_proof: ReceiptProofDoc | None
    receipt: dict[str, Any] | None = Field(description="The stored receipt rendered as JSON (convenience)")


class StateDigestsDoc(BaseModel):
    height: int
    state_root: str | None = Field(description="The node's state root at `height` (hex)")
    entries: list[list[str]] = Field(description="[key hex, SHA-256 of value hex], ascending by key")
    next_after: str | None = Field(description="Pass as `after` for the next page; null at the end")


class ErrorDoc(BaseModel):
    error: dict[str, str] = Field(description='{"code": ..., "message": ...}')
    height: int | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDoc, "description": "`bad_id` / `bad_request`: malformed input"},
    404: {"model": ErrorDoc, "description": "`unknown_tx`: no committed transaction with this id"},
    503: {"model": ErrorDoc, "description": "`storage_corrupt` / `busy`: the node cannot serve it now"},
}


class ProofNode(Protocol):
    """What the proof routes need from the node."""

    store: BlockStore
    genesis: Genesis

    def height(self) -> int: ...


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
    raise ApiError(503, "busy", "the state kept changing while it was read; retry", {"Retry-After": "1"})


def _hex_arg(value: str, what: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ApiError(400, "bad_id", f"{what} must be hex") from None
    if size is not None and len(raw) != size:
        raise ApiError(400, "bad_id", f"{what} must be {2 * size} hex characters")
    return raw


def _storage(exc: StorageError) -> ApiError:
    return ApiError(503, exc.code, f"this node cannot serve it: {exc}")


def build_router(node: ProofNode, authn: Callable[..., Awaitable[Any]] | None = None) -> APIRouter:
    """The proof routes. With `authn` (the read API's authentication dependency, returning a caller
    with `sees(org_id)` and `reads_blocks`) a transaction's proof is visible to callers whose
    subtree holds its org (others get the same 404 as an unknown id) and state digests to
    whole-chain readers only; without it (unit tests of this module) the routes are open."""
    router = APIRouter(prefix="/v1/proofs", tags=["proofs"])

    async def open_access() -> None:
        return None

    caller_dep = Depends(authn if authn is not None else open_access)

    @router.get(
        "/tx/{tx_id}",
        summary="Proof of a transaction and its receipt",
        description=(
            "The signed transaction, its inclusion proof into block h's tx root, block h's header and "
            "certificate, and the receipt's inclusion proof into the results root carried by block "
            "h + exec_lag (`receipt_proof` null until that block exists; see `available_at_height`)."
        ),
        response_model=TxProofDoc,
        responses=_ERRORS,
    )
    def tx_proof(tx_id: str, caller: Any = caller_dep) -> dict[str, Any]:
        raw_id = _hex_arg(tx_id, "tx id", 32)
        try:
            found = build_tx_proof(node.store, node.genesis.consensus.exec_lag, raw_id)
        except StorageError as exc:
            raise _storage(exc) from None
        if found is None or not _may_see(caller, found[0].tx_bytes):
            raise ApiError(404, "unknown_tx", "no committed transaction with this id")
        proof, receipt, height = found
        doc = proof_to_json(proof)
        doc["height"] = height
        doc["receipt"] = None if receipt is None else receipt_json(receipt)
        return doc

    @router.get(
        "/state-digests",
        summary="Live state as (key, SHA-256 of value), paged by key",
        description=(
            "For auditors who replayed the chain: every live state entry's key and the SHA-256 of its "
            "value at the stated height, ascending by key. Pass `next_after` back as `after`."
        ),
        response_model=StateDigestsDoc,
        responses={k: v for k, v in _ERRORS.items() if k != 404},
    )
    def state_digests(
        after: str | None = Query(default=None, max_length=4096),
        limit: int = Query(default=STATE_PAGE_DEFAULT, ge=1, le=STATE_PAGE_MAX),
        caller: Any = caller_dep,
    ) -> dict[str, Any]:
        if caller is not None and not caller.reads_blocks:
            raise ApiError(403, "forbidden", "state digests are for root-org auditors, admins and node keys")
        start = None if after is None else _hex_arg(after, "after")
        try:
            return state_digest_page(node.store, start, limit)
        except StorageError as exc:
            raise _storage(exc) from None

    return router


def _may_see(caller: Any, tx_bytes: bytes) -> bool:
    if caller is None or caller.reads_blocks:
        return True
    try:
        return bool(caller.sees(SignedTransaction.decode(tx_bytes).body.org_id))
    except DecodeError:
        return False
