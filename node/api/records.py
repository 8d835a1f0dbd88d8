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
    Prove,
    RecordId,
    Str64,
    Subtree,
    decode_cursor,
    encode_cursor,
)
from node.api.proven import ProofBuilder
from node.errors import StorageCorruptError
from node.index.queries import Page, RecordFilter, children, history, list_records
from wire.families import FAMILIES, ORG_INDEXED, RecordFamily, org_index_range, record_key_of_index, seg
from wire.hexid import parse_hex_id
from wire.records import project


def record_out(
    row: dict[str, Any], contents: bool, *, from_index: bool, value: bytes | None = None
) -> dict[str, Any]:
    out = {
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
    if value is not None and contents:
        out["value"] = value.hex()
    return out


def visible(caller: Caller, row: dict[str, Any]) -> bool:
    return caller.sees(row["org_id"]) or (row["family"] == "transfer" and caller.sees(row["other_org_id"]))


def _not_found(what: str) -> ApiError:
    return ApiError("not_found", f"no {what} with this id in your scope")


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["records"])
    Auth = Annotated[Caller, Depends(ctx.authn)]

    async def index_page(
        request: Request, caller: Caller, family: str, page: Page, proof: bool
    ) -> JSONResponse:
        """A page the index chose, proven at the index's own height, each row checked first."""
        contents = caller.contents or family == "alert"
        await ctx.wait_anchor(page.height)
        with ctx.proven(page.height) as view:
            checked = ctx.check_rows(view, page.rows, key_of=lambda r: str(r["state_key"]))
            items = [record_out(row, contents, from_index=True, value=raw) for _, raw, row in checked]
            doc: dict[str, Any] = {"height": view.reflects}
            if proof:
                b = ProofBuilder()
                view.prove(b, [k for k, _, _ in checked])
                doc["proof"] = view.proof_json(b, {k: raw for k, raw, _ in checked})
        if contents:
            ctx.emit(request, caller, family, [r["rid"] for _, _, r in checked], view.height)
        nxt = encode_cursor(family, page.rows[-1]["rid"]) if page.more and page.rows else None
        return JSONResponse({**doc, "items": items, "next_cursor": nxt, "complete": False})

    async def org_page(
        request: Request,
        caller: Caller,
        family: str,
        org_id: str | None,
        subtree: bool,
        cursor: str | None,
        limit: int,
        proof: bool,
    ) -> JSONResponse:
        """An org's (or subtree's) records, unfiltered: a range over the state's org index, proven
        complete."""
        lo, hi = org_index_range(family, org_id if org_id is not None else caller.scope, subtree)
        after = decode_cursor(family, cursor)
        if after is not None:
            lo = after.encode("utf-8") + b"\x00"
        contents = caller.contents or family == "alert"
        with ctx.proven() as view:
            b = ProofBuilder()
            entries, more = view.scan(b, lo, hi, limit)
            keys = [record_key_of_index(family, k) for k, _ in entries]
            values = {k: view.get(k) for k in keys}
            view.prove(b, keys)
            items = []
            for k in keys:
                raw = values[k]
                proj = None if raw is None else project(k.decode("utf-8"), raw, view.height)
                if raw is None or proj is None:
                    raise StorageCorruptError(
                        f"the org index names {k[:80]!r}, which the state does not hold"
                    )
                items.append(record_out(proj.row, contents, from_index=False, value=raw))
            doc: dict[str, Any] = {"height": view.reflects}
            if proof:
                doc["proof"] = view.proof_json(b, values)
        if contents:
            ctx.emit(request, caller, family, [i["id"] for i in items], view.height)
        nxt = encode_cursor(family, entries[-1][0].decode("utf-8")) if more else None
        return JSONResponse({**doc, "items": items, "next_cursor": nxt, "complete": True})

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
            proof: Prove = False,
        ) -> JSONResponse:
            ctx.require_read(caller)
            ctx.scope_org(caller, org_id)
            filtered = any(x is not None for x in (status, type, person_key, colour, date_from, date_to))
            if what in ORG_INDEXED and not filtered:
                await ctx.wait_provable(min_height)
                return await org_page(request, caller, what, org_id, subtree, cursor, limit, proof)
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
            return await index_page(request, caller, what, page, proof)

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
                    proof: Prove = False,
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
                    return await index_page(request, caller, child_family, page, proof)

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
            request: Request,
            caller: Auth,
            record_id: RecordId,
            min_height: MinHeight = None,
            proof: Prove = False,
        ) -> JSONResponse:
            ctx.require_read(caller)
            if fam.id_is_hex:
                parse_hex_id(record_id, "the id")
            await ctx.wait_provable(min_height)
            key = f"{fam.key_prefix}/{seg(record_id)}"
            with ctx.proven() as view:
                raw = view.get(key.encode("utf-8"))
                proj = None if raw is None else project(key, raw, view.height)
                if raw is None or proj is None or not visible(caller, proj.row):
                    raise _not_found(what)
                contents = caller.contents or what == "alert"
                doc: dict[str, Any] = {
                    "height": view.reflects,
                    "item": record_out(proj.row, contents, from_index=False, value=raw),
                }
                if proof:
                    b = ProofBuilder()
                    view.prove(b, [key.encode("utf-8")])
                    doc["proof"] = view.proof_json(b, {key.encode("utf-8"): raw})
            if contents:
                ctx.emit(request, caller, what, [proj.row["rid"]], view.height)
            return JSONResponse(doc)

        get_one.__doc__ = f"One {what} by id, read from the ledger state at the newest certified height."
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
        proof: Prove = False,
    ) -> JSONResponse:
        """Everything the ledger holds about one person that your subtree may see: archive and its
        versions, pipelines and their steps, materials, transfers, meetings, decisions, alerts
        (from the read index, each item proven; the list is not proven complete)."""
        ctx.require_read(caller)
        parse_hex_id(person_key, "person_key")
        await ctx.wait_index(min_height)
        db = ctx.db()
        rows, height, truncated = await ctx.query(lambda: history(db, person_key, caller.scope))
        if not rows:
            raise _not_found("member")
        contents = caller.contents
        await ctx.wait_anchor(height)
        with ctx.proven(height) as view:
            checked = ctx.check_rows(view, rows, key_of=lambda r: str(r["state_key"]))
            items = [
                record_out(r, contents or r["family"] == "alert", from_index=True, value=raw)
                for _, raw, r in checked
            ]
            doc: dict[str, Any] = {"height": view.reflects}
            if proof:
                b = ProofBuilder()
                view.prove(b, [k for k, _, _ in checked])
                doc["proof"] = view.proof_json(b, {k: raw for k, raw, _ in checked})
        if contents:
            ctx.emit(request, caller, "member", [person_key], height)
        return JSONResponse(
            {**doc, "person_key": person_key, "items": items, "truncated": truncated, "complete": False}
        )

    return router
