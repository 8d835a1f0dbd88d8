"""三重一大 decisions, the collective procedure (DOMAIN.md B.6): DEC-01..05, DEC-09..12.

Rules (on `decision.record` / `decision.amend`; a 三重一大 item is a category other than OTHER or
an amount of at least `large_funds_threshold_fen` of the deciding org; N = the entitled members,
less the recused ones while `dec_recusal_reduces_n`; P = those of them present):

- DEC-01 RED REJECT: a 三重一大 item decided by circulation or individually, or "at a meeting"
  without a recorded meeting of the deciding org. (The refused transaction and its receipt stay in
  the block: the attempt is on the record.) Emergency decisions are DEC-07's.
- DEC-02 (三重一大 at a meeting): no entitled members: RED REJECT. PERSONNEL needs `3P >= 2N`
  (`3P > 2N` with `personnel_quorum_above_two_thirds`); others `dec_quorum`: TWO_THIRDS `3P >=
  2N`, HALF section 0.3 (fewer than half RED REJECT, exactly half YELLOW FLAG).
- DEC-03 RED REJECT: PASSED needs `2 * YES > N` (YES votes of present entitled members; written
  opinions of the meeting only with `count_written_opinions_in_committee`); re-opening a
  PERSONNEL decision (`reconsiders`) needs more than half of the members agreeing.
- DEC-04 RED REJECT: an interested member who is not recused, or votes, or speaks.
- DEC-05 (三重一大 at a meeting): the principal speaks last (the one highest `seq`): else RED FLAG
  for PERSONNEL, YELLOW FLAG otherwise; a present member without an opinion, or a PASSED item
  with as many DISAGREE/DEFER as AGREE: YELLOW FLAG.
- DEC-09 YELLOW FLAG: materials sent less than `materials_lead_days` before the meeting (or not
  recorded); a 三重一大 agenda topic added at or after the meeting's start (on meetings).
- DEC-10 RED FLAG: a PERSONNEL promotion (`personnel_kind` PROMOTION, or not stated) without a
  public notice of at least 5 working days (the on-ledger calendar) ending by the effective date.
- DEC-11 YELLOW FLAG: a 三重一大 decision without its DECISION_MINUTES document (`minutes_doc`).
- DEC-12 YELLOW FLAG: a major administrative decision (`major_administrative`) without a
  registered legal review dated no later than the meeting.
Flags are raised once per decision and reason (amendments re-check without repeating them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import DAY_MS, parse_date
from contracts.config import Config
from contracts.records import get_doc
from contracts.rules.procedure import get_meeting, half_quorum, meeting_day, meeting_orgs
from contracts.state import View
from contracts.workdays import working_days

MAJOR = ("MAJOR_DECISION", "PERSONNEL", "MAJOR_PROJECT", "LARGE_FUNDS")
NOTICE_WORKING_DAYS = 5  # 《选任条例》: 公示期不少于5个工作日
_DECISIONS = ("decision.record", "decision.amend")


def is_major(p: Any, config: Config, org_id: str) -> bool:
    amount = p["amount_fen"]
    return bool(
        p["category"] in MAJOR
        or (amount is not None and amount >= config.get_int("large_funds_threshold_fen", org_id))
    )


def _at_meeting(view: View, tx: TxCtx, config: Config) -> dict[str, Any] | None:
    """The decision's meeting when it is a 三重一大 item decided at one (else None)."""
    p = tx.payload
    if tx.tx_type not in _DECISIONS or p["decision_mode"] != "MEETING" or not is_major(p, config, tx.org_id):
        return None
    return get_meeting(view, p["meeting_id"])


def _ref(p: Any) -> tuple[str, ...]:
    return (keys.decision(p["decision_id"]),)


def _flag(rule_id: str, colour: Colour, code: str, text: str, p: Any, **kw: Any) -> Verdict:
    return flag(
        rule_id, colour, code, text, record_refs=_ref(p), dedup_key=f"{p['decision_id']}:{code}", **kw
    )


def _counts(p: Any, config: Config, org: str) -> tuple[set[str], set[str], set[str]]:
    """(entitled after recusal, present of them, recused)."""
    entitled = set(p["members_entitled"])
    recused = {r["person_key"] for r in p["recusals"]} & entitled
    if config.get_bool("dec_recusal_reduces_n", org):
        entitled -= recused
    present = (set(p["members_present"]) & entitled) - recused
    return entitled, present, recused


# ---------------------------------------------------------------------------------------- DEC-01
def dec01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if not is_major(p, config, tx.org_id):
        return ()
    mode = p["decision_mode"]
    if mode in ("CIRCULATION", "INDIVIDUAL"):
        return (
            reject(
                "DEC-01", "not_collective", f"a {p['category']} item decided by {mode}", record_refs=_ref(p)
            ),
        )
    if mode == "MEETING":
        meeting = get_meeting(view, p["meeting_id"])
        if meeting is None:
            return (
                reject(
                    "DEC-01", "no_meeting", "decided 'at a meeting' that is not recorded", record_refs=_ref(p)
                ),
            )
        if tx.org_id not in meeting_orgs(meeting):
            return (
                reject(
                    "DEC-01",
                    "meeting_of_another_org",
                    f"meeting {p['meeting_id']} is not {tx.org_id}'s",
                    record_refs=_ref(p),
                ),
            )
    return ()


