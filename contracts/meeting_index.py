"""Bookkeeping the meeting and decision families keep for the MTG and DEC rules.

Rules:

- Every meeting version is indexed by org (each joint org too), series and CST date
  (`idx/mtgday/`, MTG-06 counts), by attendee for PRESENT / PRESENT_ONLINE attendance
  (`idx/attend/`, MTG-01 overlaps) and by agenda-and-attendees fingerprint (`idx/mtgprint/`,
  MTG-02). An amendment replaces the indexes of the version it supersedes.
- A series is the meeting type, or `GROUP:<group id>` for party group meetings.
- Organisational-life tracking (MTG-06) starts for a BRANCH-level org with the first
  organisational-life meeting it records (the org's go-live on the ledger): `mtgseries/<org>`
  remembers the registration day; whole periods from the next month on are judged. Party groups
  join the tracking with their first group meeting.
- Attendance history (MTG-05), from first recordings only (amendments do not replay it), for the
  members of the meeting's own branch: per person and series the consecutive ABSENT and ABSENT-or-
  LEAVE counts (`mtgabsence/`), and per person the last organisational life attended or excused
  (`mtgpresence/`; a person first seen absent starts the clock on that meeting's date).
- Decisions with an amount are indexed by org, grouping dimension and value and date
  (`idx/spend/`, DEC-06); collective decisions naming a `ratification_ref` by the decision they
  ratify (`idx/ratifies/`, DEC-07).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import keys
from contracts.base import TxCtx
from contracts.calendar import cst_date, month_of
from contracts.identity import get_org
from contracts.records import get_archive
from contracts.state import View
from wire.crypto import sha256

ORG_LIFE_TYPES = (
    "BRANCH_GENERAL",
    "BRANCH_COMMITTEE",
    "GROUP",
    "PARTY_LESSON",
    "THEME_DAY",
    "ORG_LIFE",
    "DEMOCRATIC_REVIEW",
)
STREAK_TYPES = ("BRANCH_GENERAL", "GROUP", "PARTY_LESSON", "THEME_DAY")  # MTG-05's required series
PRESENT = ("PRESENT", "PRESENT_ONLINE")
SPEND_DIMS = ("counterparty_key", "budget_item", "procurement_category")


def series_of(meeting: dict[str, Any]) -> str:
    if meeting["meeting_type"] == "GROUP" and meeting["group_id"] is not None:
        return f"GROUP:{meeting['group_id']}"
    return str(meeting["meeting_type"])


def orgs_of(meeting: dict[str, Any]) -> tuple[str, ...]:
    return (meeting["org_id"], *meeting["joint_org_ids"])


def fingerprint(meeting: dict[str, Any]) -> str | None:
    titles = sorted(t["title_hash"] for t in meeting["topics"])
    people = sorted({a["person_key"] for a in meeting["attendance"] if a["status"] in PRESENT})
    if not titles or not people:
        return None
    return sha256(("|".join(titles) + "#" + "|".join(people)).encode()).hex()[:32]


def next_streak(old: dict[str, Any] | None, status: str, meeting_id: str) -> dict[str, Any]:
    """A person's streaks in a series after one more meeting with `status`."""
    s = dict(old or {"absent": 0, "missed": 0, "absent_since": None, "missed_since": None})
    if status == "ABSENT":
        s["absent_since"] = s["absent_since"] if s["absent"] else meeting_id
        s["absent"] += 1
    else:
        s["absent"], s["absent_since"] = 0, None
    if status in ("ABSENT", "LEAVE"):
        s["missed_since"] = s["missed_since"] if s["missed"] else meeting_id
        s["missed"] += 1
    else:
        s["missed"], s["missed_since"] = 0, None
    return s


def own_attendees(view: View, meeting: dict[str, Any]) -> list[tuple[str, str]]:
    """(person, status) of non-observer attendees whose relationship the meeting's org holds."""
    orgs = orgs_of(meeting)
    out = []
    for a in meeting["attendance"]:
        if a["status"] == "OBSERVER":
            continue
        archive = get_archive(view, a["person_key"])
        if archive is not None and archive["current_org_id"] in orgs:
            out.append((str(a["person_key"]), str(a["status"])))
    return sorted(out)


