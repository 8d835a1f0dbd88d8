"""The read API: records, member histories, alerts, the org tree, users, transactions and blocks,
every request authenticated and scoped (docs/api.md).

Rules:

- Every route here needs an authenticated caller (`node.api.auth`). What it may read: objects of
  its org's subtree; auditors get record hashes but no contents (alerts and receipts in full);
  whole blocks need a root-org admin or auditor or a node key. An object outside the caller's
  subtree answers exactly as an absent one: 404 `not_found` (or `unknown_tx`).
- One record by id is read from the block store (a snapshot: the record and the height agree);
  lists, filters and histories from the index (one snapshot each). Every answer states the
  height it reflects; `min_height=H` waits up to MIN_HEIGHT_WAIT_S for the store or index to
  reach H, else 409 `height_not_reached`.
- Pages: `limit` 1..500 (default 50), ordered by id; `next_cursor` is opaque.
- Index queries run on a small thread pool, never on the event loop the consensus uses.
- Every read that returns record contents, transactions or blocks goes through `_emit`, which
  tells `node.read_listeners` who read what from where (the access log of issue 8 hooks there).
"""

import asyncio
import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from contracts.state import seg
from node.api.app import ApiError
from node.api.auth import Authenticator, AuthSettings, Caller
from node.api.chain import add_chain_routes
from node.api.models import (
    CallerOut,
    ErrorOut,
    HistoryOut,
    OrgOne,
    OrgPage,
    RecordOne,
    RecordPage,
    TokenIn,
    TokenOut,
    UserOne,
    UserPage,
    org_out,
    user_out,
)
from node.errors import StorageError
from node.index.db import IndexDb, IndexUnavailableError
from node.index.project import decode_value, project
from node.index.queries import Page, RecordFilter, children, history, list_orgs, list_records, list_users

if TYPE_CHECKING:
    from node.runtime.node import Node

log = logging.getLogger("orgledger.readapi")

MIN_HEIGHT_WAIT_S = 2.0
MIN_HEIGHT_AHEAD_MAX = 200  # further ahead cannot be reached within the wait: 409 at once
LIMIT_DEFAULT, LIMIT_MAX = 50, 500
AUTH_BODY_MAX = 4096
ID_MAX = 512
INDEX_THREADS = 4
HEX64 = re.compile(r"^[0-9a-f]{64}$")
T = TypeVar("T")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad parameter (bad_request, bad_cursor, bad_id, ...)"},
    401: {
        "model": ErrorOut,
        "description": "no or invalid authentication (auth_required, bad_signature, ...)",
    },
    403: {"model": ErrorOut, "description": "the caller's role may not read this (forbidden)"},
    404: {"model": ErrorOut, "description": "absent or outside the caller's subtree (not_found)"},
    409: {"model": ErrorOut, "description": "min_height not reached in time (height_not_reached)"},
    413: {"model": ErrorOut, "description": "request body too large (too_large)"},
    429: {
        "model": ErrorOut,
        "description": "rate limited (rate_limited, too_many_failures); see Retry-After",
    },
    503: {"model": ErrorOut, "description": "the node or its index cannot serve right now"},
}


@dataclass(frozen=True, slots=True)
class Family:
    """A record family exposed at /v1/<path>."""

    path: str
    family: str
    key_prefix: str
    children: tuple[tuple[str, str], ...] = ()  # (sub-path, child family)
    id_is_hex: bool = False


