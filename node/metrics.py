"""The node's Prometheus metrics, one documented field per metric (CometBFT style).

Rules: one `NodeMetrics` per node with its own CollectorRegistry (no global registry, so several
nodes can live in one test process); metric names are `orgledger_<subsystem>_<name>_<unit>`;
no label ever carries personal data or unbounded values (ids, keys).
"""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

T = TypeVar("T")

#: The stages of a node's work whose CPU time `StageClock` measures (a closed set: label values).
#: `api` is the HTTP handlers' own work (middleware, routes, JSON; the admission they call counts
#: as admission); `compaction` is the CPU of the threads Python did not start (LevelDB's
#: background compaction). What no stage covers (HTTP parsing, the peer links, gossip framing,
#: the event loop) is the rest of the process's CPU time; `orgledger bench` prints it as "other".
STAGES = (
    "admission",
    "consensus",
    "execution",
    "state_map",
    "storage",
    "index",
    "api",
    "compaction",
)


class StageClock:
    """CPU seconds by stage (`orgledger_stage_cpu_seconds_total{stage}`), measured with the
    calling thread's CPU clock (`time.thread_time`), so work of other threads running meanwhile
    is not counted. Stages nest exclusively: while an inner `measure` runs, the outer stage's
    clock is paused, so no CPU second is counted twice. Wrap synchronous work with `measure`; a
    coroutine with `run`, which measures each of its steps and none of its waits."""

    def __init__(self, counter: Counter) -> None:
        self._children = {stage: counter.labels(stage=stage) for stage in STAGES}
        self._local = threading.local()
        self._native: dict[int, float] = {}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        child = self._children[stage]
        stack: list[list[Any]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        started = time.thread_time()
        if stack:
            outer = stack[-1]
            outer[0].inc(started - outer[1])
        frame: list[Any] = [child, started]
        stack.append(frame)
        try:
            yield
        finally:
            ended = time.thread_time()
            child.inc(ended - frame[1])
            stack.pop()
            if stack:
                stack[-1][1] = ended

    def add(self, stage: str, seconds: float) -> None:
        """Count `seconds` of CPU already measured by the caller to `stage`."""
        self._children[stage].inc(seconds)

    async def run(self, stage: str, awaitable: Awaitable[T]) -> T:
        """Await `awaitable`, counting the CPU of each of its steps (not its waits) to `stage`."""
        result: T = await _Stepped(self, stage, awaitable)
        return result

    def sample_native(self) -> None:
        """Count the CPU the threads Python did not start used since the last call (Linux:
        `/proc/self/task`; LevelDB's compaction thread) to `compaction`."""
        python = {t.native_id for t in threading.enumerate()}
        tick = os.sysconf("SC_CLK_TCK")
        seen: dict[int, float] = {}
        try:
            tasks = list(Path("/proc/self/task").iterdir())
        except OSError:
            return
        for task in tasks:
            try:
                tid = int(task.name)
                if tid in python:
                    continue
                stat = (task / "stat").read_text()
            except (OSError, ValueError):
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            seen[tid] = (int(fields[11]) + int(fields[12])) / tick
        used = sum(max(0.0, cpu - self._native.get(tid, 0.0)) for tid, cpu in seen.items())
        self._native = seen
        if used:
            self._children["compaction"].inc(used)


class _Stepped:
    """An awaitable that steps the wrapped one, timing each step under `StageClock.measure`."""

    def __init__(self, clock: StageClock, stage: str, awaitable: Awaitable[Any]) -> None:
        self._clock, self._stage, self._inner = clock, stage, awaitable.__await__()

    def __await__(self) -> Generator[Any, Any, Any]:
        inner = self._inner
        value: Any = None
        error: BaseException | None = None
        while True:
            with self._clock.measure(self._stage):
                try:
                    yielded = inner.send(value) if error is None else inner.throw(error)
                except StopIteration as stop:
                    done, result = True, stop.value
                else:
                    done = False
            if done:
                return result
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # cancellation and the like go to the inner awaitable
                value, error = None, exc


class GcClock:
    """CPU seconds of the cyclic garbage collector (`orgledger_gc_cpu_seconds_total`), in
    whichever stage it ran (so it is part of the stages' figures, not beside them). The hook in
    `gc.callbacks` holds the clock weakly and removes itself once the clock is gone."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._local = threading.local()
        ref = weakref.ref(self)

        def hook(phase: str, info: dict[str, int]) -> None:
            clock = ref()
            if clock is None:
                gc.callbacks.remove(hook)
            else:
                clock._on_gc(phase)

        gc.callbacks.append(hook)

    def _on_gc(self, phase: str) -> None:
        if phase == "start":
            self._local.started = time.thread_time()
            return
        started = getattr(self._local, "started", None)
        if started is not None:
            self._counter.inc(time.thread_time() - started)
            self._local.started = None


class NodeMetrics:
    def __init__(self, node_id: str, role: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        info = Gauge(
            "orgledger_node_info",
            "Constant 1, labelled with the node id and role.",
            ["node_id", "role"],
            registry=r,
        )
        info.labels(node_id=node_id, role=role).set(1)
        #: Height of the last block executed and stored by this node.
        self.height = Gauge("orgledger_chain_height", "Height of the last stored block.", registry=r)
        #: Current consensus view (PBFT view number).
        self.view = Gauge("orgledger_consensus_view", "Current PBFT view.", registry=r)
        #: Blocks committed and stored by this node.
        self.blocks = Counter("orgledger_chain_blocks_total", "Blocks committed and stored.", registry=r)
        #: Transactions in stored blocks, by receipt status (ACCEPTED / REJECTED).
        self.txs = Counter(
            "orgledger_chain_txs_total", "Transactions stored, by receipt status.", ["status"], registry=r
        )
        #: Transactions waiting in the mempool, and their bytes.
        self.mempool_txs = Gauge("orgledger_mempool_txs", "Pending transactions.", registry=r)
        self.mempool_bytes = Gauge("orgledger_mempool_bytes", "Bytes of pending transactions.", registry=r)
        #: Admission refusals: transactions refused at admission (API or gossip), by reason code
        #: (`bad_signature`, `mempool_full`, `signer_quota`, `already_committed`, ...).
        self.mempool_refused = Counter(
            "orgledger_mempool_refused_total",
            "Transactions refused at admission, by reason.",
            ["reason"],
            registry=r,
        )
        #: Commit latency: seconds from a transaction's admission into this node's mempool to the
        #: stored block that carries it (transactions this node admitted itself or by gossip).
        self.commit_latency_seconds = Histogram(
            "orgledger_tx_commit_latency_seconds",
            "Seconds from admission to the stored block carrying the transaction.",
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
            registry=r,
        )
        #: View changes this node went through (the consensus view moved up; a jump counts each view).
        self.view_changes = Counter(
            "orgledger_consensus_view_changes_total", "Consensus view changes.", registry=r
        )
        #: Unix time of the last block this node stored (alert when it stops moving).
        self.last_commit_time = Gauge(
            "orgledger_chain_last_commit_timestamp_seconds",
            "Unix time of the last stored block.",
            registry=r,
        )
        #: Alerts raised by the rule contracts in stored blocks' receipts, by colour and rule id
        #: (both from closed sets: RED/YELLOW/BLUE and the rule registry).
        self.alerts_raised = Counter(
            "orgledger_alerts_raised_total",
            "Alerts raised in stored blocks, by colour and rule.",
            ["colour", "rule"],
            registry=r,
        )
        #: Blocks the read index is behind the store (updated at scrape time).
        self.index_lag = Gauge("orgledger_index_lag_blocks", "Blocks the read index is behind.", registry=r)
        #: Height of the read index (-1 while it is not open).
        self.index_height = Gauge("orgledger_index_height", "Height the read index reflects.", registry=r)
        #: Validators this node is connected to, itself included when it is one (quorum: see /readyz).
        self.validators_connected = Gauge(
            "orgledger_p2p_validators_connected", "Validators connected, itself included.", registry=r
        )
        #: Seconds to execute and store one block (contracts + one synced batch).
        self.block_apply_seconds = Histogram(
            "orgledger_block_apply_seconds",
            "Time to execute and store a block.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        #: Connected peers.
        self.peers = Gauge("orgledger_p2p_peers", "Connected peers.", registry=r)
        #: Consensus messages dropped as invalid or misbehaving, by reason (remote faults are counted, never raised).
        self.consensus_dropped = Gauge(
            "orgledger_consensus_dropped_messages",
            "Dropped consensus messages, by reason.",
            ["reason"],
            registry=r,
        )
        #: Read-index rows found disagreeing with the ledger state when served (refused and repaired).
        self.index_inconsistent = Counter(
            "orgledger_index_inconsistent_rows_total",
            "Index rows that disagreed with the state when served (refused, repaired).",
            registry=r,
        )
        #: CPU seconds of the node's process by stage of its work (admission, consensus, execution,
        #: state_map, storage, index; `STAGES`), and of the whole process: `orgledger bench` divides
        #: both by the committed transactions to print CPU µs per transaction per node.
        self.stages = StageClock(
            Counter(
                "orgledger_stage_cpu_seconds",
                "CPU seconds spent by stage of the node's work.",
                ["stage"],
                registry=r,
            )
        )
        #: CPU seconds of Python's cyclic garbage collector (already inside the stages above).
        self.gc = GcClock(
            Counter("orgledger_gc_cpu_seconds", "CPU seconds of the cyclic garbage collector.", registry=r)
        )
        ProcessCollector(registry=r)
        #: Signature-cache hits and misses (every signature is verified once per node).
        self.sigcache = Gauge("orgledger_sigcache", "Signature cache counters.", ["kind"], registry=r)

    def render(self) -> tuple[bytes, str]:
        self.stages.sample_native()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
