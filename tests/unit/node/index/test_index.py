"""The read index on both engines: blocks followed one by one equal a rebuild, queries filter and
scope by org subtree, and a chain or schema mismatch rebuilds (SQLite always, PostgreSQL when
its binaries are on the machine)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from contracts import genesis_state
from contracts.testing import Ledger
from node.index import IndexDb, Indexer
from node.index.queries import RecordFilter, history, list_orgs, list_records, list_users
from node.runtime.executor import genesis_meta
from node.store.storage import BlockStore
from tests.scenario.contracts_history import build
from tests.storage_fixtures import commit
from wire.merkle import merkle_root
from wire.records import classify, project
from wire.types import Block, BlockHeader, CommitCertificate

B1, B2, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2.c1.x1.b1"


def _store_from(ledger: Ledger, path: Path, upto: int | None = None) -> BlockStore:
    """A real block store holding the ledger's history (blocks are placeholders; state is real)."""
    g = ledger.genesis
    store = BlockStore.open(path, g.hash)
    entries = genesis_state(g)
    meta, root, changes = genesis_meta(g, entries)
    store.write_genesis_state(entries, meta, changes, root)
    prev = g.hash
    for height, outcome in enumerate(ledger.outcomes[:upto], start=1):
        txs = tuple(b"tx%d/%d" % (height, i) for i in range(len(outcome.receipts)))
        header = BlockHeader(
            chain_id=g.chain_id,
            height=height,
            view=0,
            timestamp_ms=1 + height,
            prev_block_hash=prev,
            tx_root=merkle_root(txs),
            prev_state_root=b"\x00" * 32,
            prev_results_root=b"\x00" * 32,
            validators_hash=b"\x00" * 32,
            proposer=0,
        )
        block = Block(header=header, txs=txs)
        cert = CommitCertificate(
            height=height, view=0, block_hash=block.hash, signatures=((0, b"\x00" * 64),)
        )
        commit(store, block, cert, outcome.receipts, outcome.writes)
        prev = block.hash
    return store


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build()


