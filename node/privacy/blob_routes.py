"""The blob routes: upload and download of encrypted materials (docs/privacy.md).

Rules:

- Upload (`PUT /v1/blobs/{h}`, `POST /v1/blobs`): operators, admins and integration accounts; the
  body (at most `blob_max_bytes`) is authenticated after it is read (`Privacy.body_authn`). The
  node stores it, asks up to `blob_replicas` peers to hold it and answers how many nodes do
  (`copies`).
- Download (`GET /v1/blobs/{h}`): callers who read contents (not auditors), when a record of
  their subtree names the blob (`hash/b/<h>/...` on the ledger) or their subtree uploaded it;
  everyone else gets the 404 of an absent blob. A blob this node lacks is fetched from a peer
  first. Every download is written to the access log.
"""

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import ErrorOut
from node.errors import BlobCorruptError
from node.privacy.blobs import refs_orgs
from node.privacy.service import Privacy
from wire.hexid import parse_hex_id

log = logging.getLogger("orgledger.blobs")

UPLOAD_ROLES = frozenset({"operator", "admin", "integration"})
_E = {"model": ErrorOut}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "`hash_mismatch`, `bad_id`, `bad_request`: the body or the hash"},
    401: {**_E, "description": "no or invalid authentication (`auth_required`, ...)"},
    403: {**_E, "description": "`forbidden`: uploads are for operators, admins and integration accounts"},
    413: {**_E, "description": "`too_large`: over `blob_max_bytes`"},
    429: {**_E, "description": "`rate_limited`, `too_many_failures`, `busy`; see Retry-After"},
    503: {**_E, "description": "`storage_error`: the blob store cannot write right now"},
}
DOWNLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "`bad_id`: not a SHA-256"},
    401: {**_E, "description": "no or invalid authentication (`auth_required`, ...)"},
    403: {**_E, "description": "`forbidden`: auditors read hashes, not files"},
    404: {**_E, "description": "`not_found`: absent, or not in the caller's subtree"},
    429: {**_E, "description": "`rate_limited`, `too_many_failures`; see Retry-After"},
    503: {**_E, "description": "`blob_unavailable`, `storage_error`: no good copy right now"},
}


def build_router(privacy: Privacy, ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["blobs"])
    store = privacy.blobs
    Auth = Depends(privacy.body_authn(ctx, store.max_bytes))
    ReadAuth = Annotated[Caller, Depends(ctx.authn)]

    async def put(request: Request, caller: Caller, h: str | None) -> JSONResponse:
        if caller.kind != "user" or not caller.roles & UPLOAD_ROLES:
            raise ApiError("forbidden", "uploads are for operators, admins and integration accounts")
        body: bytes = request.state.body
        if not body:
            raise ApiError("bad_request", "the body is the encrypted blob")
        upload = {
            "org_id": caller.org_id,
            "user_id": caller.user_id,
            "pubkey": caller.pubkey.hex(),
            "at_ms": int(time.time() * 1000),
        }
        try:
            digest = await asyncio.to_thread(store.write, body, h, upload)
        except ValueError as exc:
            raise ApiError("hash_mismatch", str(exc)) from None
        except OSError as exc:
            log.error("blob store write failed: %s", exc)
            raise ApiError("storage_error", "the blob store cannot write right now") from None
        copies = 1 + await privacy.blob_peers.replicate(digest, len(body))
        privacy.metrics_blob("upload")
        return JSONResponse(
            {"height": ctx.chain.height(), "hash": digest, "size": len(body), "copies": copies},
            status_code=201,
        )

    @router.put("/v1/blobs/{h}", status_code=201, responses=UPLOAD_ERRORS)
    async def put_blob(h: str, request: Request, caller: Caller = Auth) -> JSONResponse:
        """Store an encrypted blob under its SHA-256 (the body must hash to it)."""
        parse_hex_id(h, "the blob hash")
        return await put(request, caller, h)

    @router.post("/v1/blobs", status_code=201, responses=UPLOAD_ERRORS)
    async def post_blob(request: Request, caller: Caller = Auth) -> JSONResponse:
        """Store an encrypted blob; the answer names its SHA-256."""
        return await put(request, caller, None)

    @router.get("/v1/blobs/{h}", response_class=Response, responses=DOWNLOAD_ERRORS)
    async def get_blob(h: str, request: Request, caller: ReadAuth) -> Response:
        """An encrypted blob (SHA-256 checked on the node; check it again)."""
        parse_hex_id(h, "the blob hash")
        if not caller.contents:
            raise ApiError("forbidden", "auditors read hashes, not blobs")
        orgs = refs_orgs(ctx.store, h)
        meta = store.meta(h)
        uploaders = meta.orgs() if meta else set()
        if not any(caller.sees(o) for o in orgs | uploaders):
            raise ApiError("not_found", "no blob with this hash in your scope")
        data = await _read_or_fetch(privacy, h)
        if data is None:
            if orgs:
                raise ApiError("blob_unavailable", "no reachable node holds this blob right now")
            raise ApiError("not_found", "no blob with this hash in your scope")
        privacy.recorder.log_read(request, caller, "blob", [h], sorted(orgs | uploaders), ctx.chain.height())
        privacy.metrics_blob("download")
        return Response(
            content=data, media_type="application/octet-stream", headers={"X-Orgledger-Blob-Sha256": h}
        )

    return router


async def _read_or_fetch(privacy: Privacy, h: str) -> bytes | None:
    store = privacy.blobs
    for attempt in (0, 1):
        try:
            return await asyncio.to_thread(store.read, h)
        except (FileNotFoundError, BlobCorruptError):
            if attempt == 1 or not await privacy.blob_peers.fetch(h):
                return None
    return None
