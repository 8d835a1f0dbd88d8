"""The member archive family (DOMAIN.md A.1): create, amend, status events and dues.

Rules:

- `archive.create`: an operator/admin of the branch that holds the person's record. One archive
  per person key, for ever: a second create is refused (DUP-02 / XFER-04 name the rule when the
  person is in a pipeline or a member elsewhere; otherwise `archive_exists`). The submitter attests
  `id_check_ok`; a false attestation is refused. Members imported without a pipeline carry their
  status and dates (PROBATIONARY/FULL need `join_date`, FULL needs `full_date`, EXPELLED needs
  `expelled_date`) and open a membership of the creating org.
- `archive.amend`: the owning org, with `prev_version` equal to the current version and an
  `amend_reason`; the payload carries every amendable field (the full new values). Changes of key
  dates are governed by ARC-03. The earliest recorded birth date stays authoritative.
- `archive.event`: status and relationship events (expulsion, removal, withdrawal, suspension,
  restoration, death, discipline standing, lost contact, abroad, flow-out) by the owning org.
  EXPEL, REMOVE, SUSPEND and RESTORE also need an approver of the nearest ancestor-or-self org with
  approval authority (the signer or an approval signature). Statuses are never set directly.
- `archive.dues`: the month through which dues are paid; it never moves backwards.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import approval_org, has_approver_in, require_own_org, require_role
from contracts.privacy import SEALED, SEALED_DOC, sealed_field
from contracts.records import (
    GENDERS,
    MEMBER_STATUSES,
    STANDINGS,
    STATUSES,
    close_membership,
    get_archive,
    open_membership,
    require_archive,
    require_docs,
    write_archive,
)
from contracts.schema import ID_PATTERN, Bool, Date, Enum, Field, Hex, Int, List, Month, Obj, Str, opt, req
from contracts.state import View

AMENDABLE: tuple[Field, ...] = (
    opt("name_key", Hex(32), "HMAC of normalised name and birth date (DUP-05)"),
    req("birth_date", Date()),
    opt("gender", Enum(GENDERS)),
    opt("join_date", Date(), "入党时间: date of the branch resolution (S15)"),
    opt("full_date", Date(), "转正时间: probation end"),
    opt("expected_departure_date", Date()),
    opt("archive_hash", Hex(32), "hash of the off-ledger archive manifest"),
    opt("volunteer_book_no", Str(64)),
)
KEY_DATES = ("birth_date", "join_date", "full_date")

ARCHIVE_CREATE = Obj(
    (
        req("person_key", Hex(32)),
        req("key_version", Int(1, 1_000_000)),
        req("id_check_ok", Bool(), "the submitter attests the ID passed the GB 11643 checksum"),
        *AMENDABLE,
        sealed_field(),
        opt("status", Enum(STATUSES), default="NONE"),
        opt("status_since", Date()),
        # 0 or 6..12 months in total is JOIN-23's to judge (a refusal that names the rule)
        opt("probation_extension_months", Int(0, 120), default=0),
        opt("party_standing", Enum(STANDINGS), default="NORMAL"),
        opt("expelled_date", Date()),
        opt("no_rejoin", Bool(), default=False),
        opt("dues_paid_through", Month()),
    )
)

ARCHIVE_AMEND = Obj(
    (
        req("person_key", Hex(32)),
        req("prev_version", Int(1)),
        req("amend_reason", Str(1024, text=True)),
        opt("evidence_doc", Str(128, pattern=ID_PATTERN), "a registered document supporting the change"),
        *AMENDABLE,
        opt("sealed", SEALED, SEALED_DOC + "; absent keeps the archive's envelope"),
    )
)

EVENTS = (
    "EXPEL",
    "REMOVE",
    "WITHDRAW",
    "SUSPEND",
    "RESTORE",
    "DECEASE",
    "SET_STANDING",
    "LOST_CONTACT",
    "CONTACT_RESTORED",
    "ABROAD",
    "RETURNED",
    "FLOW_OUT",
    "FLOW_BACK",
)
NEEDS_APPROVAL = ("EXPEL", "REMOVE", "SUSPEND", "RESTORE")
ARCHIVE_EVENT = Obj(
    (
        req("person_key", Hex(32)),
        req("event", Enum(EVENTS)),
        req("date", Date()),
        opt("reason", Str(1024, text=True)),
        opt("doc_refs", List(Str(128, pattern=ID_PATTERN), 16, unique=True), default=[]),
        opt("no_rejoin", Bool(), "EXPEL: 另有规定不准重新入党", default=False),
        opt("party_standing", Enum(STANDINGS), "SET_STANDING: the new standing"),
        opt("fixed_location", Bool(), "FLOW_OUT: away at a relatively fixed place", default=False),
    )
)

ARCHIVE_DUES = Obj((req("person_key", Hex(32)), req("paid_through", Month())))


def new_archive(p: dict[str, Any], org_id: str, height: int) -> dict[str, Any]:
    rec: dict[str, Any] = {f.name: p[f.name] for f in AMENDABLE}
    rec.update(
        person_key=p["person_key"],
        key_version=p["key_version"],
        id_check_ok=p["id_check_ok"],
        sealed=p.get("sealed"),
        birth_date_first=p["birth_date"],
        status=p["status"],
        status_since=p["status_since"],
        org_id=org_id,
        current_org_id=None,
        relationship_state="NORMAL",
        probation_extension_months=p["probation_extension_months"],
        probation_end=None,
        party_standing=p["party_standing"],
        expelled_date=p["expelled_date"],
        no_rejoin=p["no_rejoin"],
        dues_paid_through=p["dues_paid_through"],
        memberships=[],
        active_pipeline=None,
        status_before_suspension=None,
        suspended_since=None,
        lost_contact_since=None,
        abroad_since=None,
        flow_out=None,
        open_transfer=None,
        created_height=height,
        version=0,
    )
    return rec


def voting_rights(rec: dict[str, Any]) -> bool:
    return bool(rec["status"] == "FULL" and rec["party_standing"] != "PROBATION_WITHIN_PARTY")


# --------------------------------------------------------------------------------------- create
def _check_create(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    p = tx.payload
    if not p["id_check_ok"]:
        raise TxRejected("id_check_failed", "the ID number did not pass its checksum")
    status = p["status"]
    if status in MEMBER_STATUSES and p["join_date"] is None:
        raise TxRejected("missing_field", f"status {status} needs join_date")
    if status == "FULL" and p["full_date"] is None:
        raise TxRejected("missing_field", "status FULL needs full_date")
    if status == "EXPELLED" and p["expelled_date"] is None:
        raise TxRejected("missing_field", "status EXPELLED needs expelled_date")
    if status in ("APPLICANT", "ACTIVIST", "DEV_TARGET", "PENDING_APPROVAL"):
        raise TxRejected("bad_status", f"status {status} comes from joining steps, not from a create")


def _apply_create(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    if get_archive(view, p["person_key"]) is not None:
        raise TxRejected("archive_exists", "this person already has an archive; amend it instead")
    rec = new_archive(dict(p), tx.org_id, tx.height)
    if rec["status"] in MEMBER_STATUSES:
        open_membership(rec, tx.org_id, rec["join_date"])
    rec["voting_rights"] = voting_rights(rec)
    write_archive(view, rec, tx, "create")
    index_archive(view, rec)


def index_archive(view: View, rec: dict[str, Any]) -> None:
    if rec["name_key"] is not None:
        view.put(keys.idx_name_key(rec["name_key"], rec["person_key"]), {"person_key": rec["person_key"]})
    if rec["volunteer_book_no"] is not None:
        key = keys.idx_volunteer_book(rec["volunteer_book_no"])
        if not view.exists(key):
            view.put(key, {"person_key": rec["person_key"], "source": "archive"})


# ---------------------------------------------------------------------------------------- amend
def _check_amend(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    p = tx.payload
    rec = require_archive(view, p["person_key"])
    require_own_org(tx, rec["org_id"], "archive")
    if p["prev_version"] != rec["version"]:
        raise TxRejected(
            "stale_version", f"the archive is at version {rec['version']}, not {p['prev_version']}"
        )
    if p["evidence_doc"] is not None:
        require_docs(view, [p["evidence_doc"]])


def changed_fields(rec: dict[str, Any], p: Any) -> list[str]:
    return [f.name for f in AMENDABLE if rec.get(f.name) != p[f.name]]


def key_date_approved(view: View, tx: TxCtx, rec: dict[str, Any]) -> bool:
    """ARC-03's authorisation: evidence document plus an approver of the archive-managing org."""
    org = approval_org(view, rec["org_id"])
    return (
        tx.payload.get("evidence_doc") is not None and org is not None and has_approver_in(view, tx, (org,))
    )


