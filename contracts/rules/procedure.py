"""Helpers the joining, meeting and decision rules share: the live pipeline behind a deadline,
the meeting item that decided a step, vote counting by DOMAIN.md section 0.3, and collective
approvals. No rule lives here.

Rules:

- A deadline entry names the pipeline it watches; after a pipeline transfer the live pipeline is
  its successor (`live_pipeline`), and the steps count over the whole chain. A deadline set
  before the pipeline moved (a handover, or following its member's relationship) raises its alert
  for the org now responsible (`responsible_org`).
- The item that decided a step is `extra.item_id` of the step when given, else the one item of the
  meeting whose `subject_key` is the person (one person per item; two items for one person are
  ambiguous and decide nothing).
- Rosters (MTG-07 for every vote, JOIN-14/21): `E` = the meeting's entitled voters, each a FULL
  member of the org with voting rights on the meeting date (`vote_problem`); at a general meeting
  a voting member on that date left out of `E` needs the roster snapshot (its hash carries the
  exclusion reasons). Members on a date come from the org's roster of everyone it ever held.
- Approvals (JOIN-16/22, `approval_problems`): one approval item approves one person. `P` = E
  present; `Y` = YES ballots plus YES written opinions of absent entitled voters handed in before
  the meeting. Quorum `2|P| > |E|`, approval `2|Y| > |E|` (strict: "超过半数"), secret ballot, the
  item PASSED, the ballots no more than those present, the step dated on the meeting day.
- Quorum "半数以上" elsewhere (MTG-07, DEC-02): `2x < N` fails, `2x == N` is the exact-half
  case (a YELLOW flag while `quorum_half_inclusive`, else a failure), `2x > N` passes.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import Colour, DueEntry, DueRequest, TxCtx, Verdict, flag, reject
from contracts.calendar import cst_date, parse_date, passed_ms
from contracts.config import Config
from contracts.identity import approval_org, get_org
from contracts.records import (
    chain_steps,
    get_archive,
    get_pipeline,
    is_member_of,
    members_on,
    membership_on,
    step_events,
)
from contracts.state import View
from wire.genesis import is_ancestor_or_self

PRESENT = ("PRESENT", "PRESENT_ONLINE")
COMMITTEE_POSTS = ("SECRETARY", "DEPUTY_SECRETARY", "COMMITTEE_MEMBER", "ORGANISER")
BRANCH_COMMITTEE_MIN_FULL = 7  # 《支部条例》: 有正式党员7人以上的党支部，应当设立党支部委员会


# -------------------------------------------------------------------------------------- pipelines
def live_pipeline(view: View, pipeline_id: str) -> dict[str, Any] | None:
    """The pipeline, or the successor it was handed over to (followed to the end)."""
    pipe = get_pipeline(view, pipeline_id)
    for _ in range(16):
        if pipe is None or pipe["successor"] is None:
            return pipe
        pipe = get_pipeline(view, pipe["successor"])
    return pipe


def due_pipeline(view: View, entry: DueEntry) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The live pipeline a deadline watches and its steps; None when it failed or was cancelled."""
    pipe = live_pipeline(view, entry.ref["pipeline_id"])
    if pipe is None or pipe["status"] in ("FAILED", "CANCELLED"):
        return None
    return pipe, chain_steps(view, pipe["pipeline_id"])


def root_id(view: View, pipeline_id: str) -> str:
    """The first pipeline of a chain of handovers (stable across transfers: dedup keys use it)."""
    pid = pipeline_id
    for _ in range(16):
        pipe = get_pipeline(view, pid)
        if pipe is None or pipe["predecessor"] is None:
            return pid
        pid = pipe["predecessor"]
    return pid


def events(view: View, pipeline_id: str, step: str) -> list[dict[str, Any]]:
    """Every recorded (not FAILed) event of `step` over the chain, by date."""
    return [e for e in step_events(view, pipeline_id, step) if e["result"] != "FAIL"]


def received_date(view: View, pipeline_id: str) -> str | None:
    found = step_events(view, pipeline_id, "S01")
    return None if not found else found[0]["extra"]["received_date"]


def step_verdict(
    view: View,
    rule_id: str,
    tx: TxCtx,
    code: str,
    text: str,
    colour: Colour | None = None,
    once: str | None = None,
) -> Verdict:
    """A verdict on the transaction's pipeline: REJECT when `colour` is None, else a FLAG, raised
    once per pipeline chain and `once` tag when given (shared with the tag's deadline)."""
    pk, pid = tx.payload["person_key"], tx.payload["pipeline_id"]
    refs = (keys.pipeline(pid),)
    if colour is None:
        return reject(rule_id, code, text, subject_keys=(pk,), record_refs=refs)
    dedup = None if once is None else f"{root_id(view, pid)}:{once}"
    return flag(rule_id, colour, code, text, subject_keys=(pk,), record_refs=refs, dedup_key=dedup)


