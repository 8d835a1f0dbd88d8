"""The plan of `orgledger dev seed` on its shadow ledger (no network): every clean step is
accepted, every fraud attempt does what it is meant to, alerts of every colour come out, and the
phases and lanes are what the replay runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from node.dev.netinit import init_network
from node.dev.seed.plan import MARKER_DONE, MARKER_STARTED, make_plan
from wire.files import load_signing_key


def test_the_plan_meets_every_intent_on_the_shadow_ledger(tmp_path: Path) -> None:
    net = init_network(None, tmp_path / "net")
    admins = {
        o.org_id: load_signing_key(tmp_path / "net" / "keys" / "admins" / f"{o.org_id}.key")
        for o in net.genesis.orgs
    }
    plan = make_plan(net.genesis, admins)
    assert 300 < len(plan.txs) < 800
    assert plan.txs[0].payload["doc_id"] == MARKER_STARTED and plan.txs[-1].payload["doc_id"] == MARKER_DONE
    for tx in plan.txs:
        if tx.intent is None:
            assert tx.shadow.accepted, (tx.label, tx.shadow)
    intents = plan.intents()
    assert len(intents) == 10
    for tx in intents:
        assert tx.intent is not None
        receipt = {"status": tx.shadow.status, "rule_id": tx.shadow.rule_id}
        assert tx.intent.met(receipt, plan.shadow_alerts), tx.intent
    colours = Counter(a["colour"] for a in plan.shadow_alerts)
    assert colours["RED"] and colours["YELLOW"] and colours["BLUE"]
    phases = [p for p, _ in plan.phases()]
    assert phases == [
        "start",
        "setup",
        "members",
        "meetings",
        "pipelines",
        "transfers",
        "decisions",
        "frauds",
        "done",
    ]
    assert all(
        name in plan.keys for name in ("cn.gs/operator", "cn.gs.lz.cg.b001/operator", "cn.gs.lz.ql/admin")
    )
    assert set(plan.enc_keys) == {"cn.gs.lz.cg.b003", "cn.gs.lz.ql", "cn.gs.lz.ql.b001", "cn.sn.xa.yt.b002"}
    days = [tx.payload.get("event_date") or tx.payload.get("doc_date") for tx in plan.txs]
    assert max(d for d in days if d) < plan.today.isoformat()  # nothing is dated today or later
