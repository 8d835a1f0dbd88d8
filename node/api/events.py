"""`GET /v1/events`: a Server-Sent Events stream of committed blocks and new alerts (docs/sdk.md).

Rules:

- Authenticated like every read route (signed request or token). Per committed block h the stream
  sends the new alerts raised at h that the caller may see (`caller.sees(org)` of the alert's
  org, callers holding a read role), each as `event: alert`, then the block itself as
  `event: block` with `id: h`: the block event closes the height. Block events carry the header
  and commit certificate bytes, so a client verifies the stream against its genesis.
- `after_height=H` (or the `Last-Event-ID` header) resumes: heights H+1.. up to now are replayed
  from the store, then live ones follow. Without it the stream starts with the next block.
  `kinds=block,alert` chooses what is sent (both by default).
- Fed from `Node.commit_listeners`: the listener only wakes the hub, which builds each height's
  events once, off the event loop (a thread reads the store), and offers them to every
  subscriber's bounded queue. A subscriber whose queue is full is dropped: its stream ends with
  `event: error` `{"code": "too_slow", "resume_after_height": ...}`. Nothing a subscriber does
  slows consensus or the other subscribers.
- Other error events end the stream the same way: `node_stopping`, `key_revoked` /
  `key_rotated` / `unknown_key` (the caller's key is re-checked every few seconds),
  `storage_error`. A `: keep-alive` comment goes out every 15 s.
- Bounded: at most STREAMS_PER_KEY streams per key and STREAMS_MAX per node (429 `busy`).
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from node.api.app import ApiError
from node.api.auth import Caller
from node.api.models import ErrorOut
from node.errors import StorageError
from node.index.project import body_json, decode_value
from node.store.storage import BlockStore
from wire.types import Block, CommitCertificate, Receipt

if TYPE_CHECKING:
    from node.runtime.node import Node
    from node.store.storage import Meta

log = logging.getLogger("orgledger.events")

QUEUE_MAX = 256  # heights buffered per subscriber before it is dropped as too slow
STREAMS_PER_KEY = 4
STREAMS_MAX = 256
KEEPALIVE_S = 15.0
RECHECK_S = 5.0
TICK_S = 0.5
CATCHUP_CHUNK = 64
ALERT_PREFIX = b"alert/"


@dataclass(frozen=True, slots=True)
class HeightEvents:
    """What the stream says about one committed height (built once, filtered per caller)."""

    height: int
    block: dict[str, Any]
    alerts: tuple[tuple[str, dict[str, Any]], ...]  # (org id, alert record as JSON)


def build_events(store: BlockStore, height: int) -> HeightEvents:
    """Read one height's block event and new alerts from the store (blocking: run in a thread)."""
    block, cert = store.block(height), store.certificate_bytes(height)
    if block is None or cert is None:
        raise StorageError(f"block {height} is missing from the store")
    receipts = store.receipts(height)
    keys: set[bytes] = {f"alert/{a.alert_id}".encode() for r in receipts for a in r.alerts}
    written = store.block_write_keys(height)
    if written is not None:
        keys.update(k for k in written if k.startswith(ALERT_PREFIX))
    alerts = []
    for key in sorted(keys):
        raw = store.state_get(key)
        rec = None if raw is None else decode_value(raw)
        if rec is None or rec.get("raised_height") != height:
            continue  # an update of an older alert (ack, resolve), not a new one
        doc = json.loads(body_json(rec))
        doc["height"] = height
        alerts.append((str(rec.get("org_id", "")), doc))
    h = block.header
    accepted = sum(1 for r in receipts if r.accepted)
    return HeightEvents(
        height=height,
        block={
            "height": height,
            "hash": block.hash.hex(),
            "time_ms": h.timestamp_ms,
            "view": h.view,
            "proposer": h.proposer,
            "tx_count": len(block.txs),
            "accepted": accepted,
            "rejected": len(receipts) - accepted,
            "header_bytes": h.encode().hex(),
            "certificate_bytes": cert.hex(),
        },
        alerts=tuple(alerts),
    )


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + "data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n\n"


@dataclass(eq=False)
class Subscriber:
    caller: Caller
    after_height: int
    queue: asyncio.Queue[HeightEvents] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: bool = False
    error: tuple[int, str, str] | None = None  # (status, code, message) when the hub failed

    def offer(self, ev: HeightEvents) -> bool:
        """Queue one height; False (and dropped) when the subscriber is too far behind."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            self.dropped = True
            return False
        return True


class EventHub:
    """Builds each committed height's events once and fans them out to the subscribers."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self.subs: set[Subscriber] = set()
        self.built = 0  # the last height offered to the subscribers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        node.commit_listeners.append(self.on_commit)

    def on_commit(self, block: Block, cert: CommitCertificate, meta: "Meta", receipts: list[Receipt]) -> None:
        """The commit listener: wakes the hub (thread-safe, O(1)); never reads or blocks."""
        loop = self._loop
        if loop is not None and self.subs and not loop.is_closed():
            loop.call_soon_threadsafe(self._kick)

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def check_room(self, caller: Caller) -> None:
        mine = sum(1 for s in self.subs if s.caller.pubkey == caller.pubkey)
        if mine >= STREAMS_PER_KEY or len(self.subs) >= STREAMS_MAX:
            raise ApiError(429, "busy", "too many event streams open", {"Retry-After": "5"})

    def subscribe(self, caller: Caller, after_height: int | None) -> tuple[Subscriber, int]:
        """Register a subscriber; returns it and the last height it must catch up to from the
        store (later heights arrive through its queue)."""
        self._start()
        if not self.subs:
            self.built = self.node.height()  # idle hub: live events start after the current height
        upto = self.built
        sub = Subscriber(caller, upto if after_height is None else after_height)
        self.subs.add(sub)
        self._kick()
        return sub, upto

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subs.discard(sub)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="event-hub")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.subs and self.built < self.node.height():
                height = self.built + 1
                try:
                    ev = await asyncio.to_thread(build_events, self.node.store, height)
                except StorageError as exc:
                    log.warning("event stream cannot read height %d: %s", height, exc)
                    for sub in list(self.subs):
                        sub.error = (503, "storage_error", "the node cannot read its store")
                        self.subs.discard(sub)
                    break
                self.built = height
                for sub in list(self.subs):
                    if not sub.offer(ev):
                        self.subs.discard(sub)
            if not self.subs:
                self.built = self.node.height()