# ---------------------------------------------------------------------------------------- DEC-02
def dec02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if _at_meeting(view, tx, config) is None:
        return ()
    p = tx.payload
    entitled, present, _ = _counts(p, config, tx.org_id)
    n, x = len(entitled), len(present)
    if n == 0:
        return (
            reject(
                "DEC-02", "no_members", "a collective decision lists no entitled members", record_refs=_ref(p)
            ),
        )
    if p["category"] == "PERSONNEL":
        ok = (
            3 * x > 2 * n
            if config.get_bool("personnel_quorum_above_two_thirds", tx.org_id)
            else 3 * x >= 2 * n
        )
        verdict = "OK" if ok else "FAIL"
    elif config.get_str("dec_quorum", tx.org_id) == "TWO_THIRDS":
        verdict = "OK" if 3 * x >= 2 * n else "FAIL"
    else:
        verdict = half_quorum(x, n, config, tx.org_id)
    if verdict == "FAIL":
        return (reject("DEC-02", "no_quorum", f"{x} of {n} members present", record_refs=_ref(p)),)
    if verdict == "HALF":
        return (_flag("DEC-02", Colour.YELLOW, "exactly_half", f"exactly half present ({x} of {n})", p),)
    return ()


# ---------------------------------------------------------------------------------------- DEC-03
def dec03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    meeting = _at_meeting(view, tx, config)
    if meeting is None:
        return ()
    p = tx.payload
    entitled, present, _ = _counts(p, config, tx.org_id)
    yes = {v["person_key"] for v in p["votes"] if v["vote"] == "YES"} & present
    if config.get_bool("count_written_opinions_in_committee", tx.org_id):
        yes |= {
            w["person_key"]
            for w in meeting["written_opinions"]
            if w["vote"] == "YES"
            and w["person_key"] in entitled - present
            and w["submitted_at"] < meeting["start"]
        }
    n = len(entitled)
    if p["result"] == "PASSED" and not 2 * len(yes) > n:
        text = f"PASSED with {len(yes)} in favour of {n} members"
        return (reject("DEC-03", "approval_failed", text, record_refs=_ref(p)),)
    if p["reconsiders"] is not None:
        if not view.exists(keys.decision(p["reconsiders"])):
            return (
                reject(
                    "DEC-03", "unknown_decision", f"{p['reconsiders']} is not recorded", record_refs=_ref(p)
                ),
            )
        agree = set(p["agree_to_reconsider"]) & set(p["members_entitled"])
        if not 2 * len(agree) > len(p["members_entitled"]):
            text = f"re-opened with {len(agree)} of {len(p['members_entitled'])} members agreeing"
            return (reject("DEC-03", "reconsideration_not_agreed", text, record_refs=_ref(p)),)
    return ()


