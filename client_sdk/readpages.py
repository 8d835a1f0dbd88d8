"""What a read asks and what its verified answer must be: list queries, page cursors, and the
checks of pages, histories and single reads against their proofs (`client_sdk.readproofs`).
Pure: no IO.

Rules:

- A list is **provably complete** when the state's key layout orders it: the unfiltered archives
  and alerts of an org or a subtree (`wire.families.ORG_INDEXED`), listed by the state index
  `idx/<family>/<org>/<id>`. The client computes the index range itself from what it asked
  (`org_index_range` of `org_id` and `subtree`; without `org_id`, of the caller's scope, learnt
  once from the caller's own proven user record) and accepts the page only when the proof's one
  range is exactly [lo, end): lo is the range start, or the previous cursor's key + 0x00; end is
  the range end on the last page, else the key `next_cursor` names + 0x00, and that key is the
  page's last index key. The items must be exactly the records those index keys point at, in
  index-key order, each of the org its index key names.
- Every other list (filtered lists, children, orgs, users, member histories) is proven item by
  item (`complete` False): each item's value against the proof, the item rebuilt from the proven
  bytes, and it must be what was asked: its family, its parent (children), every filter sent
  (org and subtree, status, type, person key, colour, dates; a transfer matches by either org),
  without `org_id` the caller's subtree (records, orgs, users), the person (histories), the
  root (orgs), org, status and role (users). An item of a hash-only caller is checked for what
  its key proves (family, parent).
- Cursors are the node's (base64url JSON, no padding, `{"v": 1, "f": family, "a": after}`); the
  client reads only those of provable lists and refuses to send one outside the list's range.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

from client_sdk.errors import VerificationError
from client_sdk.models import History, Page, Record
from client_sdk.readproofs import (
    ProvenState,
    hostile,
    org_item,
    record_item,
    user_item,
    want_dict,
    want_list,
)
from wire.families import (
    BY_FAMILY,
    BY_PATH,
    CHILDREN,
    ORG_INDEXED,
    org_index_range,
    record_key_of_index,
)
from wire.families import seg as key_seg

LIMIT_MAX = 500
HISTORY_MAX = 2000


def seg(value: str) -> str:
    """One URL path segment, percent-encoded (`/` in record ids becomes %2F)."""
    return quote(value, safe="")


def family_name(family: str) -> str:
    """The family of a family name or its API path (`archives` -> archive)."""
    if family in BY_FAMILY:
        return family
    if family in BY_PATH:
        return BY_PATH[family].family
    raise ValueError(f"unknown record family {family!r} (one of {', '.join(BY_FAMILY)})")


def record_path(family: str, record_id: str) -> str:
    return f"/v1/{BY_FAMILY[family_name(family)].path}/{seg(record_id)}"


def record_key(family: str, record_id: str) -> str:
    """The state key of a record (what its proof must cover)."""
    return f"{BY_FAMILY[family_name(family)].key_prefix}/{key_seg(record_id)}"


# ------------------------------------------------------------------------------------ cursors
def encode_cursor(family: str, after: str) -> str:
    raw = json.dumps({"v": 1, "f": family, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_key(cursor: str, family: str) -> str | None:
    """The key a cursor continues after, None when it is not a cursor of `family`."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if (
        isinstance(doc, dict)
        and doc.get("v") == 1
        and doc.get("f") == family
        and isinstance(doc.get("a"), str)
    ):
        return str(doc["a"])
    return None


