"""The node's Prometheus metrics, one documented field per metric (CometBFT style).

Rules: one `NodeMetrics` per node with its own CollectorRegistry (no global registry, so several
nodes can live in one test process); metric names are `orgledger_<subsystem>_<name>_<unit>`;
no label ever carries personal data or unbounded values (ids, keys).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

#: The stages of a node's work whose CPU time `StageClock` measures (a closed set: label values).
#: What no stage covers (the API's request handling, network IO, gossip, GC) is the rest of the
#: process's CPU time; `orgledger bench` prints it as "other".
STAGES = ("admission", "consensus", "execution", "state_map", "storage", "index")


class StageClock:
    """CPU seconds by stage (`orgledger_stage_cpu_seconds_total{stage}`), measured with the
    calling thread's CPU clock (`time.thread_time`), so work of other threads running meanwhile
    is not counted. Wrap synchronous work only: across an `await`, other tasks of the same event
    loop would run and be counted to this stage."""

    def __init__(self, counter: Counter) -> None:
        self._children = {stage: counter.labels(stage=stage) for stage in STAGES}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        child = self._children[stage]
        started = time.thread_time()
        try:
            yield
        finally:
            child.inc(time.thread_time() - started)

    def add(self, stage: str, seconds: float) -> None:
        """Count `seconds` of CPU already measured by the caller to `stage`."""
        self._children[stage].inc(seconds)


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
        ProcessCollector(registry=r)
        #: Signature-cache hits and misses (every signature is verified once per node).
        self.sigcache = Gauge("orgledger_sigcache", "Signature cache counters.", ["kind"], registry=r)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
