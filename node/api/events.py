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
- Fed by the event hub (`node/api/eventhub.py`), which builds each height's events once. A
  subscriber whose queue is full is dropped: its stream ends with `event: error`
  `{"code": "too_slow", "resume_after_height": ...}`. Nothing a subscriber does slows consensus
  or the other subscribers.
- Other error events end the stream the same way: `node_stopping`, `key_revoked` /
  `key_rotated` / `unknown_key` (the caller's key is re-checked every few seconds),
  `storage_error`. A `: keep-alive` comment goes out every 15 s.
- Bounded: at most STREAMS_PER_KEY streams per key and STREAMS_MAX per node (429 `busy`). The
  route subscribes (room check and registration in one step, `EventHub.subscribe`) before it
  answers, and the response unsubscribes when it ends, however it ends (sent, failed, never
  started), so concurrent opens cannot pass the limits and no place leaks.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.eventhub import QUEUE_MAX, EventHub, HeightEvents, Subscriber, build_events, sse
from node.api.models import ErrorOut
from node.errors import StorageError
from node.store.storage import BlockStore
from wire.records import decode_value

KEEPALIVE_S = 15.0
RECHECK_S = 5.0
TICK_S = 0.5
CATCHUP_CHUNK = 64


def _active_problem(store: BlockStore, caller: Caller) -> tuple[int, str, str] | None:
    """Why the caller's key may no longer read (None while it may): re-read from ledger state."""
    if caller.kind == "node":
        return None
    raw = store.state_get(b"user/" + caller.pubkey.hex().encode())
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


class EventStreamResponse(StreamingResponse):
    """A streaming response that runs `on_close` once it is over, even if it never started."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None], **kw: object) -> None:
        super().__init__(content, **kw)  # type: ignore[arg-type]
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def build_router(ctx: ApiContext, hub: EventHub) -> APIRouter:
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
        caller: Annotated[Caller, Depends(ctx.authn)],
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
                raise ApiError("bad_request", "Last-Event-ID must be a block height")
            after_height = int(last_event_id)
        subscribed = hub.subscribe(caller, after_height)
        return EventStreamResponse(
            _stream(ctx, hub, caller, after_height, frozenset(kinds.split(",")), request, subscribed),
            lambda: hub.unsubscribe(subscribed[0]),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    return router


def _build_range(store: BlockStore, lo: int, hi: int) -> list[HeightEvents]:
    return [build_events(store, h) for h in range(lo, hi + 1)]


async def _stream(
    ctx: ApiContext,
    hub: EventHub,
    caller: Caller,
    after_height: int | None,
    kinds: frozenset[str],
    request: Request | None = None,
    subscribed: tuple[Subscriber, int] | None = None,
) -> AsyncIterator[str]:
    sub, upto = subscribed if subscribed is not None else hub.subscribe(caller, after_height)
    sent = sub.after_height
    last_write = last_check = time.monotonic()
    try:
        yield ": stream open\n\n"
        while sent < upto and not sub.dropped:  # catch up from the store
            hi = min(upto, sent + CATCHUP_CHUNK)
            try:
                chunk = await asyncio.to_thread(_build_range, ctx.store, sent + 1, hi)
            except StorageError:
                yield sse(
                    "error", {"status": 503, "code": "storage_error", "message": "cannot read the store"}
                )
                return
            yield "".join(_render(ev, caller, kinds) for ev in chunk)
            sent = hi
            last_write = time.monotonic()
        while True:
            if not ctx.chain.health()[0]:
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
                problem = await asyncio.to_thread(_active_problem, ctx.store, caller)
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
