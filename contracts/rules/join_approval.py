"""Joining procedure, approvals and what follows them (DOMAIN.md B.1): JOIN-17, 18, 19, 22.

Rules (t0 = the S15 resolution's `extra.reported_date` when given, else its date):

- JOIN-17: approval (S17) by `addMonths(t0, 3)`; later but within 6 months with
  `extra.special_extension_reason`: YELLOW FLAG, without one: RED FLAG; after 6 months: RED FLAG.
  Deadlines while S17 is missing: 2 months BLUE (reminder), 3 months YELLOW, 6 months RED.
- JOIN-18 BLUE FLAG: no filing with the organisation department (S18) `filing_deadline_days`
  after S17 (deadline; or S18 recorded later than that).
- JOIN-19: the oath (S20) before approval: RED REJECT; no oath `oath_deadline_months` after S17:
  BLUE FLAG (deadline; or S20 recorded later than that).
- JOIN-22: conversion approval (S24) more than 3 months after S23 PASS (deadline too), or not
  approved collectively (as JOIN-16): RED FLAG. One approval item approves one person (2026-12):
  an item without a subject or naming another person, or an item or decision record another
  person's S17/S24 already cited: RED REJECT (so the index's FLAG-only disposition is extended to
  REJECT+FLAG). An org other than the approving one writing S24 is refused by the joining
  family's permission check, which names this rule.
A late step usually meets its own deadline's alert first; both share one alert per pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict
from contracts.calendar import add_days, add_months, parse_date
from contracts.config import Config
from contracts.joining import extra_of
from contracts.records import chain_steps
from contracts.rules.procedure import (
    ONE_PERSON_PROBLEMS,
    approval_problems,
    due_flag,
    due_pipeline,
    events,
    is_step,
    step_due,
    step_verdict,
)
from contracts.state import View

APPROVAL_MONTHS = 3  # 《细则》: 上级党委…应当在三个月内审批
APPROVAL_MAX_MONTHS = 6  # …遇有特殊情况可适当延长审批时间，但不得超过六个月
APPROVAL_REMINDER_MONTHS = 2  # DOMAIN JOIN-17: BLUE reminder after two months
CONVERSION_APPROVAL_MONTHS = 3


# ---------------------------------------------------------------------------------------- JOIN-17
def _t0(view: View, pid: str) -> str | None:
    s15 = [e for e in events(view, pid, "S15") if e["result"] == "PASS"]
    if not s15:
        return None
    return str(s15[-1]["extra"]["reported_date"] or s15[-1]["event_date"])


def join17(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S17"):
        return ()
    p = tx.payload
    t0 = _t0(view, p["pipeline_id"])
    if t0 is None:
        return ()
    base, day = parse_date(t0), p["event_date"]
    if day <= add_months(base, APPROVAL_MONTHS).isoformat():
        return ()
    reason = extra_of(p)["special_extension_reason"]
    if day > add_months(base, APPROVAL_MAX_MONTHS).isoformat():
        return (
            step_verdict(
                view,
                "JOIN-17",
                tx,
                "approval_too_late",
                f"approved {day}, more than 6 months after {t0}",
                Colour.RED,
            ),
        )
    if reason is None:
        return (
            step_verdict(
                view,
                "JOIN-17",
                tx,
                "approval_late",
                f"approved {day}, more than 3 months after {t0}",
                Colour.RED,
            ),
        )
    return (
        step_verdict(
            view,
            "JOIN-17",
            tx,
            "approval_late_excused",
            f"approved {day} after 3 months: {reason}",
            Colour.YELLOW,
        ),
    )


def join17_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S15"):
        return ()
    t0 = parse_date(extra_of(tx.payload)["reported_date"] or tx.payload["event_date"])
    return tuple(
        step_due(tx, "JOIN-17", tag, add_months(t0, months), t0=t0.isoformat())
        for tag, months in (
            ("reminder", APPROVAL_REMINDER_MONTHS),
            ("overdue", APPROVAL_MONTHS),
            ("overdue_max", APPROVAL_MAX_MONTHS),
        )
    )


def join17_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S17" in found[1] or found[0]["status"] != "OPEN":
        return ()
    colour, code, months = {
        "reminder": (Colour.BLUE, "approval_due_soon", APPROVAL_REMINDER_MONTHS),
        "overdue": (Colour.YELLOW, "approval_overdue", APPROVAL_MONTHS),
        "overdue_max": (Colour.RED, "approval_overdue_max", APPROVAL_MAX_MONTHS),
    }[entry.tag]
    text = f"admission not approved {months} months after the branch resolution ({entry.ref['t0']})"
    return (due_flag(view, "JOIN-17", colour, code, text, entry, entry.tag),)


# ------------------------------------------------------------------------------------ JOIN-18/19
def _late_after_s17(
    view: View, tx: TxCtx, rule_id: str, step: str, limit: Callable[[date], date], code: str, tag: str
) -> Sequence[Verdict]:
    s17 = chain_steps(view, tx.payload["pipeline_id"]).get("S17")
    if s17 is None or tx.payload["event_date"] <= limit(parse_date(s17)).isoformat():
        return ()
    return (
        step_verdict(
            view,
            rule_id,
            tx,
            code,
            f"{step} on {tx.payload['event_date']}, late after S17 {s17}",
            Colour.BLUE,
            tag,
        ),
    )


def _filing_limit(config: Config, org: str) -> Callable[[date], date]:
    return lambda d: add_days(d, config.get_int("filing_deadline_days", org))


def _oath_limit(config: Config, org: str) -> Callable[[date], date]:
    return lambda d: add_months(d, config.get_int("oath_deadline_months", org))


def join18(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S18"):
        return ()
    return _late_after_s17(view, tx, "JOIN-18", "S18", _filing_limit(config, tx.org_id), "filing_late", "S18")


def join18_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S17"):
        return ()
    return (
        step_due(
            tx, "JOIN-18", "filing", _filing_limit(config, tx.org_id)(parse_date(tx.payload["event_date"]))
        ),
    )


def join18_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S18" in found[1]:
        return ()
    return (
        due_flag(view, "JOIN-18", Colour.BLUE, "not_filed", "approval not filed (S18) in time", entry, "S18"),
    )


def join19(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S20"):
        return ()
    s17 = chain_steps(view, tx.payload["pipeline_id"]).get("S17")
    if s17 is None or tx.payload["event_date"] < s17:
        return (
            step_verdict(
                view, "JOIN-19", tx, "oath_before_approval", f"oath before the approval (S17 {s17})", None
            ),
        )
    return _late_after_s17(view, tx, "JOIN-19", "S20", _oath_limit(config, tx.org_id), "oath_late", "oath")


def join19_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S17"):
        return ()
    return (
        step_due(tx, "JOIN-19", "oath", _oath_limit(config, tx.org_id)(parse_date(tx.payload["event_date"]))),
    )


def join19_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S20" in found[1] or "S17" not in found[1]:
        return ()
    return (
        due_flag(
            view,
            "JOIN-19",
            Colour.BLUE,
            "oath_missing",
            "no oath (S20) in time after approval",
            entry,
            "oath",
        ),
    )


# ---------------------------------------------------------------------------------------- JOIN-22
def join22(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S24"):
        return ()
    p = tx.payload
    out = []
    problems = approval_problems(view, p["decision_ref"], p["person_key"], extra_of(p)["item_id"], tx.org_id)
    one_person = [(c, t) for c, t in problems if c in ONE_PERSON_PROBLEMS]
    if one_person:
        return (step_verdict(view, "JOIN-22", tx, one_person[0][0], one_person[0][1]),)
    if problems:
        out.append(step_verdict(view, "JOIN-22", tx, problems[0][0], problems[0][1], Colour.RED))
    passed = [e for e in events(view, p["pipeline_id"], "S23") if e["result"] == "PASS"]
    if passed:
        limit = add_months(parse_date(passed[-1]["event_date"]), CONVERSION_APPROVAL_MONTHS).isoformat()
        if p["event_date"] > limit:
            text = (
                f"conversion approved {p['event_date']}, more than 3 months after {passed[-1]['event_date']}"
            )
            out.append(step_verdict(view, "JOIN-22", tx, "approval_late", text, Colour.RED, once="S24"))
    return out


def join22_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S23"):
        return ()
    return (
        step_due(
            tx,
            "JOIN-22",
            "approval",
            add_months(parse_date(tx.payload["event_date"]), CONVERSION_APPROVAL_MONTHS),
        ),
    )


def join22_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S24" in found[1] or found[0]["status"] != "OPEN":
        return ()
    text = "conversion not approved within 3 months of the branch resolution"
    return (due_flag(view, "JOIN-22", Colour.RED, "approval_overdue", text, entry, "S24"),)


_STEP = ("join.step",)
RED, YELLOW, BLUE = Colour.RED, Colour.YELLOW, Colour.BLUE
RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="JOIN-17",
        colours=(RED, YELLOW, BLUE),
        disposition="FLAG",
        description="Approval within 3 months of the branch resolution (max 6 with special reason).",
        family="JOIN",
        tx_types=_STEP,
        fn=join17,
        schedule=join17_schedule,
        on_due=join17_due,
    ),
    Rule(
        rule_id="JOIN-18",
        colours=(BLUE,),
        disposition="FLAG",
        description="Filing with the organisation department after approval.",
        family="JOIN",
        tx_types=_STEP,
        fn=join18,
        schedule=join18_schedule,
        on_due=join18_due,
    ),
    Rule(
        rule_id="JOIN-19",
        colours=(RED, BLUE),
        disposition="REJECT+FLAG",
        description="Oath after approval.",
        family="JOIN",
        tx_types=_STEP,
        fn=join19,
        schedule=join19_schedule,
        on_due=join19_due,
    ),
    Rule(
        rule_id="JOIN-22",
        colours=(RED,),
        disposition="REJECT+FLAG",  # DOMAIN 2026-12: one approval item approves one person
        description="Conversion approval within 3 months (and collective).",
        family="JOIN",
        tx_types=_STEP,
        fn=join22,
        schedule=join22_schedule,
        on_due=join22_due,
    ),
)
