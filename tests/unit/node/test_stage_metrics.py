"""CPU by stage (node.metrics.StageClock) and the bench's per-transaction breakdown
(node.dev.bench, node.dev.stagecpu): executing real blocks counts execution, state map and storage time, and the
figures the bench prints are what the counters say, divided by the committed transactions."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import pytest

from node.dev.stagecpu import GC, per_tx_breakdown, stage_cpu
from node.metrics import STAGES, NodeMetrics
from node.runtime.executor import Executor
from node.store import open_store
from node.store.storage import BlockStore
from tests.support.auditchain import build_chain


def test_the_clock_counts_the_cpu_of_the_measured_block_only() -> None:
    metrics = NodeMetrics("n1", "validator")
    with metrics.stages.measure("consensus"):
        deadline = time.thread_time() + 0.02
        while time.thread_time() < deadline:
            pass
    time.sleep(0.05)  # not CPU: never counted
    counted = stage_cpu(metrics.render()[0].decode())
    assert set(counted) == {*STAGES, GC}
    assert 0.02 <= counted["consensus"] < 0.045
    # (compaction: threads Python did not start, such as LevelDB's of other tests in this process)
    assert all(v == 0 for k, v in counted.items() if k not in ("consensus", "compaction", GC))
    with pytest.raises(KeyError):
        metrics.stages.add("lunch", 1.0)  # a closed set of label values


def test_executing_blocks_counts_execution_state_map_and_storage(tmp_path: Path) -> None:
    chain = build_chain(tmp_path / "chain", blocks=6, txs_per_block=20)
    metrics = NodeMetrics("n1", "validator")
    with (
        BlockStore.open(chain.data_dir, chain.genesis.hash) as src,
        open_store(tmp_path / "replay", chain.genesis, "off") as store,
    ):
        executor = Executor(store, chain.genesis, stages=metrics.stages)
        for h in range(1, src.height + 1):
            block, cert = src.block(h), src.certificate(h)
            assert block is not None and cert is not None
            executor.apply(block, cert)
    counted = stage_cpu(metrics.render()[0].decode())
    assert counted["execution"] > 0 and counted["state_map"] > 0 and counted["storage"] > 0
    assert counted["consensus"] == counted["admission"] == counted["index"] == 0


def test_the_breakdown_divides_by_committed_and_names_the_rest_other() -> None:
    before = {"execution": 1.0, "consensus": 0.5, "index": 0.0}
    after = {"execution": 1.2, "consensus": 0.6, "index": 0.05}
    total, by_stage = per_tx_breakdown(0.5, before, after, committed=1000)
    assert total == 500.0  # 0.5 s of CPU over 1,000 transactions
    assert by_stage == {"execution": 200.0, "consensus": 100.0, "index": 50.0, "other": 150.0}
    assert per_tx_breakdown(0.5, before, after, committed=0) == (0.0, {})
    # counters of a node that restarted in the window never make a stage negative
    assert per_tx_breakdown(0.1, after, before, committed=10)[1]["execution"] == 0.0
    # the collector ran inside the stages: reported beside them, not taken from "other"
    total, by_stage = per_tx_breakdown(0.5, {**before, GC: 0.0}, {**after, GC: 0.01}, committed=1000)
    assert by_stage["other"] == 150.0 and by_stage[GC] == 10.0


def _spin(seconds: float) -> None:
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        pass


def test_nested_stages_count_each_second_once() -> None:
    metrics = NodeMetrics("n1", "validator")
    with metrics.stages.measure("api"), metrics.stages.measure("admission"):
        _spin(0.03)
    counted = stage_cpu(metrics.render()[0].decode())
    assert counted["admission"] >= 0.03
    assert counted["api"] < 0.01  # the outer stage did nothing of its own


def test_a_coroutine_is_counted_by_its_steps_not_its_waits() -> None:
    metrics = NodeMetrics("n1", "validator")

    async def handler() -> str:
        _spin(0.02)
        await asyncio.sleep(0.1)  # waiting: not counted
        _spin(0.02)
        return "answer"

    assert asyncio.run(metrics.stages.run("api", handler())) == "answer"
    counted = stage_cpu(metrics.render()[0].decode())
    assert 0.04 <= counted["api"] < 0.09


def test_an_error_inside_a_measured_coroutine_reaches_the_caller() -> None:
    metrics = NodeMetrics("n1", "validator")

    async def failing() -> None:
        await asyncio.sleep(0)
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        asyncio.run(metrics.stages.run("api", failing()))


def test_the_garbage_collector_is_counted() -> None:
    metrics = NodeMetrics("n1", "validator")
    junk = [[i] for i in range(200_000)]
    for item in junk:
        item.append(item)  # cycles
    del junk
    gc.collect()
    text = metrics.render()[0].decode()
    assert "orgledger_gc_cpu_seconds_total" in text
    value = next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("orgledger_gc_cpu_seconds_total")
    )
    assert value > 0
