"""Re-gossip of pending transactions (node/runtime/node.py): a transaction still pending when it
is due again is offered to consensus on every node that holds it, but only the node a client
submitted it to sends it to the other validators again; one received by gossip is not sent on."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.app import NodeApp
from node.dev.workload import Workload
from node.runtime.driver import KIND_TXS
from node.runtime.node import REOFFER_AFTER_S
from tests.support.auditchain import BuiltChain
from tests.unit.node.api.test_app import build
from wire import codec


@pytest.fixture
def node(chain: BuiltChain, tmp_path: Path) -> Iterator[NodeApp]:
    shutil.copytree(chain.data_dir, tmp_path / "data")
    app = build(chain, tmp_path / "data", tmp_path)
    try:
        yield app
    finally:
        app.close()


def test_only_the_origin_sends_a_pending_transaction_again(node: NodeApp, chain: BuiltChain) -> None:
    runtime = node.runtime
    work = Workload(chain.genesis, chain.net, seed=91)
    now_ms = int(time.time() * 1000)
    submitted, gossiped = (work.next_tx(now_ms).encode() for _ in range(2))
    sent: list[bytes] = []
    offered: list[bytes] = []
    runtime._send_to_key = lambda key, frame: sent.append(frame) or True  # type: ignore[method-assign]
    runtime.driver.offer_requests = offered.extend  # type: ignore[method-assign]

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        runtime.submit(submitted)
        runtime._admit_gossip(codec.encode([gossiped]))
        await asyncio.sleep(0)  # the flush
        sent.clear()
        offered.clear()
        runtime._reoffer(time.monotonic() + REOFFER_AFTER_S)
        await asyncio.sleep(0)
        return [raw for frame in sent for raw in codec.decode(frame[len(KIND_TXS) :])], list(offered)

    regossiped, reoffered = asyncio.run(scenario())
    assert set(reoffered) == {submitted, gossiped}
    assert regossiped and set(regossiped) == {submitted}