FAMILIES = (
    Family("archives", "archive", "archive", (("versions", "archive_version"),), id_is_hex=True),
    Family("materials", "material", "doc", (("versions", "material_version"),)),
    Family("pipelines", "pipeline", "pipeline", (("steps", "pipeline_step"),)),
    Family("transfers", "transfer", "transfer", (("in", "transfer_in"),)),
    Family("meetings", "meeting", "meeting", (("versions", "meeting_version"),)),
    Family("decisions", "decision", "decision", (("versions", "decision_version"),)),
    Family("alerts", "alert", "alert"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadEvent:
    """One read of ledger contents: who, from where, what (the access-log hook of issue 8)."""

    at_ms: int
    pubkey: str
    user_id: str
    org_id: str
    remote: str
    method: str
    path: str
    what: str  # the family, "tx" or "block"
    ids: tuple[str, ...]
    height: int


# ---------------------------------------------------------------------------------------- helpers
def encode_cursor(family: str, after: str) -> str:
    raw = json.dumps({"v": 1, "f": family, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(family: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if (
            isinstance(doc, dict)
            and doc.get("v") == 1
            and doc.get("f") == family
            and isinstance(doc.get("a"), str)
        ):
            return str(doc["a"])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError(400, "bad_cursor", "cursor is not one this endpoint issued")


def _hex32(value: str, what: str) -> bytes:
    if not HEX64.match(value):
        raise ApiError(400, "bad_id", f"{what} must be 64 lowercase hex characters")
    return bytes.fromhex(value)


def _record_out(row: dict[str, Any], contents: bool, *, from_index: bool) -> dict[str, Any]:
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


def _visible(caller: Caller, row: dict[str, Any]) -> bool:
    return caller.sees(row["org_id"]) or (row["family"] == "transfer" and caller.sees(row["other_org_id"]))


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with this id in your scope")


# ------------------------------------------------------------------------------------- the service
class ReadApi:
    def __init__(self, node: "Node") -> None:
        self.node = node
        self.store = node.store
        nodes = {n.pubkey: (n.node_id, n.org_id) for n in node.genesis.nodes}
        root = next(o.org_id for o in node.genesis.orgs if "." not in o.org_id)
        self.auth = Authenticator(
            node.genesis.chain_id,
            self._lookup_user,
            nodes,
            root,
            AuthSettings.from_extra(node.config.extra),
        )
        self.limiter = anyio.CapacityLimiter(INDEX_THREADS)

    # ------------------------------------------------------------------ plumbing
    def _lookup_user(self, pubkey: bytes) -> dict[str, Any] | None:
        raw = self.store.state_get(b"user/" + pubkey.hex().encode())
        return None if raw is None else decode_value(raw)

    async def authn(
        self,
        request: Request,
        _sig: Annotated[
            str | None, Depends(APIKeyHeader(name="X-Orgledger-Signature", auto_error=False))
        ] = None,
        _bearer: Annotated[Any, Depends(HTTPBearer(auto_error=False))] = None,
    ) -> Caller:
        body = b""
        if request.method not in ("GET", "HEAD"):
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > AUTH_BODY_MAX:
                    raise ApiError(413, "too_large", f"request body exceeds {AUTH_BODY_MAX} bytes")
                chunks.append(chunk)
            body = b"".join(chunks)
            request.state.body = body
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        query = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        remote = request.client.host if request.client else ""
        try:
            caller = self.auth.authenticate(request.method, target, body, request.headers, remote)
        except StorageError as exc:
            raise ApiError(503, "storage_error", "the node cannot read its store") from exc
        request.state.caller = caller
        return caller

    def db(self) -> IndexDb:
        db = self.node.indexer.db
        if db is None:
            raise ApiError(503, "index_unavailable", f"the index is not available: {self.node.indexer.error}")
        return db

    async def query(self, fn: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self.limiter)
        except (SQLAlchemyError, IndexUnavailableError) as exc:
            log.warning("index query failed: %s", exc)
            raise ApiError(503, "index_unavailable", "the index cannot answer right now") from None

    async def wait_for(self, min_height: int | None, current: Callable[[], int], what: str) -> None:
        if min_height is None or current() >= min_height:
            return
        if min_height > current() + MIN_HEIGHT_AHEAD_MAX:
            raise ApiError(409, "height_not_reached", f"the {what} is at height {current()}")
        deadline = time.monotonic() + MIN_HEIGHT_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            if current() >= min_height:
                return
        raise ApiError(
            409, "height_not_reached", f"the {what} is at height {current()}, below {min_height}; retry later"
        )

    async def wait_store(self, min_height: int | None) -> None:
        await self.wait_for(min_height, self.node.height, "node")

    async def wait_index(self, min_height: int | None) -> None:
        self.db()
        await self.wait_for(min_height, lambda: self.node.indexer.height, "index")

    def emit(self, request: Request, caller: Caller, what: str, ids: list[str], height: int) -> None:
        if not ids or not self.node.read_listeners:
            return
        event = ReadEvent(
            at_ms=int(time.time() * 1000),
            pubkey=caller.pubkey.hex(),
            user_id=caller.user_id,
            org_id=caller.org_id,
            remote=request.client.host if request.client else "",
            method=request.method,
            path=request.url.path,
            what=what,
            ids=tuple(ids),
            height=height,
        )
        for listener in self.node.read_listeners:
            try:
                listener(event)
            except Exception:  # a listener must never break a read
                log.exception("read listener failed")

    def scope_org(self, caller: Caller, org_id: str | None) -> None:
        if org_id is not None and not caller.sees(org_id):
            raise ApiError(404, "not_found", "no organisation with this id in your scope")

    @staticmethod
    def require_read(caller: Caller) -> None:
        if not caller.can_read:
            raise ApiError(403, "forbidden", "the caller holds no role that may read")

    # ------------------------------------------------------------------ records
    def read_one(self, fam: Family, record_id: str) -> tuple[dict[str, Any] | None, int]:
        key = f"{fam.key_prefix}/{seg(record_id)}"
        try:
            with self.store.snapshot() as snap:
                raw = snap.state_get(key.encode("utf-8"))
                height = snap.height
        except StorageError as exc:
            raise ApiError(503, "storage_error", "the node cannot read its store") from exc
        if raw is None:
            return None, height
        p = project(key, raw, height)
        return (None if p is None else p.row), height


def build_router(node: "Node", api: ReadApi | None = None) -> APIRouter:
    api = api if api is not None else ReadApi(node)
    router = APIRouter(responses=ERRORS)
    Auth = Annotated[Caller, Depends(api.authn)]
    MinHeight = Annotated[int | None, Query(ge=0, description="answer only at this height or above")]
    Limit = Annotated[int, Query(ge=1, le=LIMIT_MAX, description="page size")]
    Cursor = Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")]
    OrgQ = Annotated[
        str | None, Query(max_length=200, description="only this org (default: your whole subtree)")
    ]
    Subtree = Annotated[bool, Query(description="with org_id: include its subtree")]
    Str64 = Annotated[str | None, Query(max_length=64)]
    Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
    RecordId = Annotated[str, Path(min_length=1, max_length=ID_MAX, description="the record id (%2F for /)")]

    # ------------------------------------------------------------------ auth
    @router.post("/v1/auth/token", response_model=TokenOut, tags=["auth"])
    async def token(request: Request, caller: Auth) -> JSONResponse:
        """A short-lived bearer token for this node, obtained with a signed request."""
        body = getattr(request.state, "body", b"")
        try:
            ttl = TokenIn.model_validate_json(body or b"{}").ttl_s
        except ValueError:
            raise ApiError(400, "bad_request", 'body must be {"ttl_s": 1..3600} or empty') from None
        if caller.via != "signature":
            raise ApiError(403, "forbidden", "a token is obtained with a signed request, not another token")
        tok, ttl = api.auth.issue_token(caller, ttl)
        return JSONResponse({"height": node.height(), "token": tok, "expires_in_s": ttl})

    @router.get("/v1/auth/whoami", response_model=CallerOut, tags=["auth"])
    async def whoami(caller: Auth) -> JSONResponse:
        """The caller as the node sees it: key, org, roles and what it may read."""
        return JSONResponse({"height": node.height(), **caller.describe()})

    # ------------------------------------------------------------------ record families
    def add_family(fam: Family) -> None:
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
            api.require_read(caller)
            api.scope_org(caller, org_id)
            await api.wait_index(min_height)
            db = api.db()
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
            page = await api.query(lambda: list_records(db, f))
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
            tags=["records"],
        )

        for sub, child in fam.children:

            def make_children(sub: str, child: str) -> Callable[..., Any]:
                async def list_children(
                    request: Request,
                    caller: Auth,
                    record_id: RecordId,
                    cursor: Cursor = None,
                    limit: Limit = LIMIT_DEFAULT,
                    min_height: MinHeight = None,
                ) -> JSONResponse:
                    api.require_read(caller)
                    rid = record_id.rstrip("/")
                    if fam.id_is_hex:
                        _hex32(rid, "the id")
                    await api.wait_index(min_height)
                    db = api.db()
                    after = decode_cursor(child, cursor)
                    parent, page = await api.query(lambda: children(db, what, rid, child, after, limit))
                    if parent is None or not _visible(caller, parent):
                        raise _not_found(what)
                    return page_response(request, caller, child, page)

                list_children.__doc__ = f"The {sub} of one {what}, in order."
                return list_children

            router.add_api_route(
                f"/v1/{fam.path}/{{record_id:path}}/{sub}",
                make_children(sub, child),
                methods=["GET"],
                response_model=RecordPage,
                name=f"{fam.path}_{sub}",
                tags=["records"],
            )

        async def get_one(
            request: Request, caller: Auth, record_id: RecordId, min_height: MinHeight = None
        ) -> JSONResponse:
            api.require_read(caller)
            if fam.id_is_hex:
                _hex32(record_id, "the id")
            await api.wait_store(min_height)
            row, height = api.read_one(fam, record_id)
            if row is None or not _visible(caller, row):
                raise _not_found(what)
            contents = caller.contents or what == "alert"
            if contents:
                api.emit(request, caller, what, [row["rid"]], height)
            return JSONResponse({"height": height, "item": _record_out(row, contents, from_index=False)})

        get_one.__doc__ = f"One {what} by id, read from the ledger state (not the index)."
        router.add_api_route(
            f"/v1/{fam.path}/{{record_id:path}}",
            get_one,
            methods=["GET"],
            response_model=RecordOne,
            name=f"get_{fam.path}",
            tags=["records"],
        )

    def page_response(request: Request, caller: Caller, family: str, page: Page) -> JSONResponse:
        contents = caller.contents or family == "alert"
        items = [_record_out(r, contents, from_index=True) for r in page.rows]
        if contents:
            api.emit(request, caller, family, [r["rid"] for r in page.rows], page.height)
        nxt = encode_cursor(family, page.rows[-1]["rid"]) if page.more and page.rows else None
        return JSONResponse({"height": page.height, "items": items, "next_cursor": nxt})

    for fam in FAMILIES:
        add_family(fam)

    @router.get("/v1/members/{person_key}/history", response_model=HistoryOut, tags=["records"])
    async def member_history(
        request: Request,
        caller: Auth,
        person_key: Annotated[str, Path(max_length=64)],
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """Everything the ledger holds about one person that your subtree may see: archive and its
        versions, pipelines and their steps, materials, transfers, meetings, decisions, alerts."""
        api.require_read(caller)
        _hex32(person_key, "person_key")
        await api.wait_index(min_height)
        db = api.db()
        rows, height, truncated = await api.query(lambda: history(db, person_key, caller.scope))
        if not rows:
            raise _not_found("member")
        contents = caller.contents
        items = [_record_out(r, contents or r["family"] == "alert", from_index=True) for r in rows]
        if contents:
            api.emit(request, caller, "member", [person_key], height)
        return JSONResponse(
            {"height": height, "person_key": person_key, "items": items, "truncated": truncated}
        )

    # ------------------------------------------------------------------ orgs and users
    @router.get("/v1/orgs", response_model=OrgPage, tags=["orgs and users"])
    async def orgs(
        caller: Auth,
        root: OrgQ = None,
        subtree: Subtree = True,
        cursor: Cursor = None,
        limit: Limit = LIMIT_DEFAULT,
        min_height: MinHeight = None,
    ) -> JSONResponse:
        """The org tree under `root` (default: your org): the whole subtree, or its children only."""
        api.scope_org(caller, root)
        start = root if root is not None else caller.org_id
        await api.wait_index(min_height)
        db = api.db()
        after = decode_cursor("org", cursor)
        page = await api.query(
            lambda: list_orgs(db, scope=caller.scope, root=start, subtree=subtree, after=after, limit=limit)
        )
        items = [org_out(r) for r in page.rows]
        nxt = encode_cursor("org", page.rows[-1]["org_id"]) if page.more and page.rows else None
        return JSONResponse({"height": page.height, "items": items, "next_cursor": nxt})

    @router.get("/v1/orgs/{org_id}", response_model=OrgOne, tags=["orgs and users"])
    async def org(
        caller: Auth, org_id: Annotated[str, Path(max_length=200)], min_height: MinHeight = None
    ) -> JSONResponse:
        """One org (from the ledger state)."""
        if not caller.sees(org_id):
            raise _not_found("organisation")
        await api.wait_store(min_height)
        with api.store.snapshot() as snap:
            raw, height = snap.state_get(f"org/{org_id}".encode()), snap.height
        p = None if raw is None else project(f"org/{org_id}", raw, height)
        if p is None:
            raise _not_found("organisation")
        return JSONResponse({"height": height, "item": org_out(p.row)})

    @router.get("/v1/users", response_model=UserPage, tags=["orgs and users"])
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
        api.scope_org(caller, org_id)
        await api.wait_index(min_height)
        db = api.db()
        after = decode_cursor("user", cursor)
        page = await api.query(
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

    @router.get("/v1/users/{pubkey}", response_model=UserOne, tags=["orgs and users"])
    async def user(
        caller: Auth, pubkey: Annotated[str, Path(max_length=64)], min_height: MinHeight = None
    ) -> JSONResponse:
        """One user by public key (from the ledger state)."""
        _hex32(pubkey, "pubkey")
        await api.wait_store(min_height)
        with api.store.snapshot() as snap:
            raw, height = snap.state_get(f"user/{pubkey}".encode()), snap.height
        p = None if raw is None else project(f"user/{pubkey}", raw, height)
        if p is None or not caller.sees(p.row["org_id"]):
            raise _not_found("user")
        return JSONResponse({"height": height, "item": user_out(p.row)})

    add_chain_routes(router, api, Auth, MinHeight)

    return router
