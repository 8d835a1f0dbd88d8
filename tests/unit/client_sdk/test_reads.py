"""Reads verified against their proofs, served by a real node over a real chain."""

from __future__ import annotations

from client_sdk import LedgerClient
from tests.unit.client_sdk.readnode import B001, ReadNode


def test_smoke(node: ReadNode) -> None:
    with LedgerClient(node.url, node.chain.genesis, key=node.key("cn")) as c:
        alerts = list(c.alerts(limit=2))
        print([(a.id, a.org_id, a.proven_height) for a in alerts])
        p = c.page("archive", limit=3)
        print(p.complete, p.proven_height, p.height, len(p.items))
        print(c.record("archive", p.items[0].id))
        mats = c.page("material", limit=3, org_id=B001)
        print(mats.complete, [m.id for m in mats.items])
        print(c.member_history(p.items[0].id))
        print(list(c.orgs(limit=3))[:1])
        print(list(c.users(limit=3))[:1])
        print(c.org("cn.gs"))
        print(list(c.children("archive_version", p.items[0].id)))
        blk = node.chain.blocks[2][0]
        from wire.types import SignedTransaction
        tid = SignedTransaction.decode(blk.txs[0]).tx_id
        print(c.tx(tid))
        print(list(c.events(after_height=0, timeout_s=3)))
    with LedgerClient(node.url, node.chain.genesis, key=node.key(B001)) as c:
        print(len(list(c.alerts(limit=2))), c._reads.scope)
    with LedgerClient(node.url, node.chain.genesis, key=node.key("auditor")) as c:
        print(list(c.records("material", limit=2))[:2])
        print(list(c.records("archive", limit=2))[:2])
