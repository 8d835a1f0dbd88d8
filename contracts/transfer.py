"""The relationship transfer family (DOMAIN.md A.4): transfer-out letters, transfer-in, receipts.

Rules:

- `transfer.out` is written by the branch issuing the letter (the transaction's org is
  `from_org_id`); the transfer id is the letter number and is unique for ever. On success the
  archive's relationship is IN_TRANSIT and the old branch stays responsible (`current_org_id`
  does not change: 《教育管理条例》第二十五条).
- `transfer.in` is written by the receiving org (`to_org_id`, the letter's target or a routed child
  of it). Accepted: the old membership closes and the new one opens on `report_date`, the archive
  moves to the receiving org, and so does the member's open pipeline (a probationary member's
  S21-S25, or a converted member's S25), with its probation end unchanged: from this block on the
  receiving branch and its higher committees write its steps (DOMAIN.md 2026-12, A.3,
  XFER-04/05). Refused (`accepted` false): the letter is closed as REFUSED and the person stays
  with the old branch. A transfer-in needs an open transfer-out (XFER-01).
- `transfer.receipt` records the date the receipt (回执) came back, by the issuing org or above.
"""

from __future__ import annotations

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import require_org, require_own_org, require_role, require_subtree
from contracts.records import (
    close_membership,
    follow_relationship,
    get_pipeline,
    open_membership,
    require_archive,
    require_docs,
    write_archive,
)
from contracts.schema import ID_PATTERN, ORG_PATTERN, Bool, Date, Enum, Hex, Month, Obj, Str, opt, req
from contracts.state import View

REASONS = ("JOB_CHANGE", "RESIDENCE", "GRADUATION", "STUDY", "FLOW_OUT", "OTHER")
_DOC = Str(128, pattern=ID_PATTERN)
TRANSFER_OUT = Obj(
    (
        req("transfer_id", Str(128, pattern=ID_PATTERN), "also the letter number (介绍信编号)"),
        req("person_key", Hex(32)),
        req("member_status", Enum(("PROBATIONARY", "FULL")), "at issue date"),
        req("from_org_id", Str(164, pattern=ORG_PATTERN)),
        req("to_org_id", Str(164, pattern=ORG_PATTERN), "receiving org, or the department routing it"),
        req("issue_date", Date()),
        req("valid_until", Date()),
        req("reason", Enum(REASONS)),
        opt("dues_paid_through", Month()),
        opt("probation_assessment_doc", _DOC, "预备期表现鉴定 (PROBATIONARY)"),
        opt("under_investigation", Bool(), default=False),
        opt("channel", Enum(("ONLINE", "PAPER")), default="ONLINE"),
    )
)
TRANSFER_IN = Obj(
    (
        req("transfer_id", Str(128, pattern=ID_PATTERN)),
        req("person_key", Hex(32)),
        req("to_org_id", Str(164, pattern=ORG_PATTERN)),
        req("report_date", Date(), "date the member reported (报到)"),
        opt("receipt_date", Date(), "date the receipt (回执) was returned"),
        req("accepted", Bool()),
        opt("refusal_reason", Str(1024, text=True), "required with a document when accepted is false"),
        opt("refusal_doc", _DOC),
        opt("special_circumstances_doc", _DOC, "branch certificate for a late report (XFER-03)"),
        opt("probation_end", Date(), "the probation end the receiving branch records (XFER-05)"),
    )
)
TRANSFER_RECEIPT = Obj((req("transfer_id", Str(128, pattern=ID_PATTERN)), req("receipt_date", Date())))


