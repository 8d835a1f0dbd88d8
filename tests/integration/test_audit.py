"""The auditor, export, proof bundles and tamper detection against a real four-validator cluster.

A workload is committed through the real network; the auditor (the real command, in its own
process) verifies a node and an export of it; a proof bundle is written and checked offline.
Then one node's database is edited offline (a block, a receipt, a state entry): the node refuses
to start naming the height, and when it is made to serve the edited data anyway
(`verify_on_start = "off"`) the auditor pointed at it exits non-zero naming the height.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from client_sdk.auth import LedgerAuth
from tests.support.cluster import Cluster
from tests.support.tamper import tamper_block, tamper_receipt, tamper_state

pytestmark = pytest.mark.integration

VICTIM = "v3"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("audit"), validators=4, observers=0, proxies=False)
    try:
        c.start_all()
        ops = c.load_in_background(400, rate=200).result()
        # then enough small blocks that early heights fall outside the last watermark window (64),
        # so a tampered old block is served rather than refused at start-up
        while max(c.height(n) for n in c.names) < 90:
            ops += c.load_in_background(4, rate=20).result()
        report = c.check(ops)
        assert report.ok and report.committed == len(ops), report
        # the undecodable-block case needs a block older than the last watermark_window blocks;
        # how many blocks 400 transactions make varies with the machine's speed (29..120 seen)
        while max(c.height(n) for n in c.names) < c.genesis.consensus.watermark_window + 8:
            more = c.load_in_background(40, rate=40).result()
            assert c.check(more).committed == len(more)
        top = max(c.height(n) for n in c.names)
        c.wait_height(c.names, top)
        yield c
    finally:
        c.close()


def orgledger(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def genesis(c: Cluster) -> str:
    return str(c.net / "genesis.json")


def root_key(c: Cluster) -> str:
    return str(c.net / "keys" / "admins" / f"{c.genesis.root_org}.key")


def audit(
    c: Cluster, *source: str, report: Path | None = None, workers: int = 1
) -> subprocess.CompletedProcess[str]:
    extra = ["--report", str(report)] if report is not None else []
    extra += ["--key", root_key(c)]
    return orgledger(
        "audit",
        "verify",
        *source,
        "--genesis",
        genesis(c),
        "--no-progress",
        "--workers",
        str(workers),
        *extra,
    )


def test_the_auditor_verifies_a_live_node(cluster: Cluster, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = audit(cluster, "--node", cluster.url("v1"), report=report_file)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(report_file.read_text())
    assert doc["ok"] and doc["blocks"] == doc["verified_height"] >= cluster.height("v1") - 2
    assert doc["txs"] == doc["accepted"] + doc["rejected"] >= 400
    proofs = doc["checks"]["proofs"]
    assert (
        doc["checks"]["state"]["passed"] > 0 and proofs["passed"] > 0 and not proofs.get("failed")
    )  # empty blocks have no proof
    assert "audit OK" in result.stdout


def test_export_and_audit_the_archive(cluster: Cluster, tmp_path: Path) -> None:
    archive = tmp_path / "chain.arc.gz"
    result = orgledger(
        "export",
        "--node",
        cluster.url("v2"),
        "--out",
        str(archive),
        "--genesis",
        genesis(cluster),
        "--key",
        root_key(cluster),
        "--segments",
        "2",
    )
    assert result.returncode == 0 and archive.exists(), result.stdout + result.stderr
    assert "state snapshots after block" in result.stdout
    docs = []
    for workers in (1, 2):
        result = audit(cluster, "--archive", str(archive), report=tmp_path / "r.json", workers=workers)
        assert result.returncode == 0, result.stdout + result.stderr
        docs.append(json.loads((tmp_path / "r.json").read_text()))
    assert docs[0]["txs"] >= 400 and docs[0]["checks"]["snapshots"]["passed"] == 1
    assert docs[1]["segments"] == 2  # the exported snapshot cut it in two processes
    same = [
        {k: v for k, v in d.items() if k not in ("timings", "tx_per_s", "workers", "segments")} for d in docs
    ]
    assert same[0] == same[1]


def test_a_proof_bundle_checks_offline(cluster: Cluster, tmp_path: Path) -> None:
    from wire.types import SignedTransaction

    block = next(
        b
        for h in range(1, cluster.height("v0") + 1)
        if (
            b := httpx.get(
                f"{cluster.url('v0')}/v1/blocks/{h}", timeout=10, auth=LedgerAuth(cluster.signer)
            ).json()
        )["txs"]
    )

    tx_id = SignedTransaction.decode(bytes.fromhex(block["txs"][0])).tx_id.hex()
    bundle = tmp_path / "tx.bundle"
    result = orgledger(
        "audit",
        "prove",
        "--node",
        cluster.url("v0"),
        "--tx",
        tx_id,
        "--out",
        str(bundle),
        "--genesis",
        genesis(cluster),
        "--key",
        root_key(cluster),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    result = orgledger("audit", "check-proof", str(bundle), "--genesis", genesis(cluster))
    assert result.returncode == 0 and f"transaction {tx_id}" in result.stdout, result.stdout + result.stderr
    data = bytearray(bundle.read_bytes())
    data[-40] ^= 0x01
    bundle.write_bytes(bytes(data))
    result = orgledger("audit", "check-proof", str(bundle))
    assert result.returncode == 1 and "does NOT verify" in result.stderr


# ------------------------------------------------------------------------------------ tamper tests
def _restart_with(c: Cluster, config_text: str, extra: str = "") -> None:
    c.config(VICTIM).write_text(config_text + extra)
    c.start(VICTIM)


def _tamper_case(
    c: Cluster, edit: Callable[[Path], object], height: int, pristine: Path, *, or_later: bool = False
) -> None:
    """`or_later`: the auditor may name a later height (an edited state entry is found where the
    node's state is compared, at its height then; the restarted node may have committed a block
    since, such as a heartbeat)."""
    data = c.net / "nodes" / VICTIM / "data"
    config_text = c.config(VICTIM).read_text()
    if c.alive(VICTIM):
        assert c.stop(VICTIM) == 0
    shutil.rmtree(data)
    shutil.copytree(pristine, data)
    edit(data)
    try:
        # (a) the node refuses to start and names the height
        _restart_with(c, config_text)
        assert c.wait_exit(VICTIM, timeout_s=60) != 0
        tail = c.log_tail(VICTIM, 5)
        assert f"storage_corrupt at height {height}" in tail, tail
        # (b) made to serve the edited data anyway, it is caught by the auditor
        _restart_with(c, config_text, '\n[integrity]\nverify_on_start = "off"\n')
        c.wait_healthy([VICTIM])
        result = audit(c, "--node", c.url(VICTIM))
        assert result.returncode == 1, result.stdout + result.stderr
        found = re.search(r"audit FAILED at height (\d+)", result.stderr)
        assert found is not None, result.stderr
        assert int(found.group(1)) == height or (or_later and int(found.group(1)) > height), result.stderr
    finally:
        if c.alive(VICTIM):
            c.stop(VICTIM)
        c.config(VICTIM).write_text(config_text)


@pytest.fixture(scope="module")
def pristine(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the victim's data directory, taken while it is stopped; put back afterwards."""
    assert cluster.stop(VICTIM) == 0
    copy = tmp_path_factory.mktemp("pristine") / "data"
    shutil.copytree(cluster.net / "nodes" / VICTIM / "data", copy)
    yield copy
    if cluster.alive(VICTIM):
        cluster.stop(VICTIM)
    data = cluster.net / "nodes" / VICTIM / "data"
    shutil.rmtree(data)
    shutil.copytree(copy, data)
    cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])