def test_following_blocks_equals_a_rebuild(ledger: Ledger, tmp_path: Path, index_url: str) -> None:
    n = len(ledger.outcomes)
    store = _store_from(ledger, tmp_path / "db", upto=n // 2)
    live = IndexDb(index_url)
    indexer = Indexer(store, live, ledger.genesis.hash)
    assert indexer.catch_up() == n // 2 and indexer.rebuilds == 1  # an empty index starts by a rebuild
    store.close()
    store = _store_from(ledger, tmp_path / "db2")
    indexer = Indexer(store, live, ledger.genesis.hash)
    # the first half was indexed from another store of the same chain: only the rest is applied
    assert indexer.catch_up() == n and indexer.rebuilds == 0
    fresh = IndexDb(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    with store.snapshot() as snap:
        fresh.rebuild(snap, snap.height, ledger.genesis.hash)
    assert live.dump() == fresh.dump()
    assert live.height == n
    # and the projection is the ledger's state: every indexed key, nothing else
    keys = {k.decode() for k, v in ledger.state.items() if classify(k.decode()) is not None}
    dump = fresh.dump()
    assert {r[0] for r in dump["ol_record"]} == {k for k in keys if classify(k).table == "record"}  # type: ignore[union-attr]
    assert len(dump["ol_org"]) == len(ledger.genesis.orgs)
    store.close()
    live.close()
    fresh.close()


def test_queries_filter_scope_and_paginate(ledger: Ledger, tmp_path: Path, index_url: str) -> None:
    store = _store_from(ledger, tmp_path / "db")
    db = IndexDb(index_url)
    Indexer(store, db, ledger.genesis.hash).catch_up()
    alerts = list_records(db, RecordFilter(family="alert", scope="", limit=500)).rows
    assert alerts and {a["colour"] for a in alerts} <= {"RED", "YELLOW", "BLUE"}
    reds = list_records(db, RecordFilter(family="alert", scope="", colour="RED", limit=500)).rows
    assert reds and all(json.loads(a["body"])["colour"] == "RED" for a in reds)
    # pagination: pages of 2 cover every archive once, in id order
    seen, after = [], None
    while True:
        page = list_records(db, RecordFilter(family="archive", scope="", after=after, limit=2))
        seen += [r["rid"] for r in page.rows]
        if not page.more:
            break
        after = page.rows[-1]["rid"]
    everything = list_records(db, RecordFilter(family="archive", scope="", limit=500)).rows
    assert seen == sorted(seen) == [r["rid"] for r in everything] and len(seen) > 3
    # scope: a sibling branch sees none of b1's archives; the county sees them all
    b1 = [r for r in everything if r["org_id"] == B1]
    assert b1
    assert not [
        r
        for r in list_records(db, RecordFilter(family="archive", scope=B2, limit=500)).rows
        if r["org_id"] == B1
    ]
    county = list_records(db, RecordFilter(family="archive", scope="cn.p1.c1.x1", limit=500)).rows
    assert {r["rid"] for r in b1} <= {r["rid"] for r in county}
    # transfers are visible to both sides
    assert list_records(db, RecordFilter(family="transfer", scope=P2B)).rows
    assert list_records(db, RecordFilter(family="transfer", scope=B1)).rows
    assert not list_records(db, RecordFilter(family="transfer", scope=B2)).rows
    # a scope that merely shares a prefix is not a subtree
    assert not list_records(db, RecordFilter(family="archive", scope="cn.p1.c1.x1.b", limit=500)).rows
    # steps are a sub-collection of their pipeline, in sequence order
    steps = list_records(
        db, RecordFilter(family="pipeline_step", scope=None, parent_id="p-ann", limit=500)
    ).rows
    assert [r["kind"] for r in steps][:3] == ["S01", "S02", "S03"] and len(steps) == 25
    # a member's history: archive, versions, pipeline and its steps (some written by the county)
    ann = next(
        r["person_key"]
        for r in list_records(db, RecordFilter(family="pipeline", scope="")).rows
        if r["rid"] == "p-ann"
    )
    rows, height, truncated = history(db, ann, B1)
    families = {r["family"] for r in rows}
    assert {"archive", "archive_version", "pipeline", "pipeline_step", "material"} <= families
    assert not truncated and height == len(ledger.outcomes)
    assert len([r for r in rows if r["family"] == "pipeline_step"]) == 25
    assert history(db, ann, B2)[0] == []
    orgs = list_orgs(db, scope="cn.p1", root="cn.p1", subtree=True, after=None, limit=500).rows
    assert {o["org_id"] for o in orgs} == {
        o.org_id for o in ledger.genesis.orgs if o.org_id.startswith("cn.p1")
    }
    children = list_orgs(db, scope="", root="cn", subtree=False, after=None, limit=500).rows
    assert {o["org_id"] for o in children} == {"cn.p1", "cn.p2"}
    admins = list_users(
        db, scope=B1, org_id=None, subtree=True, status="ACTIVE", role="admin", after=None, limit=50
    )
    assert [u["org_id"] for u in admins.rows] == [B1]
    store.close()
    db.close()


def test_another_chain_or_an_index_ahead_rebuilds(ledger: Ledger, tmp_path: Path) -> None:
    store = _store_from(ledger, tmp_path / "db", upto=10)
    db = IndexDb(f"sqlite:///{tmp_path / 'i.sqlite'}")
    indexer = Indexer(store, db, ledger.genesis.hash)
    indexer.catch_up()
    other = Indexer(store, db, b"\x01" * 32)
    other.catch_up()
    assert other.rebuilds == 1 and db.bound_to(b"\x01" * 32)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ol_meta SET value = '999' WHERE key = 'indexed_height'")
    db.height = 999
    indexer.catch_up()
    assert indexer.rebuilds == 2 and db.height == 10
    store.close()
    db.close()


def test_projection_ignores_what_the_index_does_not_keep() -> None:
    for key in (
        "cfg/g/x",
        "idx/vbook/1",
        "tx/ab",
        "alertkey/R/x",
        "org/cn/enc/00000001",
        "doc/a/v/x",
        "archive/",
    ):
        assert classify(key) is None, key
    t = classify("doc/a%2Fb/v/00000002")
    assert t is not None and (t.family, t.rid, t.parent_id) == ("material_version", "a/b/v/00000002", "a/b")
    assert project("archive/ab", b"\xc1", 1) is None  # not a record: skipped, never an error


def test_an_unreachable_database_is_retried_not_fatal(ledger: Ledger, tmp_path: Path) -> None:
    store = _store_from(ledger, tmp_path / "db", upto=3)
    indexer = Indexer(store, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", ledger.genesis.hash)
    indexer.start()
    deadline = time.monotonic() + 20
    while indexer.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert indexer.error is not None and indexer.height == -1
    indexer.stop(timeout_s=20)
    store.close()
