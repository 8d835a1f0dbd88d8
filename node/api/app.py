"""The app factory of the node's HTTP API (FastAPI, served by uvicorn inside the node process).

Rules:

- `create_app(routers, height=...)` builds the app from the route groups the composition root
  hands it; nothing is module-global.
- Every error is JSON `{"error": {"code": ..., "message": ...}, "height": ...}`. Coded errors
  (`ApiError`, and the runtime's, store's, index's and privacy's `NodeError`s, `wire`'s
  `WireError`s) get their status from the one table, `node/api/errors.py`; a request FastAPI
  cannot parse is 400 `bad_request`; 404 and 405 of the router are `not_found` and
  `method_not_allowed`. No client input produces a 5xx: a 500 is a bug, logged in full. A
  client that disconnects mid-body gets nothing and costs no log line.
- Bytes are hex in JSON; every response states the height it reflects (`height`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from node.api.errors import headers_of, status_of
from wire.errors import CodedError

log = logging.getLogger("orgledger.api")


def create_app(
    routers: Sequence[APIRouter], *, height: Callable[[], int], title: str = "orgledger node"
) -> FastAPI:
    """The app serving `routers`; `height` is the node's height, stated in every error answer."""
    app = FastAPI(title=title, version="1", docs_url="/docs", redoc_url=None)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(CodedError)
    async def _coded_error(request: Request, exc: CodedError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error(
                "unmapped error code %r on %s %s", exc.code, request.method, request.url.path, exc_info=exc
            )
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}, "height": height()},
            status_code=status,
            headers=headers_of(exc, status),
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
                "height": height(),
            },
            status_code=400,
        )

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(_: Request, __: ClientDisconnect) -> Response:
        return Response(status_code=400)  # nobody reads it: the client left mid-body

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
            {"error": {"code": code, "message": str(exc.detail)}, "height": height()},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    return app