def _with_txs(pristine: Path, near: int) -> int:
    """The first height at or above `near` whose block carries transactions (empty blocks seal)."""
    import plyvel

    from node.store.storage import P_BLOCK, _h
    from wire.types import Block

    db = plyvel.DB(str(pristine))
    try:
        h = near
        while not Block.decode(db.get(P_BLOCK + _h(h))).txs:
            h += 1
        return h
    finally:
        db.close()


def _top(pristine: Path) -> int:
    import plyvel

    from node.store.storage import META, Meta

    db = plyvel.DB(str(pristine))
    try:
        return Meta.decode(db.get(META)).height
    finally:
        db.close()


def test_a_tampered_block_is_caught_by_the_node_and_the_auditor(cluster: Cluster, pristine: Path) -> None:
    h = _with_txs(pristine, _top(pristine) // 2)
    _tamper_case(cluster, lambda d: tamper_block(d, h, decodable=True), h, pristine)
    # an undecodable block among the last watermark_window blocks stops the node even with the
    # start-up check off (the replica is handed those blocks); an older one is served, for the auditor
    _tamper_case(cluster, lambda d: tamper_block(d, 2, decodable=False), 2, pristine)


def test_a_tampered_receipt_is_caught_by_the_node_and_the_auditor(cluster: Cluster, pristine: Path) -> None:
    h = _with_txs(pristine, _top(pristine) // 2)
    _tamper_case(cluster, lambda d: tamper_receipt(d, h, 0, decodable=True), h, pristine)


def test_a_tampered_state_entry_is_caught_by_the_node_and_the_auditor(
    cluster: Cluster, pristine: Path
) -> None:
    top = _top(pristine)
    _tamper_case(cluster, tamper_state, top, pristine, or_later=True)


def test_an_undecodable_receipt_is_caught_by_the_node_and_the_auditor(
    cluster: Cluster, pristine: Path
) -> None:
    h = _with_txs(pristine, _top(pristine) // 3)
    _tamper_case(cluster, lambda d: tamper_receipt(d, h, 0, decodable=False), h, pristine)


def test_the_cluster_is_whole_again(cluster: Cluster, pristine: Path) -> None:
    """Last: the victim, restored, is accepted by its own start-up check and by the auditor."""
    data = cluster.net / "nodes" / VICTIM / "data"
    shutil.rmtree(data)
    shutil.copytree(pristine, data)
    cluster.start(VICTIM)
    cluster.wait_healthy([VICTIM])
    time.sleep(0.5)
    result = audit(cluster, "--node", cluster.url(VICTIM))
    assert result.returncode == 0, result.stdout + result.stderr
