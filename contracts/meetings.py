"""The meeting family (DOMAIN.md A.5): organisational-life meetings with attendance and ballots,
and the collective decision records of A.6. Both keep every version.

Rules:

- `meeting.record` / `decision.record`: an operator/admin of the org holding the meeting or
  making the decision (the transaction's org). The id is new. Impossible times are MTG-08's.
- `meeting.amend` / `decision.amend`: the same org writes the next version (`prev_version` =
  current, `amend_reason`, the full new content). Versions never overwrite:
  `meeting/<id>/v/<n>` and `decision/<id>/v/<n>` are immutable; `meeting/<id>`/`decision/<id>`
  are the current version.
- Minutes hashes are indexed with the material hashes (`hash/c/..`, `hash/t/..`) so MAT-01 sees
  minutes text copied into a personal document. The bookkeeping the MTG and DEC rules read
  (series by date, attendance, absence streaks, spending groups) is `contracts.meeting_index`.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import require_org, require_own_org, require_role
from contracts.meeting_index import index_decision, index_meeting
from contracts.privacy import sealed_field
from contracts.schema import (
    ID_PATTERN,
    ORG_PATTERN,
    Bool,
    Date,
    Enum,
    Field,
    Hex,
    Int,
    List,
    Obj,
    Str,
    opt,
    req,
)
from contracts.state import View

MAX_PEOPLE = 500
MEETING_TYPES = (
    "BRANCH_GENERAL",
    "BRANCH_COMMITTEE",
    "GROUP",
    "PARTY_LESSON",
    "THEME_DAY",
    "ORG_LIFE",
    "DEMOCRATIC_REVIEW",
    "COMMITTEE",
    "LEADERSHIP",
)
ATTENDANCE_STATUSES = ("PRESENT", "PRESENT_ONLINE", "LEAVE", "ABSENT", "OBSERVER")
_ID = Str(128, pattern=ID_PATTERN)
_PEOPLE = List(Hex(32), MAX_PEOPLE, unique=True)
_MS = Int(0, 2**63 - 1)

MEETING: tuple[Field, ...] = (
    req("meeting_id", _ID),
    opt("joint_org_ids", List(Str(164, pattern=ORG_PATTERN), 16, unique=True), "joint meeting", default=[]),
    opt("group_id", _ID),
    req("meeting_type", Enum(MEETING_TYPES)),
    req("start", _MS, "UTC epoch ms"),
    req("end", _MS, "UTC epoch ms, > start"),
    req("location_code", Str(64)),
    opt("host_key", Hex(32)),
    opt("recorder_key", Hex(32)),
    opt("lecturer_key", Hex(32)),
    opt(
        "topics",
        List(
            Obj(
                (
                    req("topic_id", _ID),
                    req("title_hash", Hex(32)),
                    opt(
                        "category",
                        Str(32),
                        "三重一大 topics: MAJOR_DECISION|PERSONNEL|MAJOR_PROJECT|LARGE_FUNDS",
                    ),
                    opt(
                        "added_at",
                        _MS,
                        "when the topic was put on the agenda (DEC-09: not during the meeting)",
                    ),
                )
            ),
            64,
        ),
        default=[],
    ),
    req("minutes_content_hash", Hex(32)),
    opt("minutes_text_hash", Hex(32)),
    sealed_field(),
    opt("roster_snapshot_hash", Hex(32)),
    opt("expected_keys", _PEOPLE, default=[]),
    opt("entitled_voter_keys", _PEOPLE, default=[]),
    opt(
        "attendance",
        List(
            Obj(
                (
                    req("person_key", Hex(32)),
                    req("status", Enum(ATTENDANCE_STATUSES)),
                    opt("sign_in_at", _MS),
                    opt("sig", Hex(64)),
                )
            ),
            MAX_PEOPLE,
        ),
        default=[],
    ),
    opt(
        "written_opinions",
        List(
            Obj(
                (
                    req("person_key", Hex(32)),
                    req("vote", Enum(("YES", "NO", "ABSTAIN"))),
                    opt("doc_id", _ID),
                    req("submitted_at", _MS),
                    opt("item_id", _ID, "the item the opinion is on (absent: every item)"),
                )
            ),
            MAX_PEOPLE,
        ),
        default=[],
    ),
    opt(
        "items",
        List(
            Obj(
                (
                    req("item_id", _ID),
                    opt("subject_key", Hex(32)),
                    req("ballot_method", Enum(("SECRET", "SHOW_OF_HANDS", "ORAL", "ROLL_CALL"))),
                    req("yes", Int(0, 100_000)),
                    req("no", Int(0, 100_000)),
                    req("abstain", Int(0, 100_000)),
                    req("result", Enum(("PASSED", "REJECTED", "DEFERRED"))),
                    opt(
                        "votes",
                        List(
                            Obj((req("person_key", Hex(32)), req("vote", Enum(("YES", "NO", "ABSTAIN"))))),
                            MAX_PEOPLE,
                        ),
                        "roll-call votes",
                        default=[],
                    ),
                )
            ),
            64,
        ),
        default=[],
    ),
)
_AMEND = (req("prev_version", Int(1, 1_000_000)), req("amend_reason", Str(1024, text=True)))
MEETING_RECORD = Obj(MEETING)
MEETING_AMEND = Obj((*MEETING, *_AMEND))

_PERSON = Hex(32)
DECISION: tuple[Field, ...] = (
    req("decision_id", _ID),
    opt("meeting_id", _ID, "the collective meeting (null: not collective)"),
    req(
        "decision_body",
        Enum(
            (
                "PARTY_COMMITTEE",
                "STANDING_COMMITTEE",
                "PARTY_GROUP",
                "BOARD",
                "MGMT_MEETING",
                "BRANCH_COMMITTEE",
            )
        ),
    ),
    req("decision_mode", Enum(("MEETING", "CIRCULATION", "INDIVIDUAL", "EMERGENCY_INDIVIDUAL"))),
    req("category", Enum(("MAJOR_DECISION", "PERSONNEL", "MAJOR_PROJECT", "LARGE_FUNDS", "OTHER"))),
    req("item_seq", Int(0, 10_000)),
    opt("amount_fen", Int(0, 2**63 - 1)),
    opt("budget_item", Str(128)),
    opt("counterparty_key", Str(128)),
    opt("procurement_category", Str(128)),
    opt("members_entitled", _PEOPLE, default=[]),
    opt("members_present", _PEOPLE, default=[]),
    opt(
        "recusals",
        List(Obj((req("person_key", _PERSON), req("reason", Str(256, text=True)))), 64),
        default=[],
    ),
    opt(
        "interests",
        List(Obj((req("person_key", _PERSON), req("relation", Str(256, text=True)))), 64),
        default=[],
    ),
    opt(
        "speaking_order",
        List(
            Obj(
                (
                    req("person_key", _PERSON),
                    req("seq", Int(0, 10_000)),
                    req("opinion", Enum(("AGREE", "DISAGREE", "DEFER"))),
                )
            ),
            MAX_PEOPLE,
        ),
        default=[],
    ),
    opt("principal_key", _PERSON),
    opt(
        "personnel_kind",
        Enum(("PROMOTION", "APPOINTMENT", "REMOVAL", "TRANSFER", "OTHER")),
        "PERSONNEL: what kind (absent: judged as a promotion, DEC-10)",
    ),
    opt("reconsiders", _ID, "PERSONNEL: the decision this one re-opens (复议)"),
    opt("agree_to_reconsider", _PEOPLE, "members who agreed to re-open it", default=[]),
    opt(
        "votes",
        List(Obj((req("person_key", _PERSON), req("vote", Enum(("YES", "NO", "ABSTAIN"))))), MAX_PEOPLE),
        default=[],
    ),
    req("result", Enum(("PASSED", "REJECTED", "DEFERRED"))),
    opt("materials_sent_at", _MS),
    opt("legal_review_doc", _ID),
    opt("major_administrative", Bool(), "a government 重大行政决策 (DEC-12)", default=False),
    opt("minutes_doc", _ID, "the DECISION_MINUTES document (DEC-11)"),
    opt("public_notice", Obj((req("start_date", Date()), req("end_date", Date()), req("doc_id", _ID)))),
    req("effective_date", Date()),
    opt(
        "execution",
        List(
            Obj(
                (
                    req("exec_id", _ID),
                    req("exec_date", Date()),
                    req("amount_fen", Int(0, 2**63 - 1)),
                    opt("doc_id", _ID),
                    opt("counterparty_key", Str(128), "who was paid / contracted (DEC-08)"),
                )
            ),
            256,
        ),
        default=[],
    ),
    opt("ratification_ref", _ID),
    sealed_field(),
)
DECISION_RECORD = Obj(DECISION)
DECISION_AMEND = Obj((*DECISION, *_AMEND))


def _record(tx: TxCtx, fields: tuple[Field, ...], record_type: str, version: int) -> dict[str, Any]:
    p = tx.payload
    rec: dict[str, Any] = {f.name: p[f.name] for f in fields}
    rec.update(
        record_type=record_type,
        schema_version=1,
        org_id=tx.org_id,
        version=version,
        prev_version=p.get("prev_version"),
        amend_reason=p.get("amend_reason"),
        registered_at=tx.today.isoformat(),
        submitted_at=tx.time_ms,
        tx_id=tx.tx_hex,
    )
    return rec


def _check_versioned(view: View, tx: TxCtx, head_key: str, amend: bool) -> None:
    require_role(view, tx)
    head = view.get(head_key)
    if not amend:
        if head is not None:
            raise TxRejected("already_registered", f"{head_key} already exists; amend it instead")
        return
    if head is None:
        raise TxRejected("unknown_record", f"{head_key} does not exist")
    require_own_org(tx, head["org_id"])
    if tx.payload["prev_version"] != head["version"]:
        raise TxRejected("stale_version", f"{head_key} is at version {head['version']}")


# -------------------------------------------------------------------------------------- meetings
def _check_meeting(view: View, tx: TxCtx, config: Config, amend: bool) -> None:
    _check_versioned(view, tx, keys.meeting(tx.payload["meeting_id"]), amend)
    for org_id in tx.payload["joint_org_ids"]:
        require_org(view, org_id)


def _apply_meeting(view: View, tx: TxCtx, config: Config, amend: bool) -> None:
    p = tx.payload
    version = p["prev_version"] + 1 if amend else 1
    rec = _record(tx, MEETING, "MEETING", version)
    index_meeting(view, tx, rec, view.get(keys.meeting(p["meeting_id"])) if amend else None)
    view.put(keys.meeting_version(p["meeting_id"], version), rec)
    view.put(keys.meeting(p["meeting_id"]), rec)
    ref = {"kind": "meeting", "id": p["meeting_id"], "version": version, "doc_type": "MINUTES"}
    ref["subject_keys"] = sorted({a["person_key"] for a in p["attendance"]} | set(p["expected_keys"]))
    view.put(keys.content_hash(p["minutes_content_hash"], "meeting:" + p["meeting_id"]), ref)
    if p["minutes_text_hash"] is not None:
        view.put(keys.text_hash(p["minutes_text_hash"], "meeting:" + p["meeting_id"]), ref)


# ------------------------------------------------------------------------------------- decisions
def _check_decision(view: View, tx: TxCtx, config: Config, amend: bool) -> None:
    _check_versioned(view, tx, keys.decision(tx.payload["decision_id"]), amend)
    mid = tx.payload["meeting_id"]
    if mid is not None and not view.exists(keys.meeting(mid)):
        raise TxRejected("unknown_meeting", f"meeting {mid} is not registered")


def _apply_decision(view: View, tx: TxCtx, config: Config, amend: bool) -> None:
    p = tx.payload
    version = p["prev_version"] + 1 if amend else 1
    rec = _record(tx, DECISION, "DECISION", version)
    index_decision(view, rec, view.get(keys.decision(p["decision_id"])) if amend else None)
    view.put(keys.decision_version(p["decision_id"], version), rec)
    view.put(keys.decision(p["decision_id"]), rec)


_OWN = "an operator or admin of the org holding the meeting / making the decision"
TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="meeting.record",
        family="meeting",
        description="Record a meeting with attendance, written opinions and ballots.",
        signers=_OWN,
        schema=MEETING_RECORD,
        check=lambda v, t, c: _check_meeting(v, t, c, False),
        apply=lambda v, t, c: _apply_meeting(v, t, c, False),
    ),
    TxSpec(
        name="meeting.amend",
        family="meeting",
        description="Record the next version of a meeting record (prev_version, amend_reason).",
        signers=_OWN,
        schema=MEETING_AMEND,
        check=lambda v, t, c: _check_meeting(v, t, c, True),
        apply=lambda v, t, c: _apply_meeting(v, t, c, True),
    ),
    TxSpec(
        name="decision.record",
        family="decision",
        description="Record a collective (三重一大) decision.",
        signers=_OWN,
        schema=DECISION_RECORD,
        check=lambda v, t, c: _check_decision(v, t, c, False),
        apply=lambda v, t, c: _apply_decision(v, t, c, False),
    ),
    TxSpec(
        name="decision.amend",
        family="decision",
        description="Record the next version of a decision record (prev_version, amend_reason).",
        signers=_OWN,
        schema=DECISION_AMEND,
        check=lambda v, t, c: _check_decision(v, t, c, True),
        apply=lambda v, t, c: _apply_decision(v, t, c, True),
    ),
)
