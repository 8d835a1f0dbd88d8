"""Joining procedure, the admission (DOMAIN.md B.1): JOIN-09..12, JOIN-14..16, JOIN-26, JOIN-27.

Rules:

- JOIN-09: before S12 and S15, a political review (S10) concluded QUALIFIED with a
  POLITICAL_REVIEW document, dated between S07 and S12: else RED REJECT. A review older than
  `political_review_validity_months` at S15: YELLOW FLAG.
- JOIN-10: at S15, centralised training (S11) of at least 3 days or 24 class hours between S07
  and S15 with a TRAINING_CERT document: else RED REJECT, or YELLOW FLAG when S11 is marked as an
  individual special case (`extra.special_case`).
- JOIN-11 RED REJECT: S11 → S12 → S13 → S14 → S15 in that order and date order, and S14/S15 only
  after a pre-review (S13) that PASSED.
- JOIN-12 YELLOW FLAG: at S13, a PUBLIC_NOTICE document about the person whose notice period
  (`notice_start_date`..`notice_end_date`, else its date) lasts `public_notice_days` working days
  (calendar days when `public_notice_working_days` is false) and ends no later than S13.
- JOIN-14: S15 PASS needs the branch general meeting's vote (see `procedure`): quorum, approval,
  one person per item, the roster, the ballots: RED REJECT; a vote that was not by secret
  ballot: RED FLAG.
- JOIN-15 RED REJECT: the higher committee's talk (S16) is held by one of its committee members
  or its organiser, and S17 follows an S16 dated between S15 and S17.
- JOIN-16 RED REJECT: S17 approved collectively (a PASSED COMMITTEE meeting item, or a PASSED
  decision made at a meeting) by the approving org, never a branch; one approval item approves one
  person: the item names the person (an item without a subject, or naming another person, is
  refused), and no other person's S17/S24 cited the same item or decision record (2026-12). A
  branch, a sibling county or any org but the approving one writing S17 is refused by the
  joining family's permission check, which names this rule.
- JOIN-26 YELLOW FLAG: more than `rush_max` admissions (S15 PASS) in one branch within
  `rush_window_days`, or (when `rush_max_permille` > 0) more than that share of its members on
  the S15 date.
- JOIN-27 YELLOW FLAG: admission (S15) of a person expected to leave the unit within 3 months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, Rule, TxCtx, Verdict
from contracts.calendar import add_days, add_months, parse_date
from contracts.config import Config
from contracts.identity import approval_org
from contracts.joining import extra_of
from contracts.records import attempt_docs, chain_steps, get_archive, get_doc, get_pipeline, members_on
from contracts.rules.procedure import (
    COMMITTEE_POSTS,
    admission_vote_problems,
    approval_problems,
    events,
    held_post,
    is_step,
    step_verdict,
)
from contracts.state import View
from contracts.workdays import working_days

TRAINING_DAYS_MIN = 3  # 《细则》: 培训时间一般不少于三天（或不少于二十四个学时）
TRAINING_HOURS_MIN = 24
LEAVING_MONTHS = 3  # 《细则》第十九条: 未来三个月内将离开
_ORDER = ("S11", "S12", "S13", "S14", "S15")


def _has_doc(view: View, tx: TxCtx, doc_type: str, refs: Sequence[str]) -> bool:
    p = tx.payload
    if any((d := get_doc(view, r)) is not None and d["doc_type"] == doc_type for r in refs):
        return True
    return bool(attempt_docs(view, p["person_key"], doc_type, p["pipeline_id"]))


# ---------------------------------------------------------------------------------------- JOIN-09
def join09(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S12", "S15"):
        return ()
    p = tx.payload
    steps = chain_steps(view, p["pipeline_id"])
    reviews = [e for e in events(view, p["pipeline_id"], "S10") if e["extra"]["conclusion"] == "QUALIFIED"]
    if not reviews:
        return (
            step_verdict(
                view, "JOIN-09", tx, "no_qualified_review", "no political review concluded QUALIFIED (S10)"
            ),
        )
    review = reviews[-1]
    day, s12 = review["event_date"], (p["event_date"] if p["step"] == "S12" else steps.get("S12"))
    if not _has_doc(view, tx, "POLITICAL_REVIEW", review["doc_refs"]):
        return (
            step_verdict(
                view,
                "JOIN-09",
                tx,
                "review_doc_missing",
                "the political review has no POLITICAL_REVIEW document",
            ),
        )
    if day < steps.get("S07", day) or (s12 is not None and day > s12):
        return (
            step_verdict(
                view,
                "JOIN-09",
                tx,
                "review_out_of_stage",
                f"political review dated {day}, not between S07 and S12",
            ),
        )
    months = config.get_int("political_review_validity_months", tx.org_id)
    if p["step"] == "S15" and p["event_date"] > add_months(parse_date(day), months).isoformat():
        return (
            step_verdict(
                view,
                "JOIN-09",
                tx,
                "review_stale",
                f"political review of {day} older than {months} months",
                Colour.YELLOW,
            ),
        )
    return ()


# ---------------------------------------------------------------------------------------- JOIN-10
def join10(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S15"):
        return ()
    p = tx.payload
    trainings = events(view, p["pipeline_id"], "S11")
    if not trainings:
        return (step_verdict(view, "JOIN-10", tx, "no_training", "no centralised training (S11)"),)
    s11 = trainings[-1]
    extra = s11["extra"]
    s07 = chain_steps(view, p["pipeline_id"]).get("S07", s11["event_date"])
    problems = []
    if (extra["days"] or 0) < TRAINING_DAYS_MIN and (extra["hours"] or 0) < TRAINING_HOURS_MIN:
        problems.append(f"{extra['days'] or 0} days / {extra['hours'] or 0} hours of training")
    if not s07 <= s11["event_date"] <= p["event_date"]:
        problems.append(f"training dated {s11['event_date']}, not between S07 and S15")
    if not _has_doc(view, tx, "TRAINING_CERT", s11["doc_refs"]):
        problems.append("no TRAINING_CERT document")
    if not problems:
        return ()
    if extra["special_case"]:
        return (
            step_verdict(
                view,
                "JOIN-10",
                tx,
                "training_special_case",
                "; ".join(problems) + " (special case)",
                Colour.YELLOW,
            ),
        )
    return (step_verdict(view, "JOIN-10", tx, "training_insufficient", "; ".join(problems)),)


# ---------------------------------------------------------------------------------------- JOIN-11
def join11(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, *_ORDER[1:], result=("PASS", "N_A")):
        return ()
    p = tx.payload
    step, day = p["step"], p["event_date"]
    steps = chain_steps(view, p["pipeline_id"])
    for pred in _ORDER[: _ORDER.index(step)]:
        if pred not in steps:
            return (step_verdict(view, "JOIN-11", tx, "missing_step", f"{step} needs {pred} first"),)
        if steps[pred] > day:
            return (
                step_verdict(
                    view, "JOIN-11", tx, "out_of_order", f"{step} on {day} precedes {pred} on {steps[pred]}"
                ),
            )
    prereviews = events(view, p["pipeline_id"], "S13")
    if step in ("S14", "S15") and prereviews and prereviews[-1]["result"] != "PASS":
        return (
            step_verdict(
                view, "JOIN-11", tx, "prereview_not_passed", "the higher committee's pre-review did not pass"
            ),
        )
    return ()


# ---------------------------------------------------------------------------------------- JOIN-12
def _notice_length(view: View, doc: dict[str, Any], working: bool) -> tuple[int, str, list[str]]:
    start = parse_date(doc.get("notice_start_date") or doc["doc_date"])
    end = parse_date(doc.get("notice_end_date") or doc["doc_date"])
    if working:
        count, used = working_days(view, start, end)
        return count, end.isoformat(), used
    return (end - start).days + 1, end.isoformat(), []


def join12(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S13"):
        return ()
    p = tx.payload
    needed = config.get_int("public_notice_days", tx.org_id)
    working = config.get_bool("public_notice_working_days", tx.org_id)
    best: tuple[int, str, list[str]] | None = None
    for doc in attempt_docs(view, p["person_key"], "PUBLIC_NOTICE", p["pipeline_id"]):
        length, end, used = _notice_length(view, doc, working)
        if end <= p["event_date"] and (best is None or length > best[0]):
            best = (length, end, used)
        if end <= p["event_date"] and length >= needed:
            return ()
    unit = "working days" if working else "days"
    text = "no public notice before the pre-review" if best is None else f"public notice of {best[0]} {unit}"
    v = step_verdict(
        view,
        "JOIN-12",
        tx,
        "notice_missing" if best is None else "notice_short",
        f"{text}; {needed} {unit} needed",
        Colour.YELLOW,
    )
    return (replace(v, details={"calendars": best[2] if best else []}),)


# ---------------------------------------------------------------------------------------- JOIN-14
def join14(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S15"):
        return ()
    p = tx.payload
    pipe = get_pipeline(view, p["pipeline_id"])
    if pipe is None:
        return ()
    out = []
    for code, text, is_reject in admission_vote_problems(
        view, pipe["org_id"], p["decision_ref"], p["person_key"], extra_of(p)["item_id"], p["event_date"]
    ):
        out.append(step_verdict(view, "JOIN-14", tx, code, text, None if is_reject else Colour.RED))
    return out


# ---------------------------------------------------------------------------------------- JOIN-15
def join15(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if is_step(tx, "S16"):
        pipe = get_pipeline(view, p["pipeline_id"])
        orgs = sorted({tx.org_id, approval_org(view, pipe["org_id"]) or tx.org_id} if pipe else {tx.org_id})
        if any(
            held_post(view, org, k, COMMITTEE_POSTS, p["event_date"]) for org in orgs for k in p["actor_keys"]
        ):
            return ()
        return (
            step_verdict(
                view,
                "JOIN-15",
                tx,
                "talker_not_committee",
                "the talker is not a committee member or organiser",
            ),
        )
    if not is_step(tx, "S17"):
        return ()
    steps = chain_steps(view, p["pipeline_id"])
    s15, s16 = steps.get("S15"), steps.get("S16")
    if s16 is None or s15 is None or not s15 <= s16 <= p["event_date"]:
        return (
            step_verdict(
                view,
                "JOIN-15",
                tx,
                "no_committee_talk",
                "no talk by the higher committee between S15 and S17",
            ),
        )
    return ()


# ---------------------------------------------------------------------------------------- JOIN-16
def join16(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S17"):
        return ()
    p = tx.payload
    problems = approval_problems(view, p["decision_ref"], p["person_key"], extra_of(p)["item_id"], tx.org_id)
    return tuple(step_verdict(view, "JOIN-16", tx, code, text) for code, text in problems[:1])


# ---------------------------------------------------------------------------------------- JOIN-26
def join26(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S15"):
        return ()
    p = tx.payload
    pipe = get_pipeline(view, p["pipeline_id"])
    if pipe is None:
        return ()
    org, day = pipe["org_id"], p["event_date"]
    window = config.get_int("rush_window_days", org)
    first = add_days(parse_date(day), 1 - window).isoformat()
    prefix = keys.idx_admission(org)
    others = [k for k, _ in view.scan_range(prefix + first, prefix + day + "~")]
    count = len(others) + 1
    limit, permille = config.get_int("rush_max", org), config.get_int("rush_max_permille", org)
    members = len(members_on(view, org, day))
    if count <= limit and not (permille > 0 and 1000 * count > permille * members):
        return ()
    text = f"{count} admissions in {org} within {window} days (limit {limit})"
    return (step_verdict(view, "JOIN-26", tx, "rush_admission", text, Colour.YELLOW),)


# ---------------------------------------------------------------------------------------- JOIN-27
def join27(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S15"):
        return ()
    p = tx.payload
    archive = get_archive(view, p["person_key"])
    leaving = None if archive is None else archive["expected_departure_date"]
    if leaving is None or leaving >= add_months(parse_date(p["event_date"]), LEAVING_MONTHS).isoformat():
        return ()
    return (
        step_verdict(
            view, "JOIN-27", tx, "leaving_soon", f"expected to leave the unit on {leaving}", Colour.YELLOW
        ),
    )


def _rule(rule_id: str, colours: tuple[Colour, ...], disposition: str, text: str, fn: Any) -> Rule:
    return Rule(
        rule_id=rule_id,
        colours=colours,
        disposition=disposition,
        description=text,
        family="JOIN",
        tx_types=("join.step",),
        fn=fn,
    )


RED, YELLOW = Colour.RED, Colour.YELLOW
RULES: tuple[Rule, ...] = (
    _rule(
        "JOIN-09",
        (RED, YELLOW),
        "REJECT+FLAG",
        "Political review concluded and qualified before admission.",
        join09,
    ),
    _rule(
        "JOIN-10",
        (RED, YELLOW),
        "REJECT+FLAG",
        "Centralised training of at least 3 days or 24 class hours.",
        join10,
    ),
    _rule(
        "JOIN-11",
        (RED,),
        "REJECT",
        "Branch committee review → higher committee pre-review → volunteer book → general meeting, in that order.",
        join11,
    ),
    _rule("JOIN-12", (YELLOW,), "FLAG", "Public notice before pre-review.", join12),
    _rule(
        "JOIN-14",
        (RED,),
        "REJECT+FLAG",
        "Branch general meeting vote: quorum, secret ballot, approval, one person per item.",
        join14,
    ),
    _rule("JOIN-15", (RED,), "REJECT", "Higher committee talk before approval.", join15),
    _rule(
        "JOIN-16",
        (RED,),
        "REJECT",
        "Approval by a committee with approval authority, collectively, one by one.",
        join16,
    ),
    _rule("JOIN-26", (YELLOW,), "FLAG", "Rush admission (突击发展).", join26),
    _rule("JOIN-27", (YELLOW,), "FLAG", "Development target leaving the unit within 3 months.", join27),
)
