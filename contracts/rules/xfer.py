"""Relationship transfer (DOMAIN.md B.5): XFER-01..10.

Rules:

- XFER-01 RED REJECT: a transfer-in needs an OPEN transfer-out with the same id and person, whose
  `to_org_id` is the receiving org or an ancestor routing to it.
- XFER-02 RED REJECT: a transfer-out only from the member's current branch, for a PROBATIONARY or
  FULL member, and not while another transfer is in transit.
- XFER-03: a letter valid longer than 3 months (same province) / 6 months (across provinces) after
  issue: RED REJECT; a report after `valid_until`: YELLOW FLAG, BLUE with a certificate of special
  circumstances. Deadlines: `letter_reminder_days` before `valid_until` with no report: BLUE FLAG;
  no report 6 months after issue (自行脱党 handling): RED FLAG.
- XFER-04 RED REJECT: never in two branches (rules/xfer_moves.py): a transfer-out by a branch the
  person already left, a meeting of a branch recording the person (other than as OBSERVER) after
  they left it, a party meeting voting on an item whose subject had moved away from it, or a second
  branch creating the archive of a member held elsewhere; steps and handovers of a pipeline that
  followed its member away, by the old branch or its county (refused by the joining family under
  this rule's name). It outranks XFER-02.
- XFER-05: a PROBATIONARY member's letter without the probation assessment: YELLOW FLAG; a letter
  whose member status is not the archive's, or a transfer-in that resets the probation end: RED
  REJECT.
- XFER-06 YELLOW FLAG: dues not paid through the month before the issue month.
- XFER-07: receipt later than `receipt_days` after the report (or still missing then): BLUE FLAG;
  a refusal without a reason and a document: RED FLAG.
- XFER-08 YELLOW FLAG: transfer while under investigation.
- XFER-09 (deadlines): flowed out to a fixed place: 6 months: BLUE FLAG, 9 months: YELLOW FLAG.
- XFER-10 (deadlines): lost contact 6 months: RED FLAG (停止党籍 procedure); suspended and still lost
  2 years later: RED FLAG (除名); abroad (ABROAD_KEPT) more than 5 years: RED FLAG.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import keys
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import (
    add_days,
    add_months,
    day_start_ms,
    month_index,
    month_of,
    parse_date,
    passed_ms,
)
from contracts.config import Config
from contracts.identity import province_of
from contracts.records import get_archive
from contracts.rules.xfer_absence import xfer09, xfer09_due, xfer09_schedule, xfer10_due, xfer10_schedule
from contracts.rules.xfer_moves import xfer04
from contracts.state import View
from wire.genesis import is_ancestor_or_self

NO_REPORT_MONTHS = 6  # "超过6个月以上不转移组织关系…按自行脱党处理"
_MEETINGS = ("meeting.record", "meeting.amend")
_MEMBER_PRESENCE = ("PRESENT", "PRESENT_ONLINE", "LEAVE", "ABSENT")


def _out_ref(tid: str) -> tuple[str, ...]:
    return (keys.transfer(tid),)


def xfer01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    out = view.get(keys.transfer(p["transfer_id"]))
    pk = p["person_key"]
    if out is None:
        return (
            reject(
                "XFER-01", "no_transfer_out", f"no transfer-out letter {p['transfer_id']}", subject_keys=(pk,)
            ),
        )
    if out["person_key"] != pk:
        problem = "the letter is for another person"
    elif not is_ancestor_or_self(out["to_org_id"], p["to_org_id"]):
        problem = f"the letter is addressed to {out['to_org_id']}, not {p['to_org_id']}"
    elif out["state"] != "OPEN":
        problem = f"the letter is already {out['state']}"
    else:
        return ()
    return (
        reject(
            "XFER-01",
            "transfer_mismatch",
            problem,
            subject_keys=(pk,),
            record_refs=_out_ref(p["transfer_id"]),
        ),
    )


def xfer02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    pk = p["person_key"]
    archive = get_archive(view, pk)
    if archive is None:
        return ()
    refs = (keys.archive(pk),)
    if archive["status"] not in ("PROBATIONARY", "FULL"):
        problem = f"status {archive['status']} cannot be transferred"
    elif archive["relationship_state"] == "IN_TRANSIT":
        problem = f"a transfer ({archive['open_transfer']}) is already in transit"
    elif archive["current_org_id"] != p["from_org_id"]:  # the branch it left: XFER-04 outranks
        problem = f"the relationship is held by {archive['current_org_id']}, not {p['from_org_id']}"
    else:
        return ()
    return (reject("XFER-02", "not_current_branch", problem, subject_keys=(pk,), record_refs=refs),)


def xfer03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if tx.tx_type == "transfer.out":
        same = province_of(p["from_org_id"]) is not None and province_of(p["from_org_id"]) == province_of(
            p["to_org_id"]
        )
        key = "letter_validity_months_in_province" if same else "letter_validity_months_cross_province"
        cap = add_months(parse_date(p["issue_date"]), config.get_int(key, tx.org_id))
        if parse_date(p["valid_until"]) > cap:
            return (
                reject(
                    "XFER-03",
                    "validity_too_long",
                    f"valid until {p['valid_until']}, beyond the cap {cap.isoformat()}",
                    subject_keys=(p["person_key"],),
                ),
            )
        return ()
    out = view.get(keys.transfer(p["transfer_id"]))
    if out is None or p["report_date"] <= out["valid_until"]:
        return ()
    excused = p["special_circumstances_doc"] is not None
    return (
        flag(
            "XFER-03",
            Colour.BLUE if excused else Colour.YELLOW,
            "late_report_excused" if excused else "late_report",
            f"reported {p['report_date']}, letter valid until {out['valid_until']}",
            subject_keys=(p["person_key"],),
            record_refs=_out_ref(p["transfer_id"]),
        ),
    )


def xfer03_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if tx.tx_type != "transfer.out":
        return ()
    p = tx.payload
    ref = {"transfer_id": p["transfer_id"]}
    issue, valid = parse_date(p["issue_date"]), parse_date(p["valid_until"])
    out = [
        DueRequest(
            at_ms=passed_ms(add_months(issue, NO_REPORT_MONTHS)),
            rule_id="XFER-03",
            tag="no_report",
            ref=ref,
            org_id=tx.org_id,
        )
    ]
    remind = add_days(valid, -config.get_int("letter_reminder_days", tx.org_id))
    if remind > issue:
        out.append(
            DueRequest(
                at_ms=day_start_ms(remind), rule_id="XFER-03", tag="reminder", ref=ref, org_id=tx.org_id
            )
        )
    return out


def xfer03_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    tid = entry.ref["transfer_id"]
    out = view.get(keys.transfer(tid))
    if out is None or out["state"] != "OPEN":
        return ()
    if entry.tag == "reminder":
        return (
            flag(
                "XFER-03",
                Colour.BLUE,
                "report_due",
                f"letter {tid} expires on {out['valid_until']}, not reported yet",
                subject_keys=(out["person_key"],),
                record_refs=_out_ref(tid),
            ),
        )
    return (
        flag(
            "XFER-03",
            Colour.RED,
            "no_report",
            f"letter {tid} issued {out['issue_date']}: no report after 6 months",
            subject_keys=(out["person_key"],),
            record_refs=_out_ref(tid),
        ),
    )


def xfer05(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    pk = p["person_key"]
    archive = get_archive(view, pk)
    if archive is None:
        return ()
    if tx.tx_type == "transfer.in":
        if p["probation_end"] is not None and p["probation_end"] != archive["probation_end"]:
            return (
                reject(
                    "XFER-05",
                    "probation_reset",
                    f"the probation ends {archive['probation_end']}; it continues unchanged",
                    subject_keys=(pk,),
                ),
            )
        return ()
    if archive["status"] in ("PROBATIONARY", "FULL") and p["member_status"] != archive["status"]:
        return (
            reject(
                "XFER-05",
                "status_mismatch",
                f"the letter says {p['member_status']}, the archive {archive['status']}",
                subject_keys=(pk,),
            ),
        )
    if p["member_status"] == "PROBATIONARY" and p["probation_assessment_doc"] is None:
        return (
            flag(
                "XFER-05",
                Colour.YELLOW,
                "assessment_missing",
                "a probationary member's letter without the probation assessment",
                subject_keys=(pk,),
            ),
        )
    return ()


def xfer06(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    paid = p["dues_paid_through"]
    if paid is not None and month_index(paid) >= month_of(parse_date(p["issue_date"])) - 1:
        return ()
    return (
        flag(
            "XFER-06",
            Colour.YELLOW,
            "dues_unpaid",
            f"dues paid through {paid or 'unknown'} at issue {p['issue_date']}",
            subject_keys=(p["person_key"],),
        ),
    )


def xfer07(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    out = view.get(keys.transfer(p["transfer_id"]))
    if out is None:
        return ()
    pk = out["person_key"]
    refs = _out_ref(p["transfer_id"])
    if tx.tx_type == "transfer.receipt":
        report = out["report_date"]
    else:
        report = p["report_date"]
        if not p["accepted"] and (p["refusal_reason"] is None or p["refusal_doc"] is None):
            return (
                flag(
                    "XFER-07",
                    Colour.RED,
                    "refused_without_reason",
                    "the transfer was refused without a reason and document",
                    subject_keys=(pk,),
                    record_refs=refs,
                ),
            )
    receipt = p["receipt_date"]
    limit = add_days(parse_date(report), config.get_int("receipt_days", tx.org_id))
    if receipt is not None and parse_date(receipt) > limit:
        return (
            flag(
                "XFER-07",
                Colour.BLUE,
                "late_receipt",
                f"receipt {receipt}, due by {limit.isoformat()}",
                subject_keys=(pk,),
                record_refs=refs,
                dedup_key=f"{p['transfer_id']}:receipt",
            ),
        )
    return ()


def xfer07_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    p = tx.payload
    if tx.tx_type != "transfer.in" or not p["accepted"] or p["receipt_date"] is not None:
        return ()
    limit = add_days(parse_date(p["report_date"]), config.get_int("receipt_days", tx.org_id))
    return (
        DueRequest(
            at_ms=passed_ms(limit),
            rule_id="XFER-07",
            tag="receipt",
            ref={"transfer_id": p["transfer_id"]},
            org_id=tx.org_id,
        ),
    )


def xfer07_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    tid = entry.ref["transfer_id"]
    out = view.get(keys.transfer(tid))
    if out is None or out["receipt_date"] is not None:
        return ()
    return (
        flag(
            "XFER-07",
            Colour.BLUE,
            "receipt_missing",
            f"no receipt for letter {tid}",
            subject_keys=(out["person_key"],),
            record_refs=_out_ref(tid),
            dedup_key=f"{tid}:receipt",
        ),
    )


def xfer08(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not tx.payload["under_investigation"]:
        return ()
    return (
        flag(
            "XFER-08",
            Colour.YELLOW,
            "under_investigation",
            "transfer of a member under investigation",
            subject_keys=(tx.payload["person_key"],),
        ),
    )


_OUT, _IN = ("transfer.out",), ("transfer.in",)
RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="XFER-01",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Transfer-in must match an open transfer-out.",
        family="XFER",
        tx_types=_IN,
        fn=xfer01,
    ),
    Rule(
        rule_id="XFER-02",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Transfer-out only from the current branch, one at a time.",
        family="XFER",
        tx_types=_OUT,
        fn=xfer02,
    ),
    Rule(
        rule_id="XFER-03",
        colours=(Colour.RED, Colour.YELLOW, Colour.BLUE),
        disposition="REJECT+FLAG",
        description="Reporting deadline (letter validity).",
        family="XFER",
        tx_types=(*_OUT, *_IN),
        fn=xfer03,
        schedule=xfer03_schedule,
        on_due=xfer03_due,
    ),
    Rule(
        rule_id="XFER-04",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Never in two branches at once.",
        family="XFER",
        tx_types=(*_OUT, "archive.create", *_MEETINGS),
        fn=xfer04,
    ),
    Rule(
        rule_id="XFER-05",
        colours=(Colour.RED, Colour.YELLOW),
        disposition="REJECT+FLAG",
        description="Probationary member transfer carries the assessment; probation continues.",
        family="XFER",
        tx_types=(*_OUT, *_IN),
        fn=xfer05,
    ),
    Rule(
        rule_id="XFER-06",
        colours=(Colour.YELLOW,),
        disposition="FLAG",
        description="Dues paid before transfer.",
        family="XFER",
        tx_types=_OUT,
        fn=xfer06,
    ),
    Rule(
        rule_id="XFER-07",
        colours=(Colour.RED, Colour.BLUE),
        disposition="FLAG",
        description="Receipt returned; no refusal without a reason.",
        family="XFER",
        tx_types=(*_IN, "transfer.receipt"),
        fn=xfer07,
        schedule=xfer07_schedule,
        on_due=xfer07_due,
    ),
    Rule(
        rule_id="XFER-08",
        colours=(Colour.YELLOW,),
        disposition="FLAG",
        description="Transfer while under investigation.",
        family="XFER",
        tx_types=_OUT,
        fn=xfer08,
    ),
    Rule(
        rule_id="XFER-09",
        colours=(Colour.YELLOW, Colour.BLUE),
        disposition="FLAG",
        description="Long absence from the place of relationship.",
        family="XFER",
        tx_types=("archive.event",),
        fn=xfer09,
        schedule=xfer09_schedule,
        on_due=xfer09_due,
    ),
    Rule(
        rule_id="XFER-10",
        colours=(Colour.RED,),
        disposition="FLAG",
        description="Lost contact (6 months), suspended and still lost (2 years), abroad over 5 years.",
        family="XFER",
        tx_types=("archive.event",),
        schedule=xfer10_schedule,
        on_due=xfer10_due,
    ),
)