def _check_out(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    p = tx.payload
    require_own_org(tx, p["from_org_id"], "letter")
    require_archive(view, p["person_key"])
    require_org(view, p["to_org_id"])
    if p["to_org_id"] == p["from_org_id"]:
        raise TxRejected("bad_value", "a transfer goes to another org")
    if view.exists(keys.transfer(p["transfer_id"])):
        raise TxRejected("transfer_exists", f"letter {p['transfer_id']} is already registered")
    if p["valid_until"] < p["issue_date"]:
        raise TxRejected("bad_date", "a letter cannot expire before it is issued")
    if p["probation_assessment_doc"] is not None:
        require_docs(view, [p["probation_assessment_doc"]])


def _apply_out(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    rec = dict(p)
    rec.update(
        record_type="TRANSFER_OUT",
        state="OPEN",
        org_id=tx.org_id,
        registered_at=tx.today.isoformat(),
        tx_id=tx.tx_hex,
        in_count=0,
        receipt_date=None,
        completed_by=None,
        report_date=None,
    )
    view.put(keys.transfer(p["transfer_id"]), rec)
    archive = require_archive(view, p["person_key"])
    archive["relationship_state"] = "IN_TRANSIT"
    archive["open_transfer"] = p["transfer_id"]
    write_archive(view, archive, tx, "transfer_out", {"transfer_id": p["transfer_id"]})


def _check_in(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    p = tx.payload
    require_own_org(tx, p["to_org_id"], "transfer-in")
    require_archive(view, p["person_key"])
    docs = [p[k] for k in ("refusal_doc", "special_circumstances_doc") if p[k] is not None]
    require_docs(view, docs)


def _apply_in(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    out = view.get(keys.transfer(p["transfer_id"]))
    if out is None or out["state"] != "OPEN":  # XFER-01 refuses this first; kept as a guard
        raise TxRejected("no_open_transfer", "no open transfer-out matches", rule_id="XFER-01")
    out["in_count"] += 1
    rec = dict(p)
    rec.update(record_type="TRANSFER_IN", registered_at=tx.today.isoformat(), tx_id=tx.tx_hex)
    view.put(keys.transfer_in(p["transfer_id"], out["in_count"]), rec)
    archive = require_archive(view, p["person_key"])
    if p["accepted"]:
        out["state"] = "COMPLETED"
        close_membership(archive, p["report_date"])
        open_membership(archive, p["to_org_id"], p["report_date"])
        archive["org_id"] = p["to_org_id"]
        pipe = None if archive["active_pipeline"] is None else get_pipeline(view, archive["active_pipeline"])
        if pipe is not None and pipe["status"] == "OPEN" and pipe["org_id"] != p["to_org_id"]:
            follow_relationship(
                view,
                tx,
                pipe,
                p["to_org_id"],
                handover_date=p["report_date"],
                doc_refs=[],
                new_pipeline_id=None,
                transfer_id=p["transfer_id"],
            )
    else:
        out["state"] = "REFUSED"
    out["completed_by"] = tx.tx_hex
    out["report_date"] = p["report_date"]
    if p["receipt_date"] is not None:
        out["receipt_date"] = p["receipt_date"]
    view.put(keys.transfer(p["transfer_id"]), out)
    archive["relationship_state"] = "NORMAL"
    archive["open_transfer"] = None
    write_archive(
        view, archive, tx, "transfer_in", {"transfer_id": p["transfer_id"], "accepted": p["accepted"]}
    )


def _check_receipt(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    out = view.get(keys.transfer(tx.payload["transfer_id"]))
    if out is None:
        raise TxRejected("unknown_transfer", "no such transfer-out letter")
    require_subtree(tx, out["from_org_id"], "the issuing org")
    if out["state"] == "OPEN":
        raise TxRejected("bad_status", "the member has not reported yet")
    if out["receipt_date"] is not None:
        raise TxRejected("already_registered", "the receipt is already recorded")


def _apply_receipt(view: View, tx: TxCtx, config: Config) -> None:
    out = view.require(keys.transfer(tx.payload["transfer_id"]))
    out["receipt_date"] = tx.payload["receipt_date"]
    view.put(keys.transfer(tx.payload["transfer_id"]), out)


TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="transfer.out",
        family="transfer",
        description="Issue a relationship transfer letter (组织关系介绍信) for a member.",
        signers="an operator or admin of the member's current branch (from_org_id)",
        schema=TRANSFER_OUT,
        check=_check_out,
        apply=_apply_out,
    ),
    TxSpec(
        name="transfer.in",
        family="transfer",
        description="Record the member reporting to (or being refused by) the receiving org.",
        signers="an operator or admin of the receiving org (to_org_id)",
        schema=TRANSFER_IN,
        check=_check_in,
        apply=_apply_in,
    ),
    TxSpec(
        name="transfer.receipt",
        family="transfer",
        description="Record the date the transfer receipt (回执) came back.",
        signers="an operator or admin of the issuing org or an ancestor",
        schema=TRANSFER_RECEIPT,
        check=_check_receipt,
        apply=_apply_receipt,
    ),
)
