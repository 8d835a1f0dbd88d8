"""The event hub: each committed height's block event and new alerts, built once and fanned out to
the event-stream subscribers (`node/api/events.py` serves them).

Rules:

- The composition root subscribes `on_commit` to the runtime's commit events: it only wakes the
  hub (thread-safe, O(1)); the hub task builds each height's events off the event loop (a thread
  reads the store) and offers them to every subscriber's bounded queue (QUEUE_MAX heights).
- A subscriber whose queue is full is dropped (`dropped`); nothing a subscriber does slows
  consensus or the other subscribers.
- Bounded: at most STREAMS_PER_KEY subscribers per key and STREAMS_MAX in all (`BusyError`).
  `subscribe` checks the room and registers the subscriber in one step on the event loop (no
  await between them), so concurrent opens can never pass the limits together (issue 18.7).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node.api.auth import Caller
from node.errors import BusyError, StorageError
from node.runtime.events import CommitEvent
from node.store.storage import BlockStore
from wire.records import body_json, decode_value

log = logging.getLogger("orgledger.events")

QUEUE_MAX = 256  # heights buffered per subscriber before it is dropped as too slow
STREAMS_PER_KEY = 4
STREAMS_MAX = 256
ALERT_PREFIX = b"alert/"
STREAMS_RETRY_S = 5.0


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

    def __init__(self, store: BlockStore, height: Callable[[], int]) -> None:
        self.store, self.height = store, height
        self.subs: set[Subscriber] = set()
        self.built = 0  # the last height offered to the subscribers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def on_commit(self, event: CommitEvent) -> None:
        """The commit listener: wakes the hub (thread-safe, O(1)); never reads or blocks."""
        loop = self._loop
        if loop is not None and self.subs and not loop.is_closed():
            loop.call_soon_threadsafe(self._kick)

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _check_room(self, caller: Caller) -> None:
        if len(self.subs) >= STREAMS_MAX:
            raise BusyError(f"this node serves {STREAMS_MAX} event streams already")
        mine = sum(1 for s in self.subs if s.caller.pubkey == caller.pubkey)
        if mine >= STREAMS_PER_KEY:
            raise BusyError(f"this key has {STREAMS_PER_KEY} event streams open already")

    def subscribe(self, caller: Caller, after_height: int | None) -> tuple[Subscriber, int]:
        """Check the room and register a subscriber, atomically (BusyError when there is none);
        returns it and the last height it must catch up to from the store (later heights arrive
        through its queue). The caller must `unsubscribe` it when its stream ends."""
        self._check_room(caller)
        self._start()
        if not self.subs:
            self.built = self.height()  # idle hub: live events start after the current height
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
            while self.subs and self.built < self.height():
                height = self.built + 1
                try:
                    ev = await asyncio.to_thread(build_events, self.store, height)
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
                self.built = self.height()
