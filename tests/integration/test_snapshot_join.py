"""A node started with only genesis, its key and its peers joins by a verified snapshot of their state
(node/runtime/statesync.py), on real processes: it installs the state of the validators' last stable
checkpoint instead of replaying from genesis, catches up the blocks after it, agrees with them on
the state root, serves proven reads, and restarts on its snapshot store."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest

from client_sdk.auth import LedgerAuth
from node.dev.chaingen import generate_chain
from tests.support.cluster import Cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("snapjoin"), validators=4, observers=1, proxies=False)
    first = c.net / "nodes" / "v0" / "data"
    generate_chain(c.net, first, 6000, block_txs=60)  # 100 blocks: the last stable checkpoint is 96
    for name in c.validators[1:]:
        shutil.copytree(first, c.net / "nodes" / name / "data")
    try:
        c.start_all(c.validators)
        c.wait_healthy(c.validators, timeout_s=90)
        yield c
    finally:
        c.close()


def test_an_empty_node_joins_by_snapshot_and_agrees(cluster: Cluster) -> None:
    c = cluster
    started = time.monotonic()
    c.start("o0")
    top = max(c.height(v) for v in c.validators)
    c.wait_height(["o0"], top, timeout_s=120)
    took = time.monotonic() - started
    log = c.log_tail("o0", 200)
    assert "joined by the verified snapshot of height 96" in log, log
    status = c.status("o0")
    assert status is not None
    ref = c.status("v0")
    assert ref is not None
    height = min(status["height"], ref["height"])
    with httpx.Client(timeout=10, auth=LedgerAuth(c.signer)) as http:
        mine = http.get(f"{c.url('o0')}/v1/blocks/{height}/header").json()
        theirs = http.get(f"{c.url('v0')}/v1/blocks/{height}/header").json()
        assert mine["block_hash"] == theirs["block_hash"]
        archives = http.get(f"{c.url('o0')}/v1/archives", params={"limit": 5, "proof": "true"}).json()
        assert archives["items"] and archives["complete"] is True, archives
        assert http.get(f"{c.url('o0')}/v1/blocks/10/header").status_code == 404  # no history below 96
    assert took < 120
    # the snapshot store restarts as any other
    assert c.stop("o0") == 0
    c.start("o0")
    c.wait_healthy(["o0"], timeout_s=60)
    log = c.log_tail("o0", 400)
    assert log.count("joined by the verified snapshot") == 1, log  # the restart did not fetch again
    assert f"(observer) running at height {top}" in log.rsplit("stopped cleanly", 1)[1], log
