"""Online backup and restore (docs/operations.md, "Backup and restore"): a backup taken from a
running validator under load restores into an empty data directory, the restored node checks its
whole store at first start, catches up from its peers and agrees with them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from client_sdk.auth import LedgerAuth
from tests.support.cluster import Cluster

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, timeout=180
    )


def test_a_backup_taken_under_load_restores_and_the_node_catches_up(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "cluster", validators=4, observers=0, proxies=False)
    try:
        c.start_all()
        # 30 s of load at 90 ops/s: the backup starts while it runs (on a busy machine the backup
        # command alone took longer than the 10 s of load this test used to start)
        load = c.load_in_background(2700, rate=90)
        c.wait_height(["v1"], 3)
        out = tmp_path / "backup"
        assert load.is_alive(), "the backup must be taken under load"
        done = _cli("node", "backup", "--config", str(c.config("v1")), "--out", str(out))
        assert done.returncode == 0, done.stderr
        man = json.loads((out / "manifest.json").read_text())
        assert man["node_id"] == "v1" and man["height"] >= 3 and "all checked" in done.stdout
        assert (
            man["state_root"] == man["roots"][0]
            and (out / "store.kv").stat().st_size == man["store"]["bytes"]
        )
        again = _cli("node", "backup", "--config", str(c.config("v1")), "--out", str(out))
        assert again.returncode == 1 and "not an empty directory" in again.stderr
        unsigned = httpx.get(f"{c.url('v1')}/v1/admin/backup", timeout=10)
        assert unsigned.status_code == 401
        ops = load.result()

        # the certified chain says the same state root for that height
        lag = c.genesis.consensus.exec_lag
        c.wait_height(["v0"], man["height"] + lag)
        with httpx.Client(base_url=c.url("v0"), timeout=10, auth=LedgerAuth(c.signer)) as http:
            later = http.get(f"/v1/blocks/{man['height'] + lag}/header").json()
        assert later["header"]["prev_state_root"] == man["state_root"]

        assert c.stop("v1") == 0
        data = c.net / "nodes" / "v1" / "data"
        refused = _cli("node", "restore", "--from", str(out), "--config", str(c.config("v1")))
        assert refused.returncode == 1 and "not empty" in refused.stderr
        shutil.rmtree(data)
        restored = _cli("node", "restore", "--from", str(out), "--config", str(c.config("v1")))
        assert restored.returncode == 0, restored.stderr
        assert (data / "RESTORED").exists()

        c.start("v1")
        c.wait_healthy(["v1"], timeout_s=120)
        assert not (data / "RESTORED").exists(), "the marker goes once the full check passed"
        assert "checking the whole store" in (c.root / "v1.log").read_text()
        report = c.check(ops)
        assert report.ok and report.committed == len(ops), report
        deadline = time.monotonic() + 60
        while c.height("v1") < c.height("v0") and time.monotonic() < deadline:
            time.sleep(0.3)
        assert c.height("v1") >= man["height"]
    finally:
        c.close()
