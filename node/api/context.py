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
- A stored block is served only after `block_checked` (decodes, tx root, certificate): an edited
  block is 503 `storage_corrupt`, never served.
- Ledger state is served from the authenticated state map at a certified height
  (`node/api/proven.py`), never from the read index: the index only chooses which keys a list
  holds, and every row it gives is checked against the state at the index's own height
  (`check_rows`). A row that disagrees is never served: the answer is 503 `index_inconsistent`,
  the row is repaired from the state (`on_inconsistent`), counted and logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import anyio
from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from node.api.auth import Authenticator, Caller, authenticates
from node.api.body import read_body
from node.api.errors import ApiError
from node.api.proven import Anchors, ProvenView, open_view, provable_at, reflected
from node.api.ratelimit import AdmissionBudget
from node.errors import IndexInconsistentError, IndexUnavailableError, StorageCorruptError, StorageError
from node.index.db import IndexDb
from node.runtime.mempool import Pending
from node.runtime.node import TxStatus
from node.runtime.registry import validator_epochs
from node.store.storage import BlockStore
from wire.certificate import verify_certificate
from wire.epochs import validators_at
from wire.errors import CertificateError, DecodeError, ProofError
from wire.families import RecordFamily, seg
from wire.genesis import Genesis
from wire.records import decode_value, project, same_row
from wire.types import Block, CommitCertificate, Receipt

log = logging.getLogger("orgledger.api")

MIN_HEIGHT_WAIT_S = 2.0
CERTIFY_WAIT_S = 10.0  # once the store holds a height: the blocks that certify its state follow
MIN_HEIGHT_AHEAD_MAX = 200  # further ahead cannot be reached within the wait: 409 at once
AUTH_BODY_MAX = 4096
INDEX_THREADS = 4
VERIFIED_BLOCKS_MAX = 100_000
T = TypeVar("T")


class Chain(Protocol):
    """What the API needs from the running node (`node.runtime.node.Node`)."""

    def height(self) -> int: ...
    def status(self) -> dict[str, Any]: ...
    def health(self) -> tuple[bool, dict[str, Any]]: ...
    def readiness(self) -> dict[str, Any]: ...
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
    on_inconsistent: Callable[[list[bytes]], None] = lambda keys: None
    read_listeners: list[ReadListener] = field(default_factory=list)
    verified_blocks: dict[int, bytes] = field(default_factory=dict)  # height -> block hash checked
    anchors: Anchors = field(default_factory=Anchors)  # proofs' headers and certificates
    #: /readyz bounds: blocks behind the best certified height seen; index blocks behind the store
    ready_max_behind: int = 5
    index_max_lag: int = 100
    admission: AdmissionBudget = field(default_factory=AdmissionBudget)
    limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(INDEX_THREADS))

    # ------------------------------------------------------------------ who is asking
    @authenticates
    async def authn(self, request: Request) -> Caller:
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

    # ------------------------------------------------------------------ proven state
    @property
    def lag(self) -> int:
        return self.genesis.consensus.exec_lag

    def provable_height(self) -> int:
        """The newest height whose state can be proven now (-1 before block 1)."""
        with self.store.snapshot() as snap:
            return reflected(snap, self.lag)

    def _provable(self, want: int) -> bool:
        with self.store.snapshot() as snap:
            return provable_at(snap, self.lag, want) is not None

    @contextmanager
    def proven(self, height: int | None = None) -> Iterator[ProvenView]:
        """A view answering for the state of `height` (default: the newest provable), on one snapshot."""
        with self.store.snapshot() as snap:
            yield open_view(snap, self.lag, height, self.anchors)

    async def wait_provable(self, min_height: int | None) -> None:
        """Until the state of `min_height` (or a later height) can be proven: the store first
        reaches it (as `wait_store`), then the blocks that certify it follow."""
        if min_height is None or self.provable_height() >= min_height:
            return
        await self.wait_store(min_height)
        await self._wait_certified(lambda: self.provable_height() >= min_height, min_height)

    async def wait_anchor(self, height: int) -> None:
        """Until the state of `height` (an index page's height) can be proven."""
        await self._wait_certified(lambda: self._provable(height), height)

    async def _wait_certified(self, done: Callable[[], bool], height: int) -> None:
        if done():
            return
        deadline = time.monotonic() + CERTIFY_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            if done():
                return
        raise ApiError(
            "height_not_reached", f"the state of height {height} is not certified yet; retry shortly"
        )

    def check_rows(
        self, view: ProvenView, rows: Sequence[dict[str, Any]], key_of: Callable[[dict[str, Any]], str]
    ) -> list[tuple[bytes, bytes, dict[str, Any]]]:
        """Each index row against the state at the view's height (the index's own height): for
        each, (state key, value, the row projected from the state: what is served). Rows that
        disagree are repaired and refused (`IndexInconsistentError`)."""
        out: list[tuple[bytes, bytes, dict[str, Any]]] = []
        bad: list[bytes] = []
        for row in rows:
            text = key_of(row)
            key = text.encode("utf-8")
            raw = view.get(key)
            proj = None if raw is None else project(text, raw, view.height)
            if raw is None or proj is None or not same_row(proj.row, row):
                bad.append(key)
                continue
            out.append((key, raw, {**proj.row, "updated_height": row.get("updated_height")}))
        if bad:
            log.error(
                "the read index disagrees with the state at height %d for %d key(s), e.g. %s; repairing",
                view.height,
                len(bad),
                bad[0][:80].decode("utf-8", "replace"),
            )
            self.on_inconsistent(bad)
            raise IndexInconsistentError(
                f"{len(bad)} row(s) of the read index disagree with the ledger state; they are being "
                "repaired from it: retry shortly"
            )
        return out

    # ------------------------------------------------------------------ stored blocks
    def block_checked(self, height: int) -> tuple[bytes, bytes, Block, CommitCertificate] | None:
        """A stored block and its certificate, checked before it is served: both decode, the
        transactions hash to the header's tx_root and the certificate is a quorum of the
        validator set in force at its height (the ledger's epoch records) over this block's hash (remembered per height). None when not stored;
        StorageCorruptError when what is stored is not a certified block."""
        found = self.chain.block(height)
        if found is None:
            return None
        block_bytes, cert_bytes = found
        try:
            block, cert = Block.decode(block_bytes), CommitCertificate.decode(cert_bytes)
        except DecodeError as exc:
            raise StorageCorruptError(f"stored block {height} does not decode: {exc.message}") from exc
        if self.verified_blocks.get(height) != block.hash:
            if not block.tx_root_ok():
                raise StorageCorruptError(
                    f"stored block {height}: the transactions do not hash to its tx_root"
                )
            try:
                validators = validators_at(validator_epochs(self.store), height)
                verify_certificate(
                    cert, validators, self.genesis.chain_id, height=height, block_hash=block.hash
                )
            except (CertificateError, ProofError) as exc:
                raise StorageCorruptError(
                    f"stored block {height} is not the certified one: {exc.message}"
                ) from exc
            if len(self.verified_blocks) >= VERIFIED_BLOCKS_MAX:
                self.verified_blocks.clear()
            self.verified_blocks[height] = block.hash
        return block_bytes, cert_bytes, block, cert

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
