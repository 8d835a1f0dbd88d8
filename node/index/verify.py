"""Checking a whole read index against the ledger state (`orgledger index verify`).

Rules:

- The state is the truth: every entry the index keeps (`wire.records.classify`) is projected at
  the store's height and compared, field by field (`wire.records.same_row`), with the index's row
  for it. Differences are rows the state has and the index lacks (`missing`), rows the index has
  and the state does not (`extra`), and rows that say something else (`differ`).
- Memory stays bounded: the state is scanned in chunks whose rows are looked up in the index by
  key, then the index's keys are streamed and each is looked up in the state (no reliance on the
  database's collation).
- `repair_index` re-projects every key found wrong from the same snapshot, in chunks; an index at
  another height than the store (or of another chain) is rebuilt instead.
- The store must be a snapshot (or a stopped node's store): one instant of the state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from node.index.db import IndexDb
from node.index.models import OrgRow, RecordRow, UserRow
from node.index.queries import org_dict, user_dict
from node.store.storage import BlockStore
from wire.records import SCAN_PREFIXES, project, same_row

SHOWN_MAX = 20
CHUNK = 1000


@dataclass(slots=True)
class IndexReport:
    height: int
    index_height: int
    rows: int = 0
    missing: int = 0
    extra: int = 0
    differ: int = 0
    examples: list[str] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)  # every key found wrong (to repair)
    rebuilt: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.differ) and self.height == self.index_height

    def note(self, kind: str, key: str) -> None:
        if len(self.examples) < SHOWN_MAX:
            self.examples.append(f"{kind}: {key[:120]}")
        self.keys.append(key.encode("utf-8"))


def _state_rows(snap: BlockStore, height: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for prefix in SCAN_PREFIXES:
        start = prefix.encode()
        for key, raw in snap.state_scan(start, start[:-1] + bytes((start[-1] + 1,))):
            text = key.decode("utf-8", "replace")
            p = project(text, raw, height)
            if p is not None:
                yield text, p.row


def _index_rows_for(db: IndexDb, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The index's rows of these state keys, by state key."""
    orgs = [k[4:] for k in keys if k.startswith("org/")]
    users = [k[5:] for k in keys if k.startswith("user/")]
    records = [k for k in keys if not k.startswith(("org/", "user/"))]
    out: dict[str, dict[str, Any]] = {}
    with Session(db.engine) as s:
        if orgs:
            for o in s.exec(select(OrgRow).where(col(OrgRow.org_id).in_(orgs))).all():
                out[f"org/{o.org_id}"] = org_dict(o)
        if users:
            for u in s.exec(select(UserRow).where(col(UserRow.pubkey).in_(users))).all():
                out[f"user/{u.pubkey}"] = user_dict(u)
        if records:
            for r in s.exec(select(RecordRow).where(col(RecordRow.state_key).in_(records))).all():
                out[r.state_key] = r.model_dump()
    return out


def _index_keys(db: IndexDb) -> Iterator[str]:
    """Every state key the index has a row for (in no particular order)."""
    tables: list[tuple[Any, Any, Callable[[Any], str]]] = [
        (OrgRow, OrgRow.org_id, lambda v: f"org/{v}"),
        (UserRow, UserRow.pubkey, lambda v: f"user/{v}"),
        (RecordRow, RecordRow.state_key, lambda v: str(v)),
    ]
    for _, column, shape in tables:
        offset = 0
        while True:
            with Session(db.engine) as s:
                values = list(s.exec(select(column).order_by(col(column)).offset(offset).limit(CHUNK)).all())
            if not values:
                break
            yield from (shape(v) for v in values)
            offset += len(values)


def verify_index(snap: BlockStore, db: IndexDb) -> IndexReport:
    """Compare the whole index with the state of `snap`."""
    height = snap.height
    report = IndexReport(height=height, index_height=db.height)
    chunk: list[tuple[str, dict[str, Any]]] = []

    def flush() -> None:
        found = _index_rows_for(db, [k for k, _ in chunk])
        for key, want in chunk:
            got = found.get(key)
            if got is None:
                report.missing += 1
                report.note("missing from the index", key)
            else:
                report.rows += 1
                if not same_row(want, got):
                    report.differ += 1
                    report.note("differs from the state", key)
        chunk.clear()

    for item in _state_rows(snap, height):
        chunk.append(item)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    for key in _index_keys(db):
        raw = snap.state_get(key.encode("utf-8"))
        if raw is None or project(key, raw, height) is None:
            report.extra += 1
            report.note("in the index, not in the state", key)
    return report


def repair_index(snap: BlockStore, db: IndexDb, report: IndexReport, genesis_hash: bytes) -> None:
    """Fix what `report` found, from the same snapshot."""
    if report.height != report.index_height or not db.bound_to(genesis_hash):
        db.rebuild(snap, report.height, genesis_hash)
        report.rebuilt = True
        return
    for start in range(0, len(report.keys), CHUNK):
        db.apply(snap, report.keys[start : start + CHUNK], report.height, genesis_hash)
