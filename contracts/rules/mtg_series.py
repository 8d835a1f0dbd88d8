"""Organisational life over time (DOMAIN.md B.4): MTG-05 absence, MTG-06 meeting frequency.

Rules:

- MTG-05, per member of the meeting's own branch, per required series (branch general meeting,
  party group, party lesson, theme day; as first recorded): `absence_streak_n` consecutive
  ABSENT entries: YELLOW FLAG; that many consecutive ABSENT-or-LEAVE entries (not all absent):
  BLUE FLAG (once per streak). Deadlines from the last organisational life of the own branch the
  member attended or was excused from (LEAVE is a proper reason; a member first seen absent is
  counted from that meeting): after `absence_yellow_months` YELLOW FLAG, after 6 months RED FLAG
  (《党章》第九条), unless the member has left the branch, is no longer a member, or is away
  (flow-out, abroad, lost contact: XFER-09/10's). The contract never changes a status itself.
- MTG-06, for a branch-level org from the first whole month after its first recorded
  organisational-life meeting: each period (CST calendar months, quarters, half years, years)
  needs at least one meeting of each series: theme day, party group (each group seen) and, in a
  branch of 7 or more full members, branch committee, monthly; branch general meeting
  quarterly; party lesson per `party_lesson_period`; organisational-life meeting, democratic
  review and a party lesson by the branch secretary yearly. `reminder_days` before a period ends
  with none yet: BLUE FLAG; counted `series_close_grace_days` after it ends (minutes may come a
  few days late): none: YELLOW FLAG, none two periods in a row: RED FLAG. Two deadlines per
  tracked org and month (reminder, close); each close schedules the next month's, so the rhythm
  holds through quiet gaps, and every meeting the org records re-arms the current month's pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict, flag
from contracts.calendar import (
    add_days,
    add_months,
    cst_date,
    day_start_ms,
    month_of,
    month_start,
    parse_date,
    passed_ms,
)
from contracts.config import Config
from contracts.meeting_index import STREAK_TYPES, next_streak, orgs_of, own_attendees, series_of
from contracts.records import MEMBER_STATUSES, full_member_count, get_archive
from contracts.rules.procedure import BRANCH_COMMITTEE_MIN_FULL, held_post
from contracts.state import View

ABSENCE_RED_MONTHS = 6  # 《党章》第九条: 连续六个月不参加党的组织生活
PERIOD_MONTHS = {"MONTH": 1, "QUARTER": 3, "HALF_YEAR": 6, "YEAR": 12}
FIXED_SERIES = (
    ("THEME_DAY", "MONTH"),
    ("BRANCH_COMMITTEE", "MONTH"),
    ("BRANCH_GENERAL", "QUARTER"),
    ("ORG_LIFE", "YEAR"),
    ("DEMOCRATIC_REVIEW", "YEAR"),
    ("SECRETARY_LESSON", "YEAR"),
)


# ---------------------------------------------------------------------------------------- MTG-05
def mtg05(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = dict(tx.payload, org_id=tx.org_id)
    if tx.tx_type != "meeting.record" or p["meeting_type"] not in STREAK_TYPES:
        return ()
    limit = config.get_int("absence_streak_n", tx.org_id)
    series = series_of(p)
    out = []
    for pk, status in own_attendees(view, p):
        archive = get_archive(view, pk)
        org = tx.org_id if archive is None else archive["current_org_id"]
        s = next_streak(view.get(keys.absence_streak(pk, org, series)), status, p["meeting_id"])
        if s["absent"] >= limit:
            colour, code, since, n = Colour.YELLOW, "absent_streak", s["absent_since"], s["absent"]
        elif s["missed"] >= limit:
            colour, code, since, n = Colour.BLUE, "missed_streak", s["missed_since"], s["missed"]
        else:
            continue
        out.append(
            flag(
                "MTG-05",
                colour,
                code,
                f"{n} {series} meetings in a row without attending (since {since})",
                subject_keys=(pk,),
                record_refs=(keys.meeting(p["meeting_id"]),),
                dedup_key=f"{pk}:{org}:{series}:{since}:{colour.value}",
            )
        )
    return out


def mtg05_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if tx.tx_type != "meeting.record":
        return ()
    out = []
    for pk, _ in own_attendees(view, dict(tx.payload, org_id=tx.org_id)):
        presence = view.get(keys.presence(pk))
        if presence is None or presence.get("updated_tx") != tx.tx_hex:
            continue
        last, org = parse_date(presence["last"]), presence["org_id"]
        ref = {"person_key": pk, "org_id": org, "last": presence["last"]}
        months = (("yellow", config.get_int("absence_yellow_months", org)), ("red", ABSENCE_RED_MONTHS))
        for tag, n in months:
            out.append(
                DueRequest(
                    at_ms=passed_ms(add_months(last, n)), rule_id="MTG-05", tag=tag, ref=ref, org_id=org
                )
            )
    return out


def mtg05_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk, org, last = entry.ref["person_key"], entry.ref["org_id"], entry.ref["last"]
    presence, archive = view.get(keys.presence(pk)), get_archive(view, pk)
    if presence is None or presence["last"] != last or presence["org_id"] != org or archive is None:
        return ()
    if archive["current_org_id"] != org or archive["status"] not in MEMBER_STATUSES:
        return ()
    if archive["relationship_state"] != "NORMAL" or archive["flow_out"] is not None:
        return ()
    colour = Colour.RED if entry.tag == "red" else Colour.YELLOW
    months = ABSENCE_RED_MONTHS if entry.tag == "red" else config.get_int("absence_yellow_months", org)
    return (
        flag(
            "MTG-05",
            colour,
            "no_organisational_life",
            f"no organisational life of {org} attended since {last} ({months} months)",
            subject_keys=(pk,),
            record_refs=(keys.archive(pk),),
            org_id=org,
            dedup_key=f"{pk}:{last}:{entry.tag}",
        ),
    )


# ---------------------------------------------------------------------------------------- MTG-06
def _series(view: View, org: str, track: dict[str, Any], config: Config) -> list[tuple[str, int]]:
    out = [(name, PERIOD_MONTHS[period]) for name, period in FIXED_SERIES]
    out.append(("PARTY_LESSON", PERIOD_MONTHS[config.get_str("party_lesson_period", org)]))
    out.extend((group, 1) for group in track["groups"])
    return out


def _applies(view: View, org: str, series: str) -> bool:
    return series != "BRANCH_COMMITTEE" or full_member_count(view, org) >= BRANCH_COMMITTEE_MIN_FULL


def _count(view: View, org: str, series: str, first: str, last: str) -> int:
    kind = "PARTY_LESSON" if series == "SECRETARY_LESSON" else series
    prefix = keys.idx_meeting_day(org, kind)
    found = [r["meeting_id"] for _, r in view.scan_range(prefix + first, prefix + last + "~")]
    if series != "SECRETARY_LESSON":
        return len(found)
    count = 0
    for mid in found:
        m = view.get(keys.meeting(mid))
        if m is not None and m["lecturer_key"] is not None:
            count += held_post(view, org, m["lecturer_key"], ("SECRETARY",), cst_date(m["start"]).isoformat())
    return count


def _due(org: str, month: int, kind: str, at_ms: int) -> DueRequest:
    return DueRequest(
        at_ms=at_ms, rule_id="MTG-06", tag=kind, ref={"org_id": org, "month": month}, org_id=org
    )


def _month_pair(org: str, month: int, config: Config) -> list[DueRequest]:
    end = month_start(month + 1)
    remind = add_days(end, -config.get_int("reminder_days", org))
    close = add_days(end, config.get_int("series_close_grace_days", org))
    return [_due(org, month, "remind", day_start_ms(remind)), _due(org, month, "close", day_start_ms(close))]


def mtg06_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    out = []
    for org in orgs_of(dict(tx.payload, org_id=tx.org_id)):
        track = view.get(keys.meeting_series(org))
        if track is not None:
            out.extend(_month_pair(org, max(month_of(ctx.today), track["start_month"]), config))
    return out


def mtg06_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    org, month = entry.ref["org_id"], entry.ref["month"]
    track = view.get(keys.meeting_series(org))
    if track is None:
        return ()
    out = []
    short = dict(track["short"])
    for series, months in _series(view, org, track, config):
        if (
            (month + 1) % months
            or month + 1 - months < track["start_month"]
            or not _applies(view, org, series)
        ):
            continue
        first = month_start(month + 1 - months).isoformat()
        last = add_days(month_start(month + 1), -1).isoformat()
        period = f"{first[:7]}/{months}"
        held = _count(view, org, series, first, last)
        if entry.tag == "remind":
            if held == 0:
                text = f"no {series} yet in the period {period} (ends {last})"
                out.append(_series_flag(org, series, period, Colour.BLUE, "meeting_due", text))
            continue
        streak = 0 if held else int(short.get(series, 0)) + 1
        short[series] = streak
        if streak:
            colour = Colour.RED if streak >= 2 else Colour.YELLOW
            text = f"no {series} in the period {period}" + (
                f" ({streak} periods in a row)" if streak >= 2 else ""
            )
            out.append(_series_flag(org, series, period, colour, "meeting_missing", text))
    if entry.tag == "close":
        view.put(keys.meeting_series(org), dict(track, short=short))  # the rule's own bookkeeping
    return out


def _series_flag(org: str, series: str, period: str, colour: Colour, code: str, text: str) -> Verdict:
    return flag(
        "MTG-06",
        colour,
        code,
        text,
        record_refs=(keys.meeting_series(org),),
        org_id=org,
        details={"series": series, "period": period},
        dedup_key=f"{org}:{series}:{period}:{colour.value}",
    )


def mtg06_next(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    if entry.tag != "close" or view.get(keys.meeting_series(entry.ref["org_id"])) is None:
        return ()
    # a configuration with a reminder before the last close would point back in time: skip it
    return [
        r for r in _month_pair(entry.ref["org_id"], entry.ref["month"] + 1, config) if r.at_ms > entry.at_ms
    ]


RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="MTG-05",
        colours=(Colour.RED, Colour.YELLOW, Colour.BLUE),
        disposition="FLAG",
        description="Absence streak (3 meetings; 3 and 6 months without organisational life).",
        family="MTG",
        tx_types=("meeting.record",),
        fn=mtg05,
        schedule=mtg05_schedule,
        on_due=mtg05_due,
    ),
    Rule(
        rule_id="MTG-06",
        colours=(Colour.RED, Colour.YELLOW, Colour.BLUE),
        disposition="FLAG",
        description="Meeting frequency shortfalls (each series every period).",
        family="MTG",
        tx_types=("meeting.record", "meeting.amend"),
        schedule=mtg06_schedule,
        on_due=mtg06_due,
        next_due=mtg06_next,
    ),
)
