"""kill -9 during block writes never leaves a partial block (RELIABILITY C3, D1).

A real child process commits blocks in a loop; we SIGKILL it at random moments, reopen the
directory and check that the store is exactly the blocks 1..meta.height with their certificates,
receipts and state, nothing more and nothing less. Repeated, accumulating on one directory.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from node.store.storage import BlockStore
from tests.storage_fixtures import GENESIS_HASH
from wire import statemap

ROOT = Path(__file__).resolve().parents[2]


def _check_store(path: Path) -> int:
    with BlockStore.open(path, GENESIS_HASH) as store:
        meta = store.meta()
        assert meta is not None
        h = meta.height
        assert store.block(h + 1) is None and store.certificate(h + 1) is None
        assert store.receipts(h + 1) == []
        assert store.state_get(b"block/%d" % (h + 1)) is None
        assert store.state_get(b"counter") == str(h).encode()
        prev = GENESIS_HASH
        for height in range(1, h + 1):
            block = store.block(height)
            assert block is not None and block.header.prev_block_hash == prev
            cert = store.certificate(height)
            assert cert is not None and cert.block_hash == block.hash
            assert len(store.receipts(height)) == len(block.txs)
            assert store.state_get(b"block/%d" % height) == block.hash
            prev = block.hash
        assert prev == meta.block_hash
        assert statemap.root_of(store.state_items()) == meta.state_root, "state disagrees with the state root"
        assert statemap.root_hash(store.map_root(h)) == meta.state_root, "the stored map disagrees"
        return h


def test_kill_minus_nine_mid_write_keeps_the_last_complete_block(tmp_path: Path) -> None:
    rnd = random.Random(20261122)
    data = tmp_path / "db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    heights = []
    for _ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.integration._storage_writer", str(data)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready", child.stderr.read() if child.stderr else b""
        time.sleep(rnd.uniform(0.02, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        heights.append(_check_store(data))
    assert heights == sorted(heights), "the committed height regressed across a crash"
    assert heights[-1] > 20, "the writer made too little progress for the test to mean anything"
