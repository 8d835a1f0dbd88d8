"""The read API's chain routes: a transaction's status with its inclusion path, block headers,
whole blocks and their receipts (rules in node/api/records.py and docs/api.md).

Whole blocks carry every transaction's contents: only callers with `reads_blocks` (root-org
admins and auditors, node keys) get them; every authenticated caller gets a block's header and
certificate, and a transaction of its subtree with the path to verify it against that header.
"""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from node.api.app import ApiError, certificate_json, header_json, receipt_json
from node.api.auth import Caller
from node.api.models import BlockOut, HeaderOut, ReceiptsOut, TxOut
from wire.errors import DecodeError
from wire.merkle import inclusion_proof, leaf_hash
from wire.types import Block, CommitCertificate, SignedTransaction

if TYPE_CHECKING:
    from node.api.records import ReadApi


def add_chain_routes(router: APIRouter, api: "ReadApi", Auth: Any, MinHeight: Any) -> None:
    node = api.node
    from node.api.records import _hex32

    @router.get("/v1/tx/{tx_id}", response_model=TxOut, tags=["chain"])
    async def tx(
        request: Request,
        caller: Auth,
        tx_id: Annotated[str, Path(max_length=64)],
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """A transaction's status and receipt, with its inclusion path in the block's tx_root.
        Visible when its org is in your subtree (or to whole-block readers)."""
        tid = _hex32(tx_id, "tx id")
        await api.wait_store(min_height)
        found = node.tx_status(tid)
        if found is None:
            raise ApiError(404, "unknown_tx", "no such transaction on this node (pending or committed)")
        out: dict[str, Any] = dict(found)
        raw: bytes | None = None
        if found["status"] == "pending":
            pending = node.mempool.get(tid)
            raw = pending.raw if pending is not None else None
        else:
            blk = node.store.block(int(found["block_height"]))
            index = int(found["index"])
            if blk is not None and index < len(blk.txs):
                raw = blk.txs[index]
                hashes = [leaf_hash(t) for t in blk.txs]
                out.update(
                    tx_leaf_hash=hashes[index].hex(),
                    tx_proof=[h.hex() for h in inclusion_proof(hashes, index)],
                    tx_count=len(hashes),
                )
        org_id: str | None = None
        if raw is not None:
            try:
                body = SignedTransaction.decode(raw).body
                org_id, out["tx_type"] = body.org_id, body.tx_type
            except DecodeError:
                org_id = None
        if not (caller.reads_blocks or caller.sees(org_id)):
            raise ApiError(404, "unknown_tx", "no such transaction on this node (pending or committed)")
        out["org_id"] = org_id
        out["tx_bytes"] = None
        if caller.contents and raw is not None:
            out["tx_bytes"] = raw.hex()
            api.emit(request, caller, "tx", [tx_id], int(found["height"]))
        return JSONResponse(out)

    def block_or_404(height: int) -> tuple[bytes, bytes]:
        found = node.block(height)
        if found is None:
            raise ApiError(
                404, "unknown_block", f"no block at height {height} yet (height is {node.height()})"
            )
        return found

    HeightP = Annotated[int, Path(ge=1, le=2**62, description="block height (from 1)")]

    @router.get("/v1/blocks/{height}/header", response_model=HeaderOut, tags=["chain"])
    async def block_header(caller: Auth, height: HeightP) -> JSONResponse:
        """A block's header and commit certificate (any authenticated caller): with `tx_proof` from
        /v1/tx/{id} a client verifies its transaction without reading other orgs' transactions."""
        block_bytes, cert_bytes = block_or_404(height)
        blk, cert = Block.decode(block_bytes), CommitCertificate.decode(cert_bytes)
        return JSONResponse(
            {
                "height": node.height(),
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
                403,
                "forbidden",
                "whole blocks are for root-org admins and auditors and node keys; use /header",
            )

    @router.get("/v1/blocks/{height}", response_model=BlockOut, tags=["chain"])
    async def block(request: Request, caller: Auth, height: HeightP) -> JSONResponse:
        """A whole block with its commit certificate and the exact stored bytes to verify."""
        require_blocks(caller)
        block_bytes, cert_bytes = block_or_404(height)
        blk, cert = Block.decode(block_bytes), CommitCertificate.decode(cert_bytes)
        api.emit(request, caller, "block", [str(height)], node.height())
        return JSONResponse(
            {
                "height": node.height(),
                "block_height": height,
                "block_hash": blk.hash.hex(),
                "header": header_json(blk.header),
                "txs": [t.hex() for t in blk.txs],
                "certificate": certificate_json(cert),
                "block_bytes": block_bytes.hex(),
                "certificate_bytes": cert_bytes.hex(),
            }
        )

    @router.get("/v1/blocks/{height}/receipts", response_model=ReceiptsOut, tags=["chain"])
    async def block_receipts(caller: Auth, height: HeightP) -> JSONResponse:
        """The block's receipts in transaction order."""
        require_blocks(caller)
        receipts = node.receipts(height)
        if receipts is None:
            raise ApiError(
                404, "unknown_block", f"no block at height {height} yet (height is {node.height()})"
            )
        return JSONResponse(
            {"height": node.height(), "block_height": height, "receipts": [receipt_json(r) for r in receipts]}
        )
