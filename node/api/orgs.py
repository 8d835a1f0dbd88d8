"""The organisation tree and the users (keys) registered in it, scoped to the caller's subtree.

Rules: one org or user by id is read from the state map at the newest certified height; lists take
their keys from the read index and are proven at the index's height, row by row checked against
the state (`"complete": false`); `proof=true` adds the proof (`node/api/proven.py`). An org or
user outside the caller's subtree answers as an absent one (404 `not_found`).
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS, OrgOne, OrgPage, UserOne, UserPage
from node.api.params import (
    LIMIT_DEFAULT,
    Cursor,
    Limit,
    MinHeight,
    OrgQ,
    Prove,
    Subtree,
    decode_cursor,
    encode_cursor,
)
from node.api.proven import ProofBuilder
from node.index.queries import list_orgs, list_users
from wire.hexid import parse_hex_id
from wire.records import org_view, project, user_view

Render = Callable[[dict[str, Any]], dict[str, Any]]


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["orgs and users"])
    Auth = Annotated[Caller, Depends(ctx.authn)]

    def proven_one(
        key: str, render: Render, may_see: Callable[[dict[str, Any]], bool], what: str, proof: bool
    ) -> JSONResponse:
        with ctx.proven() as view:
            raw = view.get(key.encode("utf-8"))
            proj = None if raw is None else project(key, raw, view.height)
            if raw is None or proj is None or not may_see(proj.row):
                raise ApiError("not_found", f"no {what} with this id in your scope")
            doc: dict[str, Any] = {"height": view.reflects, "item": {**render(proj.row), "value": raw.hex()}}
            if proof:
                b = ProofBuilder()
                view.prove(b, [key.encode("utf-8")])
                doc["proof"] = view.proof_json(b, {key.encode("utf-8"): raw})
        return JSONResponse(doc)

    async def proven_page(
        rows: list[dict[str, Any]],
        height: int,
        key_of: Callable[[dict[str, Any]], str],
        render: Render,
        next_cursor: str | None,
        proof: bool,
    ) -> JSONResponse:
        await ctx.wait_anchor(height)
        with ctx.proven(height) as view:
            checked = ctx.check_rows(view, rows, key_of)
            doc: dict[str, Any] = {
                "height": view.reflects,
                "items": [{**render(row), "value": raw.hex()} for _, raw, row in checked],
                "next_cursor": next_cursor,
                "complete": False,
            }
            if proof:
                b = ProofBuilder()
                view.prove(b, [k for k, _, _ in checked])
                doc["proof"] = view.proof_json(b, {k: raw for k, raw, _ in checked})
        return JSONResponse(doc)

    @router.get("/v1/orgs", response_model=OrgPage)
    async def orgs(
        caller: Auth,
        root: OrgQ = None,
        subtree: Subtree = True,
        cursor: Cursor = None,
        limit: Limit = LIMIT_DEFAULT,
        min_height: MinHeight = None,
        proof: Prove = False,
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
        nxt = encode_cursor("org", page.rows[-1]["org_id"]) if page.more and page.rows else None
        return await proven_page(page.rows, page.height, lambda r: f"org/{r['org_id']}", org_view, nxt, proof)

    @router.get("/v1/orgs/{org_id}", response_model=OrgOne)
    async def org(
        caller: Auth,
        org_id: Annotated[str, Path(max_length=200)],
        min_height: MinHeight = None,
        proof: Prove = False,
    ) -> JSONResponse:
        """One org (from the ledger state)."""
        if not caller.sees(org_id):
            raise ApiError("not_found", "no organisation with this id in your scope")
        await ctx.wait_provable(min_height)
        return proven_one(f"org/{org_id}", org_view, lambda row: True, "organisation", proof)

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
        proof: Prove = False,
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
        nxt = encode_cursor("user", page.rows[-1]["pubkey"]) if page.more and page.rows else None
        return await proven_page(
            page.rows, page.height, lambda r: f"user/{r['pubkey']}", user_view, nxt, proof
        )

    @router.get("/v1/users/{pubkey}", response_model=UserOne)
    async def user(
        caller: Auth,
        pubkey: Annotated[str, Path(max_length=64)],
        min_height: MinHeight = None,
        proof: Prove = False,
    ) -> JSONResponse:
        """One user by public key (from the ledger state)."""
        parse_hex_id(pubkey, "pubkey")
        await ctx.wait_provable(min_height)
        return proven_one(f"user/{pubkey}", user_view, lambda row: caller.sees(row["org_id"]), "user", proof)

    return router
