"""Who am I, and a bearer token: `POST /v1/auth/token`, `GET /v1/auth/whoami`.

Rules: a token is obtained with a signed request (never with another token), lives at most
TOKEN_TTL_MAX_S in this node's memory and reads as the key that asked for it (`node/api/auth.py`).
The body, `{"ttl_s": N}` or empty, is read by the API's one JSON reader (`node/api/body.py`).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from node.api.auth import Caller
from node.api.body import json_of
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS, CallerOut, TokenIn, TokenOut


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["auth"], responses=READ_ERRORS)
    Auth = Annotated[Caller, Depends(ctx.authn)]

    @router.post("/v1/auth/token", response_model=TokenOut)
    async def token(request: Request, caller: Auth) -> JSONResponse:
        """A short-lived bearer token for this node, obtained with a signed request."""
        doc = json_of(request, getattr(request.state, "body", b""))
        try:
            ttl = TokenIn.model_validate({} if doc is None else doc).ttl_s
        except ValidationError:
            raise ApiError("bad_request", 'body must be {"ttl_s": 1..3600} or empty') from None
        if caller.via != "signature":
            raise ApiError("forbidden", "a token is obtained with a signed request, not another token")
        tok, ttl = ctx.auth.issue_token(caller, ttl)
        return JSONResponse({"height": ctx.chain.height(), "token": tok, "expires_in_s": ttl})

    @router.get("/v1/auth/whoami", response_model=CallerOut)
    async def whoami(caller: Auth) -> JSONResponse:
        """The caller as the node sees it: key, org, roles and what it may read."""
        return JSONResponse({"height": ctx.chain.height(), **caller.describe()})

    return router
