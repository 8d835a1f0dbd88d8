"""The consensus driver: one asyncio task that owns the replica, feeds it events, and carries out its
actions in order.

Rules:

- Events come from one bounded queue: ticks (every `tick_ms`, at most one queued), peer messages,
  admitted requests, catch-up answers. Execution results are fed back right after the action
  list that committed the block, in height order.
- Actions are carried out strictly in list order. `Persist` is written with sync=True and awaited
  before any later action; `Commit` executes the block and writes it with everything derived from
  it in one synced batch (so the block is durable before a later `Persist` deletes consensus
  records it made obsolete); sends go out only after both.
- Blocking work (fsync, execution) runs on one worker thread, so the event loop keeps serving the
  network and the API, and writes stay in order.
- After a block is stored the driver hands one `CommitEvent` (block, certificate, meta, the
  executor's receipts) to `on_commit`; requests the replica refused or could not queue
  (`RequestsDropped`) go to `on_dropped` with the reason.
- A StorageError is fatal: the driver stops the node before anything else is signed or sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from consensus import (
    BlocksFetched,
    Broadcast,
    Commit,
    Event,
    Executed,
    MessageReceived,
    Persist,
    Replica,
    RequestsAvailable,
    RequestsDropped,
    RequestTransfer,
    Send,
    Tick,
)
from node.errors import StorageError
from node.failpoints import FailPoints
from node.metrics import StageClock
from node.runtime.events import CommitEvent, CommitListener
from node.runtime.executor import AppliedBlock, Executor
from node.store.storage import BlockStore
from wire.types import Block, CommitCertificate

log = logging.getLogger("orgledger.driver")

# Frame kinds on the peer links (first byte of every message).
KIND_CONSENSUS = b"C"
KIND_TXS = b"X"

DroppedListener = Callable[[tuple[bytes, ...], str], None]


class Driver:
    def __init__(
        self,
        *,
        replica: Replica,
        store: BlockStore,
        executor: Executor,
        tick_ms: int,
        send: Callable[[bytes, bytes], bool],
        broadcast: Callable[[bytes], int],
        fetch: Callable[[bytes, int, int], Awaitable[tuple[tuple[bytes, bytes], ...]]],
        on_commit: CommitListener,
        on_dropped: DroppedListener,
        on_fatal: Callable[[BaseException], None],
        failpoints: FailPoints | None = None,
        queue_max: int = 10_000,
        stages: StageClock | None = None,
    ) -> None:
        self._fail = failpoints or FailPoints("")
        self._stages = stages
        self.replica = replica
        self._store, self._executor = store, executor
        self._tick_s = tick_ms / 1000.0
        self._send, self._broadcast, self._fetch = send, broadcast, fetch
        self._on_commit, self._on_dropped, self._on_fatal = on_commit, on_dropped, on_fatal
        self._events: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_max)
        self._tick_queued = False
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orgledger-io")
        self._tasks: list[asyncio.Task[Any]] = []
        self._transfers: set[asyncio.Task[Any]] = set()
        self.stopped = asyncio.Event()
        self.counters: dict[str, int] = {"events": 0, "actions": 0, "dropped_events": 0, "transfers": 0}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="driver"),
            asyncio.create_task(self._ticker(), name="ticker"),
        ]

    async def stop(self) -> None:
        for t in [*self._tasks, *self._transfers]:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._transfers, return_exceptions=True)
        self._io.shutdown(wait=True)
        self.stopped.set()

    # ------------------------------------------------------------------ inputs
    def offer(self, event: Event) -> bool:
        """Queue an event; False (and counted) when the queue is full (remote input only)."""
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.counters["dropped_events"] += 1
            return False
        return True

    async def put(self, event: Event) -> None:
        await self._events.put(event)

    def on_peer_message(self, sender: bytes, data: bytes) -> None:
        self.offer(MessageReceived(sender=sender, data=data))

    def offer_requests(self, raws: Sequence[bytes]) -> None:
        if raws:
            self.offer(RequestsAvailable(txs=tuple(raws)))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            if not self._tick_queued:
                self._tick_queued = True
                await self._events.put(Tick(now_ms=int(time.time() * 1000)))

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> None:
        try:
            while True:
                event = await self._events.get()
                if isinstance(event, Tick):
                    self._tick_queued = False
                await self._step(event)
        except asyncio.CancelledError:
            raise
        except StorageError as exc:
            log.critical("storage failure, stopping the node: %s", exc)
            self._on_fatal(exc)
        except Exception as exc:  # a bug: stop rather than continue in an unknown state
            log.critical("driver crashed, stopping the node", exc_info=True)
            self._on_fatal(exc)

    async def _step(self, event: Event) -> None:
        self.counters["events"] += 1
        pending: list[Event] = [event]
        while pending:
            if self._stages is None:
                actions = self.replica.step(pending.pop(0))
            else:
                with self._stages.measure("consensus"):
                    actions = self.replica.step(pending.pop(0))
            executed = await self._carry_out(actions)
            pending.extend(executed)

    async def _carry_out(self, actions: Sequence[object]) -> list[Event]:
        executed: list[Event] = []
        loop = asyncio.get_running_loop()
        for action in actions:
            self.counters["actions"] += 1
            match action:
                case Persist(entries=entries):
                    self._fail.hit("before_persist")
                    await loop.run_in_executor(self._io, self._persist, entries)
                    self._fail.hit("after_persist")
                case Send(to=to, data=data):
                    self._send(to, KIND_CONSENSUS + data)
                    self._fail.hit("after_send")
                case Broadcast(data=data):
                    self._broadcast(KIND_CONSENSUS + data)
                    self._fail.hit("after_send")
                case Commit(block=block, certificate=cert):
                    started = time.perf_counter()
                    applied = await loop.run_in_executor(self._io, self._apply, block, cert)
                    meta = applied.meta
                    self._on_commit(
                        CommitEvent(
                            block=block,
                            certificate=cert,
                            meta=meta,
                            receipts=applied.receipts,
                            apply_seconds=time.perf_counter() - started,
                            registry_changed=applied.registry_changed,
                        )
                    )
                    executed.append(
                        Executed(
                            height=meta.height,
                            state_root=meta.state_root,
                            results_root=meta.results_root,
                            epochs=applied.epochs,
                        )
                    )
                case RequestTransfer(peer=peer, from_height=lo, to_height=hi):
                    self._start_transfer(peer, lo, hi)
                case RequestsDropped(txs=txs, reason=reason):
                    self._on_dropped(txs, reason)
                case _:
                    raise TypeError(f"unknown action {action!r}")
        return executed

    def _persist(self, entries: Sequence[tuple[bytes, bytes | None]]) -> None:
        started = time.thread_time()
        self._store.persist_consensus(entries)
        if self._stages is not None:
            self._stages.add("storage", time.thread_time() - started)

    def _apply(self, block: Block, cert: CommitCertificate) -> AppliedBlock:
        self._fail.hit("before_block_write")
        applied = self._executor.apply(block, cert)
        self._fail.hit("after_block_write")
        return applied

    def _start_transfer(self, peer: bytes, lo: int, hi: int) -> None:
        self.counters["transfers"] += 1

        async def transfer() -> None:
            try:
                items = await self._fetch(peer, lo, hi)
            except Exception as exc:  # remote failure: the replica times out and asks another peer
                log.info("transfer %d..%d from %s failed: %s", lo, hi, peer.hex()[:16], exc)
                items = ()
            await self._events.put(BlocksFetched(sender=peer, items=items))

        task = asyncio.create_task(transfer())
        self._transfers.add(task)
        task.add_done_callback(self._transfers.discard)
