"""The public routes: liveness, readiness, metrics, status, and submitting signed transactions.

Rules:

- `/healthz` is liveness: 200 while the process runs and has not failed (restart it on 503).
  `/readyz` is readiness, for load balancers and compose: 200 only when the node is caught up
  (at most `ready_max_behind` blocks below the highest height a verified certificate showed
  it, and below the height f+1 validators report in STATUS: a node replaying from genesis cannot
  verify certificates past the validator epochs it knows yet), is connected to a quorum of
  validators (itself included) and its read index is available and at most `index_max_lag`
  blocks behind the store; else 503 with every reason, e.g.
  `{"ready": false, "reasons": [{"code": "index_unavailable", "message": ...}], ...}`.

- No authentication here: a transaction carries its own signatures, and status and health say
  nothing about ledger contents. Only a registered, live key (or a node key) can get a
  transaction admitted (the runtime's admission: 403 `unknown_signer` otherwise), and the
  admission budget (`node/api/ratelimit.py`: per client address and per node) is charged before
  a body is read.
- `POST /v1/tx` answers 202 with the pending status (200 when the transaction is already stored),
  or the admission refusal with its reason code. `POST /v1/txs` admits a msgpack list of up to
  MAX_BATCH_TXS transactions in one round trip, each exactly as `/v1/tx` would, answering one
  result per transaction in order.
- Bodies are bounded before they are read (`node/api/body.py`).
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from node.api.body import read_tx_body
from node.api.context import ApiContext
from node.api.errors import ApiError, status_of
from node.api.models import SUBMIT_BODY, ErrorOut, HealthOut, ReadyOut, StatusOut, SubmitOut
from node.api.render import tx_status_json
from node.errors import NodeError
from wire import codec
from wire.errors import WireError

MAX_BODY_BYTES = 96 * 1024
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_TXS = 2000


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()

    def _charge(request: Request, n: int) -> None:
        refused = ctx.admission.take(request.client.host if request.client else "", time.monotonic(), n)
        if refused is not None:
            code, wait = refused
            raise ApiError(code, "too many transactions submitted; retry later", retry_after_s=wait)

    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut} for code in (400, 401, 403, 409, 413, 415, 429, 503)
    }

    @router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
    async def healthz() -> JSONResponse:
        ok, detail = ctx.chain.health()
        return JSONResponse({"ok": ok, **detail}, status_code=200 if ok else 503)

    @router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
    async def readyz() -> JSONResponse:
        facts = ctx.chain.readiness()
        reasons = readiness_reasons(
            facts,
            ctx.index.height,
            ctx.index.db is not None,
            ctx.index.error,
            max_behind=ctx.ready_max_behind,
            max_index_lag=ctx.index_max_lag,
        )
        body = {"ready": not reasons, "reasons": reasons, **facts, "indexed_height": ctx.index.height}
        return JSONResponse(body, status_code=503 if reasons else 200)

    @router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        body, content_type = ctx.render_metrics()
        return Response(content=body, media_type=content_type)

    @router.get("/v1/status", response_model=StatusOut)
    async def status() -> JSONResponse:
        return JSONResponse({**ctx.chain.status(), "indexed_height": ctx.index.height})

    @router.post(
        "/v1/tx",
        status_code=202,
        response_model=SubmitOut,
        responses={200: {"model": SubmitOut}, **errors},
        openapi_extra=SUBMIT_BODY,
    )
    async def submit(request: Request) -> JSONResponse:
        _charge(request, 1)
        raw = await read_tx_body(request, MAX_BODY_BYTES)
        found = ctx.chain.submit(raw)
        return JSONResponse(tx_status_json(found), status_code=200 if found.state == "committed" else 202)

    @router.post(
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
        body = await read_tx_body(request, MAX_BATCH_BYTES, json_ok=False)
        try:
            items = codec.decode(body, codec.Limits(max_bytes=MAX_BATCH_BYTES, max_array_len=MAX_BATCH_TXS))
        except WireError as exc:
            raise ApiError("bad_request", f"body is not a msgpack list of transactions: {exc}") from None
        if type(items) is not list or not all(type(x) is bytes for x in items):
            raise ApiError("bad_request", "body must be a msgpack list of byte strings")
        _charge(request, max(1, len(items)))
        results: list[dict[str, Any]] = []
        for raw in items:
            try:
                results.append(tx_status_json(ctx.chain.submit(raw)))
            except NodeError as exc:
                results.append(
                    {"error": {"code": exc.code, "message": exc.message}, "status": status_of(exc)}
                )
        return JSONResponse({"height": ctx.chain.height(), "results": results})

    return router


def readiness_reasons(
    facts: dict[str, Any],
    indexed_height: int,
    index_open: bool,
    index_error: str | None,
    *,
    max_behind: int,
    max_index_lag: int,
) -> list[dict[str, str]]:
    """Why the node should not take traffic now (empty: ready)."""
    reasons: list[dict[str, str]] = []
    height, best = int(facts["height"]), int(facts["best_known_height"])
    reported = int(facts.get("reported_height", 0))
    if not facts["alive"]:
        reasons.append({"code": "stopping", "message": "the node is stopping or stopped after a fatal error"})
    if best - height > max_behind:
        reasons.append(
            {
                "code": "behind",
                "message": f"at height {height}, {best - height} blocks below the certified height {best} "
                f"(bound {max_behind})",
            }
        )
    elif reported - height > max_behind:
        reasons.append(
            {
                "code": "behind",
                "message": f"at height {height}, {reported - height} blocks below the height {reported} that "
                f"enough validators report for one honest one to be there (bound {max_behind})",
            }
        )
    if facts["validators_connected"] < facts["quorum"]:
        reasons.append(
            {
                "code": "no_quorum",
                "message": f"{facts['validators_connected']} validators reachable (itself included when it is one), "
                f"quorum {facts['quorum']}",
            }
        )
    if index_error is not None or not index_open:
        reasons.append(
            {"code": "index_unavailable", "message": index_error or "the read index is not open yet"}
        )
    elif height - indexed_height > max_index_lag:
        reasons.append(
            {
                "code": "index_lag",
                "message": f"index at height {indexed_height}, {height - indexed_height} blocks behind "
                f"(bound {max_index_lag})",
            }
        )
    return reasons