def due_flag(
    view: View, rule_id: str, colour: Colour, code: str, text: str, entry: DueEntry, tag: str
) -> Verdict:
    """A deadline's flag on a pipeline, raised once per pipeline chain and `tag`; addressed to the
    org now responsible when the pipeline moved since the deadline was set (`responsible_org`)."""
    return flag(
        rule_id,
        colour,
        code,
        text,
        subject_keys=(entry.ref["person_key"],),
        record_refs=(keys.pipeline(entry.ref["pipeline_id"]),),
        org_id=responsible_org(view, entry),
        dedup_key=f"{root_id(view, entry.ref['pipeline_id'])}:{tag}",
    )


def responsible_org(view: View, entry: DueEntry) -> str | None:
    """Who answers for a pipeline deadline: the org that set it (None: the entry's), unless the
    pipeline has since moved out of that org's subtree (a handover, or following its member's
    relationship); then the pipeline's org now, or for a committee's deadline its approving org."""
    pipe = live_pipeline(view, entry.ref["pipeline_id"])
    if pipe is None or is_ancestor_or_self(entry.org_id, pipe["org_id"]):
        return None
    org = get_org(view, entry.org_id)
    if org is None or org["level"] == "BRANCH":
        return str(pipe["org_id"])
    return approval_org(view, pipe["org_id"]) or str(pipe["org_id"])


def step_due(tx: TxCtx, rule_id: str, tag: str, day: Any, **ref: Any) -> DueRequest:
    """A deadline on the transaction's pipeline that passes when date `day` is over."""
    p = tx.payload
    return DueRequest(
        at_ms=passed_ms(day),
        rule_id=rule_id,
        tag=tag,
        ref={"pipeline_id": p["pipeline_id"], "person_key": p["person_key"], **ref},
        org_id=tx.org_id,
    )


def is_step(tx: TxCtx, *steps: str, result: tuple[str, ...] = ("PASS",)) -> bool:
    return tx.tx_type == "join.step" and tx.payload["step"] in steps and tx.payload["result"] in result


# --------------------------------------------------------------------------------------- meetings
def get_meeting(view: View, meeting_id: str | None) -> dict[str, Any] | None:
    return None if meeting_id is None else view.get(keys.meeting(meeting_id))


def meeting_day(meeting: dict[str, Any]) -> str:
    return cst_date(meeting["start"]).isoformat()


def meeting_orgs(meeting: dict[str, Any]) -> tuple[str, ...]:
    return (meeting["org_id"], *meeting["joint_org_ids"])


def item_for(meeting: dict[str, Any], person_key: str, item_id: str | None) -> dict[str, Any] | None:
    if item_id is not None:
        found = [i for i in meeting["items"] if i["item_id"] == item_id]
        return found[0] if found and found[0]["subject_key"] in (None, person_key) else None
    mine = [i for i in meeting["items"] if i["subject_key"] == person_key]
    return mine[0] if len(mine) == 1 else None


def branch_decision_problem(
    view: View, org_id: str, meeting_id: str | None, person_key: str, item_id: str | None, day: str
) -> str | None:
    """JOIN-03/07: decided by the branch committee (the general meeting when the branch had fewer
    than 7 full members on the meeting date) no later than the step, a PASSED item for the person;
    None when so."""
    meeting = get_meeting(view, meeting_id)
    if meeting is None:
        return "no branch meeting decided this step (decision_ref)"
    if org_id not in meeting_orgs(meeting):
        return f"the deciding meeting {meeting_id} is not a meeting of {org_id}"
    if meeting_day(meeting) > day:
        return f"the deciding meeting {meeting_id} is after the step ({meeting_day(meeting)})"
    kind = meeting["meeting_type"]
    small = full_members_on(view, org_id, meeting_day(meeting)) < BRANCH_COMMITTEE_MIN_FULL
    if kind != "BRANCH_COMMITTEE" and not (kind == "BRANCH_GENERAL" and small):
        return f"a {kind} meeting cannot decide this (the branch committee does)"
    item = item_for(meeting, person_key, item_id)
    if item is None or item["result"] != "PASSED":
        return f"meeting {meeting_id} has no PASSED item for the person"
    return None


def full_members_on(view: View, org_id: str, day: str) -> int:
    """How many full members the org held on `day` (the roster of that date, not of today)."""
    return sum(1 for archive in members_on(view, org_id, day) if full_on(archive, day))


