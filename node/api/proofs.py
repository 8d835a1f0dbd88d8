"""The proof routes of the node API: a transaction and its receipt with everything needed to check them.

Rules:

- `GET /v1/proofs/tx/{tx_id}` answers the proof `node.store.proofs.build_tx_proof` reads from
  the store (`"receipt_proof": null` and `available_at_height` while the block carrying the
  receipt's root does not exist yet). The rendering is `wire.txproof.proof_to_json`, so the SDK
  parses exactly what we write.
- `GET /v1/proofs/state-digests` pages through the live state as (key, SHA-256 of value) at one
  stated height (`node.store.proofs.state_digest_page`), so an auditor who replayed the chain can
  compare the node's state entry by entry without reading the values.
- Handlers are plain functions on the router (FastAPI runs them in its thread pool: proofs over
  large blocks never stall the event loop) and take no per-route auth, so a dependency added on
  the router (or the app) covers every route here.
- Errors: 400 `bad_id` / `bad_request` for malformed input, 404 `unknown_tx`, 503
  `storage_corrupt` when what is stored does not decode, `state_changing` when the state kept
  changing under a page. Every answer states `height`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from node.api.errors import ApiError
from node.store.proofs import build_tx_proof, state_digest_page
from node.store.storage import BlockStore
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.hexid import parse_hex, parse_hex_id
from wire.txproof import proof_to_json
from wire.types import SignedTransaction

STATE_PAGE_DEFAULT = 1000
STATE_PAGE_MAX = 10_000


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
    401: {"model": ErrorDoc, "description": "no or invalid authentication (`auth_required`, ...)"},
    404: {"model": ErrorDoc, "description": "`unknown_tx`: no committed transaction with this id"},
    429: {"model": ErrorDoc, "description": "`rate_limited`, `too_many_failures`; see Retry-After"},
    503: {
        "model": ErrorDoc,
        "description": "`storage_corrupt` / `state_changing`: the node cannot serve it now",
    },
}


class ProofSource(Protocol):
    """Where the proofs are read from (the API context, or a test's store)."""

    store: BlockStore
    genesis: Genesis

    def block_checked(self, height: int) -> object:
        """Raise StorageCorruptError unless the stored block `height` is the certified one."""


def build_router(src: ProofSource, authn: Callable[..., Awaitable[Any]] | None = None) -> APIRouter:
    """The proof routes. With `authn` (the read API's authentication dependency, returning a caller
    with `sees(org_id)` and `reads_blocks`) a transaction's proof is visible to callers whose
    subtree holds its org and to its signer (others get the same 404 as an unknown id) and state digests to
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
        raw_id = parse_hex_id(tx_id, "tx id")
        found = build_tx_proof(src.store, src.genesis.consensus.exec_lag, raw_id)
        if found is None or not _may_see(caller, found[0].tx_bytes):
            raise ApiError("unknown_tx", "no committed transaction with this id")
        src.block_checked(found[0].block_height)  # never a proof built from an edited block
        if found[0].receipt is not None:
            src.block_checked(found[0].receipt.root_height)
        proof, receipt, height = found
        doc = proof_to_json(proof)
        doc["height"] = height
        doc["receipt"] = None if receipt is None else receipt.to_json()
        return doc

    @router.get(
        "/state-digests",
        summary="Live state as (key, SHA-256 of value), paged by key",
        description=(
            "For auditors who replayed the chain: every live state entry's key and the SHA-256 of its "
            "value at the stated height, ascending by key. Pass `next_after` back as `after`."
        ),
        response_model=StateDigestsDoc,
        responses={
            **{k: v for k, v in _ERRORS.items() if k != 404},
            403: {"model": ErrorDoc, "description": "`forbidden`: not a whole-chain reader"},
        },
    )
    def state_digests(
        after: str | None = Query(default=None, max_length=4096),
        limit: int = Query(default=STATE_PAGE_DEFAULT, ge=1, le=STATE_PAGE_MAX),
        caller: Any = caller_dep,
    ) -> dict[str, Any]:
        if caller is not None and not caller.reads_blocks:
            raise ApiError("forbidden", "state digests are for root-org auditors, admins and node keys")
        start = None if after is None else parse_hex(after, "after")
        return state_digest_page(src.store, start, limit)

    return router


def _may_see(caller: Any, tx_bytes: bytes) -> bool:
    if caller is None or caller.reads_blocks:
        return True
    try:
        body = SignedTransaction.decode(tx_bytes).body
    except DecodeError:
        return False
    return bool(caller.sees(body.org_id)) or body.signer == getattr(caller, "pubkey", None)
