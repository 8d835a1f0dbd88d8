"""The record routes: each record family of `wire/families.py` by id, by list and by children, and
one member's history (docs/api.md).

Rules:

- Every route needs an authenticated caller (`ApiContext.authn`). What it may read: objects of
  its org's subtree; auditors get record hashes but no contents (alerts in full). An object
  outside the caller's subtree answers exactly as an absent one: 404 `not_found`.
- One record by id is read from the block store (a snapshot: the record and the height agree);
  lists, filters and histories from the read index (one snapshot each). Every answer states the
  height it reflects.
- Every answer with record contents is told to the access hook (`ApiContext.emit`).
"""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS, HistoryOut, RecordOne, RecordPage
from node.api.params import (
    LIMIT_DEFAULT,
    Cursor,
    Day,
    Limit,
    MinHeight,
    OrgQ,
    RecordId,
    Str64,
    Subtree,
    decode_cursor,
    encode_cursor,
)
from node.index.queries import Page, RecordFilter, children, history, list_records
from wire.families import FAMILIES, RecordFamily
from wire.hexid import parse_hex_id


def record_out(row: dict[str, Any], contents: bool, *, from_index: bool) -> dict[str, Any]:
    return {
        "family": row["family"],
        "id": row["rid"],
        "org_id": row["org_id"],
        "other_org_id": row["other_org_id"],
        "parent_id": row["parent_id"],
        "person_key": row["person_key"],
        "status": row["status"],
        "kind": row["kind"],
        "colour": row["colour"],
        "day": row["day"],
        "state_key": row["state_key"],
        "value_hash": row["value_hash"],
        "updated_height": row["updated_height"] if from_index else None,
        "record": json.loads(row["body"]) if contents else None,
    }


def visible(caller: Caller, row: dict[str, Any]) -> bool:
    return caller.sees(row["org_id"]) or (row["family"] == "transfer" and caller.sees(row["other_org_id"]))


def _not_found(what: str) -> ApiError:
    return ApiError("not_found", f"no {what} with this id in your scope")


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["records"])
    Auth = Annotated[Caller, Depends(ctx.authn)]

    def page_response(request: Request, caller: Caller, family: str, page: Page) -> JSONResponse:
        contents = caller.contents or family == "alert"
        items = [record_out(r, contents, from_index=True) for r in page.rows]
        if contents:
            ctx.emit(request, caller, family, [r["rid"] for r in page.rows], page.height)
        nxt = encode_cursor(family, page.rows[-1]["rid"]) if page.more and page.rows else None
        return JSONResponse({"height": page.height, "items": items, "next_cursor": nxt})

    def add_family(fam: RecordFamily) -> None:
        what = fam.family

        async def list_family(
            request: Request,
            caller: Auth,
            org_id: OrgQ = None,
            subtree: Subtree = True,
            status: Str64 = None,
            type: Str64 = None,
            person_key: Str64 = None,
            colour: Annotated[str | None, Query(pattern=r"^(RED|YELLOW|BLUE)$")] = None,
            date_from: Day = None,
            date_to: Day = None,
            cursor: Cursor = None,
            limit: Limit = LIMIT_DEFAULT,
            min_height: MinHeight = None,
        ) -> JSONResponse:
            ctx.require_read(caller)
            ctx.scope_org(caller, org_id)
            await ctx.wait_index(min_height)
            db = ctx.db()
            f = RecordFilter(
                family=what,
                scope=caller.scope,
                org_id=org_id,
                subtree=subtree,
                person_key=person_key,
                status=status,
                kind=type,
                colour=colour,
                day_from=date_from,
                day_to=date_to,
                after=decode_cursor(what, cursor),
                limit=limit,
            )
            page = await ctx.query(lambda: list_records(db, f))
            return page_response(request, caller, what, page)

        list_family.__doc__ = (
            f"List {fam.path} in your subtree, filtered; `type`, `status` and the dates mean per family "
            "what docs/api.md says (e.g. doc_type for materials, rule id for alerts)."
        )
        router.add_api_route(
            f"/v1/{fam.path}",
            list_family,
            methods=["GET"],
            response_model=RecordPage,
            name=f"list_{fam.path}",
        )

        for child in fam.children:

            def make_children(child_family: str, sub: str) -> Callable[..., Any]:
                async def list_children(
                    request: Request,
                    caller: Auth,
                    record_id: RecordId,
                    cursor: Cursor = None,
                    limit: Limit = LIMIT_DEFAULT,
                    min_height: MinHeight = None,
                ) -> JSONResponse:
                    ctx.require_read(caller)
                    rid = record_id.rstrip("/")
                    if fam.id_is_hex:
                        parse_hex_id(rid, "the id")
                    await ctx.wait_index(min_height)
                    db = ctx.db()
                    after = decode_cursor(child_family, cursor)
                    parent, page = await ctx.query(
                        lambda: children(db, what, rid, child_family, after, limit)
                    )
                    if parent is None or not visible(caller, parent):
                        raise _not_found(what)
                    return page_response(request, caller, child_family, page)

                list_children.__doc__ = f"The {sub} of one {what}, in order."
                return list_children

            router.add_api_route(
                f"/v1/{fam.path}/{{record_id:path}}/{child.sub_path}",
                make_children(child.family, child.sub_path),
                methods=["GET"],
                response_model=RecordPage,
                name=f"{fam.path}_{child.sub_path}",
            )

        async def get_one(
            request: Request, caller: Auth, record_id: RecordId, min_height: MinHeight = None
        ) -> JSONResponse:
            ctx.require_read(caller)
            if fam.id_is_hex:
                parse_hex_id(record_id, "the id")
            await ctx.wait_store(min_height)
            row, height = ctx.read_one(fam, record_id)
            if row is None or not visible(caller, row):
                raise _not_found(what)
            contents = caller.contents or what == "alert"
            if contents:
                ctx.emit(request, caller, what, [row["rid"]], height)
            return JSONResponse({"height": height, "item": record_out(row, contents, from_index=False)})

        get_one.__doc__ = f"One {what} by id, read from the ledger state (not the index)."
        router.add_api_route(
            f"/v1/{fam.path}/{{record_id:path}}",
            get_one,
            methods=["GET"],
            response_model=RecordOne,
            name=f"get_{fam.path}",
        )

    for fam in FAMILIES:
        add_family(fam)

    @router.get("/v1/members/{person_key}/history", response_model=HistoryOut)
    async def member_history(
        request: Request,
        caller: Auth,
        person_key: Annotated[str, Path(max_length=64)],
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """Everything the ledger holds about one person that your subtree may see: archive and its
        versions, pipelines and their steps, materials, transfers, meetings, decisions, alerts."""
        ctx.require_read(caller)
        parse_hex_id(person_key, "person_key")
        await ctx.wait_index(min_height)
        db = ctx.db()
        rows, height, truncated = await ctx.query(lambda: history(db, person_key, caller.scope))
        if not rows:
            raise _not_found("member")
        contents = caller.contents
        items = [record_out(r, contents or r["family"] == "alert", from_index=True) for r in rows]
        if contents:
            ctx.emit(request, caller, "member", [person_key], height)
        return JSONResponse(
            {"height": height, "person_key": person_key, "items": items, "truncated": truncated}
        )

    return router
