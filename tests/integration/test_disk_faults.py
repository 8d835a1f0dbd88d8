"""Disk faults on real processes (RELIABILITY D3, D6, D7, D8; tier P, run by `make test-faults`).

Four validators, no proxies; validator v3 takes the fault while a load runs against the others,
then the Jepsen-style checker (`Cluster.check`) requires agreement on every node and every
acknowledged transaction exactly once.

- D3: the tail of v3's newest LevelDB write-ahead log is cut by 1..4096 bytes after a kill -9.
  Allowed outcomes: it starts, recovers a prefix and catches up; or it refuses to start with a
  corruption error (no crash loop, nothing served) and, re-synced from peers, catches up.
- D6: fsync and fdatasync fail with EIO (an LD_PRELOAD shim compiled here) from the n-th call on:
  the node stops (fail-stop, never retry-and-continue) and, restarted on a good disk, catches up.
- D7: v3's data directory is wiped: it rejoins by a verified snapshot and catches up.
- D8: v3 is rolled back to a copy of its data directory taken earlier: it catches up again.

D7/D8 check rejoining and agreement; that an amnesiac validator refuses to *sign* until it is
safe is not implemented (docs/consensus.md §6, docs/reliability.md).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(600)]

VICTIM = "v3"

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

static long left = -1;

static int failing(void) {
    if (left < 0) {
        const char *s = getenv("ORGLEDGER_TEST_EIO_AFTER");
        left = s ? atol(s) : 0x7fffffffL;
    }
    if (left == 0) { errno = EIO; return 1; }  /* from then on, every sync fails (fsyncgate) */
    left--;
    return 0;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return failing() ? -1 : real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return failing() ? -1 : real(fd);
}
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, validators=4, observers=0, proxies=False)
    try:
        c.start_all()
        yield c
    finally:
        c.close()


def _data(c: Cluster) -> Path:
    return c.net / "nodes" / VICTIM / "data"


def _others(c: Cluster) -> list[str]:
    return [n for n in c.names if n != VICTIM]


def _assert_clean(c: Cluster, ops: list) -> None:  # type: ignore[type-arg]
    report = c.check(ops, c.names)
    assert report.ok and report.committed == len(ops), f"{report}\n{c.log_tail(VICTIM, 40)}"


def _load(c: Cluster, n: int = 300):  # type: ignore[no-untyped-def]
    return c.load_in_background(n, rate=100, urls=[c.url(x) for x in _others(c)])


def test_a_truncated_write_ahead_log_recovers_a_prefix_or_refuses_to_start(cluster: Cluster) -> None:
    rnd = random.Random(20261207)
    load = _load(cluster, 400)
    time.sleep(2.0)
    cluster.kill(VICTIM)
    logs = sorted(
        (p for p in _data(cluster).rglob("*.log") if p.stem.isdigit() and p.stat().st_size > 0),
        key=lambda p: p.stat().st_mtime,
    )
    assert logs, f"no LevelDB write-ahead log under {_data(cluster)}"
    newest = logs[-1]
    size = newest.stat().st_size
    cut = rnd.randint(1, min(size, 4096))
    with open(newest, "r+b") as f:
        f.truncate(size - cut)
    cluster.start(VICTIM)
    deadline = time.monotonic() + 30
    while cluster.alive(VICTIM) and cluster.status(VICTIM) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not cluster.alive(VICTIM):
        code = cluster.wait_exit(VICTIM)
        assert code != 0 and "corrupt" in cluster.log_tail(VICTIM, 60).lower(), cluster.log_tail(VICTIM, 60)
        shutil.rmtree(_data(cluster))  # re-sync from peers: the operator's answer to a refused store
        cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])
    ops = load.result()
    cluster.wait_height([VICTIM], max(cluster.height(n) for n in _others(cluster)), timeout_s=90)
    _assert_clean(cluster, ops)
    print(f"D3: cut {cut} of {size} bytes of {newest.name}")


def test_eio_on_fsync_stops_the_node_and_a_restart_on_a_good_disk_catches_up(
    cluster: Cluster, tmp_path: Path
) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the fsync shim")
    src, lib = tmp_path / "eio.c", tmp_path / "libeio.so"
    src.write_text(SHIM)
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src), "-ldl"], check=True)
    cluster.stop(VICTIM)
    cluster.start(VICTIM, env={"LD_PRELOAD": str(lib), "ORGLEDGER_TEST_EIO_AFTER": "60"})
    load = _load(cluster)
    code = cluster.wait_exit(VICTIM, timeout_s=90)
    tail = cluster.log_tail(VICTIM, 80)
    assert code != 0, "the node kept running after fsync failed"
    assert "storage failure" in tail or "Input/output error" in tail, tail
    ops = load.result()
    report = cluster.check(ops, _others(cluster))
    assert report.ok and report.committed == len(ops), report
    cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])
    cluster.wait_height([VICTIM], cluster.height("v0"), timeout_s=90)
    _assert_clean(cluster, ops)


def test_a_wiped_data_directory_rejoins_and_agrees(cluster: Cluster) -> None:
    load = _load(cluster)
    time.sleep(2.0)
    cluster.kill(VICTIM)
    shutil.rmtree(_data(cluster))
    cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])
    ops = load.result()
    cluster.wait_height([VICTIM], max(cluster.height(n) for n in _others(cluster)), timeout_s=90)
    _assert_clean(cluster, ops)


def test_a_rollback_to_an_old_copy_of_the_data_directory_catches_up_and_agrees(
    cluster: Cluster, tmp_path: Path
) -> None:
    first = _load(cluster, 150)
    ops = first.result()
    cluster.stop(VICTIM)
    old = tmp_path / "old-data"
    shutil.copytree(_data(cluster), old)
    old_height = cluster.height("v0")
    cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])
    second = _load(cluster, 300)
    time.sleep(2.0)
    cluster.kill(VICTIM)
    shutil.rmtree(_data(cluster))
    shutil.copytree(old, _data(cluster))
    cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])
    ops += second.result()
    top = max(cluster.height(n) for n in _others(cluster))
    assert top > old_height
    cluster.wait_height([VICTIM], top, timeout_s=90)
    _assert_clean(cluster, ops)
