"""Shared record vocabulary and the readers/writers several families and rules use.

Rules:

- Enumerations are the DOMAIN.md section A vocabularies, spelled exactly as there.
- A member archive is one head record `archive/<person_key>` (the current derived state, with its
  `version`) plus an immutable snapshot `archive/<person_key>/v/<version>` per change, each naming
  the transaction and kind of change: amendments and events never overwrite history.
- A pipeline (one attempt to join) is a head `pipeline/<id>` plus immutable events
  `pipeline/<id>/ev/<seq>`; a pipeline handed to another unit under a new id keeps a link
  (`predecessor` / `successor`), and the chain counts as one pipeline for ordering (JOIN-24).
  After approval a pipeline follows its member's organisational relationship: an accepted
  transfer-in moves it (`follow_relationship`, a TRANSFER event) and `moved_from` remembers the
  branches it left (`moved_away_from`, XFER-04).
- Memberships of a branch are intervals `[joined_on, left_on)` on the archive; at most one is open.
- `idx/member/<org>/<person_key>` lists the members (PROBATIONARY, FULL, SUSPENDED) whose
  relationship an org holds now, with their status and voting rights; `write_archive` keeps it in
  step with the archive head, so a branch's roster is one prefix scan (MTG-06, JOIN-03/26).
  `idx/roster/<org>/<person_key>` lists everyone whose relationship the org ever held (never
  deleted), so the roster on a meeting's date is read from the archives' membership intervals
  (`members_on`: MTG-07/09, JOIN-14/21), whenever the minutes are recorded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts import keys
from contracts.base import TxCtx
from contracts.calendar import parse_date
from contracts.errors import TxRejected
from contracts.state import View
from wire.genesis import is_ancestor_or_self

STATUSES = (
    "NONE",
    "APPLICANT",
    "ACTIVIST",
    "DEV_TARGET",
    "PENDING_APPROVAL",
    "PROBATIONARY",
    "FULL",
    "SUSPENDED",
    "EXPELLED",
    "REMOVED",
    "WITHDRAWN",
    "CANCELLED_PROBATION",
    "DECEASED",
)
MEMBER_STATUSES = ("PROBATIONARY", "FULL", "SUSPENDED")
REL_STATES = ("NORMAL", "IN_TRANSIT", "LOST_CONTACT", "ABROAD_KEPT")
STANDINGS = (
    "NORMAL",
    "WARNING",
    "SERIOUS_WARNING",
    "REMOVED_FROM_POST",
    "PROBATION_WITHIN_PARTY",
)
GENDERS = ("MALE", "FEMALE", "OTHER")
DOC_TYPES = (
    "APPLICATION",
    "TALK_RECORD",
    "THOUGHT_REPORT",
    "ACTIVIST_REG",
    "ASSESSMENT",
    "RECOMMENDATION",
    "POLITICAL_REVIEW",
    "EXTERNAL_INQUIRY",
    "TRAINING_CERT",
    "PUBLIC_NOTICE",
    "VOLUNTEER_BOOK",
    "CONVERSION_APPLICATION",
    "TRANSFER_LETTER",
    "MINUTES",
    "DECISION_MINUTES",
    "OTHER",
)
STEPS = tuple(f"S{i:02d}" for i in range(1, 26))
# Steps written by a higher committee rather than the branch; the approvals among them need an
# approver of the nearest ancestor org with approval authority.
COMMITTEE_STEPS = ("S04", "S08", "S13", "S16", "S17", "S18", "S24")
APPROVAL_STEPS = ("S13", "S17", "S24")
REPEATABLE_STEPS = ("S06", "S21")
RESULTS = ("PASS", "FAIL", "EXTEND", "CANCEL", "N_A")


# ---------------------------------------------------------------------------------------- archive
def get_archive(view: View, person_key: str) -> dict[str, Any] | None:
    return view.get(keys.archive(person_key))


def require_archive(view: View, person_key: str) -> dict[str, Any]:
    rec = get_archive(view, person_key)
    if rec is None:
        raise TxRejected("no_archive", f"no member archive for person {person_key[:12]}…")
    return rec


def write_archive(view: View, rec: dict[str, Any], tx: TxCtx, change: str, note: Any = None) -> None:
    """Write the new head and an immutable snapshot of it (the archive's history), and keep the
    member index in step."""
    before = get_archive(view, rec["person_key"])
    old_org = None if before is None else _member_org(before)
    new_org = _member_org(rec)
    if old_org is not None and old_org != new_org:
        view.delete(keys.idx_member(old_org, rec["person_key"]))
    if new_org is not None:
        view.put(
            keys.idx_member(new_org, rec["person_key"]),
            {
                "person_key": rec["person_key"],
                "status": rec["status"],
                "voting_rights": bool(rec.get("voting_rights", False)),
                "party_standing": rec["party_standing"],
            },
        )
    owner_before = None if before is None else before.get("org_id")
    if owner_before is not None and owner_before != rec.get("org_id"):
        view.delete(keys.idx_archive(str(owner_before), rec["person_key"]))
    if rec.get("org_id") is not None and owner_before != rec.get("org_id"):
        view.put(keys.idx_archive(str(rec["org_id"]), rec["person_key"]), {"person_key": rec["person_key"]})
    for m in rec["memberships"]:
        roster = keys.idx_roster(m["org_id"], rec["person_key"])
        if not view.exists(roster):
            view.put(roster, {"person_key": rec["person_key"]})
    rec["version"] = int(rec.get("version", 0)) + 1
    rec["updated_height"] = tx.height
    view.put(keys.archive(rec["person_key"]), rec)
    snapshot = dict(rec)
    snapshot["change"] = {
        "kind": change,
        "tx_id": tx.tx_hex,
        "registered_at": tx.today.isoformat(),
        "note": note,
    }
    view.put(keys.archive_version(rec["person_key"], rec["version"]), snapshot)


def _member_org(archive: dict[str, Any]) -> str | None:
    org = archive.get("current_org_id")
    return str(org) if org is not None and archive["status"] in MEMBER_STATUSES else None


def org_members(view: View, org_id: str) -> list[dict[str, Any]]:
    """The members whose relationship `org_id` holds now (index entries, by person key)."""
    return [rec for _, rec in view.scan_prefix(keys.idx_member(org_id))]


def members_on(view: View, org_id: str, day: str) -> list[dict[str, Any]]:
    """The archives of the members whose relationship `org_id` held on `day` (from the org's
    roster of everyone it ever held, so people who left since are counted on their dates)."""
    on = parse_date(day)
    out = []
    for _, ref in view.scan_prefix(keys.idx_roster(org_id)):
        archive = get_archive(view, ref["person_key"])
        if archive is not None and membership_on(archive, on) == org_id:
            out.append(archive)
    return out


def full_member_count(view: View, org_id: str) -> int:
    return sum(1 for m in org_members(view, org_id) if m["status"] == "FULL")


def is_member_of(archive: dict[str, Any], org_id: str, day: str) -> bool:
    """The person's relationship was held by `org_id` or an org below it on `day`."""
    org = membership_on(archive, parse_date(day))
    return org is not None and (org == org_id or org.startswith(org_id + "."))


def birth_date_of(archive: dict[str, Any]) -> date:
    """The authoritative birth date: the earliest recorded value (ARC-03)."""
    return parse_date(archive["birth_date_first"])


def membership_on(archive: dict[str, Any], day: date) -> str | None:
    """The org holding the person's relationship on `day`, from the membership intervals."""
    text = day.isoformat()
    for m in archive["memberships"]:
        if m["joined_on"] <= text and (m["left_on"] is None or text < m["left_on"]):
            return str(m["org_id"])
    return None


def former_member_of(archive: dict[str, Any], org_id: str) -> dict[str, Any] | None:
    """The last closed membership of `org_id`, if the person left that org."""
    closed = [m for m in archive["memberships"] if m["org_id"] == org_id and m["left_on"] is not None]
    return closed[-1] if closed else None


def open_membership(archive: dict[str, Any], org_id: str, day: str) -> None:
    archive["memberships"].append({"org_id": org_id, "joined_on": day, "left_on": None})
    archive["current_org_id"] = org_id


def close_membership(archive: dict[str, Any], day: str) -> None:
    for m in archive["memberships"]:
        if m["left_on"] is None:
            m["left_on"] = max(day, m["joined_on"])
    archive["current_org_id"] = None


# -------------------------------------------------------------------------------------- pipelines
def get_pipeline(view: View, pipeline_id: str) -> dict[str, Any] | None:
    return view.get(keys.pipeline(pipeline_id))


def chain_steps(view: View, pipeline_id: str) -> dict[str, str]:
    """Step -> event date (first occurrence; last for repeatable steps) over the pipeline and its
    predecessors across pipeline transfers (later pipelines win)."""
    chain: list[dict[str, Any]] = []
    pid: str | None = pipeline_id
    while pid is not None and len(chain) < 16:
        rec = get_pipeline(view, pid)
        if rec is None:
            break
        chain.append(rec)
        pid = rec["predecessor"]
    out: dict[str, str] = {}
    for rec in reversed(chain):
        out.update(rec["steps"])
    return out


def chain_ids(view: View, pipeline_id: str) -> list[str]:
    """The pipeline and its predecessors and successors (linked by pipeline transfers)."""
    ids = [pipeline_id]
    rec = get_pipeline(view, pipeline_id)
    back = rec
    while back is not None and back["predecessor"] is not None and len(ids) < 16:
        ids.append(back["predecessor"])
        back = get_pipeline(view, back["predecessor"])
    fwd = rec
    while fwd is not None and fwd["successor"] is not None and len(ids) < 32:
        ids.append(fwd["successor"])
        fwd = get_pipeline(view, fwd["successor"])
    return sorted(ids)


def step_events(view: View, pipeline_id: str, step: str) -> list[dict[str, Any]]:
    """Every event of `step` in the pipeline chain, oldest first."""
    out: list[dict[str, Any]] = []
    for pid in chain_ids(view, pipeline_id):
        for _, ev in view.scan_prefix(keys.pipeline_events_prefix(pid)):
            if ev["kind"] == "STEP" and ev["step"] == step:
                out.append(ev)
    out.sort(key=lambda e: (e["event_date"], e["registered_height"], e["seq"]))
    return out


def person_pipelines(view: View, person_key: str) -> list[dict[str, Any]]:
    out = []
    for _, ref in view.scan_prefix(keys.person_pipeline(person_key)):
        rec = get_pipeline(view, ref["pipeline_id"])
        if rec is not None:
            out.append(rec)
    return out


def approval_citation(view: View, ref: str | None, person_key: str, item_id: str | None) -> str | None:
    """The index key (`idx/apprv/`) of what an approval step (S17/S24) cites: the meeting item
    named by `item_id`, else the one item whose subject is the person, or the decision record;
    None when it cites nothing identifiable (JOIN-16/22 refuse that)."""
    if ref is None:
        return None
    meeting = view.get(keys.meeting(ref))
    if meeting is None:
        return keys.idx_approval_item(ref, None) if view.exists(keys.decision(ref)) else None
    if item_id is None:
        mine = [i["item_id"] for i in meeting["items"] if i["subject_key"] == person_key]
        if len(mine) != 1:
            return None
        item_id = str(mine[0])
    return keys.idx_approval_item(ref, item_id)


def moved_away_from(pipeline: dict[str, Any], org_id: str) -> bool:
    """The pipeline followed its member's relationship (accepted transfer-in) away from `org_id`
    or an org below it, to an org outside it: that old branch or its county no longer writes it
    (XFER-04). A pipeline handed over before approval (an activist's) records no such move."""
    if is_ancestor_or_self(org_id, pipeline["org_id"]):
        return False
    return any(is_ancestor_or_self(org_id, old) for old in pipeline.get("moved_from", []))


def follow_relationship(view: View, tx: TxCtx, pipeline: dict[str, Any], to_org: str, **event: Any) -> None:
    """Move an open pipeline to `to_org`, where its member's relationship now is (a TRANSFER event
    and the move remembered in `moved_from`)."""
    pipeline["event_count"] += 1
    view.put(
        keys.pipeline_event(pipeline["pipeline_id"], pipeline["event_count"]),
        {
            "seq": pipeline["event_count"],
            "kind": "TRANSFER",
            "pipeline_id": pipeline["pipeline_id"],
            "person_key": pipeline["person_key"],
            "from_org_id": pipeline["org_id"],
            "to_org_id": to_org,
            **event,
            "tx_id": tx.tx_hex,
            "registered_at": tx.today.isoformat(),
            "registered_height": tx.height,
        },
    )
    pipeline["moved_from"] = [*pipeline.get("moved_from", []), pipeline["org_id"]]
    pipeline["org_id"] = to_org
    pipeline["updated_height"] = tx.height
    view.put(keys.pipeline(pipeline["pipeline_id"]), pipeline)


def is_open_before_approval(pipeline: dict[str, Any]) -> bool:
    """DUP-02's "open pipeline": not closed and no approval (S17) yet."""
    return pipeline["status"] == "OPEN" and "S17" not in pipeline["steps"]


# -------------------------------------------------------------------------------------- materials
def get_doc(view: View, doc_id: str) -> dict[str, Any] | None:
    return view.get(keys.doc(doc_id))


def person_docs(view: View, person_key: str, doc_type: str) -> list[dict[str, Any]]:
    """The current version of every document of `doc_type` about the person."""
    out = []
    for _, ref in view.scan_prefix(keys.person_doc(person_key, doc_type)):
        rec = get_doc(view, ref["doc_id"])
        if rec is not None:
            out.append(rec)
    return out


def attempt_docs(view: View, person_key: str, doc_type: str, pipeline_id: str) -> list[dict[str, Any]]:
    """The person's documents of `doc_type` that belong to this attempt to join: registered after
    the person's other (earlier, closed) pipelines last changed, so an application of an attempt
    years ago neither satisfies nor contradicts a new one."""
    chain = chain_ids(view, pipeline_id)
    cutoff = -1
    for pipe in person_pipelines(view, person_key):
        if pipe["pipeline_id"] not in chain and pipe["status"] != "OPEN":
            cutoff = max(cutoff, int(pipe.get("updated_height", pipe["created_height"])))
    return [d for d in person_docs(view, person_key, doc_type) if int(d["registered_height"]) > cutoff]


def require_docs(view: View, doc_ids: list[str]) -> None:
    for doc_id in doc_ids:
        if get_doc(view, doc_id) is None:
            raise TxRejected("unknown_doc", f"document {doc_id} is not registered")
