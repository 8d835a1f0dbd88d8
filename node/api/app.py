"""The node's HTTP API (FastAPI, served by uvicorn inside the node process).

Rules:

- Every error is JSON `{"error": {"code": ..., "message": ...}}` with a 4xx status for anything
  the client sent (bad bytes, unknown ids, oversize bodies, wrong parameters) and 503 only for a
  node that cannot serve right now; no client input produces a 5xx.
- Bytes are hex in JSON. Block and transaction responses also carry the exact stored bytes
  (`block_bytes`, `certificate_bytes`, `tx_bytes`, `receipt_bytes`) so a client verifies what it
  reads instead of trusting the JSON rendering.
- Every response states the height it reflects (`height`).
- The app is built by `create_app(service)`; nothing is module-global.
- Public routes live here (health, metrics, status, submit). Everything that reads ledger
  contents (transactions, blocks, records) is in `node/api/records.py` behind authentication.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.api.models import SUBMIT_BODY, ErrorOut, HealthOut, StatusOut, SubmitOut
from wire import codec
from wire.errors import WireError
from wire.types import BlockHeader, CommitCertificate, Receipt

MAX_BODY_BYTES = 96 * 1024
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_TXS = 2000
log = logging.getLogger("orgledger.api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class NodeService(Protocol):
    """What the API needs from the running node."""

    def status(self) -> dict[str, Any]: ...
    def health(self) -> tuple[bool, dict[str, Any]]: ...
    def submit(self, raw: bytes) -> dict[str, Any]: ...
    def tx_status(self, tx_id: bytes) -> dict[str, Any] | None: ...
    def block(self, height: int) -> tuple[bytes, bytes] | None: ...
    def receipts(self, height: int) -> list[Receipt] | None: ...
    def height(self) -> int: ...
    def render_metrics(self) -> tuple[bytes, str]: ...


def header_json(h: BlockHeader) -> dict[str, Any]:
    return {
        "chain_id": h.chain_id,
        "height": h.height,
        "view": h.view,
        "timestamp_ms": h.timestamp_ms,
        "prev_block_hash": h.prev_block_hash.hex(),
        "tx_root": h.tx_root.hex(),
        "prev_state_root": h.prev_state_root.hex(),
        "prev_results_root": h.prev_results_root.hex(),
        "validators_hash": h.validators_hash.hex(),
        "proposer": h.proposer,
    }


def certificate_json(c: CommitCertificate) -> dict[str, Any]:
    return {
        "height": c.height,
        "view": c.view,
        "block_hash": c.block_hash.hex(),
        "signatures": [{"validator_index": i, "signature": s.hex()} for i, s in c.signatures],
    }


def receipt_json(r: Receipt) -> dict[str, Any]:
    return {
        "tx_id": r.tx_id.hex(),
        "status": r.status,
        "rule_id": r.rule_id,
        "reason_code": r.reason_code,
        "reason": r.reason,
        "alerts": [{"alert_id": a.alert_id, "rule_id": a.rule_id, "colour": a.colour} for a in r.alerts],
        "writes": list(r.writes),
        "shadow": [
            {
                "rule_id": s.rule_id,
                "colour": s.colour,
                "disposition": s.disposition,
                "reason_code": s.reason_code,
            }
            for s in r.shadow
        ],
        "receipt_bytes": r.encode().hex(),
    }


def _hex_id(value: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ApiError(400, "bad_id", f"{what} must be 64 hex characters") from None
    if len(raw) != 32:
        raise ApiError(400, "bad_id", f"{what} must be 64 hex characters")
    return raw


def create_app(
    service: NodeService, *, title: str = "orgledger node", routers: Sequence[APIRouter] = ()
) -> FastAPI:
    """The node's app: the core routes here, plus feature routers (read API, proofs, ...)."""
    app = FastAPI(title=title, version="1", docs_url="/docs", redoc_url=None)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}, "height": service.height()},
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            {
                "error": {
                    "code": "bad_request",
                    "message": f"{where}: {first.get('msg', 'invalid request')}",
                },
                "height": service.height(),
            },
            status_code=400,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # a bug, never a client's doing: logged in full, answered in the one error format
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            {"error": {"code": "internal_error", "message": "the node failed to answer; this is logged"}},
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}, "height": service.height()},
            status_code=exc.status_code,
        )

    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut} for code in (400, 401, 413, 415, 429, 503)
    }

    @app.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
    async def healthz() -> JSONResponse:
        ok, detail = service.health()
        return JSONResponse({"ok": ok, **detail}, status_code=200 if ok else 503)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        body, content_type = service.render_metrics()
        return Response(content=body, media_type=content_type)

    @app.get("/v1/status", response_model=StatusOut)
    async def status() -> JSONResponse:
        return JSONResponse(service.status())

    @app.post(
        "/v1/tx",
        status_code=202,
        response_model=SubmitOut,
        responses={200: {"model": SubmitOut}, **errors},
        openapi_extra=SUBMIT_BODY,
    )
    async def submit(request: Request) -> JSONResponse:
        raw = await _read_body(request)
        result = service.submit(raw)
        return JSONResponse(result, status_code=200 if result.get("status") == "committed" else 202)

    @app.post(
        "/v1/txs",
        status_code=200,
        responses=errors,
        summary="Submit a batch of signed transactions",
        description=(
            f"Body: the canonical msgpack list of up to {MAX_BATCH_TXS} encoded signed transactions "
            "(application/octet-stream). Answers one result per transaction, in order: the same "
            'object `POST /v1/tx` answers, or `{"error": {"code", "message"}, "status": N}`. '
            "One HTTP round trip for many transactions; each is admitted exactly as by `/v1/tx`."
        ),
    )
    async def submit_batch(request: Request) -> JSONResponse:
        body = await _read_body(request, limit=MAX_BATCH_BYTES, json_ok=False)
        try:
            items = codec.decode(body, codec.Limits(max_bytes=MAX_BATCH_BYTES, max_array_len=MAX_BATCH_TXS))
        except WireError as exc:
            raise ApiError(400, "bad_request", f"body is not a msgpack list of transactions: {exc}") from None
        if type(items) is not list or not all(type(x) is bytes for x in items):
            raise ApiError(400, "bad_request", "body must be a msgpack list of byte strings")
        results: list[dict[str, Any]] = []
        for raw in items:
            try:
                results.append(service.submit(raw))
            except ApiError as exc:
                results.append({"error": {"code": exc.code, "message": exc.message}, "status": exc.status})
        return JSONResponse({"height": service.height(), "results": results})

    return app


async def _read_body(request: Request, limit: int = MAX_BODY_BYTES, json_ok: bool = True) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "bad_request", "invalid Content-Length") from None
        if too_big:
            raise ApiError(413, "too_large", f"request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if ctype == "application/json" and json_ok:
        import json

        try:
            doc = json.loads(body)
            return bytes.fromhex(doc["tx"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(
                400, "bad_request", 'JSON body must be {"tx": "<hex of the signed transaction>"}'
            ) from None
    if ctype in ("application/octet-stream", "application/msgpack", "application/x-msgpack"):
        return body
    raise ApiError(
        415, "unsupported_media_type", "send application/octet-stream (msgpack bytes) or application/json"
    )
