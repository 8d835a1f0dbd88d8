"""What every route of the API works with: the chain, the store, the read index, who is asking.

Rules:

- `ApiContext` is built once by the composition root (`node/app.py`) and handed to each route
  group's `build_router(ctx)`; nothing here is module-global.
- `authn` is the one authentication dependency of the read routes (a signed request or a token,
  `node/api/auth.py`); it reads a body of at most AUTH_BODY_MAX bytes and leaves it in
  `request.state.body`.
- Index queries run on a small thread pool (`query`), never on the event loop the consensus uses;
  an index failure is 503 `index_unavailable`.
- `min_height=H` waits up to MIN_HEIGHT_WAIT_S for the store or index to reach H, else 409
  `height_not_reached` (at once when H is out of reach).
- Every read that returns record contents, transactions or blocks goes through `emit`, which tells
  `read_listeners` who read what from where (the access log subscribes there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from contracts.state import seg
from node.api.auth import Authenticator, Caller
from node.api.body import read_body
from node.api.errors import ApiError
from node.api.ratelimit import AdmissionBudget
from node.errors import IndexUnavailableError, StorageError
from node.index.db import IndexDb
from node.index.project import decode_value, project
from node.runtime.mempool import Pending
from node.runtime.node import TxStatus
from node.store.storage import BlockStore
from wire.families import RecordFamily
from wire.genesis import Genesis
from wire.types import Receipt

log = logging.getLogger("orgledger.api")

MIN_HEIGHT_WAIT_S = 2.0
MIN_HEIGHT_AHEAD_MAX = 200  # further ahead cannot be reached within the wait: 409 at once
AUTH_BODY_MAX = 4096
INDEX_THREADS = 4
T = TypeVar("T")


class Chain(Protocol):
    """What the API needs from the running node (`node.runtime.node.Node`)."""

    def height(self) -> int: ...
    def status(self) -> dict[str, Any]: ...
    def health(self) -> tuple[bool, dict[str, Any]]: ...
    def submit(self, raw: bytes) -> TxStatus: ...
    def tx_status(self, tx_id: bytes) -> TxStatus | None: ...
    def pending(self, tx_id: bytes) -> Pending | None: ...
    def block(self, height: int) -> tuple[bytes, bytes] | None: ...
    def receipts(self, height: int) -> list[Receipt] | None: ...
    def refresh_metrics(self) -> None: ...


class Index(Protocol):
    """What the API needs from the read index (`node.index.Indexer`)."""

    db: IndexDb | None
    error: str | None

    @property
    def height(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadEvent:
    """One read of ledger contents: who, from where, what (the access log's hook)."""

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


ReadListener = Callable[[ReadEvent], None]


@dataclass(eq=False, kw_only=True)
class ApiContext:
    chain: Chain
    store: BlockStore
    index: Index
    auth: Authenticator
    genesis: Genesis
    node_id: str
    render_metrics: Callable[[], tuple[bytes, str]]
    read_listeners: list[ReadListener] = field(default_factory=list)
    admission: AdmissionBudget = field(default_factory=AdmissionBudget)
    limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(INDEX_THREADS))

    # ------------------------------------------------------------------ who is asking
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
            body = await read_body(request, AUTH_BODY_MAX)
            request.state.body = body
        caller = self.authenticate(request, body)
        request.state.caller = caller
        return caller

    def authenticate(self, request: Request, body: bytes) -> Caller:
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        query = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        remote = request.client.host if request.client else ""
        return self.auth.authenticate(request.method, target, body, request.headers, remote)

    # ------------------------------------------------------------------ the index
    def db(self) -> IndexDb:
        db = self.index.db
        if db is None:
            raise ApiError("index_unavailable", f"the index is not available: {self.index.error}")
        return db

    async def query(self, fn: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self.limiter)
        except (SQLAlchemyError, IndexUnavailableError) as exc:
            log.warning("index query failed: %s", exc)
            raise ApiError("index_unavailable", "the index cannot answer right now") from None

    async def wait_for(self, min_height: int | None, current: Callable[[], int], what: str) -> None:
        if min_height is None or current() >= min_height:
            return
        if min_height > current() + MIN_HEIGHT_AHEAD_MAX:
            raise ApiError("height_not_reached", f"the {what} is at height {current()}")
        deadline = time.monotonic() + MIN_HEIGHT_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            if current() >= min_height:
                return
        raise ApiError(
            "height_not_reached", f"the {what} is at height {current()}, below {min_height}; retry later"
        )

    async def wait_store(self, min_height: int | None) -> None:
        await self.wait_for(min_height, self.chain.height, "node")

    async def wait_index(self, min_height: int | None) -> None:
        self.db()
        await self.wait_for(min_height, lambda: self.index.height, "index")

    # ------------------------------------------------------------------ the state
    def state_record(self, key: str) -> tuple[dict[str, Any] | None, int]:
        """A state record's index row (None when absent) and the height it was read at (a snapshot)."""
        try:
            with self.store.snapshot() as snap:
                raw = snap.state_get(key.encode("utf-8"))
                height = snap.height
        except StorageError as exc:
            raise ApiError("storage_error", "the node cannot read its store") from exc
        if raw is None:
            return None, height
        p = project(key, raw, height)
        return (None if p is None else p.row), height

    def read_one(self, fam: RecordFamily, record_id: str) -> tuple[dict[str, Any] | None, int]:
        return self.state_record(f"{fam.key_prefix}/{seg(record_id)}")

    def state_doc(self, key: bytes) -> dict[str, Any] | None:
        """A state value decoded as a record (None when absent or not a record)."""
        raw = self.store.state_get(key)
        return None if raw is None else decode_value(raw)

    # ------------------------------------------------------------------ scope and the access hook
    def emit(self, request: Request, caller: Caller, what: str, ids: list[str], height: int) -> None:
        if not ids or not self.read_listeners:
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
        for listener in self.read_listeners:
            try:
                listener(event)
            except Exception:  # a listener must never break a read
                log.exception("read listener failed")

    @staticmethod
    def scope_org(caller: Caller, org_id: str | None) -> None:
        if org_id is not None and not caller.sees(org_id):
            raise ApiError("not_found", "no organisation with this id in your scope")

    @staticmethod
    def require_read(caller: Caller) -> None:
        if not caller.can_read:
            raise ApiError("forbidden", "the caller holds no role that may read")