# ---------------------------------------------------------------------------------------- DEC-04
def dec04(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    recused = {r["person_key"] for r in p["recusals"]}
    voted = {v["person_key"] for v in p["votes"]}
    spoke = {s["person_key"] for s in p["speaking_order"]}
    for pk in sorted({i["person_key"] for i in p["interests"]}):
        for bad, code, what in (
            (pk not in recused, "not_recused", "is not recused"),
            (pk in voted, "interested_voted", "voted"),
            (pk in spoke, "interested_spoke", "spoke"),
        ):
            if bad:
                text = f"interested member {pk[:12]}… {what}"
                return (reject("DEC-04", code, text, subject_keys=(pk,), record_refs=_ref(p)),)
    return ()


# ---------------------------------------------------------------------------------------- DEC-05
def dec05(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if _at_meeting(view, tx, config) is None:
        return ()
    p = tx.payload
    order = p["speaking_order"]
    top = max((s["seq"] for s in order), default=None)
    last = [s["person_key"] for s in order if s["seq"] == top]
    out = []
    if p["principal_key"] is None or last != [p["principal_key"]]:
        colour = Colour.RED if p["category"] == "PERSONNEL" else Colour.YELLOW
        out.append(
            _flag("DEC-05", colour, "principal_not_last", "the principal leader did not speak last", p)
        )
    _, present, _ = _counts(p, config, tx.org_id)
    silent = sorted(present - {s["person_key"] for s in order})
    if silent:
        text = f"{len(silent)} present members gave no opinion"
        out.append(_flag("DEC-05", Colour.YELLOW, "opinion_missing", text, p, subject_keys=tuple(silent)))
    agree = sum(1 for s in order if s["opinion"] == "AGREE")
    if p["result"] == "PASSED" and len(order) - agree >= agree:
        text = f"passed although {len(order) - agree} of {len(order)} opinions disagree or defer"
        out.append(_flag("DEC-05", Colour.YELLOW, "divided_but_passed", text, p))
    return out


# ---------------------------------------------------------------------------------------- DEC-09
def dec09(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if tx.tx_type in ("meeting.record", "meeting.amend"):
        late = sorted(
            t["topic_id"]
            for t in p["topics"]
            if t["category"] in MAJOR and t["added_at"] is not None and t["added_at"] >= p["start"]
        )
        if not late:
            return ()
        text = f"三重一大 topics added during the meeting: {', '.join(late)}"
        return (
            flag(
                "DEC-09",
                Colour.YELLOW,
                "added_during_meeting",
                text,
                record_refs=(keys.meeting(p["meeting_id"]),),
                dedup_key=f"{p['meeting_id']}:{','.join(late)}",
            ),
        )
    meeting = _at_meeting(view, tx, config)
    if meeting is None:
        return ()
    lead = config.get_int("materials_lead_days", tx.org_id) * DAY_MS
    sent = p["materials_sent_at"]
    if sent is not None and sent <= meeting["start"] - lead:
        return ()
    text = (
        "no record of the materials being sent" if sent is None else "materials sent too close to the meeting"
    )
    return (_flag("DEC-09", Colour.YELLOW, "materials_late", text, p),)


# ---------------------------------------------------------------------------------------- DEC-10
def dec10(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["category"] != "PERSONNEL" or p["personnel_kind"] not in (None, "PROMOTION"):
        return ()
    notice = p["public_notice"]
    if notice is None:
        return (
            _flag(
                "DEC-10",
                Colour.RED,
                "no_public_notice",
                "a promotion without a pre-appointment public notice",
                p,
            ),
        )
    start, end = parse_date(notice["start_date"]), parse_date(notice["end_date"])
    days, used = working_days(view, start, end) if start <= end else (0, [])
    if days < NOTICE_WORKING_DAYS:
        text = f"public notice of {days} working days (5 required)"
        return (_flag("DEC-10", Colour.RED, "notice_too_short", text, p, details={"calendars": used}),)
    if end > parse_date(p["effective_date"]):
        return (
            _flag(
                "DEC-10",
                Colour.RED,
                "notice_after_effect",
                "the notice ends after the appointment takes effect",
                p,
            ),
        )
    return ()


# ---------------------------------------------------------------------------------------- DEC-11
def dec11(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if not is_major(p, config, tx.org_id):
        return ()
    doc = None if p["minutes_doc"] is None else get_doc(view, p["minutes_doc"])
    if doc is not None and doc["doc_type"] == "DECISION_MINUTES":
        return ()
    return (
        _flag(
            "DEC-11",
            Colour.YELLOW,
            "minutes_missing",
            "no DECISION_MINUTES document recorded for the decision",
            p,
        ),
    )


# ---------------------------------------------------------------------------------------- DEC-12
def dec12(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if not p["major_administrative"]:
        return ()
    meeting = get_meeting(view, p["meeting_id"])
    before: date = (
        parse_date(meeting_day(meeting)) if meeting is not None else parse_date(p["effective_date"])
    )
    doc = None if p["legal_review_doc"] is None else get_doc(view, p["legal_review_doc"])
    if doc is not None and parse_date(doc["doc_date"]) <= before:
        return ()
    return (_flag("DEC-12", Colour.YELLOW, "no_legal_review", "no legal review before the decision", p),)


def _rule(
    rule_id: str,
    colours: tuple[Colour, ...],
    disposition: str,
    text: str,
    fn: Any,
    tx_types: tuple[str, ...] = _DECISIONS,
) -> Rule:
    return Rule(
        rule_id=rule_id,
        colours=colours,
        disposition=disposition,
        description=text,
        family="DEC",
        tx_types=tx_types,
        fn=fn,
    )


RED, YELLOW = Colour.RED, Colour.YELLOW
RULES: tuple[Rule, ...] = (
    _rule("DEC-01", (RED,), "REJECT", "Collective decision at a meeting.", dec01),
    _rule("DEC-02", (RED, YELLOW), "REJECT", "Quorum.", dec02),
    _rule("DEC-03", (RED,), "REJECT", "Approval threshold: more than half of all entitled members.", dec03),
    _rule("DEC-04", (RED,), "REJECT", "Recusal of interested members.", dec04),
    _rule("DEC-05", (RED, YELLOW), "FLAG", "Principal leader speaks last.", dec05),
    _rule(
        "DEC-09",
        (YELLOW,),
        "FLAG",
        "Pre-meeting materials (and no topics added during the meeting).",
        dec09,
        (*_DECISIONS, "meeting.record", "meeting.amend"),
    ),
    _rule("DEC-10", (RED,), "FLAG", "Pre-appointment public notice (任前公示) for promotions.", dec10),
    _rule("DEC-11", (YELLOW,), "FLAG", "Decision records complete.", dec11),
    _rule("DEC-12", (YELLOW,), "FLAG", "Legal review before major administrative decisions.", dec12),
)