def _active_problem(node: "Node", caller: Caller) -> tuple[int, str, str] | None:
    """Why the caller's key may no longer read (None while it may): re-read from ledger state."""
    if caller.kind == "node":
        return None
    raw = node.store.state_get(b"user/" + caller.pubkey.hex().encode())
    rec = None if raw is None else decode_value(raw)
    if rec is None:
        return 401, "unknown_key", "this key is not registered on the ledger"
    if rec.get("status") == "REVOKED":
        return 401, "key_revoked", "this key was revoked"
    if rec.get("status") != "ACTIVE":
        return 401, "key_rotated", "this key was replaced by a rotation"
    return None


def _render(ev: HeightEvents, caller: Caller, kinds: frozenset[str]) -> str:
    out: list[str] = []
    if "alert" in kinds and caller.can_read:
        out.extend(sse("alert", doc) for org, doc in ev.alerts if caller.sees(org))
    if "block" in kinds:
        out.append(sse("block", ev.block, ev.height))
    return "".join(out)


def build_router(node: "Node", authn: Callable[..., Any]) -> APIRouter:
    hub = EventHub(node)
    router = APIRouter()

    @router.get(
        "/v1/events",
        tags=["events"],
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "the event stream (docs/sdk.md)"},
            400: {"model": ErrorOut, "description": "bad parameter (bad_request)"},
            401: {"model": ErrorOut, "description": "no or invalid authentication (auth_required, ...)"},
            429: {"model": ErrorOut, "description": "too many streams (busy), rate limited"},
            503: {"model": ErrorOut, "description": "the node cannot serve right now"},
        },
    )
    async def events(
        request: Request,
        caller: Annotated[Caller, Depends(authn)],
        after_height: Annotated[
            int | None, Query(ge=0, le=2**62, description="resume after this height (default: now)")
        ] = None,
        kinds: Annotated[
            str, Query(pattern=r"^(block|alert)(,(block|alert))?$", description="what to send")
        ] = "block,alert",
        last_event_id: Annotated[str | None, Header(max_length=24)] = None,
    ) -> StreamingResponse:
        """Committed blocks (header, certificate, counts) and new alerts in your scope, as
        Server-Sent Events; resume with `after_height` or `Last-Event-ID`."""
        if after_height is None and last_event_id is not None:
            if not last_event_id.isdigit():
                raise ApiError(400, "bad_request", "Last-Event-ID must be a block height")
            after_height = int(last_event_id)
        hub.check_room(caller)
        return StreamingResponse(
            _stream(node, hub, caller, after_height, frozenset(kinds.split(",")), request),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    return router


def _build_range(store: BlockStore, lo: int, hi: int) -> list[HeightEvents]:
    return [build_events(store, h) for h in range(lo, hi + 1)]


async def _stream(
    node: "Node",
    hub: EventHub,
    caller: Caller,
    after_height: int | None,
    kinds: frozenset[str],
    request: Request | None = None,
) -> AsyncIterator[str]:
    sub, upto = hub.subscribe(caller, after_height)
    sent = sub.after_height
    last_write = last_check = time.monotonic()
    try:
        yield ": stream open\n\n"
        while sent < upto and not sub.dropped:  # catch up from the store
            hi = min(upto, sent + CATCHUP_CHUNK)
            try:
                chunk = await asyncio.to_thread(_build_range, node.store, sent + 1, hi)
            except StorageError:
                yield sse(
                    "error", {"status": 503, "code": "storage_error", "message": "cannot read the store"}
                )
                return
            yield "".join(_render(ev, caller, kinds) for ev in chunk)
            sent = hi
            last_write = time.monotonic()
        while True:
            if not node.health()[0]:
                yield sse("error", {"status": 503, "code": "node_stopping", "resume_after_height": sent})
                return
            if sub.error is not None:
                status, code, message = sub.error
                yield sse("error", {"status": status, "code": code, "message": message})
                return
            if sub.dropped and sub.queue.empty():
                yield sse(
                    "error",
                    {
                        "status": 503,
                        "code": "too_slow",
                        "message": f"the stream fell {QUEUE_MAX} blocks behind; resume with after_height",
                        "resume_after_height": sent,
                    },
                )
                return
            if request is not None and await request.is_disconnected():
                return  # the client left: free its place now, not at the next write
            now = time.monotonic()
            if now - last_check >= RECHECK_S:
                last_check = now
                problem = await asyncio.to_thread(_active_problem, node, caller)
                if problem is not None:
                    yield sse("error", {"status": problem[0], "code": problem[1], "message": problem[2]})
                    return
            try:
                ev = await asyncio.wait_for(sub.queue.get(), timeout=TICK_S)
            except TimeoutError:
                if time.monotonic() - last_write >= KEEPALIVE_S:
                    last_write = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            if ev.height <= sent:
                continue
            sent = ev.height
            last_write = time.monotonic()
            yield _render(ev, caller, kinds)
    finally:
        hub.unsubscribe(sub)