def full_on(archive: dict[str, Any], day: str) -> bool:
    """A full member on `day`: full since then, and FULL now or only left that status after `day`
    (an archive imported without `status_since` counts from its current status)."""
    full = archive["full_date"]
    if full is None or full > day:
        return False
    return bool(archive["status"] == "FULL" or (archive["status_since"] or "") > day)


def vote_problem(view: View, meeting: dict[str, Any], pk: str) -> str | None:
    """Why `pk` is not a voting full member of the meeting's org on its date (None when they
    are): the relationship held by the org (a COMMITTEE meeting: by the org or an org below it, or a
    committee post in it), FULL on that day and not under 留党察看."""
    day = meeting_day(meeting)
    archive = get_archive(view, pk)
    orgs = meeting_orgs(meeting)
    if archive is None:
        return f"entitled voter {pk[:12]}… has no member archive"
    if meeting["meeting_type"] == "COMMITTEE":
        member = any(
            is_member_of(archive, org, day) or held_post(view, org, pk, COMMITTEE_POSTS, day) for org in orgs
        )
    else:
        member = membership_on(archive, parse_date(day)) in orgs
    if not member:
        return f"entitled voter {pk[:12]}… is not a member of {meeting['org_id']} on {day}"
    if not full_on(archive, day) or archive["party_standing"] == "PROBATION_WITHIN_PARTY":
        return f"entitled voter {pk[:12]}… has no vote on {day} (status {archive['status']})"
    return None


def roster_problem(view: View, meeting: dict[str, Any], *, omissions: bool) -> tuple[str, str] | None:
    """(person, reason) for the first entitled voter of the meeting who is not a voting full member
    of its org on its date; with `omissions` (a general meeting: 应到会 is every voting member) also
    a voting member on that date left out, unless the meeting carries a roster snapshot (whose hash
    stands for the exclusion reasons). Members are taken on the meeting date, whenever the minutes
    are recorded."""
    entitled = set(meeting["entitled_voter_keys"])
    for pk in sorted(entitled):
        problem = vote_problem(view, meeting, pk)
        if problem is not None:
            return pk, problem
    if not omissions or meeting["roster_snapshot_hash"] is not None:
        return None
    day = meeting_day(meeting)
    for org in meeting_orgs(meeting):
        for archive in members_on(view, org, day):
            pk = archive["person_key"]
            if pk not in entitled and vote_problem(view, meeting, pk) is None:
                return pk, f"voting member {pk[:12]}… is left out without a roster snapshot"
    return None


def entitled_problem(view: View, meeting: dict[str, Any]) -> str | None:
    """JOIN-14/21: the general meeting's entitled voters are the branch's voting full members on its
    date, none left out without a roster snapshot."""
    found = roster_problem(view, meeting, omissions=True)
    return None if found is None else found[1]


def yes_count(meeting: dict[str, Any], item: dict[str, Any], *, written: bool) -> tuple[int, int]:
    """(|P|, |Y|): entitled voters present, and YES ballots plus (when `written`) YES written
    opinions of absent entitled voters handed in before the meeting started."""
    entitled = set(meeting["entitled_voter_keys"])
    present = {a["person_key"] for a in meeting["attendance"] if a["status"] in PRESENT} & entitled
    yes = int(item["yes"])
    if written:
        for w in meeting["written_opinions"]:
            if (
                w["vote"] == "YES"
                and w["person_key"] in entitled - present
                and w["submitted_at"] < meeting["start"]
                and w.get("item_id") in (None, item["item_id"])
            ):
                yes += 1
    return len(present), yes


def admission_vote_problems(
    view: View, org_id: str, meeting_id: str | None, person_key: str, item_id: str | None, day: str
) -> list[tuple[str, str, bool]]:
    """JOIN-14 / JOIN-21: (code, reason, is_reject) for each problem of the admission/conversion vote."""
    meeting = get_meeting(view, meeting_id)
    if meeting is None or meeting["meeting_type"] != "BRANCH_GENERAL" or org_id not in meeting_orgs(meeting):
        return [("vote_not_recorded", f"no general meeting of {org_id} voted on this (decision_ref)", True)]
    if meeting_day(meeting) != day:
        return [("date_mismatch", f"the step is dated {day}, the meeting {meeting_day(meeting)}", True)]
    item = item_for(meeting, person_key, item_id)
    if item is None:
        return [("no_item", f"meeting {meeting_id} has no item for the person alone", True)]
    problem = entitled_problem(view, meeting)
    if problem is not None:
        return [("bad_roster", problem, True)]
    n = len(meeting["entitled_voter_keys"])
    p, y = yes_count(meeting, item, written=True)
    if n == 0:
        return [("no_entitled_voters", "the meeting lists no entitled voters", True)]
    if item["yes"] + item["no"] + item["abstain"] > p:
        return [
            (
                "ballots_exceed_present",
                f"{item['yes'] + item['no'] + item['abstain']} ballots, {p} present",
                True,
            )
        ]
    if not 2 * p > n:
        return [("no_quorum", f"{p} of {n} entitled voters present: not more than half", True)]
    if item["result"] != "PASSED" or not 2 * y > n:
        return [("approval_failed", f"{y} in favour of {n} entitled: not more than half", True)]
    if item["ballot_method"] != "SECRET":
        return [("not_secret_ballot", f"voted by {item['ballot_method']}, not secret ballot", False)]
    return []