def _apply_amend(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    rec = require_archive(view, p["person_key"])
    changed = changed_fields(rec, p)
    if p["sealed"] is not None and p["sealed"] != rec.get("sealed"):
        changed.append("sealed")  # absent: the envelope stays (it is not a rule field)
    if not changed:
        raise TxRejected("no_change", "the amendment changes nothing")
    for name in changed:
        rec[name] = p[name]
    rec["voting_rights"] = voting_rights(rec)
    write_archive(view, rec, tx, "amend", {"fields": changed, "amend_reason": p["amend_reason"]})
    index_archive(view, rec)


# ---------------------------------------------------------------------------------------- event
def _check_event(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("operator", "admin", "approver"))
    p = tx.payload
    rec = require_archive(view, p["person_key"])
    require_own_org(tx, rec["org_id"], "archive")
    require_docs(view, p["doc_refs"])
    event, status = p["event"], rec["status"]
    if event in NEEDS_APPROVAL:
        org = approval_org(view, rec["org_id"])
        if org is None or not has_approver_in(view, tx, (org,)):
            raise TxRejected("approval_required", f"{event} needs an approver of {org or 'an approving org'}")
    if event in ("EXPEL", "REMOVE", "WITHDRAW") and status not in MEMBER_STATUSES:
        raise TxRejected("bad_status", f"{event} applies to members, not to status {status}")
    if event == "SUSPEND" and status not in ("PROBATIONARY", "FULL"):
        raise TxRejected("bad_status", f"SUSPEND applies to members, not to status {status}")
    if event == "RESTORE" and status not in ("SUSPENDED", "REMOVED", "WITHDRAWN", "EXPELLED"):
        raise TxRejected("bad_status", f"nothing to restore from status {status}")
    if event == "SET_STANDING" and p["party_standing"] is None:
        raise TxRejected("missing_field", "SET_STANDING needs party_standing")
    if event == "DECEASE" and status == "DECEASED":
        raise TxRejected("bad_status", "already recorded as deceased")


def _apply_event(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    rec = require_archive(view, p["person_key"])
    day = p["date"]
    before = rec["status"]
    match p["event"]:
        case "EXPEL" | "REMOVE" | "WITHDRAW" | "DECEASE":
            rec["status"] = {"EXPEL": "EXPELLED", "REMOVE": "REMOVED", "WITHDRAW": "WITHDRAWN"}.get(
                p["event"], "DECEASED"
            )
            if p["event"] == "EXPEL":
                rec["expelled_date"] = day
                rec["no_rejoin"] = p["no_rejoin"]
            close_membership(rec, day)
        case "SUSPEND":
            rec["status_before_suspension"] = rec["status"]
            rec["status"] = "SUSPENDED"
            rec["suspended_since"] = day
        case "RESTORE":
            rec["status"] = rec["status_before_suspension"] or "FULL"
            rec["suspended_since"] = None
        case "SET_STANDING":
            rec["party_standing"] = p["party_standing"]
        case "LOST_CONTACT":
            rec["relationship_state"] = "LOST_CONTACT"
            rec["lost_contact_since"] = day
        case "CONTACT_RESTORED" | "RETURNED":
            rec["relationship_state"] = "NORMAL"
            rec["lost_contact_since"] = None
            rec["abroad_since"] = None
        case "ABROAD":
            rec["relationship_state"] = "ABROAD_KEPT"
            rec["abroad_since"] = day
        case "FLOW_OUT":
            rec["flow_out"] = {"start": day, "fixed_location": p["fixed_location"]}
        case "FLOW_BACK":
            rec["flow_out"] = None
        case _:
            raise TxRejected("bad_value", f"unknown event {p['event']}")
    if rec["status"] != before:
        rec["status_since"] = day
    rec["voting_rights"] = voting_rights(rec)
    write_archive(view, rec, tx, f"event:{p['event']}", {"date": day, "reason": p["reason"]})


# ----------------------------------------------------------------------------------------- dues
def _check_dues(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    rec = require_archive(view, tx.payload["person_key"])
    require_own_org(tx, rec["org_id"], "archive")
    old = rec["dues_paid_through"]
    if old is not None and tx.payload["paid_through"] < old:
        raise TxRejected("dues_backwards", f"dues were already paid through {old}")


def _apply_dues(view: View, tx: TxCtx, config: Config) -> None:
    rec = require_archive(view, tx.payload["person_key"])
    rec["dues_paid_through"] = tx.payload["paid_through"]
    write_archive(view, rec, tx, "dues", {"paid_through": tx.payload["paid_through"]})


_OWN = "an operator or admin of the org holding the archive"
TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="archive.create",
        family="archive",
        description="Create a person's member archive (one per person key).",
        signers="an operator or admin of the branch holding the person's record",
        schema=ARCHIVE_CREATE,
        check=_check_create,
        apply=_apply_create,
    ),
    TxSpec(
        name="archive.amend",
        family="archive",
        description="Amend an archive's recorded fields (full new values, prev_version, amend_reason).",
        signers=_OWN + "; key dates also an approver of the approving org (ARC-03)",
        schema=ARCHIVE_AMEND,
        check=_check_amend,
        apply=_apply_amend,
    ),
    TxSpec(
        name="archive.event",
        family="archive",
        description="Record a status or relationship event (expulsion, suspension, lost contact, ...).",
        signers=_OWN + "; EXPEL/REMOVE/SUSPEND/RESTORE also an approver of the approving org",
        schema=ARCHIVE_EVENT,
        check=_check_event,
        apply=_apply_event,
    ),
    TxSpec(
        name="archive.dues",
        family="archive",
        description="Record the month through which party dues are paid.",
        signers=_OWN,
        schema=ARCHIVE_DUES,
        check=_check_dues,
        apply=_apply_dues,
    ),
)
