"""The app factory of the node's HTTP API (FastAPI, served by uvicorn inside the node process).

Rules:

- `create_app(routers, height=...)` builds the app from the route groups the composition root
  hands it; nothing is module-global.
- Every error is JSON `{"error": {"code": ..., "message": ...}, "height": ...}`. Coded errors
  (`ApiError`, and the runtime's, store's, index's and privacy's `NodeError`s, `wire`'s
  `WireError`s) get their status from the one table, `node/api/errors.py`; a request FastAPI
  cannot parse is 400 `bad_request`; 404 and 405 of the router are `not_found` and
  `method_not_allowed`, a 405 with `Allow` naming every method the path takes. No client input
  produces a 5xx: a 500 is a bug, logged in full. A client that disconnects mid-body gets
  nothing and costs no log line.
- Bytes are hex in JSON; every response states the height it reflects (`height`).
- `/docs` is Swagger UI served entirely by the node: its assets come from the installed
  `swagger-ui-bundle-v2` package (Apache-2.0, licence in its dist-info) under `/docs/assets/`,
  never from a CDN, so the page works on an intranet without internet.
- While the node joins (waiting for its admission, installing a snapshot) every route but
  `/healthz`, `/readyz`, `/v1/status` and `/metrics` answers 503 `joining` (`JoiningGate`).
- Every request has a request id: the caller's `X-Request-Id` when it is 1-64 characters of
  `[A-Za-z0-9._-]`, else a fresh one; it is echoed in the response's `X-Request-Id` and carried
  by the API's log records (`extra={"request_id": ...}`, a field of the JSON log).
- The OpenAPI document names every status a route answers: each route declares its own; FastAPI's
  422 (never sent: validation errors are 400) is removed from every operation, and every
  operation documents 429 and 503, which the connection limits of `node/api/server.py` can
  answer on any route.
- `StageMiddleware` (added outermost by the composition root) counts the CPU of request handling
  to the node's `api` stage, so `orgledger bench` can tell it from the rest of the process.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from node.api.auth import SECURITY_SCHEMES, is_authenticating
from node.api.errors import headers_of, status_of
from node.metrics import StageClock
from wire.errors import CodedError

log = logging.getLogger("orgledger.api")

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    """Give every HTTP request an id (`request.state.request_id`) and echo it (pure ASGI, so
    streamed answers such as /v1/events pass through untouched)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == b"x-request-id"), b"")
        text = given.decode("latin-1")
        rid = text if REQUEST_ID.fullmatch(text) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())],
                }
            await send(message)

        await self.app(scope, receive, send_with_id)


class JoiningGate:
    """While `joining()` names a reason (a node waiting for its admission or installing a
    snapshot: its store is genesis, or being replaced), every route but JOINING_OPEN answers 503
    `joining` (pure ASGI)."""

    def __init__(self, app: Any, joining: Callable[[], str | None], height: Callable[[], int]) -> None:
        self.app, self.joining, self.height = app, joining, height

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        reason = self.joining() if scope["type"] == "http" else None
        if reason is None or scope.get("path") in JOINING_OPEN:
            await self.app(scope, receive, send)
            return
        answer = JSONResponse(
            {
                "error": {"code": "joining", "message": f"the node is not serving yet: {reason}"},
                "height": self.height(),
            },
            status_code=503,
            headers={"Retry-After": str(JOINING_RETRY_S)},
        )
        await answer(scope, receive, send)


JOINING_OPEN = frozenset({"/healthz", "/readyz", "/v1/status", "/metrics"})
JOINING_RETRY_S = 5


class StageMiddleware:
    """Count the CPU of handling each HTTP request (the middleware, the route, building the
    answer; not the waits) to the `api` stage of the node's `StageClock` (node/metrics.py)."""

    def __init__(self, app: Any, clock: StageClock) -> None:
        self.app, self.clock = app, clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.clock.run("api", self.app(scope, receive, send))


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def create_app(
    routers: Sequence[APIRouter],
    *,
    height: Callable[[], int],
    title: str = "orgledger node",
    joining: Callable[[], str | None] = lambda: None,
) -> FastAPI:
    """The app serving `routers`; `height` is the node's height, stated in every error answer;
    `joining` says why the node serves nothing but its health and status yet (`JoiningGate`)."""
    app = FastAPI(title=title, version="1", docs_url=None, redoc_url=None)
    for router in routers:
        app.include_router(router)
    _mount_docs(app, title)
    generated = app.openapi

    def openapi() -> dict[str, Any]:
        return documented(generated(), secured_operations(routers))

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(CodedError)
    async def _coded_error(request: Request, exc: CodedError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error(
                "unmapped error code %r on %s %s",
                exc.code,
                request.method,
                request.url.path,
                exc_info=exc,
                extra={"request_id": request_id(request)},
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
        log.error(
            "unhandled error on %s %s",
            request.method,
            request.url.path,
            exc_info=exc,
            extra={"request_id": request_id(request)},
        )
        return JSONResponse(
            {"error": {"code": "internal_error", "message": "the node failed to answer; this is logged"}},
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}, "height": height()},
            status_code=exc.status_code,
            headers=headers,
        )

    app.add_middleware(JoiningGate, joining=joining, height=height)
    app.add_middleware(RequestIdMiddleware)
    return app


def _mount_docs(app: FastAPI, title: str) -> None:
    """Swagger UI at /docs with its assets served by the node itself (no CDN)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route takes at the request's path (the router's own 405 names one
    route's): each method is tried against the routes' public `matches`."""
    found = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in app.router.routes):
            found.append(method)
    return found


_CONNECTION_LIMITS = {
    "429": "`client_connection_limit`, `rate_limited`, ...: slow down; see Retry-After",
    "503": "`too_many_connections`, ...: the node cannot serve right now; see Retry-After",
}


def secured_operations(routers: Sequence[APIRouter]) -> set[tuple[str, str]]:
    """(path, method) of every documented route of `routers` that depends, at any depth, on a
    dependency marked `node.api.auth.authenticates`."""

    def authenticated(dependant: Dependant) -> bool:
        return any(is_authenticating(d.call) or authenticated(d) for d in dependant.dependencies)

    return {
        (route.path_format, method.lower())
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema and authenticated(route.dependant)
        for method in route.methods or ()
    }


def documented(schema: dict[str, Any], secured: Collection[tuple[str, str]] = ()) -> dict[str, Any]:
    """The OpenAPI document as the node answers (idempotent): no 422, 429 and 503 everywhere; the
    authentication schemes on the `secured` operations."""
    for path, method in secured:
        op = schema.get("paths", {}).get(path, {}).get(method)
        if op is not None:
            op["security"] = [{name: []} for name in SECURITY_SCHEMES]
    if secured:
        schema.setdefault("components", {})["securitySchemes"] = dict(SECURITY_SCHEMES)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error = (
        {"$ref": "#/components/schemas/ErrorOut"}
        if "ErrorOut" in components
        else {"type": "object", "properties": {"error": {"type": "object"}, "height": {"type": "integer"}}}
    )
    for operations in schema.get("paths", {}).values():
        for op in operations.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            for status, what in _CONNECTION_LIMITS.items():
                responses.setdefault(
                    status, {"description": what, "content": {"application/json": {"schema": error}}}
                )
    text = json.dumps(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            components.pop(unused, None)
    return schema
