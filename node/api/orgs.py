"""The organisation tree and the users (keys) registered in it, scoped to the caller's subtree.

Rules: lists come from the read index, one org or user by id from the ledger state; an org or
user outside the caller's subtree answers as an absent one (404 `not_found`).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS, OrgOne, OrgPage, UserOne, UserPage, org_out, user_out
from node.api.params import (
    LIMIT_DEFAULT,
    Cursor,
    Limit,
    MinHeight,
    OrgQ,
    Subtree,
    decode_cursor,
    encode_cursor,
)
from node.index.queries import list_orgs, list_users
from wire.hexid import parse_hex_id


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["orgs and users"])
    Auth = Annotated[Caller, Depends(ctx.authn)]

    @router.get("/v1/orgs", response_model=OrgPage)
    async def orgs(
        caller: Auth,
        root: OrgQ = None,
        subtree: Subtree = True,
        cursor: Cursor = None,
        limit: Limit = LIMIT_DEFAULT,
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """The org tree under `root` (default: your org): the whole subtree, or its children only."""
        ctx.scope_org(caller, root)
        start = root if root is not None else caller.org_id
        await ctx.wait_index(min_height)
        db = ctx.db()
        after = decode_cursor("org", cursor)
        page = await ctx.query(
            lambda: list_orgs(db, scope=caller.scope, root=start, subtree=subtree, after=after, limit=limit)
        )
        items = [org_out(r) for r in page.rows]
        nxt = encode_cursor("org", page.rows[-1]["org_id"]) if page.more and page.rows else None
        return JSONResponse({"height": page.height, "items": items, "next_cursor": nxt})

    @router.get("/v1/orgs/{org_id}", response_model=OrgOne)
    async def org(
        caller: Auth, org_id: Annotated[str, Path(max_length=200)], min_height: MinHeight = None
    ) -> JSONResponse:
        """One org (from the ledger state)."""
        if not caller.sees(org_id):
            raise ApiError("not_found", "no organisation with this id in your scope")
        await ctx.wait_store(min_height)
        row, height = ctx.state_record(f"org/{org_id}")
        if row is None:
            raise ApiError("not_found", "no organisation with this id in your scope")
        return JSONResponse({"height": height, "item": org_out(row)})

    @router.get("/v1/users", response_model=UserPage)
    async def users(
        caller: Auth,
        org_id: OrgQ = None,
        subtree: Subtree = True,
        status: Annotated[str | None, Query(pattern=r"^(ACTIVE|REVOKED|ROTATED)$")] = None,
        role: Annotated[str | None, Query(pattern=r"^(admin|operator|approver|auditor|integration)$")] = None,
        cursor: Cursor = None,
        limit: Limit = LIMIT_DEFAULT,
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """Users (keys) registered in your subtree."""
        ctx.scope_org(caller, org_id)
        await ctx.wait_index(min_height)
        db = ctx.db()
        after = decode_cursor("user", cursor)
        page = await ctx.query(
            lambda: list_users(
                db,
                scope=caller.scope,
                org_id=org_id,
                subtree=subtree,
                status=status,
                role=role,
                after=after,
                limit=limit,
            )
        )
        items = [user_out(r) for r in page.rows]
        nxt = encode_cursor("user", page.rows[-1]["pubkey"]) if page.more and page.rows else None
        return JSONResponse({"height": page.height, "items": items, "next_cursor": nxt})

    @router.get("/v1/users/{pubkey}", response_model=UserOne)
    async def user(
        caller: Auth, pubkey: Annotated[str, Path(max_length=64)], min_height: MinHeight = None
    ) -> JSONResponse:
        """One user by public key (from the ledger state)."""
        parse_hex_id(pubkey, "pubkey")
        await ctx.wait_store(min_height)
        row, height = ctx.state_record(f"user/{pubkey}")
        if row is None or not caller.sees(row["org_id"]):
            raise ApiError("not_found", "no user with this id in your scope")
        return JSONResponse({"height": height, "item": user_out(row)})

    return router
