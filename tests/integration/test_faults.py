"""Fault tests on real processes (RELIABILITY 4.1, 4.2; tier P).

Every test runs a client workload that records each submission as ok / fail / info, injects a
fault, heals it, and then checks with the Jepsen-style checker of `node.dev.loadgen`: agreement (the
same block hash at every height on every node), every acknowledged transaction present exactly
once, nothing unsubmitted, heights never regressing. The CI smoke is the unmarked tests; the
longer variants carry `@pytest.mark.slow`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.failpoints import POINTS
from tests.support.cluster import Cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, validators=4, observers=1)
    try:
        c.start_all()
        yield c
    finally:
        c.close()


def _assert_clean(c: Cluster, ops: list, names: list[str] | None = None) -> None:  # type: ignore[type-arg]
    report = c.check(ops, names)
    assert report.ok, f"{report}\n" + "\n".join(f"--- {n}\n{c.log_tail(n)}" for n in c.names)
    acked = sum(1 for op in ops if op.outcome == "ok")
    assert acked == len(ops), f"only {acked} of {len(ops)} submissions were acknowledged"
    assert report.committed == len(ops), report


def test_kill_minus_nine_of_the_primary_under_load(cluster: Cluster) -> None:
    load = cluster.load_in_background(600, rate=150)
    time.sleep(1.5)
    victim = cluster.primary()
    cluster.kill(victim)
    time.sleep(3)
    cluster.start(victim)
    _assert_clean(cluster, load.result())
    cluster.wait_height([victim], cluster.height("v0" if victim != "v0" else "v1"), timeout_s=60)


@pytest.mark.slow
def test_kill_minus_nine_of_a_backup_under_load(cluster: Cluster) -> None:
    load = cluster.load_in_background(600, rate=150)
    time.sleep(1.5)
    primary = cluster.primary()
    victim = next(n for n in cluster.validators if n != primary)
    cluster.kill(victim)
    time.sleep(3)
    cluster.start(victim)
    _assert_clean(cluster, load.result())


@pytest.mark.parametrize(
    "point",
    [
        pytest.param(p, marks=() if p in ("after_persist", "before_block_write") else pytest.mark.slow)
        for p in sorted(POINTS)
    ],
)
def test_crash_point_in_the_commit_path(cluster: Cluster, point: str) -> None:
    victim = "v2"
    cluster.stop(victim)
    cluster.start(victim, env={"ORGLEDGER_FAIL_POINT": f"{point}:5"})
    cluster.wait_healthy([victim])
    load = cluster.load_in_background(
        400, rate=120, urls=[cluster.url(n) for n in cluster.names if n != victim]
    )
    code = cluster.wait_exit(victim, timeout_s=60)
    assert code == -signal.SIGKILL, f"the crash point did not fire (exit {code})"
    cluster.start(victim)
    ops = load.result()
    _assert_clean(cluster, ops)


def test_sigstop_of_the_primary_past_the_view_change_timeout(cluster: Cluster) -> None:
    load = cluster.load_in_background(300, rate=120)
    time.sleep(1.0)
    victim = cluster.primary()
    others = [n for n in cluster.names if n != victim]
    cluster.signal(victim, signal.SIGSTOP)
    time.sleep(3)  # past view_change_timeout_ticks * tick_ms = 2 s
    during = cluster.load_in_background(200, rate=100, urls=[cluster.url(n) for n in others])
    paused_ops = during.result()
    report = cluster.check(paused_ops, others, timeout_s=60)
    # the first load's transactions are on the chain too, so only these counts are meaningful here
    assert report.agree and report.lost == 0 and report.committed == 200, (
        f"no progress while paused: {report}"
    )
    cluster.signal(victim, signal.SIGCONT)
    _assert_clean(cluster, load.result() + paused_ops)
    cluster.wait_height([victim], cluster.height(others[0]), timeout_s=60)


@pytest.mark.slow
def test_all_nodes_killed_at_once_then_restarted(cluster: Cluster) -> None:
    load = cluster.load_in_background(500, rate=150)
    time.sleep(2)
    for n in cluster.names:
        cluster.kill(n)
    time.sleep(1)
    for n in cluster.names:
        cluster.start(n)
    cluster.wait_healthy(cluster.names)
    _assert_clean(cluster, load.result())


def test_partition_of_one_validator_then_heal(cluster: Cluster) -> None:
    load = cluster.load_in_background(
        500, rate=120, urls=[cluster.url(n) for n in cluster.names if n != "v3"]
    )
    time.sleep(1)
    cluster.partition(["v3"], [n for n in cluster.names if n != "v3"])
    time.sleep(5)
    cluster.heal()
    _assert_clean(cluster, load.result())


@pytest.mark.slow
def test_partition_two_two_stops_progress_and_heals(cluster: Cluster) -> None:
    cluster.partition(["v0", "v1", "o0"], ["v2", "v3"])
    time.sleep(2)
    heights = {n: cluster.height(n) for n in cluster.validators}
    load = cluster.load_in_background(200, rate=100)
    time.sleep(5)
    assert {n: cluster.height(n) for n in cluster.validators} == heights, "a side without a quorum committed"
    cluster.heal()
    _assert_clean(cluster, load.result())


def test_observer_started_late_catches_up_and_verifies(tmp_path: Path) -> None:
    c = Cluster(tmp_path, validators=4, observers=1, proxies=False)
    try:
        c.start_all(c.validators)
        load = c.load_in_background(800, rate=400, urls=[c.url(n) for n in c.validators])
        ops = load.result()
        target = max(c.height(n) for n in c.validators)
        assert target > 5
        c.start("o0")
        c.wait_healthy(["o0"])
        c.wait_height(["o0"], target, timeout_s=60)
        _assert_clean(c, ops)
    finally:
        c.close()