# ------------------------------------------------------------------------------------ queries
@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """A list request: the path, the filters sent, and so what its answer must hold."""

    path: str
    what: str  # record | org | user
    family: str  # the record (or child) family; org; user
    org_id: str | None = None
    subtree: bool | None = None
    status: str | None = None
    type: str | None = None
    person_key: str | None = None
    colour: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    parent_id: str | None = None  # children of this record
    root: str | None = None  # orgs under this org
    role: str | None = None  # users with this role

    def params(self) -> dict[str, Any]:
        """The query parameters this list sends (besides cursor, limit, min_height, proof)."""
        skip = {"path", "what", "family", "parent_id"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    @property
    def provable(self) -> bool:
        """The node proves this list complete (see the module rules)."""
        filters = (self.status, self.type, self.person_key, self.colour, self.date_from, self.date_to)
        return (
            self.what == "record"
            and self.parent_id is None
            and self.family in ORG_INDEXED
            and all(f is None for f in filters)
        )

    def index_range(self, scope: str | None) -> tuple[bytes, bytes]:
        """[lo, hi) of the org index this list covers (`scope`: the caller's, "" = the whole tree)."""
        org = self.org_id if self.org_id is not None else scope
        if org is None:
            raise ValueError("the caller's scope is needed for a list without org_id")
        return org_index_range(self.family, org, self.subtree is not False)


def records_query(family: str, **filters: Any) -> ListQuery:
    name = family_name(family)
    return ListQuery(path=f"/v1/{BY_FAMILY[name].path}", what="record", family=name, **filters)


def children_query(child: str, parent_id: str) -> ListQuery:
    if child not in CHILDREN:
        raise ValueError(f"unknown child family {child!r} (one of {', '.join(CHILDREN)})")
    parent, c = CHILDREN[child]
    path = f"/v1/{parent.path}/{seg(parent_id)}/{c.sub_path}"
    return ListQuery(path=path, what="record", family=child, parent_id=parent_id.rstrip("/"))


def orgs_query(root: str | None, subtree: bool) -> ListQuery:
    return ListQuery(path="/v1/orgs", what="org", family="org", root=root, subtree=subtree)


def users_query(**filters: Any) -> ListQuery:
    return ListQuery(path="/v1/users", what="user", family="user", **filters)


def start_after(q: ListQuery, cursor: str | None, scope: str | None) -> bytes | None:
    """The index key a provable list continues after (None: from the start); ValueError for a
    cursor that is not one of this list."""
    if cursor is None or not q.provable:
        return None
    after = cursor_key(cursor, q.family)
    lo, hi = q.index_range(scope)
    if after is None or not lo <= after.encode("utf-8") < hi:
        raise ValueError("the cursor is not one of this list (pass the next_cursor of its previous page)")
    return after.encode("utf-8")


# ------------------------------------------------------------------------------------ filters
def _in_org(org: str | None, want: str, subtree: bool) -> bool:
    if org is None:
        return False
    return org == want or (subtree and (want == "" or org.startswith(want + ".")))


def _mismatch(q: ListQuery, r: Record, scope: str | None) -> str | None:
    """Which part of the query `r` fails (None: it is what was asked). `scope`: the caller's
    subtree, which a list without `org_id` covers."""
    if r.family != q.family:
        return f"family {r.family}"
    if q.parent_id is not None and r.parent_id != q.parent_id:
        return "parent"
    if r.record is None:
        return None  # hash-only: the key proves family and parent, nothing else
    sides = [r.org_id, r.other_org_id] if r.family == "transfer" else [r.org_id]
    if q.org_id is not None and not any(_in_org(s, q.org_id, q.subtree is not False) for s in sides):
        return "org_id"
    if q.org_id is None and scope is not None and not any(_in_org(s, scope, True) for s in sides):
        return "outside the caller's subtree"
    for name, want in (
        ("person_key", q.person_key),
        ("status", q.status),
        ("kind", q.type),
        ("colour", q.colour),
    ):
        if want is not None and getattr(r, name) != want:
            return name
    if q.date_from is not None and (r.day is None or r.day < q.date_from):
        return "date_from"
    if q.date_to is not None and (r.day is None or r.day > q.date_to):
        return "date_to"
    return None


def _entity_mismatch(q: ListQuery, item: dict[str, Any], scope: str | None) -> str | None:
    sub = q.subtree is not False
    if scope is not None and not _in_org(item["org_id"], scope, True):
        return "outside the caller's subtree"
    if q.what == "org" and q.root is not None:
        ok = _in_org(item["org_id"], q.root, True) if sub else item["parent"] == q.root
        return None if ok else "root"
    if q.what == "user":
        if q.org_id is not None and not _in_org(item["org_id"], q.org_id, sub):
            return "org_id"
        if q.status is not None and item["status"] != q.status:
            return "status"
        if q.role is not None and q.role not in item["roles"]:
            return "role"
    return None


# ------------------------------------------------------------------------------------ answers
def verify_record(state: ProvenState, doc: Any, family: str, record_id: str) -> Record:
    """A single read: the item is the record of `record_id`, proven."""
    name = family_name(family)
    with hostile("the record answer"):
        rec = record_item(state, want_dict(doc, "the answer")["item"], record_key(name, record_id))
    if rec.family != name:
        raise VerificationError(f"the node served a {rec.family} for a {name}")
    return rec


def verify_page(
    state: ProvenState, doc: Any, q: ListQuery, *, after: bytes | None, limit: int, scope: str | None
) -> Page:
    """A page of list `q` (`after`: the index key the request continued after)."""
    with hostile("the page"):
        doc = want_dict(doc, "the page")
        items = want_list(doc["items"], "the page's items", limit)
        nxt = doc.get("next_cursor")
        if nxt is not None and not isinstance(nxt, str):
            raise VerificationError("next_cursor is not a string")
        if q.provable:
            return _complete_page(state, items, nxt, q, after, scope)
        out: list[Any] = []
        seen: set[str] = set()
        for item in items:
            if q.what == "record":
                rec = record_item(state, item)
                why, key = _mismatch(q, rec, scope), rec.state_key
                out.append(rec)
            else:
                entity = (org_item if q.what == "org" else user_item)(state, item)
                why, key = (
                    _entity_mismatch(q, entity, scope),
                    str(entity["org_id" if q.what == "org" else "pubkey"]),
                )
                out.append(entity)
            if why is not None:
                raise VerificationError(f"the node served {key[:80]}, which is not what was asked ({why})")
            if key in seen:
                raise VerificationError(f"the node served {key[:80]} twice in one page")
            seen.add(key)
        return Page(out, state.reflects, nxt, complete=False, proven_height=state.height)


def _complete_page(
    state: ProvenState,
    items: list[Any],
    nxt: str | None,
    q: ListQuery,
    after: bytes | None,
    scope: str | None,
) -> Page:
    lo, hi = q.index_range(scope)
    if after is not None:
        lo = after + b"\x00"
    end = hi
    last: bytes | None = None
    if nxt is not None:
        key = cursor_key(nxt, q.family)
        if key is None:
            raise VerificationError("next_cursor is not a cursor of this list")
        last = key.encode("utf-8")
        end = last + b"\x00"
    if state.ranges != ((lo, end),):
        raise VerificationError(
            "the proven range is not the one asked for: the page may leave out records "
            f"(asked [{lo!r}, {end!r}), proven {list(state.ranges)!r})"
        )
    entries = state.entries(lo, end)
    if len(entries) != len(items):
        raise VerificationError(
            f"the org index holds {len(entries)} entries in the page's range, the node served {len(items)}"
        )
    if last is not None and (not entries or entries[-1][0] != last):
        raise VerificationError("next_cursor does not name the page's last index entry")
    base = f"idx/{q.family}/".encode()
    out: list[Any] = []
    for (index_key, _), item in zip(entries, items, strict=True):
        org = index_key[len(base) :].partition(b"/")[0].decode("utf-8")
        rec = record_item(state, item, record_key_of_index(q.family, index_key).decode("utf-8"), org)
        if rec.family != q.family or rec.org_id != org:
            raise VerificationError(
                f"{rec.state_key[:80]} is not a {q.family} of {org}, as its index entry says"
            )
        out.append(rec)
    return Page(out, state.reflects, nxt, complete=True, proven_height=state.height)


def verify_history(state: ProvenState, doc: Any, person_key: str) -> History:
    """A member history: every item proven and naming the person."""
    with hostile("the history"):
        doc = want_dict(doc, "the history")
        out: list[Record] = []
        seen: set[str] = set()
        for item in want_list(doc["items"], "the history's items", HISTORY_MAX):
            rec = record_item(state, item)
            if rec.record is not None and person_key not in rec.persons:
                raise VerificationError(f"{rec.state_key[:80]} does not name the person")
            if rec.state_key in seen:
                raise VerificationError(f"the node served {rec.state_key[:80]} twice")
            seen.add(rec.state_key)
            out.append(rec)
        return History(
            person_key=person_key,
            height=state.reflects,
            items=out,
            truncated=doc["truncated"] is True,
            proven_height=state.height,
        )


def verify_entity(state: ProvenState, doc: Any, what: str, ident: str) -> dict[str, Any]:
    """A single org or user read, proven."""
    check: Callable[..., dict[str, Any]] = org_item if what == "org" else user_item
    with hostile(f"the {what} answer"):
        return check(state, want_dict(doc, "the answer")["item"], ident)


__all__ = [
    "ListQuery",
    "children_query",
    "cursor_key",
    "encode_cursor",
    "family_name",
    "orgs_query",
    "record_key",
    "record_path",
    "records_query",
    "seg",
    "start_after",
    "users_query",
    "verify_entity",
    "verify_history",
    "verify_page",
    "verify_record",
]
