"""Organisational life, one meeting at a time (DOMAIN.md B.4): MTG-01..04, MTG-07..09.

Rules (checked on `meeting.record` and `meeting.amend`; a meeting's date is the CST date of its
start; "present" = PRESENT or PRESENT_ONLINE):

- MTG-01: a person present at two overlapping meetings: RED FLAG; overlapping by no more than
  `overlap_tolerance_min`: YELLOW FLAG (once per person and pair of meetings).
- MTG-02: minutes with the file hash of another meeting's minutes: RED REJECT; with the same
  normalised-text hash: RED FLAG; the same agenda titles and the same people present in three or
  more meetings: YELLOW FLAG (once per agenda-and-people set).
- MTG-03: a person recorded present, absent or on leave at an organisational-life or committee
  meeting who is not a member of the org (relationship held by it or an org below it, or a post in
  it) on the meeting date: RED REJECT when the person votes (entitled voter, written opinion,
  roll-call vote), else YELLOW FLAG. OBSERVER attendance is never judged (DOMAIN 2026-12: dual
  organisational life, guests). Persons who left the org are XFER-04's; leadership meetings
  (班子会, 董事会) have non-members by nature and are not judged.
- MTG-04: minutes registered more than `minutes_late_days` after the meeting ended: YELLOW FLAG;
  more than `minutes_late_red_days`: RED FLAG (first recording only).
- MTG-07: every vote (a party meeting with items: ordinary, branch committee, county committee,
  admission, conversion) lists as entitled only voting full members of the org on the meeting
  date (DOMAIN 2026-12; a committee: of the org or below, or holding a committee post in it), and
  a general meeting leaves none out without a roster snapshot: else RED REJECT (a probationary
  member, an outsider or a non-member listed as entitled; it outranks MTG-03 on an entitled
  voter). A vote at a branch general meeting or branch committee needs entitled voters, at least
  half of them present (section 0.3: fewer RED REJECT, exactly half YELLOW FLAG while
  `quorum_half_inclusive`), no more ballots than those present, and a PASSED item needs
  `2 * YES > N` (N = entitled, not those present; written opinions count at general meetings,
  at committees only with `count_written_opinions_in_committee`): else RED REJECT.
- MTG-08: ends before it starts, lasts more than 24 hours, starts after the block time plus
  `endorsement_clock_tolerance_ms`, or starts before its org was founded: RED REJECT; a sign-in
  outside [start - 2 h, end]: YELLOW FLAG.
- MTG-09 (branch-level orgs with members on the ledger on the meeting date): a branch committee
  meeting in a branch with fewer than 7 full members: YELLOW FLAG; more than 50 members, or fewer
  than 3 full members (should join a joint branch): BLUE FLAG once a year. Members are counted on
  the meeting date (DOMAIN 2026-12), not when the minutes are recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import DAY_MS, cst_date
from contracts.config import Config
from contracts.identity import get_org
from contracts.meeting_index import ORG_LIFE_TYPES, PRESENT, fingerprint, orgs_of
from contracts.records import former_member_of, get_archive, is_member_of, members_on
from contracts.rules.procedure import (
    BRANCH_COMMITTEE_MIN_FULL,
    COMMITTEE_POSTS,
    full_members_on,
    half_quorum,
    held_post,
    roster_problem,
)
from contracts.state import View

MAX_MEETING_MS = DAY_MS
SIGN_IN_EARLY_MS = 2 * 3_600_000
BRANCH_MAX_MEMBERS = 50  # 《支部条例》: 党支部党员人数一般不超过50人
BRANCH_MIN_FULL = 3  # 《支部条例》: 有正式党员3人以上的，都应当成立党支部
_MEETINGS = ("meeting.record", "meeting.amend")


def _ref(p: Any) -> tuple[str, ...]:
    return (keys.meeting(p["meeting_id"]),)


# ---------------------------------------------------------------------------------------- MTG-01
def mtg01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    tolerance = config.get_int("overlap_tolerance_min", tx.org_id) * 60_000
    out = []
    for pk in sorted({a["person_key"] for a in p["attendance"] if a["status"] in PRESENT}):
        prefix = keys.idx_attendance(pk)
        lo, hi = f"{prefix}{max(p['start'] - MAX_MEETING_MS, 0):020d}", f"{prefix}{p['end']:020d}"
        worst: tuple[int, str] | None = None
        for _, other in view.scan_range(lo, hi):
            if other["meeting_id"] == p["meeting_id"] or other["end"] <= p["start"]:
                continue
            overlap = min(other["end"], p["end"]) - max(other["start"], p["start"])
            if worst is None or overlap > worst[0]:
                worst = (overlap, other["meeting_id"])
        if worst is None:
            continue
        pair = sorted([p["meeting_id"], worst[1]])
        colour = Colour.YELLOW if worst[0] <= tolerance else Colour.RED
        out.append(
            flag(
                "MTG-01",
                colour,
                "overlapping_attendance",
                f"present at {worst[1]} too, overlapping by {worst[0] // 60_000} minutes",
                subject_keys=(pk,),
                record_refs=(keys.meeting(pair[0]), keys.meeting(pair[1])),
                dedup_key=f"{pk}:{pair[0]}:{pair[1]}:{colour.value}",
            )
        )
    return out


# ---------------------------------------------------------------------------------------- MTG-02
def _other_meetings(view: View, prefix: str, meeting_id: str) -> list[str]:
    return [
        ref["id"]
        for _, ref in view.scan_prefix(prefix)
        if ref["kind"] == "meeting" and ref["id"] != meeting_id
    ]


def mtg02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    mid = p["meeting_id"]
    same_file = _other_meetings(view, keys.content_hash(p["minutes_content_hash"]), mid)
    if same_file:
        text = f"the minutes file is the one of meeting {same_file[0]}"
        return (
            reject(
                "MTG-02", "minutes_reused", text, record_refs=tuple(keys.meeting(m) for m in same_file[:8])
            ),
        )
    out = []
    if p["minutes_text_hash"] is not None:
        same_text = _other_meetings(view, keys.text_hash(p["minutes_text_hash"]), mid)
        if same_text:
            out.append(
                flag(
                    "MTG-02",
                    Colour.RED,
                    "minutes_copied",
                    f"the minutes text is the one of meeting {same_text[0]}",
                    record_refs=(*_ref(p), *(keys.meeting(m) for m in same_text[:8])),
                    dedup_key=f"{mid}:{p['minutes_text_hash']}",
                )
            )
    fp = fingerprint(dict(p))
    if fp is not None:
        others = [
            r["meeting_id"] for _, r in view.scan_prefix(keys.idx_meeting_print(fp)) if r["meeting_id"] != mid
        ]
        if len(others) >= 2:
            out.append(
                flag(
                    "MTG-02",
                    Colour.YELLOW,
                    "repeated_meeting",
                    f"same agenda and same people as {len(others)} other meetings",
                    record_refs=(*_ref(p), *(keys.meeting(m) for m in others[:8])),
                    dedup_key=fp,
                )
            )
    return out


# ---------------------------------------------------------------------------------------- MTG-03
def _member(view: View, pk: str, orgs: tuple[str, ...], day: str) -> bool | None:
    """True: a member on `day`; None: left one of the orgs (XFER-04's case); False: not a member."""
    archive = get_archive(view, pk)
    if archive is not None and any(is_member_of(archive, org, day) for org in orgs):
        return True
    if any(held_post(view, org, pk, COMMITTEE_POSTS, day) for org in orgs):
        return True
    if archive is not None and any(former_member_of(archive, org) is not None for org in orgs):
        return None
    return False


def mtg03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["meeting_type"] not in (*ORG_LIFE_TYPES, "COMMITTEE"):
        return ()
    day, orgs = cst_date(p["start"]).isoformat(), orgs_of({**p, "org_id": tx.org_id})
    voters = set(p["entitled_voter_keys"]) | {w["person_key"] for w in p["written_opinions"]}
    voters |= {v["person_key"] for item in p["items"] for v in item["votes"]}
    attendees = {a["person_key"] for a in p["attendance"] if a["status"] != "OBSERVER"}
    out = []
    for pk in sorted(voters | attendees):
        if _member(view, pk, orgs, day) is not False:
            continue
        if pk in voters:
            text = f"voter {pk[:12]}… is not a member of {tx.org_id} on {day}"
            return (reject("MTG-03", "not_a_member", text, subject_keys=(pk,), record_refs=_ref(p)),)
        text = f"attendee {pk[:12]}… is not a member of {tx.org_id} on {day} (record guests as OBSERVER)"
        out.append(
            flag(
                "MTG-03", Colour.YELLOW, "attendee_not_member", text, subject_keys=(pk,), record_refs=_ref(p)
            )
        )
    return out


# ---------------------------------------------------------------------------------------- MTG-04
def mtg04(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    late = (tx.today - cst_date(p["end"])).days
    if late > config.get_int("minutes_late_red_days", tx.org_id):
        colour = Colour.RED
    elif late > config.get_int("minutes_late_days", tx.org_id):
        colour = Colour.YELLOW
    else:
        return ()
    return (
        flag(
            "MTG-04",
            colour,
            "late_minutes",
            f"minutes registered {late} days after the meeting",
            record_refs=_ref(p),
        ),
    )


# ---------------------------------------------------------------------------------------- MTG-07
def mtg07(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    kind = p["meeting_type"]
    if kind not in (*ORG_LIFE_TYPES, "COMMITTEE") or not p["items"]:
        return ()
    if p["entitled_voter_keys"]:
        found = roster_problem(view, {**p, "org_id": tx.org_id}, omissions=kind == "BRANCH_GENERAL")
        if found is not None:
            return (reject("MTG-07", "bad_roster", found[1], subject_keys=(found[0],), record_refs=_ref(p)),)
    if kind not in ("BRANCH_GENERAL", "BRANCH_COMMITTEE"):
        return ()
    entitled = set(p["entitled_voter_keys"])
    n = len(entitled)
    if n == 0:
        return (
            reject("MTG-07", "no_entitled_voters", "a vote without entitled voters", record_refs=_ref(p)),
        )
    present = {a["person_key"] for a in p["attendance"] if a["status"] in PRESENT} & entitled
    quorum = half_quorum(len(present), n, config, tx.org_id)
    if quorum == "FAIL":
        return (
            reject(
                "MTG-07", "no_quorum", f"{len(present)} of {n} present: fewer than half", record_refs=_ref(p)
            ),
        )
    written = kind == "BRANCH_GENERAL" or config.get_bool("count_written_opinions_in_committee", tx.org_id)
    for item in p["items"]:
        if item["yes"] + item["no"] + item["abstain"] > len(present):
            text = f"item {item['item_id']}: more ballots than the {len(present)} present"
            return (reject("MTG-07", "ballots_exceed_present", text, record_refs=_ref(p)),)
        yes = int(item["yes"])
        if written:
            yes += sum(
                1
                for w in p["written_opinions"]
                if w["vote"] == "YES"
                and w["person_key"] in entitled - present
                and w["submitted_at"] < p["start"]
                and w["item_id"] in (None, item["item_id"])
            )
        if item["result"] == "PASSED" and not 2 * yes > n:
            text = f"item {item['item_id']} PASSED with {yes} in favour of {n} entitled"
            return (reject("MTG-07", "approval_failed", text, record_refs=_ref(p)),)
    if quorum == "HALF":
        text = f"exactly half of the entitled voters present ({len(present)} of {n})"
        return (flag("MTG-07", Colour.YELLOW, "exactly_half", text, record_refs=_ref(p)),)
    return ()


# ---------------------------------------------------------------------------------------- MTG-08
def mtg08(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    start, end = p["start"], p["end"]
    org = get_org(view, tx.org_id)
    problem = None
    if end <= start:
        problem = ("end_before_start", "the meeting ends before it starts")
    elif end - start > MAX_MEETING_MS:
        problem = ("too_long", "the meeting lasts more than 24 hours")
    elif start > tx.time_ms + config.get_int("endorsement_clock_tolerance_ms"):
        problem = ("future", "the meeting starts after the block time")
    elif org is not None and cst_date(start).isoformat() < org["founded_date"]:
        problem = ("before_org", f"the meeting is before {tx.org_id} was founded")
    if problem is not None:
        return (reject("MTG-08", problem[0], problem[1], record_refs=_ref(p)),)
    odd = sorted(
        a["person_key"]
        for a in p["attendance"]
        if a["sign_in_at"] is not None and not start - SIGN_IN_EARLY_MS <= a["sign_in_at"] <= end
    )
    if not odd:
        return ()
    text = f"{len(odd)} sign-ins outside the meeting time"
    return (
        flag("MTG-08", Colour.YELLOW, "sign_in_outside", text, subject_keys=tuple(odd), record_refs=_ref(p)),
    )


# ---------------------------------------------------------------------------------------- MTG-09
def mtg09(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    org = get_org(view, tx.org_id)
    day = cst_date(p["start"]).isoformat()
    members = [] if org is None or org["level"] != "BRANCH" else members_on(view, tx.org_id, day)
    if not members:
        return ()  # only branches, and only with members on the ledger on the meeting date
    full = full_members_on(view, tx.org_id, day)
    year = cst_date(p["start"]).year
    out = []
    if p["meeting_type"] == "BRANCH_COMMITTEE" and full < BRANCH_COMMITTEE_MIN_FULL:
        text = f"a branch committee meeting in a branch of {full} full members (a committee needs 7)"
        out.append(flag("MTG-09", Colour.YELLOW, "no_committee", text, record_refs=_ref(p)))
    if len(members) > BRANCH_MAX_MEMBERS:
        text = f"{len(members)} members: consider splitting the branch or a general branch"
        out.append(
            flag("MTG-09", Colour.BLUE, "branch_too_large", text, dedup_key=f"{tx.org_id}:{year}:large")
        )
    if full < BRANCH_MIN_FULL:
        text = f"{full} full members: the unit belongs in a joint branch"
        out.append(
            flag("MTG-09", Colour.BLUE, "branch_too_small", text, dedup_key=f"{tx.org_id}:{year}:small")
        )
    return out


def _rule(rule_id: str, colours: tuple[Colour, ...], disposition: str, text: str, fn: Any) -> Rule:
    return Rule(
        rule_id=rule_id,
        colours=colours,
        disposition=disposition,
        description=text,
        family="MTG",
        tx_types=_MEETINGS if rule_id != "MTG-04" else ("meeting.record",),
        fn=fn,
    )


RED, YELLOW, BLUE = Colour.RED, Colour.YELLOW, Colour.BLUE
RULES: tuple[Rule, ...] = (
    _rule("MTG-01", (RED, YELLOW), "FLAG", "Overlapping attendance.", mtg01),
    _rule("MTG-02", (RED, YELLOW), "REJECT+FLAG", "Identical minutes across meetings.", mtg02),
    _rule("MTG-03", (RED, YELLOW), "REJECT", "Attendee not in the organisation on the meeting date.", mtg03),
    _rule("MTG-04", (RED, YELLOW), "FLAG", "Late registration of minutes (补记录).", mtg04),
    _rule("MTG-07", (RED, YELLOW), "REJECT", "General meeting quorum and voting.", mtg07),
    _rule("MTG-08", (RED, YELLOW), "REJECT+FLAG", "Impossible meeting times.", mtg08),
    _rule("MTG-09", (YELLOW, BLUE), "FLAG", "Branch structure vs. meeting types.", mtg09),
)
