"""Relationship transfer: never in two branches at once (DOMAIN.md B.5, XFER-04, and the 2026-12
decision on probationary members who move).

Rules:

- XFER-04 RED REJECT: a branch the member has left acts as if it still held the relationship:
  a transfer-out by it; a meeting of it recording the person (other than as OBSERVER: entitled
  voter, attendance, written opinion, roll-call vote) after they left; a party meeting of an org
  (a branch, or a county's committee) putting an item to the vote whose subject is a member who
  had moved away from it (their relationship held elsewhere, outside it, on the meeting date); a
  second branch creating the archive of a member held elsewhere.
- The joining family refuses, naming this rule, any step or handover of a pipeline that followed
  its member away (an accepted transfer-in moves it) by the old branch or its county
  (`contracts.joining`), and a handover after approval to any org but the one holding the
  member's relationship.
- Precedence: this rule outranks XFER-02 (the old branch's transfer-out), MTG-07 and MTG-03 (an
  entitled voter or an item's subject who moved away): the receipt names XFER-04.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.base import BlockContext, TxCtx, Verdict, reject
from contracts.calendar import cst_date, parse_date
from contracts.config import Config
from contracts.meeting_index import ORG_LIFE_TYPES
from contracts.records import MEMBER_STATUSES, former_member_of, get_archive, membership_on
from contracts.state import View
from wire.genesis import is_ancestor_or_self

_MEMBER_PRESENCE = ("PRESENT", "PRESENT_ONLINE", "LEAVE", "ABSENT")
_VOTING_MEETINGS = (*ORG_LIFE_TYPES, "COMMITTEE")  # party meetings; not 班子会/董事会


def _left_before(archive: dict[str, Any], org_id: str, day: str) -> bool:
    closed = former_member_of(archive, org_id)
    return (
        closed is not None
        and str(closed["left_on"]) <= day
        and membership_on(archive, parse_date(day)) != org_id
    )


def moved_away(archive: dict[str, Any], org_id: str, day: str) -> bool:
    """On `day` the member's relationship is held by an org outside `org_id`'s subtree, and it was
    held inside it before (a membership there closed no later than `day`)."""
    now = membership_on(archive, parse_date(day))
    if now is None or is_ancestor_or_self(org_id, now):
        return False
    return any(
        m["left_on"] is not None and m["left_on"] <= day and is_ancestor_or_self(org_id, m["org_id"])
        for m in archive["memberships"]
    )


def _refuse(code: str, text: str, pk: str) -> Verdict:
    return reject("XFER-04", code, text, subject_keys=(pk,), record_refs=(keys.archive(pk),))


def _archive_create(view: View, tx: TxCtx) -> Sequence[Verdict]:
    pk = tx.payload["person_key"]
    archive = get_archive(view, pk)
    if (
        archive is None
        or archive["status"] not in MEMBER_STATUSES
        or archive["current_org_id"] in (None, tx.org_id)
    ):
        return ()
    return (_refuse("member_elsewhere", f"the person is a member held by {archive['current_org_id']}", pk),)


def _transfer_out(view: View, tx: TxCtx) -> Sequence[Verdict]:
    p = tx.payload
    archive = get_archive(view, p["person_key"])
    if (
        archive is None
        or archive["current_org_id"] == p["from_org_id"]
        or former_member_of(archive, p["from_org_id"]) is None
    ):
        return ()
    text = f"{p['from_org_id']} no longer holds the relationship (now {archive['current_org_id']})"
    return (_refuse("left_branch_acts", text, p["person_key"]),)


def _meeting(view: View, tx: TxCtx) -> Sequence[Verdict]:
    p = tx.payload
    day = cst_date(p["start"]).isoformat()
    people = {a["person_key"] for a in p["attendance"] if a["status"] in _MEMBER_PRESENCE}
    people |= set(p["entitled_voter_keys"]) | {w["person_key"] for w in p["written_opinions"]}
    people |= {v["person_key"] for item in p["items"] for v in item["votes"]}
    orgs = (tx.org_id, *p["joint_org_ids"])
    for pk in sorted(people):
        archive = get_archive(view, pk)
        if archive is not None and all(_left_before(archive, org, day) for org in orgs):
            text = f"a person recorded in this meeting left {tx.org_id} before {day}"
            return (_refuse("left_branch_acts", text, pk),)
    if p["meeting_type"] not in _VOTING_MEETINGS:
        return ()
    subjects = sorted({i["subject_key"] for i in p["items"] if i["subject_key"] is not None})
    for pk in subjects:
        archive = get_archive(view, pk)
        if archive is not None and all(moved_away(archive, org, day) for org in orgs):
            now = membership_on(archive, parse_date(day))
            text = (
                f"the subject of an item moved from {tx.org_id} to {now} by {day}: "
                f"{tx.org_id} no longer votes on them"
            )
            return (_refuse("subject_moved_away", text, pk),)
    return ()


def xfer04(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if tx.tx_type == "archive.create":
        return _archive_create(view, tx)
    if tx.tx_type == "transfer.out":
        return _transfer_out(view, tx)
    return _meeting(view, tx)
