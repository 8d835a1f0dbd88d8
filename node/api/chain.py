"""The chain routes: a transaction's status with its inclusion path, block headers, whole blocks and
their receipts (docs/api.md).

Rules: whole blocks carry every transaction's contents, so only callers with `reads_blocks`
(root-org admins and auditors, node keys) get them; every authenticated caller gets a block's
header and certificate, and a transaction of its subtree with the path to verify it against that
header. A transaction outside the caller's subtree answers as an unknown one (404 `unknown_tx`),
except to its own signer.
"""

# No `from __future__ import annotations` in route modules: FastAPI resolves each parameter's
# annotation at definition time, and the `Annotated` aliases built inside `build_router` are locals.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS, BlockOut, HeaderOut, ReceiptsOut, TxOut
from node.api.params import MinHeight
from node.api.render import certificate_json, header_json, tx_status_json
from wire.errors import DecodeError
from wire.hexid import parse_hex_id
from wire.merkle import inclusion_proof, leaf_hash
from wire.types import Block, CommitCertificate, SignedTransaction

HeightP = Annotated[int, Path(ge=1, le=2**62, description="block height (from 1)")]


def _unknown_tx() -> ApiError:
    return ApiError("unknown_tx", "no such transaction on this node (pending or committed)")


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["chain"])
    Auth = Annotated[Caller, Depends(ctx.authn)]
    chain = ctx.chain

    @router.get("/v1/tx/{tx_id}", response_model=TxOut)
    async def tx(
        request: Request,
        caller: Auth,
        tx_id: Annotated[str, Path(max_length=64)],
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """A transaction's status and receipt, with its inclusion path in the block's tx_root.
        Visible when its org is in your subtree (or to whole-block readers)."""
        tid = parse_hex_id(tx_id, "tx id")
        await ctx.wait_store(min_height)
        found = chain.tx_status(tid)
        if found is None:
            raise _unknown_tx()
        out: dict[str, Any] = tx_status_json(found)
        raw: bytes | None = None
        if found.block_height is None:
            pending = chain.pending(tid)
            raw = pending.raw if pending is not None else None
        else:
            checked = ctx.block_checked(found.block_height)
            blk = None if checked is None else checked[2]
            index = found.index if found.index is not None else -1
            if blk is not None and 0 <= index < len(blk.txs):
                raw = blk.txs[index]
                hashes = [leaf_hash(t) for t in blk.txs]
                out.update(
                    tx_leaf_hash=hashes[index].hex(),
                    tx_proof=[h.hex() for h in inclusion_proof(hashes, index)],
                    tx_count=len(hashes),
                )
        org_id: str | None = None
        signer: bytes | None = None
        if raw is not None:
            try:
                body = SignedTransaction.decode(raw).body
                org_id, signer, out["tx_type"] = body.org_id, body.signer, body.tx_type
            except DecodeError:
                org_id = None
        # its signer always sees its own transaction, even one the ledger rejected for an org
        # outside the signer's subtree (else `tx submit` would wait for a 404 to turn into news)
        if not (caller.reads_blocks or caller.sees(org_id) or signer == caller.pubkey):
            raise _unknown_tx()
        out["org_id"] = org_id
        out["tx_bytes"] = None
        if caller.contents and raw is not None:
            out["tx_bytes"] = raw.hex()
            ctx.emit(request, caller, "tx", [tx_id], found.height)
        return JSONResponse(out)

    def block_or_404(height: int) -> tuple[bytes, bytes, Block, CommitCertificate]:
        found = ctx.block_checked(height)
        if found is None:
            raise ApiError("unknown_block", f"no block at height {height} yet (height is {chain.height()})")
        return found

    @router.get("/v1/blocks/{height}/header", response_model=HeaderOut)
    async def block_header(caller: Auth, height: HeightP) -> JSONResponse:
        """A block's header and commit certificate (any authenticated caller): with `tx_proof` from
        /v1/tx/{id} a client verifies its transaction without reading other orgs' transactions."""
        _, cert_bytes, blk, cert = block_or_404(height)
        return JSONResponse(
            {
                "height": chain.height(),
                "block_height": height,
                "block_hash": blk.hash.hex(),
                "header": header_json(blk.header),
                "header_bytes": blk.header.encode().hex(),
                "certificate": certificate_json(cert),
                "certificate_bytes": cert_bytes.hex(),
            }
        )

    def require_blocks(caller: Caller) -> None:
        if not caller.reads_blocks:
            raise ApiError(
                "forbidden", "whole blocks are for root-org admins and auditors and node keys; use /header"
            )

    @router.get("/v1/blocks/{height}", response_model=BlockOut)
    async def block(request: Request, caller: Auth, height: HeightP) -> JSONResponse:
        """A whole block with its commit certificate and the exact stored bytes to verify."""
        require_blocks(caller)
        block_bytes, cert_bytes, blk, cert = block_or_404(height)
        ctx.emit(request, caller, "block", [str(height)], chain.height())
        return JSONResponse(
            {
                "height": chain.height(),
                "block_height": height,
                "block_hash": blk.hash.hex(),
                "header": header_json(blk.header),
                "txs": [t.hex() for t in blk.txs],
                "certificate": certificate_json(cert),
                "block_bytes": block_bytes.hex(),
                "certificate_bytes": cert_bytes.hex(),
            }
        )

    @router.get("/v1/blocks/{height}/receipts", response_model=ReceiptsOut)
    async def block_receipts(caller: Auth, height: HeightP) -> JSONResponse:
        """The block's receipts in transaction order."""
        require_blocks(caller)
        receipts = chain.receipts(height)
        if receipts is None:
            raise ApiError("unknown_block", f"no block at height {height} yet (height is {chain.height()})")
        return JSONResponse(
            {
                "height": chain.height(),
                "block_height": height,
                "receipts": [r.to_json() for r in receipts],
            }
        )

    return router
