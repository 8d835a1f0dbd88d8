"""The indexer: follows the block store into the index on its own thread, off the commit path.

Rules:

- The node's commit listener only calls `notify(height)` (a queue put); the worker thread does
  the rest, so a slow or broken index never delays consensus.
- The worker catches up in one step per wake-up: it takes a store snapshot at height H, unions
  `store.block_write_keys(h)` for every h in (indexed height, H], re-projects those keys from the
  snapshot and moves `indexed_height` to H in the same transaction. A block without stored write
  keys (older data), an index of another chain or schema, or an index ahead of the store leads to
  a full rebuild from the snapshot instead.
- The thread runs at a lower CPU priority (nice 10) and coalesces the blocks of COALESCE_S into
  one transaction, so on a busy machine consensus and execution come first.
- `repair(keys)` (the API found rows that disagree with the state) re-projects those keys from
  the next snapshot, in the same transaction as the blocks' keys.
- A failure (database down) is logged and retried with back-off; `error` says what is wrong and
  the API answers 503 `index_unavailable` meanwhile. A restart resumes from `indexed_height`.
- `stop()` is called before the store closes and returns only when the thread has exited.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from node.index.db import IndexDb
from node.store.storage import BlockStore

log = logging.getLogger("orgledger.index")

RETRY_MIN_S, RETRY_MAX_S = 0.5, 10.0
IDLE_WAKE_S = 1.0
COALESCE_S = 0.25  # after a wake-up, let more blocks arrive so one transaction covers them
NICE = 10  # the indexer thread yields the CPU to consensus and execution
DUTY_MIN_S = 0.05
DUTY_REST_FACTOR = 3.0
DUTY_REST_MAX_S = 5.0


class Committed(Protocol):
    """What the indexer needs of a commit event (`node.runtime.events.CommitEvent`)."""

    @property
    def height(self) -> int: ...


class Indexer:
    def __init__(
        self,
        store: BlockStore,
        db: IndexDb | str,
        genesis_hash: bytes,
        on_cpu: Callable[[float], None] | None = None,
    ) -> None:
        """`db` is an open index, or a URL the worker opens (and re-opens after failures) itself;
        `on_cpu` is told the CPU seconds of each catch-up step (the node's stage metrics)."""
        self.store, self.genesis_hash = store, genesis_hash
        self._on_cpu = on_cpu
        self.db: IndexDb | None = db if isinstance(db, IndexDb) else None
        self.url = db.url if isinstance(db, IndexDb) else db
        self.error: str | None = None
        self.rebuilds = 0
        self._wake: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._repair: set[bytes] = set()
        self._repair_lock = threading.Lock()
        self.repaired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def height(self) -> int:
        return -1 if self.db is None else self.db.height

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
        self._thread.start()

    def notify(self, height: int) -> None:
        self._wake.put(height)

    def repair(self, keys: Iterable[bytes]) -> None:
        """Re-project `keys` from the store at the next step (rows found to disagree with the state)."""
        with self._repair_lock:
            self._repair.update(keys)
        self._wake.put(-1)

    def on_commit(self, event: Committed) -> None:
        """The node's commit listener (subscribed by node/app.py): enqueue the height, nothing else."""
        self._wake.put(int(event.height))

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stop.set()
        self._wake.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the indexer did not stop within %.0f s", timeout_s)
        if self.db is not None:
            self.db.close()

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        delay = RETRY_MIN_S
        while not self._stop.is_set():
            try:
                started, cpu = time.monotonic(), time.thread_time()
                try:
                    self.catch_up()
                finally:
                    if self._on_cpu is not None:
                        self._on_cpu(time.thread_time() - cpu)
                self.error = None
                delay = RETRY_MIN_S
                # Duty cycle: under load the index takes at most about a quarter of the time, falls
                # behind (answers state the height they reflect) and catches up in larger, cheaper
                # batches (a key written in many blocks is projected once).
                spent = time.monotonic() - started
                if spent > DUTY_MIN_S:
                    self._stop.wait(min(DUTY_REST_MAX_S, DUTY_REST_FACTOR * spent))
            except InterruptedError:
                return
            except Exception as exc:  # the index must never take the node down
                self.error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("index update failed (retrying in %.1f s): %s", delay, self.error)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            try:
                item = self._wake.get(timeout=IDLE_WAKE_S)
                if item is not None:
                    self._stop.wait(COALESCE_S)
                while item is not None:  # drain: one catch-up covers every queued height
                    item = self._wake.get_nowait()
            except queue.Empty:
                pass

    def catch_up(self) -> int:
        """Bring the index to the store's current height; return that height."""
        if self.db is None:
            self.db = IndexDb(self.url)
        db = self.db
        with self.store.snapshot() as snap:
            top = snap.height
            current = db.height
            if current < 0 or current > top or not db.bound_to(self.genesis_hash):
                return self._rebuild(snap, top)
            with self._repair_lock:
                keys: set[bytes] = set(self._repair)
                self._repair.clear()
            self.repaired += len(keys)
            if top == current and not keys:
                return top
            for h in range(current + 1, top + 1):
                written = snap.block_write_keys(h)
                if written is None:
                    return self._rebuild(snap, top)
                keys.update(written)
            started = time.monotonic()
            n = db.apply(snap, sorted(keys), top, self.genesis_hash)
            log.debug(
                "indexed %d key(s) of heights %d..%d in %.3f s",
                n,
                current + 1,
                top,
                time.monotonic() - started,
            )
            return top

    def _rebuild(self, snap: BlockStore, top: int) -> int:
        assert self.db is not None
        started = time.monotonic()
        rows = self.db.rebuild(snap, top, self.genesis_hash, stop=self._stop.is_set)
        self.rebuilds += 1
        log.info("index rebuilt at height %d: %d rows in %.1f s", top, rows, time.monotonic() - started)
        return top


def rebuild_from_store(
    data_dir: Path, genesis_hash: bytes, url: str, progress: Callable[[int], object] | None = None
) -> tuple[int, int]:
    """Rebuild the index at `url` from the (stopped) node's store at `data_dir`, in one
    transaction; return (rows, height). Raises StorageLockedError while the node runs."""
    with BlockStore.open(data_dir, genesis_hash, create=False) as store, store.snapshot() as snap:
        db = IndexDb(url)
        try:
            return db.rebuild(snap, snap.height, genesis_hash, progress=progress), snap.height
        finally:
            db.close()
