"""`orgledger index verify`: a whole index checked against the state finds every kind of edit (a
row's body changed, a row deleted, a row moved to another org, a row the state never had) and the
repair makes it agree again; the command reports, repairs and exits 1 when it found something."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from contracts.testing import Ledger
from node.index import IndexDb, Indexer
from node.index.verify import repair_index, verify_index
from tests.scenario.contracts_history import B1, B2, build
from tests.unit.node.index.test_index import _store_from


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build()


def _sql(db: IndexDb, statement: str) -> int:
    with db.engine.begin() as conn:
        return int(conn.execute(text(statement)).rowcount)


def test_every_edit_is_found_and_repaired(ledger: Ledger, tmp_path: Path) -> None:
    store = _store_from(ledger, tmp_path / "db")
    db = IndexDb(f"sqlite:///{tmp_path / 'index.sqlite'}")
    Indexer(store, db, ledger.genesis.hash).catch_up()
    with store.snapshot() as snap:
        clean = verify_index(snap, db)
    assert clean.ok and clean.rows > 20 and not clean.keys
    assert (
        _sql(
            db,
            "UPDATE ol_record SET body = '[\"forged\"]' WHERE rowid = (SELECT min(rowid) FROM ol_record WHERE family = 'archive')",
        )
        == 1
    )
    assert (
        _sql(
            db,
            "DELETE FROM ol_record WHERE rowid = (SELECT min(rowid) FROM ol_record WHERE family = 'alert')",
        )
        == 1
    )
    assert (
        _sql(
            db,
            f"UPDATE ol_record SET org_id = '{B2}' WHERE rowid = (SELECT min(rowid) FROM ol_record WHERE org_id = '{B1}' AND family = 'material')",
        )
        == 1
    )
    assert (
        _sql(
            db,
            "INSERT INTO ol_org (org_id, parent, level, name, depth, body, value_hash, updated_height) VALUES ('cn.ghost', 'cn', 'PROVINCE', 'ghost', 2, '{}', '00', 1)",
        )
        == 1
    )
    with store.snapshot() as snap:
        found = verify_index(snap, db)
        assert (found.differ, found.missing, found.extra) == (2, 1, 1), found.examples
        assert not found.ok
        repair_index(snap, db, found, ledger.genesis.hash)
        assert verify_index(snap, db).ok
    db.close()
    store.close()
