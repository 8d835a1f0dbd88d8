"""Joining procedure, stages 1 to 3 (DOMAIN.md B.1): JOIN-02..07 and JOIN-28.

Rules:

- JOIN-02: the talk (S02) within one month of receiving the application (`addMonths(received,
  1)`): a later talk YELLOW FLAG; no talk when the month is over: YELLOW FLAG (deadline; one alert
  per pipeline either way); S03 without a talk: RED REJECT.
- JOIN-03: S03 decided by the branch committee (the general meeting when the branch has fewer
  than 7 full members) with a PASSED item for the person: else RED REJECT. No S04 (filed upward)
  `filing_deadline_days` after S03: BLUE FLAG (deadline).
- JOIN-04 RED REJECT: S05 names one or two cultivation contacts, each a full member on the S05
  date, not the applicant.
- JOIN-05 YELLOW FLAG: an assessment (S06) at least every six months (+ `assessment_grace_days`)
  from S03 until S07: a late S06 or S07, or the deadline passing without either (once per gap).
- JOIN-06 RED REJECT: S07 at least 12 months after S03 (across pipeline transfers).
- JOIN-07: S07 decided like S03 (else RED REJECT); its documents include the opinions heard
  (an ASSESSMENT or RECOMMENDATION document): else YELLOW FLAG; no S08 (filed upward)
  `filing_deadline_days` after S07: BLUE FLAG (deadline).
- JOIN-28 BLUE FLAG: S03 earlier than `min_applicant_to_activist_months` after S01 (0 = no
  minimum); no S03 within `stale_application_months` of S01 (deadline).
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import keys
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import add_days, add_months, parse_date
from contracts.config import Config
from contracts.joining import extra_of
from contracts.records import chain_steps, get_archive, get_doc, get_pipeline
from contracts.rules.procedure import (
    branch_decision_problem,
    due_flag,
    due_pipeline,
    events,
    full_on,
    is_step,
    received_date,
    root_id,
    step_due,
)
from contracts.state import View

ACTIVIST_MONTHS = 12  # 《细则》: 经过一年以上培养教育和考察
ASSESSMENT_MONTHS = 6  # 《细则》: 党支部每半年对入党积极分子进行一次考察
OPINION_DOCS = ("ASSESSMENT", "RECOMMENDATION")
_NOT_FAILED = ("PASS", "EXTEND", "N_A", "CANCEL")


def _refs(pid: str) -> tuple[str, ...]:
    return (keys.pipeline(pid),)


# ---------------------------------------------------------------------------------------- JOIN-02
def join02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    pid, pk = p["pipeline_id"], p["person_key"]
    if is_step(tx, "S03", result=_NOT_FAILED) and "S02" not in chain_steps(view, pid):
        return (
            reject("JOIN-02", "no_talk", "S03 before the talk with the applicant (S02)", subject_keys=(pk,)),
        )
    if not is_step(tx, "S02", result=_NOT_FAILED):
        return ()
    received = received_date(view, pid)
    if received is None or p["event_date"] <= add_months(parse_date(received), 1).isoformat():
        return ()
    return (
        flag(
            "JOIN-02",
            Colour.YELLOW,
            "late_talk",
            f"talk on {p['event_date']}, more than a month after receiving the application on {received}",
            subject_keys=(pk,),
            record_refs=_refs(pid),
            dedup_key=f"{root_id(view, pid)}:talk",
        ),
    )


def join02_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S01"):
        return ()
    received = extra_of(tx.payload)["received_date"]
    return (step_due(tx, "JOIN-02", "talk", add_months(parse_date(received), 1), received=received),)


def join02_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S02" in found[1]:
        return ()
    text = f"no talk within a month of receiving the application on {entry.ref['received']}"
    return (due_flag(view, "JOIN-02", Colour.YELLOW, "talk_overdue", text, entry, "talk"),)


# ------------------------------------------------------------------------------------ JOIN-03/07
def _decision(view: View, tx: TxCtx, rule_id: str) -> Sequence[Verdict]:
    p = tx.payload
    pipe = get_pipeline(view, p["pipeline_id"])
    if pipe is None:
        return ()
    problem = branch_decision_problem(
        view, pipe["org_id"], p["decision_ref"], p["person_key"], extra_of(p)["item_id"], p["event_date"]
    )
    if problem is None:
        return ()
    return (reject(rule_id, "no_committee_decision", problem, subject_keys=(p["person_key"],)),)


def join03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    return _decision(view, tx, "JOIN-03") if is_step(tx, "S03") else ()


def _filing_schedule(tx: TxCtx, config: Config, rule_id: str, anchor: str) -> Sequence[DueRequest]:
    if not is_step(tx, anchor):
        return ()
    days = config.get_int("filing_deadline_days", tx.org_id)
    return (step_due(tx, rule_id, "filing", add_days(parse_date(tx.payload["event_date"]), days)),)


def _filing_due(view: View, entry: DueEntry, rule_id: str, filing: str) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or filing in found[1]:
        return ()
    text = f"not filed with the higher committee ({filing}) in time"
    return (due_flag(view, rule_id, Colour.BLUE, "not_filed", text, entry, filing),)


def join03_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    return _filing_schedule(tx, config, "JOIN-03", "S03")


def join03_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    return _filing_due(view, entry, "JOIN-03", "S04")


# ---------------------------------------------------------------------------------------- JOIN-04
def join04(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S05"):
        return ()
    p = tx.payload
    contacts = sorted(set(p["actor_keys"]))
    problem = None
    if not 1 <= len(contacts) <= 2:
        problem = f"{len(contacts)} cultivation contacts; one or two are named"
    for key in contacts:
        archive = get_archive(view, key)
        if problem is not None:
            break
        if key == p["person_key"]:
            problem = "the applicant cannot be their own cultivation contact"
        elif archive is None or not full_on(archive, p["event_date"]):
            problem = f"cultivation contact {key[:12]}… is not a full member on {p['event_date']}"
    if problem is None:
        return ()
    return (reject("JOIN-04", "bad_contacts", problem, subject_keys=(p["person_key"], *contacts)),)


# ---------------------------------------------------------------------------------------- JOIN-05
def _anchor(view: View, pid: str, before: str | None = None) -> str | None:
    """The last assessment date (S03, then each S06) up to `before` (exclusive) when given."""
    dates = [e["event_date"] for e in (*events(view, pid, "S03"), *events(view, pid, "S06"))]
    dates = [d for d in dates if before is None or d < before]
    return max(dates) if dates else None


def _assessment_due(anchor: str, config: Config, org_id: str) -> str:
    grace = config.get_int("assessment_grace_days", org_id)
    return add_days(add_months(parse_date(anchor), ASSESSMENT_MONTHS), grace).isoformat()


def join05(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S06", "S07"):
        return ()
    p = tx.payload
    anchor = _anchor(view, p["pipeline_id"], p["event_date"] if p["step"] == "S06" else None)
    if anchor is None or p["event_date"] <= _assessment_due(anchor, config, tx.org_id):
        return ()
    return (
        flag(
            "JOIN-05",
            Colour.YELLOW,
            "assessment_late",
            f"{p['step']} on {p['event_date']}: no half-yearly assessment since {anchor}",
            subject_keys=(p["person_key"],),
            record_refs=_refs(p["pipeline_id"]),
            dedup_key=f"{root_id(view, p['pipeline_id'])}:{anchor}",
        ),
    )


def join05_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S03", "S06"):
        return ()
    day = tx.payload["event_date"]
    return (
        step_due(
            tx, "JOIN-05", "assessment", parse_date(_assessment_due(day, config, tx.org_id)), anchor=day
        ),
    )


def join05_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S07" in found[1]:
        return ()
    anchor = _anchor(view, found[0]["pipeline_id"])
    if anchor != entry.ref["anchor"]:
        return ()  # assessed since: a newer deadline watches
    text = f"no half-yearly assessment since {anchor}"
    return (due_flag(view, "JOIN-05", Colour.YELLOW, "assessment_overdue", text, entry, str(anchor)),)


# ---------------------------------------------------------------------------------------- JOIN-06
def join06(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S07"):
        return ()
    p = tx.payload
    s03 = chain_steps(view, p["pipeline_id"]).get("S03")
    if s03 is None or add_months(parse_date(s03), ACTIVIST_MONTHS).isoformat() <= p["event_date"]:
        return ()
    return (
        reject(
            "JOIN-06",
            "activist_under_a_year",
            f"activist since {s03}: less than a year on {p['event_date']}",
            subject_keys=(p["person_key"],),
            record_refs=_refs(p["pipeline_id"]),
        ),
    )


# ---------------------------------------------------------------------------------------- JOIN-07
def join07(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S07"):
        return ()
    refused = _decision(view, tx, "JOIN-07")
    if refused:
        return refused
    p = tx.payload
    for doc_id in p["doc_refs"]:
        doc = get_doc(view, doc_id)
        if doc is not None and doc["doc_type"] in OPINION_DOCS:
            return ()
    return (
        flag(
            "JOIN-07",
            Colour.YELLOW,
            "opinions_missing",
            "S07 without the opinions heard (an ASSESSMENT or RECOMMENDATION document)",
            subject_keys=(p["person_key"],),
            record_refs=_refs(p["pipeline_id"]),
        ),
    )


def join07_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    return _filing_schedule(tx, config, "JOIN-07", "S07")


def join07_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    return _filing_due(view, entry, "JOIN-07", "S08")


# ---------------------------------------------------------------------------------------- JOIN-28
def join28(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S03"):
        return ()
    p = tx.payload
    minimum = config.get_int("min_applicant_to_activist_months", tx.org_id)
    s01 = chain_steps(view, p["pipeline_id"]).get("S01")
    if minimum == 0 or s01 is None or p["event_date"] >= add_months(parse_date(s01), minimum).isoformat():
        return ()
    return (
        flag(
            "JOIN-28",
            Colour.BLUE,
            "early_activist",
            f"activist {p['event_date']}, less than {minimum} months after applying on {s01}",
            subject_keys=(p["person_key"],),
            record_refs=_refs(p["pipeline_id"]),
        ),
    )


def join28_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S01"):
        return ()
    months = config.get_int("stale_application_months", tx.org_id)
    return (step_due(tx, "JOIN-28", "stale", add_months(parse_date(tx.payload["event_date"]), months)),)


def join28_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or "S03" in found[1]:
        return ()
    text = "the application has been left without a decision on the activist stage"
    return (due_flag(view, "JOIN-28", Colour.BLUE, "application_stale", text, entry, "stale"),)


_STEP = ("join.step",)
RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="JOIN-02",
        colours=(Colour.RED, Colour.YELLOW),
        disposition="REJECT+FLAG",
        description="Talk within one month of receiving the application.",
        family="JOIN",
        tx_types=_STEP,
        fn=join02,
        schedule=join02_schedule,
        on_due=join02_due,
    ),
    Rule(
        rule_id="JOIN-03",
        colours=(Colour.RED, Colour.BLUE),
        disposition="REJECT+FLAG",
        description="Activist determined by branch committee decision and filed upward.",
        family="JOIN",
        tx_types=_STEP,
        fn=join03,
        schedule=join03_schedule,
        on_due=join03_due,
    ),
    Rule(
        rule_id="JOIN-04",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="One or two cultivation contacts, full members.",
        family="JOIN",
        tx_types=_STEP,
        fn=join04,
    ),
    Rule(
        rule_id="JOIN-05",
        colours=(Colour.YELLOW,),
        disposition="FLAG",
        description="Half-yearly assessment of activists.",
        family="JOIN",
        tx_types=_STEP,
        fn=join05,
        schedule=join05_schedule,
        on_due=join05_due,
    ),
    Rule(
        rule_id="JOIN-06",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="At least one year as activist before becoming development target.",
        family="JOIN",
        tx_types=_STEP,
        fn=join06,
    ),
    Rule(
        rule_id="JOIN-07",
        colours=(Colour.RED, Colour.YELLOW, Colour.BLUE),
        disposition="REJECT+FLAG",
        description="Development target decided by branch committee after hearing opinions, filed upward.",
        family="JOIN",
        tx_types=_STEP,
        fn=join07,
        schedule=join07_schedule,
        on_due=join07_due,
    ),
    Rule(
        rule_id="JOIN-28",
        colours=(Colour.BLUE,),
        disposition="FLAG",
        description="Application to activist: no legal minimum (config minimum; stale application).",
        family="JOIN",
        tx_types=_STEP,
        fn=join28,
        schedule=join28_schedule,
        on_due=join28_due,
    ),
)
