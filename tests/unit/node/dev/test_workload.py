"""The load workload is valid: every generated transaction is accepted by the contracts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from contracts import BlockContext, execute_block, genesis_state
from contracts.testing import MemoryState
from node.dev.netinit import init_network
from node.dev.workload import MIX, Workload


def test_every_workload_transaction_is_accepted(tmp_path: Path) -> None:
    result = init_network(None, tmp_path / "net")
    genesis = result.genesis
    state = MemoryState(genesis_state(genesis))
    work = Workload(genesis, tmp_path / "net", seed=7)
    now = genesis.genesis_time_ms + 60_000
    txs = [work.next_tx(now) for _ in range(300)]
    assert txs[0].signature_ok()
    outcome = execute_block(state, BlockContext(chain_id=genesis.chain_id, height=1, time_ms=now + 1000), txs)
    rejected = [
        (t.body.tx_type, r.reason_code, r.reason)
        for t, r in zip(txs, outcome.receipts, strict=True)
        if not r.accepted
    ]
    assert not rejected, rejected[:5]
    kinds = Counter(t.body.tx_type for t in txs)
    assert set(kinds) == {k for k, _ in MIX}
    alerts = [a for r in outcome.receipts for a in r.alerts]
    assert not alerts, alerts[:5]