def half_quorum(present: int, n: int, config: Config, org_id: str) -> str:
    """Section 0.3 "半数以上": FAIL, HALF (exactly half, flagged) or OK."""
    if 2 * present > n:
        return "OK"
    if 2 * present == n and config.get_bool("quorum_half_inclusive", org_id):
        return "HALF"
    return "FAIL"


ONE_PERSON_PROBLEMS = (
    "no_item",
    "item_without_subject",
    "item_of_another_person",
    "item_already_cited",
    "decision_already_cited",
)


def _cited_by_another(view: View, ref: str, person_key: str, item_id: str | None) -> bool:
    held = view.get(keys.idx_approval_item(ref, item_id))
    return held is not None and held["person_key"] != person_key


def _approval_item(
    view: View, meeting: dict[str, Any], ref: str, person_key: str, item_id: str | None
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The committee item an approval cites, and its one-person problems (JOIN-16/22)."""
    if item_id is not None:
        found = [i for i in meeting["items"] if i["item_id"] == item_id]
        if not found:
            return None, [("no_item", f"meeting {ref} has no item {item_id}")]
        item = found[0]
        if item["subject_key"] is None:
            return item, [
                ("item_without_subject", f"item {item_id} of {ref} names nobody: one item, one person")
            ]
        if item["subject_key"] != person_key:
            return item, [("item_of_another_person", f"item {item_id} of {ref} approves another person")]
    else:
        mine = [i for i in meeting["items"] if i["subject_key"] == person_key]
        if len(mine) != 1:
            return None, [("no_item", f"meeting {ref} has no item for the person alone")]
        item = mine[0]
    if _cited_by_another(view, ref, person_key, str(item["item_id"])):
        return item, [
            ("item_already_cited", f"item {item['item_id']} of {ref} already approved another person")
        ]
    return item, []


def approval_problems(
    view: View, ref: str | None, person_key: str, item_id: str | None, approving_org: str
) -> list[tuple[str, str]]:
    """JOIN-16/22: (code, reason) for each problem of an approval (S17/S24): one approval item (a
    COMMITTEE meeting item naming the person, or a decision record) approves one person and is
    cited by no other person's approval (`ONE_PERSON_PROBLEMS`); the approval was made collectively
    by the approving org (`not_collective`): a PASSED item, or a PASSED decision made at a meeting;
    never a branch."""
    out: list[tuple[str, str]] = []
    org = get_org(view, approving_org)
    if org is not None and org["level"] == "BRANCH":
        out.append(("not_collective", f"{approving_org} is a branch: branches never approve"))
    meeting = get_meeting(view, ref)
    if meeting is not None and ref is not None:
        if approving_org not in meeting_orgs(meeting) or meeting["meeting_type"] != "COMMITTEE":
            out.append(("not_collective", f"meeting {ref} is not a committee meeting of {approving_org}"))
        item, problems = _approval_item(view, meeting, ref, person_key, item_id)
        out.extend(problems)
        if item is not None and item["result"] != "PASSED":
            out.append(("not_collective", f"item {item['item_id']} of {ref} did not pass"))
        return out
    decision = None if ref is None else view.get(keys.decision(ref))
    if decision is None or ref is None:
        return [*out, ("not_collective", "no collective meeting or decision approved this (decision_ref)")]
    if _cited_by_another(view, ref, person_key, None):
        out.append(("decision_already_cited", f"decision {ref} already approved another person"))
    if decision["decision_mode"] != "MEETING" or decision["meeting_id"] is None:
        out.append(("not_collective", f"decided by {decision['decision_mode']}, not at a meeting"))
    if decision["org_id"] != approving_org or decision["result"] != "PASSED":
        out.append(("not_collective", f"decision {ref} is not a PASSED decision of {approving_org}"))
    return out


def held_post(view: View, org_id: str, person_key: str, posts: tuple[str, ...], day: str) -> bool:
    for post in posts:
        rec = view.get(keys.post(org_id, person_key, post))
        if rec is not None and any(
            t["start"] <= day and (t["end"] is None or day <= t["end"]) for t in rec["terms"]
        ):
            return True
    return False