# ------------------------------------------------------------------------------------- meetings
def _unindex(view: View, old: dict[str, Any]) -> None:
    day = cst_date(old["start"]).isoformat()
    for org in orgs_of(old):
        view.delete(keys.idx_meeting_day(org, series_of(old), day, old["meeting_id"]))
    for a in old["attendance"]:
        if a["status"] in PRESENT:
            view.delete(keys.idx_attendance(a["person_key"], old["start"], old["meeting_id"]))
    fp = fingerprint(old)
    if fp is not None:
        view.delete(keys.idx_meeting_print(fp, old["meeting_id"]))


def index_meeting(view: View, tx: TxCtx, rec: dict[str, Any], old: dict[str, Any] | None) -> None:
    if old is not None:
        _unindex(view, old)
    mid = rec["meeting_id"]
    day = cst_date(rec["start"]).isoformat()
    for org in orgs_of(rec):
        view.put(
            keys.idx_meeting_day(org, series_of(rec), day, mid), {"meeting_id": mid, "start": rec["start"]}
        )
    for a in rec["attendance"]:
        if a["status"] in PRESENT:
            view.put(
                keys.idx_attendance(a["person_key"], rec["start"], mid),
                {"meeting_id": mid, "start": rec["start"], "end": rec["end"], "org_id": rec["org_id"]},
            )
    fp = fingerprint(rec)
    if fp is not None:
        view.put(keys.idx_meeting_print(fp, mid), {"meeting_id": mid, "org_id": rec["org_id"]})
    if old is None and rec["meeting_type"] in ORG_LIFE_TYPES:
        _track(view, tx, rec)
        _attendance_history(view, tx, rec, day)


def _track(view: View, tx: TxCtx, rec: dict[str, Any]) -> None:
    for org_id in orgs_of(rec):
        org = get_org(view, org_id)
        if org is None or org["level"] != "BRANCH":
            continue
        key = keys.meeting_series(org_id)
        track = view.get(key)
        if track is None:
            track = {
                "org_id": org_id,
                "since": tx.today.isoformat(),
                "start_month": month_of(tx.today) + 1,
                "groups": [],
                "short": {},
                "tx_id": tx.tx_hex,
            }
        series = series_of(rec)
        if series.startswith("GROUP:") and series not in track["groups"]:
            track["groups"] = sorted([*track["groups"], series])
        view.put(key, track)


def _attendance_history(view: View, tx: TxCtx, rec: dict[str, Any], day: str) -> None:
    series = series_of(rec)
    for pk, status in own_attendees(view, rec):
        archive = get_archive(view, pk)
        org = archive["current_org_id"] if archive is not None else rec["org_id"]
        if rec["meeting_type"] in STREAK_TYPES:
            key = keys.absence_streak(pk, org, series)
            view.put(key, next_streak(view.get(key), status, rec["meeting_id"]))
        key = keys.presence(pk)
        presence = view.get(key)
        attended = status in (*PRESENT, "LEAVE")
        if presence is None or presence["org_id"] != org:
            presence = {"person_key": pk, "org_id": org, "last": day, "meeting_id": rec["meeting_id"]}
            presence["updated_tx"] = tx.tx_hex
        elif attended and day > presence["last"]:
            presence.update(last=day, meeting_id=rec["meeting_id"], updated_tx=tx.tx_hex)
        view.put(key, presence)


# ------------------------------------------------------------------------------------ decisions
def _spend_keys(rec: dict[str, Any]) -> list[str]:
    if rec["amount_fen"] is None:
        return []
    return [
        keys.idx_spend(rec["org_id"], dim, rec[dim], rec["effective_date"], rec["decision_id"])
        for dim in SPEND_DIMS
        if rec[dim] is not None
    ]


def is_collective(rec: Mapping[str, Any]) -> bool:
    return bool(rec["decision_mode"] == "MEETING" and rec["meeting_id"] is not None)


def index_decision(view: View, rec: dict[str, Any], old: dict[str, Any] | None) -> None:
    if old is not None:
        for key in _spend_keys(old):
            view.delete(key)
        if old["ratification_ref"] is not None and is_collective(old):
            view.delete(keys.idx_ratifies(old["ratification_ref"], old["decision_id"]))
    for key in _spend_keys(rec):
        view.put(
            key,
            {
                "decision_id": rec["decision_id"],
                "amount_fen": rec["amount_fen"],
                "date": rec["effective_date"],
                "collective": is_collective(rec),
            },
        )
    if rec["ratification_ref"] is not None and is_collective(rec):
        view.put(
            keys.idx_ratifies(rec["ratification_ref"], rec["decision_id"]),
            {"decision_id": rec["decision_id"]},
        )
