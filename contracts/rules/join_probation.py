"""Joining procedure, probation and conversion (DOMAIN.md B.1): JOIN-20, 21, 23, 25.

Rules:

- JOIN-20 RED REJECT: probation is one year from the branch resolution: an archive imported or
  amended must have `full_date == addMonths(join_date, 12 + probation_extension_months)`. With a
  pipeline on the ledger ARC-01, which holds the archive to the pipeline's S15 and probation end,
  outranks it (the engine derives the pipeline's probation end from S15 itself).
- JOIN-21: conversion (S23) needs a CONVERSION_APPLICATION dated no later than it, is held at or
  after the probation end (premature: RED REJECT) and its vote meets JOIN-14's thresholds (RED
  REJECT; not secret: RED FLAG). Discussed later than `conversion_discussion_grace_months` after
  max(probation end, S22): YELLOW FLAG; more than 3 months: RED FLAG (also as deadlines). While
  no S22 is recorded the grace deadline after the probation end raises only a BLUE reminder
  (`conversion_application_missing`, 2026-12) and the 3-month one nothing; a later S22 moves both
  deadlines, which then raise YELLOW / RED if the discussion misses them. An extension decided
  before the probation ends is JOIN-23's (it outranks this rule's "premature").
- JOIN-23 RED REJECT: an extension (S23 EXTEND) of 6 to 12 months, once per pipeline, decided
  at or after the original probation end; an imported archive's `probation_extension_months` 0 or
  6 to 12. The payload schemas only bound these counts (0..120), so a 13-month extension is a
  receipt that names this rule, not a schema refusal. It outranks JOIN-21 (an extension before the
  probation ends) and JOIN-20 (an import's full date with an extension out of range).
- JOIN-25: `archive_deadline_days` after S24, S25 recorded and the archive materials
  (APPLICATION, VOLUNTEER_BOOK, POLITICAL_REVIEW, CONVERSION_APPLICATION, ASSESSMENT) registered:
  else BLUE FLAG, after twice the time YELLOW FLAG (deadlines; S25 with materials missing: BLUE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict, reject
from contracts.calendar import add_days, add_months, parse_date
from contracts.config import Config
from contracts.joining import extra_of
from contracts.records import attempt_docs, get_archive, get_pipeline
from contracts.rules.procedure import (
    admission_vote_problems,
    due_flag,
    due_pipeline,
    events,
    is_step,
    step_due,
    step_verdict,
)
from contracts.state import View

PROBATION_MONTHS = 12  # 《党章》第七条: 预备期为一年
CONVERSION_RED_MONTHS = 3  # "收到转正申请一个月内…最长不超过3个月" (secondary)
EXTENSION_MIN_MONTHS, EXTENSION_MAX_MONTHS = 6, 12  # 《细则》: 不能少于半年，最长不超过一年
ARCHIVE_DOCS = ("APPLICATION", "VOLUNTEER_BOOK", "POLITICAL_REVIEW", "CONVERSION_APPLICATION", "ASSESSMENT")


# ---------------------------------------------------------------------------------------- JOIN-20
def join20(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["join_date"] is None or p["full_date"] is None:
        return ()
    archive = get_archive(view, p["person_key"]) if tx.tx_type == "archive.amend" else None
    ext = archive["probation_extension_months"] if archive is not None else p["probation_extension_months"]
    expected = add_months(parse_date(p["join_date"]), PROBATION_MONTHS + ext).isoformat()
    if p["full_date"] == expected:
        return ()
    return (
        reject(
            "JOIN-20",
            "probation_not_one_year",
            f"joined {p['join_date']}, extension {ext} months: full membership on {expected}, not {p['full_date']}",
            subject_keys=(p["person_key"],),
            record_refs=(keys.archive(p["person_key"]),),
        ),
    )


# ---------------------------------------------------------------------------------------- JOIN-21
def _conversion_base(view: View, pipe: dict[str, Any]) -> str | None:
    end = pipe["probation_end"]
    if end is None:
        return None
    s22 = [str(e["event_date"]) for e in events(view, pipe["pipeline_id"], "S22")]
    return max([str(end), *s22])


def _lateness(base: str, day: str, config: Config, org: str) -> tuple[Colour, str] | None:
    grace = config.get_int("conversion_discussion_grace_months", org)
    if day > add_months(parse_date(base), CONVERSION_RED_MONTHS).isoformat():
        return Colour.RED, "conversion_very_late"
    if day > add_months(parse_date(base), grace).isoformat():
        return Colour.YELLOW, "conversion_late"
    return None


def join21(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S23", result=("PASS", "EXTEND", "CANCEL")):
        return ()
    p = tx.payload
    pipe = get_pipeline(view, p["pipeline_id"])
    if pipe is None or pipe["probation_end"] is None:
        return ()
    day = p["event_date"]
    apps = attempt_docs(view, p["person_key"], "CONVERSION_APPLICATION", p["pipeline_id"])
    if not any(d["doc_date"] <= day for d in apps):
        return (
            step_verdict(
                view, "JOIN-21", tx, "no_conversion_application", "no written conversion application", None
            ),
        )
    if day < pipe["probation_end"]:
        return (
            step_verdict(
                view,
                "JOIN-21",
                tx,
                "premature",
                f"discussed {day}, before the probation ends {pipe['probation_end']}",
                None,
            ),
        )
    out = [
        step_verdict(view, "JOIN-21", tx, code, text, None if is_reject else Colour.RED)
        for code, text, is_reject in admission_vote_problems(
            view, pipe["org_id"], p["decision_ref"], p["person_key"], extra_of(p)["item_id"], day
        )
    ]
    base = _conversion_base(view, pipe)
    late = None if base is None else _lateness(base, day, config, tx.org_id)
    if late is not None and base is not None:
        dedup = f"{pipe['probation_end']}:{late[0].value}"
        out.append(
            step_verdict(
                view, "JOIN-21", tx, late[1], f"conversion discussed {day}, due after {base}", late[0], dedup
            )
        )
    return out


def join21_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not (is_step(tx, "S17", "S22") or is_step(tx, "S23", result=("EXTEND",))):
        return ()
    pipe = get_pipeline(view, tx.payload["pipeline_id"])
    base = None if pipe is None else _conversion_base(view, pipe)
    if base is None:
        return ()
    grace = config.get_int("conversion_discussion_grace_months", tx.org_id)
    return (
        step_due(tx, "JOIN-21", "late", add_months(parse_date(base), grace), base=base),
        step_due(tx, "JOIN-21", "very_late", add_months(parse_date(base), CONVERSION_RED_MONTHS), base=base),
    )


def join21_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None or found[0]["status"] != "OPEN":
        return ()
    pipe = found[0]
    if _conversion_base(view, pipe) != entry.ref["base"]:
        return ()  # a later S22 or an extension moved the deadline: another entry watches it
    if any(e["event_date"] >= pipe["probation_end"] for e in events(view, pipe["pipeline_id"], "S23")):
        return ()
    if not events(view, pipe["pipeline_id"], "S22"):
        if entry.tag != "late":
            return ()  # no application yet: the reminder at the grace deadline is all
        text = f"probation ended {pipe['probation_end']}; no conversion application (S22) recorded yet"
        dedup = f"{pipe['probation_end']}:BLUE"
        return (due_flag(view, "JOIN-21", Colour.BLUE, "conversion_application_missing", text, entry, dedup),)
    colour = Colour.YELLOW if entry.tag == "late" else Colour.RED
    code = "conversion_late" if entry.tag == "late" else "conversion_very_late"
    text = f"probation ended {pipe['probation_end']}; conversion not discussed yet"
    return (due_flag(view, "JOIN-21", colour, code, text, entry, f"{pipe['probation_end']}:{colour.value}"),)


# ---------------------------------------------------------------------------------------- JOIN-23
def _import_extension(tx: TxCtx) -> Sequence[Verdict]:
    months = tx.payload["probation_extension_months"] or 0
    if months == 0 or EXTENSION_MIN_MONTHS <= months <= EXTENSION_MAX_MONTHS:
        return ()
    pk = tx.payload["person_key"]
    text = f"a probation extended by {months} months in total: 6 to 12 allowed"
    return (
        reject(
            "JOIN-23", "extension_out_of_range", text, subject_keys=(pk,), record_refs=(keys.archive(pk),)
        ),
    )


def join23(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if tx.tx_type == "archive.create":
        return _import_extension(tx)
    if not is_step(tx, "S23", result=("EXTEND",)):
        return ()
    p = tx.payload
    months = extra_of(p)["extension_months"] or 0
    pipe = get_pipeline(view, p["pipeline_id"])
    original = None
    if pipe is not None and pipe["s15_date"] is not None:
        original = add_months(parse_date(pipe["s15_date"]), PROBATION_MONTHS).isoformat()
    if not EXTENSION_MIN_MONTHS <= months <= EXTENSION_MAX_MONTHS:
        return (
            step_verdict(
                view, "JOIN-23", tx, "extension_out_of_range", f"{months} months: 6 to 12 allowed", None
            ),
        )
    if any(e["result"] == "EXTEND" for e in events(view, p["pipeline_id"], "S23")):
        return (
            step_verdict(
                view, "JOIN-23", tx, "second_extension", "the probation was already extended once", None
            ),
        )
    if original is not None and p["event_date"] < original:
        return (
            step_verdict(
                view,
                "JOIN-23",
                tx,
                "extension_before_expiry",
                f"extended before the probation ends {original}",
                None,
            ),
        )
    return ()


# ---------------------------------------------------------------------------------------- JOIN-25
def _archive_missing(view: View, pipe: dict[str, Any], steps: dict[str, str]) -> list[str]:
    missing = [] if "S25" in steps else ["S25"]
    pk = pipe["person_key"]
    return missing + [t for t in ARCHIVE_DOCS if not attempt_docs(view, pk, t, pipe["pipeline_id"])]


def join25(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not is_step(tx, "S25"):
        return ()
    p = tx.payload
    pk = p["person_key"]
    missing = [t for t in ARCHIVE_DOCS if not attempt_docs(view, pk, t, p["pipeline_id"])]
    if not missing:
        return ()
    text = f"archived without {', '.join(missing)}"
    return (step_verdict(view, "JOIN-25", tx, "archive_incomplete", text, Colour.BLUE, once="BLUE"),)


def join25_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if not is_step(tx, "S24"):
        return ()
    days = config.get_int("archive_deadline_days", tx.org_id)
    day = parse_date(tx.payload["event_date"])
    return (
        step_due(tx, "JOIN-25", "blue", add_days(day, days)),
        step_due(tx, "JOIN-25", "yellow", add_days(day, 2 * days)),
    )


def join25_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    found = due_pipeline(view, entry)
    if found is None:
        return ()
    missing = _archive_missing(view, *found)
    if not missing:
        return ()
    colour = Colour.BLUE if entry.tag == "blue" else Colour.YELLOW
    text = f"archive not complete after conversion: {', '.join(missing)} missing"
    return (due_flag(view, "JOIN-25", colour, "archive_incomplete", text, entry, colour.value),)


_STEP = ("join.step",)
RED, YELLOW, BLUE = Colour.RED, Colour.YELLOW, Colour.BLUE
RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="JOIN-20",
        colours=(RED,),
        disposition="REJECT",
        description="Probation is one year from the branch resolution.",
        family="JOIN",
        tx_types=("archive.create", "archive.amend"),
        fn=join20,
    ),
    Rule(
        rule_id="JOIN-21",
        colours=(RED, YELLOW, BLUE),  # DOMAIN 2026-12: BLUE before the application exists
        disposition="REJECT+FLAG",
        description="Conversion: written application, vote at/after expiry, same vote thresholds.",
        family="JOIN",
        tx_types=_STEP,
        fn=join21,
        schedule=join21_schedule,
        on_due=join21_due,
    ),
    Rule(
        rule_id="JOIN-23",
        colours=(RED,),
        disposition="REJECT",
        description="Extension of probation: at least 6 months, at most 12 months in total, decided at expiry.",
        family="JOIN",
        tx_types=(*_STEP, "archive.create"),
        fn=join23,
    ),
    Rule(
        rule_id="JOIN-25",
        colours=(YELLOW, BLUE),
        disposition="FLAG",
        description="Archive materials filed.",
        family="JOIN",
        tx_types=_STEP,
        fn=join25,
        schedule=join25_schedule,
        on_due=join25_due,
    ),
)
