"""From a state entry to its record view: the pure projection the read index stores (live and on
rebuild), the API serves and the SDK recomputes from a proven value (so it trusts no rendering).

Rules:

- `classify(key)` says which table and family a state key feeds, or None for keys the index
  does not keep (`cfg/`, `idx/`, `hash/`, `person/`, `post/`, `due/`, `alertkey/`, `tx/`, ...).
- `project(key, value, height)` turns one entry into at most one org, user or record row plus
  its person links; the same entry always gives the same rows (rebuild equals the live index).
- Ids in keys are `seg`-escaped (`wire.families.seg`); rows carry the unescaped ids.

What the generic `ol_record` columns hold per family (docs/api.md repeats this for clients):

| family | rid | org_id / other_org_id | person_key | status | kind | day |
|---|---|---|---|---|---|---|
| archive | person key | owning org | person key | member status | - | status_since |
| archive_version | `<pk>/v/<n>` | owning org | person key | member status | change kind | registered_at |
| material, material_version | doc id (`/v/<n>`) | registering org | - | - | doc_type | doc_date |
| pipeline | pipeline id | pipeline org | person key | OPEN/COMPLETED/... | last step | S01 date |
| pipeline_step | `<id>/ev/<seq>` | acting org | person key | result | step | event_date |
| transfer | transfer id | from org / to org | person key | state | reason | issue_date |
| transfer_in | `<id>/in/<seq>` | receiving org | person key | ACCEPTED/REFUSED | - | report_date |
| meeting, meeting_version | meeting id (`/v/<n>`) | org | - | - | meeting_type | start date (CST) |
| decision, decision_version | decision id (`/v/<n>`) | org | principal | result | category | effective_date |
| alert | alert id | org | - | OPEN/... | rule id | raised_date |
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack

from wire.crypto import sha256
from wire.families import FAMILIES as RECORD_FAMILIES
from wire.families import unseg
from wire.hexid import is_hex_id

# state key prefix -> family, and (state key prefix, sub-collection) -> child family (wire/families.py)
FAMILIES = {f.key_prefix: f.family for f in RECORD_FAMILIES}
CHILDREN = {(f.key_prefix, c.key_part): c.family for f in RECORD_FAMILIES for c in f.children}
# the state key prefixes a full rebuild scans
SCAN_PREFIXES = ("org/", "user/", *(f"{p}/" for p in FAMILIES))
_CST = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Target:
    table: str  # org | user | record
    family: str
    rid: str
    parent_id: str | None = None


@dataclass(slots=True)
class Projection:
    table: str
    row: dict[str, Any]
    persons: list[str] = field(default_factory=list)


def classify(key: str) -> Target | None:
    parts = key.split("/")
    head = parts[0]
    if len(parts) == 2 and parts[1]:
        if head == "org":
            return Target("org", "org", parts[1])
        if head == "user":
            return Target("user", "user", parts[1])
        if head in FAMILIES:
            return Target("record", FAMILIES[head], unseg(parts[1]))
        return None
    if len(parts) == 4 and (head, parts[2]) in CHILDREN and parts[1] and parts[3].isdigit():
        parent = unseg(parts[1])
        return Target("record", CHILDREN[(head, parts[2])], f"{parent}/{parts[2]}/{parts[3]}", parent)
    return None


def _hex_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def decode_value(raw: bytes) -> dict[str, Any] | None:
    """A stored record as a dict (None when it is not a record).

    The bytes come from this node's own store (checksummed, canonical when written), so they are
    unpacked without the wire codec's canonical re-encoding check, which would double the cost of
    indexing. Bytes values stay bytes; `body_json` renders them as hex."""
    try:
        value = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def body_json(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_hex_default)


def _s(value: Any, limit: int = 64) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _day_of_ms(value: Any) -> str | None:
    if type(value) is not int:
        return None
    try:
        return (datetime.fromtimestamp(value / 1000, UTC) + _CST).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _persons(*values: Any) -> list[str]:
    out: set[str] = set()
    for v in values:
        items = v if isinstance(v, list) else [v]
        for item in items:
            if isinstance(item, dict):
                item = item.get("person_key")
            if is_hex_id(item):
                out.add(item)
    return sorted(out)


def project(key: str, raw: bytes, height: int) -> Projection | None:
    """The rows for state entry (`key`, `raw`), or None when the index keeps nothing for it."""
    target = classify(key)
    if target is None:
        return None
    r = decode_value(raw)
    if r is None:
        return None
    common = {"body": body_json(r), "value_hash": sha256(raw).hex(), "updated_height": height}
    if target.table == "org":
        org_id = target.rid
        return Projection(
            "org",
            {
                "org_id": org_id,
                "parent": _s(r.get("parent"), 200),
                "level": _s(r.get("level"), 16) or "",
                "name": str(r.get("name", "")),
                "depth": org_id.count(".") + 1,
                **common,
            },
        )
    if target.table == "user":
        roles = [x for x in r.get("roles", []) if isinstance(x, str)]
        return Projection(
            "user",
            {
                "pubkey": target.rid,
                "user_id": str(r.get("user_id", ""))[:200],
                "org_id": str(r.get("org_id", ""))[:200],
                "status": str(r.get("status", ""))[:16],
                "roles": " " + " ".join(sorted(roles)) + " ",
                **common,
            },
        )
    row: dict[str, Any] = {
        "state_key": key,
        "family": target.family,
        "rid": target.rid,
        "parent_id": target.parent_id,
        "org_id": str(r.get("org_id") or "")[:200],
        "other_org_id": None,
        "person_key": _s(r.get("person_key")),
        "status": None,
        "kind": None,
        "colour": None,
        "day": None,
        **common,
    }
    persons: list[str] = []
    fam = target.family
    if fam in ("archive", "archive_version"):
        row["status"] = _s(r.get("status"))
        change = _d(r.get("change"))
        if fam == "archive_version":
            row["kind"] = _s(change.get("kind"))
            row["day"] = _s(change.get("registered_at"), 10)
        else:
            row["day"] = _s(r.get("status_since"), 10)
        persons = _persons(r.get("person_key"))
    elif fam in ("material", "material_version"):
        row["kind"] = _s(r.get("doc_type"))
        row["day"] = _s(r.get("doc_date"), 10)
        persons = _persons(r.get("subject_keys"), r.get("signer_keys"))
    elif fam == "pipeline":
        steps = _d(r.get("steps"))
        row["status"] = _s(r.get("status"))
        row["kind"] = max(steps) if steps else None
        row["day"] = _s(steps.get("S01"), 10)
        persons = _persons(r.get("person_key"))
    elif fam == "pipeline_step":
        row["status"] = _s(r.get("result"))
        row["kind"] = _s(r.get("step")) or _s(r.get("kind"))
        row["day"] = _s(r.get("event_date"), 10)
        persons = _persons(r.get("person_key"))
    elif fam == "transfer":
        row["other_org_id"] = _s(r.get("to_org_id"), 200)
        row["status"] = _s(r.get("state"))
        row["kind"] = _s(r.get("reason"))
        row["day"] = _s(r.get("issue_date"), 10)
        persons = _persons(r.get("person_key"))
    elif fam == "transfer_in":
        row["org_id"] = str(r.get("to_org_id") or "")[:200]
        row["status"] = "ACCEPTED" if r.get("accepted") else "REFUSED"
        row["day"] = _s(r.get("report_date"), 10)
        persons = _persons(r.get("person_key"))
    elif fam in ("meeting", "meeting_version"):
        row["kind"] = _s(r.get("meeting_type"))
        row["day"] = _day_of_ms(r.get("start"))
        persons = _persons(
            r.get("attendance"),
            r.get("expected_keys"),
            r.get("entitled_voter_keys"),
            r.get("host_key"),
            r.get("recorder_key"),
        )
    elif fam in ("decision", "decision_version"):
        row["person_key"] = _s(r.get("principal_key"))
        row["status"] = _s(r.get("result"))
        row["kind"] = _s(r.get("category"))
        row["day"] = _s(r.get("effective_date"), 10)
        persons = _persons(
            r.get("members_entitled"), r.get("members_present"), r.get("principal_key"), r.get("votes")
        )
    elif fam == "alert":
        row["status"] = _s(r.get("status"))
        row["kind"] = _s(r.get("rule_id"))
        row["colour"] = _s(r.get("colour"), 16)
        row["day"] = _s(r.get("raised_date"), 10)
        persons = _persons(r.get("subject_keys"))
    return Projection("record", row, persons)


def same_row(projected: dict[str, Any], row: dict[str, Any]) -> bool:
    """A stored row says what the projection of the state says, field by field (all but the
    height the row was written at)."""
    return all(row.get(k) == v for k, v in projected.items() if k != "updated_height")


def org_view(row: dict[str, Any]) -> dict[str, Any]:
    """An org index row as the read API serves it (and the SDK rebuilds it from proven bytes)."""
    return {
        "org_id": row["org_id"],
        "parent": row["parent"],
        "level": row["level"],
        "name": row["name"],
        "depth": row["depth"],
        "value_hash": row["value_hash"],
        "record": json.loads(row["body"]),
    }


def user_view(row: dict[str, Any]) -> dict[str, Any]:
    """A user index row as the read API serves it; `roles` is a list, or the index's
    space-separated column."""
    roles = row["roles"] if isinstance(row["roles"], list) else str(row["roles"]).split()
    return {
        "pubkey": row["pubkey"],
        "user_id": row["user_id"],
        "org_id": row["org_id"],
        "status": row["status"],
        "roles": roles,
        "value_hash": row["value_hash"],
        "record": json.loads(row["body"]),
    }
