"""The read API's queries over the index: filters, org-subtree scope and keyset pagination.

Rules:

- Every query runs in one read snapshot and returns the `indexed_height` of that snapshot with
  its rows, so a page is exactly the ledger state at that height.
- `scope` is the caller's subtree root: only rows whose org (or, for transfers, either org) lies
  in that subtree are returned. None means the caller was already checked against a parent
  record (sub-collections such as a pipeline's steps).
- Pages are ordered by record id and continue after the last id of the previous page
  (`after`); `limit` rows at most, and `more` says whether another page exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from node.index.db import K_HEIGHT, IndexDb
from node.index.models import IndexMeta, OrgRow, PersonLink, RecordRow, UserRow

HISTORY_MAX = 2000
TWO_SIDED = ("transfer",)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFilter:
    family: str
    scope: str | None
    org_id: str | None = None
    subtree: bool = True
    person_key: str | None = None
    status: str | None = None
    kind: str | None = None
    colour: str | None = None
    day_from: str | None = None
    day_to: str | None = None
    parent_id: str | None = None
    after: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    height: int
    more: bool


def in_subtree(column: Any, org: str) -> ColumnElement[bool]:
    if org == "":
        return column.is_not(None)  # type: ignore[no-any-return]
    return or_(column == org, column.startswith(org + ".", autoescape=True))


def _height(s: Session) -> int:
    row = s.get(IndexMeta, K_HEIGHT)
    return int(row.value) if row is not None and row.value.isdigit() else -1


def _org_clause(family: str, org: str, subtree: bool) -> ColumnElement[bool]:
    def one(column: Any) -> ColumnElement[bool]:
        return in_subtree(column, org) if subtree else column == org

    if family in TWO_SIDED:
        return or_(one(col(RecordRow.org_id)), one(col(RecordRow.other_org_id)))
    return one(col(RecordRow.org_id))


def record_dict(r: RecordRow) -> dict[str, Any]:
    return {
        "state_key": r.state_key,
        "family": r.family,
        "rid": r.rid,
        "parent_id": r.parent_id,
        "org_id": r.org_id,
        "other_org_id": r.other_org_id,
        "person_key": r.person_key,
        "status": r.status,
        "kind": r.kind,
        "colour": r.colour,
        "day": r.day,
        "body": r.body,
        "value_hash": r.value_hash,
        "updated_height": r.updated_height,
    }


def list_records(db: IndexDb, f: RecordFilter) -> Page:
    conds: list[ColumnElement[bool]] = [col(RecordRow.family) == f.family]
    if f.scope is not None:
        conds.append(_org_clause(f.family, f.scope, True))
    if f.org_id is not None:
        conds.append(_org_clause(f.family, f.org_id, f.subtree))
    for column, value in (
        (RecordRow.person_key, f.person_key),
        (RecordRow.status, f.status),
        (RecordRow.kind, f.kind),
        (RecordRow.colour, f.colour),
        (RecordRow.parent_id, f.parent_id),
    ):
        if value is not None:
            conds.append(col(column) == value)
    if f.day_from is not None:
        conds.append(col(RecordRow.day) >= f.day_from)
    if f.day_to is not None:
        conds.append(col(RecordRow.day) <= f.day_to)
    if f.after is not None:
        conds.append(col(RecordRow.rid) > f.after)
    query = select(RecordRow).where(and_(*conds)).order_by(col(RecordRow.rid)).limit(f.limit + 1)
    with db.read() as s:
        height = _height(s)
        rows = [record_dict(r) for r in s.exec(query).all()]
    return Page(rows[: f.limit], height, len(rows) > f.limit)


def history(db: IndexDb, person_key: str, scope: str) -> tuple[list[dict[str, Any]], int, bool]:
    """Every record naming `person_key` that the scope may see, ordered by family and id.

    A pipeline's steps and a transfer's receipt records are visible with their parent, even when
    another org (a county committee, the receiving branch) wrote them."""
    linked = select(PersonLink.state_key).where(col(PersonLink.person_key) == person_key)
    query = (
        select(RecordRow)
        .where(col(RecordRow.state_key).in_(linked))
        .order_by(col(RecordRow.family), col(RecordRow.rid))
        .limit(HISTORY_MAX + 1)
    )
    with db.read() as s:
        height = _height(s)
        rows = [record_dict(r) for r in s.exec(query).all()]
    truncated = len(rows) > HISTORY_MAX
    rows = rows[:HISTORY_MAX]

    def mine(org: str | None) -> bool:
        return org is not None and (scope == "" or org == scope or org.startswith(scope + "."))

    visible = {
        (r["family"], r["rid"])
        for r in rows
        if mine(r["org_id"]) or (r["family"] in TWO_SIDED and mine(r["other_org_id"]))
    }
    parents = {"pipeline_step": "pipeline", "transfer_in": "transfer"}
    out = [
        r
        for r in rows
        if (r["family"], r["rid"]) in visible
        or (r["family"] in parents and (parents[r["family"]], r["parent_id"]) in visible)
    ]
    return out, height, truncated


def org_dict(r: OrgRow) -> dict[str, Any]:
    return {
        "org_id": r.org_id,
        "parent": r.parent,
        "level": r.level,
        "name": r.name,
        "depth": r.depth,
        "body": r.body,
        "value_hash": r.value_hash,
        "updated_height": r.updated_height,
    }


def list_orgs(db: IndexDb, *, scope: str, root: str, subtree: bool, after: str | None, limit: int) -> Page:
    conds: list[ColumnElement[bool]] = [in_subtree(col(OrgRow.org_id), scope)]
    conds.append(in_subtree(col(OrgRow.org_id), root) if subtree else col(OrgRow.parent) == root)
    if after is not None:
        conds.append(col(OrgRow.org_id) > after)
    query = select(OrgRow).where(and_(*conds)).order_by(col(OrgRow.org_id)).limit(limit + 1)
    with db.read() as s:
        height = _height(s)
        rows = [org_dict(r) for r in s.exec(query).all()]
    return Page(rows[:limit], height, len(rows) > limit)


def user_dict(r: UserRow) -> dict[str, Any]:
    return {
        "pubkey": r.pubkey,
        "user_id": r.user_id,
        "org_id": r.org_id,
        "status": r.status,
        "roles": r.roles,  # " admin operator ": as projected (rendered as a list by the API)
        "body": r.body,
        "value_hash": r.value_hash,
        "updated_height": r.updated_height,
    }


def list_users(
    db: IndexDb,
    *,
    scope: str,
    org_id: str | None,
    subtree: bool,
    status: str | None,
    role: str | None,
    after: str | None,
    limit: int,
) -> Page:
    conds: list[ColumnElement[bool]] = [in_subtree(col(UserRow.org_id), scope)]
    if org_id is not None:
        conds.append(in_subtree(col(UserRow.org_id), org_id) if subtree else col(UserRow.org_id) == org_id)
    if status is not None:
        conds.append(col(UserRow.status) == status)
    if role is not None:
        conds.append(
            col(UserRow.roles).contains(f" {role} ", autoescape=True) if role.isidentifier() else false()
        )
    if after is not None:
        conds.append(col(UserRow.pubkey) > after)
    query = select(UserRow).where(and_(*conds)).order_by(col(UserRow.pubkey)).limit(limit + 1)
    with db.read() as s:
        height = _height(s)
        rows = [user_dict(r) for r in s.exec(query).all()]
    return Page(rows[:limit], height, len(rows) > limit)


def children(
    db: IndexDb, family: str, parent_id: str, child: str, after: str | None, limit: int
) -> tuple[dict[str, Any] | None, Page]:
    """A head record and one page of its sub-collection (versions, steps, ...) from one snapshot."""
    head = select(RecordRow).where(col(RecordRow.family) == family, col(RecordRow.rid) == parent_id)
    conds = [col(RecordRow.family) == child, col(RecordRow.parent_id) == parent_id]
    if after is not None:
        conds.append(col(RecordRow.rid) > after)
    query = select(RecordRow).where(and_(*conds)).order_by(col(RecordRow.rid)).limit(limit + 1)
    with db.read() as s:
        height = _height(s)
        parent = s.exec(head).first()
        parent_row = None if parent is None else record_dict(parent)
        rows = [record_dict(r) for r in s.exec(query).all()] if parent is not None else []
    return parent_row, Page(rows[:limit], height, len(rows) > limit)
