"""Relationship transfer rules on absence (DOMAIN.md B.5), driven by archive events and deadlines.

Rules:

- XFER-09: a member away at a relatively fixed place (`archive.event` FLOW_OUT with
  `fixed_location`): 6 months after the start BLUE FLAG, 9 months YELLOW FLAG (deadlines), unless
  back (FLOW_BACK) before; a FLOW_BACK after 6 (9) months raises the same flags if the deadline
  had not fired yet (once per flow-out and colour).
- XFER-10: lost contact (LOST_CONTACT) for 6 months: RED FLAG (停止党籍 procedure); suspended
  (SUSPEND while lost) and still lost 2 years later: RED FLAG (除名); abroad (ABROAD_KEPT) more
  than 5 years: RED FLAG. A deadline raises nothing when the state it watches has changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import keys
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, TxCtx, Verdict, flag
from contracts.calendar import add_months, add_years, day_start_ms, parse_date, passed_ms
from contracts.config import Config
from contracts.records import get_archive
from contracts.state import View

FLOW_OUT_BLUE_MONTHS = 6  # 《教育管理条例》第二十五条: 外出…6个月以上并且地点相对固定
FLOW_OUT_YELLOW_MONTHS = 9
LOST_CONTACT_MONTHS = 6  # 《教育管理条例》第二十四条
SUSPENSION_REMOVAL_YEARS = 2
ABROAD_YEARS = 5


def _flow_verdict(pk: str, start: str, colour: Colour, months: int, org_id: str | None) -> Verdict:
    return flag(
        "XFER-09",
        colour,
        "long_absence",
        f"away at a fixed place since {start}: {months} months, transfer the relationship",
        subject_keys=(pk,),
        record_refs=(keys.archive(pk),),
        org_id=org_id,
        dedup_key=f"{pk}:{start}:{colour.value}",
    )


def xfer09(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["event"] != "FLOW_BACK":
        return ()
    archive = get_archive(view, p["person_key"])
    flow = None if archive is None else archive["flow_out"]
    if flow is None or not flow["fixed_location"]:
        return ()
    back, start = parse_date(p["date"]), parse_date(flow["start"])
    out = []
    if back >= add_months(start, FLOW_OUT_BLUE_MONTHS):
        out.append(_flow_verdict(p["person_key"], flow["start"], Colour.BLUE, FLOW_OUT_BLUE_MONTHS, None))
    if back >= add_months(start, FLOW_OUT_YELLOW_MONTHS):
        out.append(_flow_verdict(p["person_key"], flow["start"], Colour.YELLOW, FLOW_OUT_YELLOW_MONTHS, None))
    return out


def _event_due(tx: TxCtx, rule_id: str, tag: str, at: int) -> DueRequest:
    ref = {"person_key": tx.payload["person_key"], "since": tx.payload["date"]}
    return DueRequest(at_ms=at, rule_id=rule_id, tag=tag, ref=ref, org_id=tx.org_id)


def xfer09_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    p = tx.payload
    if p["event"] != "FLOW_OUT" or not p["fixed_location"]:
        return ()
    start = parse_date(p["date"])
    return (
        _event_due(tx, "XFER-09", "blue", day_start_ms(add_months(start, FLOW_OUT_BLUE_MONTHS))),
        _event_due(tx, "XFER-09", "yellow", day_start_ms(add_months(start, FLOW_OUT_YELLOW_MONTHS))),
    )


def xfer09_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk = entry.ref["person_key"]
    archive = get_archive(view, pk)
    flow = None if archive is None else archive["flow_out"]
    if archive is None or flow is None or flow["start"] != entry.ref["since"]:
        return ()
    colour, months = (
        (Colour.BLUE, FLOW_OUT_BLUE_MONTHS)
        if entry.tag == "blue"
        else (Colour.YELLOW, FLOW_OUT_YELLOW_MONTHS)
    )
    return (_flow_verdict(pk, flow["start"], colour, months, archive["current_org_id"] or archive["org_id"]),)


def xfer10_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    p = tx.payload
    day = parse_date(p["date"])
    archive = get_archive(view, p["person_key"])
    match p["event"]:
        case "LOST_CONTACT":
            return (_event_due(tx, "XFER-10", "lost", day_start_ms(add_months(day, LOST_CONTACT_MONTHS))),)
        case "SUSPEND" if archive is not None and archive["relationship_state"] == "LOST_CONTACT":
            return (
                _event_due(tx, "XFER-10", "removal", day_start_ms(add_years(day, SUSPENSION_REMOVAL_YEARS))),
            )
        case "ABROAD":
            return (_event_due(tx, "XFER-10", "abroad", passed_ms(add_years(day, ABROAD_YEARS))),)
        case _:
            return ()


def xfer10_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk, since = entry.ref["person_key"], entry.ref["since"]
    a = get_archive(view, pk)
    if a is None:
        return ()
    if entry.tag == "lost" and a["relationship_state"] == "LOST_CONTACT" and a["lost_contact_since"] == since:
        code, text = "lost_contact", f"no contact since {since}: start the 停止党籍 procedure"
    elif (
        entry.tag == "removal"
        and a["status"] == "SUSPENDED"
        and a["suspended_since"] == since
        and a["relationship_state"] == "LOST_CONTACT"
    ):
        code, text = "suspended_still_lost", f"suspended since {since} and still lost: 除名 procedure"
    elif entry.tag == "abroad" and a["relationship_state"] == "ABROAD_KEPT" and a["abroad_since"] == since:
        code, text = "abroad_too_long", f"abroad since {since}, more than 5 years"
    else:
        return ()
    return (
        flag(
            "XFER-10",
            Colour.RED,
            code,
            text,
            subject_keys=(pk,),
            record_refs=(keys.archive(pk),),
            org_id=a["current_org_id"] or a["org_id"],
        ),
    )
