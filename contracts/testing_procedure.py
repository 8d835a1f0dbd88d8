"""Procedure-level test helpers (pure): meetings, decisions, and joining steps prepared the way the
full rulebook wants them, so `run_pipeline` plays a pipeline that no transaction rule objects to.

Rules:

- `prepare_step` returns the fields of one step and first records what the step rests on: the
  documents it needs (application, assessment, opinions, political review, training certificate,
  public notice, volunteer book, conversion application), the branch meeting that decided it
  (S03, S07: the committee, or the general meeting in a branch under 7 full members), the general
  meeting's vote (S15, S23: every voting member present, secret ballot, all in favour), the
  county committee's approval meeting (S17, S24), and the talker with a committee post (S16).
- Every branch gets a secretary (a full member) and every county a committee member on first use;
  a pipeline's two introducers are imported as full members unless named (they are also its
  cultivation contacts). Meetings start at 06:00 CST on the step's day in 55-minute slots, before
  the 10:00 block, so several never overlap.
- Organisational-life rules judge the branch from its first recorded meeting (MTG-05/06): a
  pipeline alone does not keep a branch's meeting series, so its deadlines flag in later blocks.
"""

from __future__ import annotations

from typing import Any

from contracts.calendar import add_days, add_months, parse_date
from contracts.testing import (
    Ledger,
    county_of,
    digest,
    doc_payload,
    import_member,
    ms,
    ok,
    person,
    submit_step,
)
from wire.types import Receipt

PIPELINE_PLAN: tuple[tuple[str, int, int], ...] = (  # step, months after start, extra days
    ("S01", 0, 0),
    ("S02", 0, 20),
    ("S03", 2, 0),
    ("S04", 2, 5),
    ("S05", 2, 5),
    ("S06", 8, 0),
    ("S07", 14, 0),
    ("S08", 14, 5),
    ("S09", 14, 5),
    ("S10", 15, 0),
    ("S11", 16, 0),
    ("S12", 17, 0),
    ("S13", 17, 5),
    ("S14", 17, 10),
    ("S15", 18, 0),
    ("S16", 18, 10),
    ("S17", 19, 0),
    ("S18", 19, 10),
    ("S19", 19, 10),
    ("S20", 19, 15),
    ("S21", 25, 0),
    ("S22", 30, 0),
    ("S23", 30, 0),
    ("S24", 31, 0),
    ("S25", 31, 10),
)
_DOC_AT = {
    "S01": "APPLICATION",
    "S06": "ASSESSMENT",
    "S07": "RECOMMENDATION",
    "S10": "POLITICAL_REVIEW",
    "S11": "TRAINING_CERT",
    "S14": "VOLUNTEER_BOOK",
    "S22": "CONVERSION_APPLICATION",
}
SLOT_MS = 55 * 60_000


def pipeline_dates(start: str) -> dict[str, str]:
    base = parse_date(start)
    return {s: add_days(add_months(base, m), d).isoformat() for s, m, d in PIPELINE_PLAN}


def secretary(branch: str) -> str:
    return f"secretary@{branch}"


def committee_member(county: str) -> str:
    return f"committee@{county}"


def introducers_of(pipeline_id: str) -> tuple[str, str]:
    return (f"{pipeline_id}-intro-a", f"{pipeline_id}-intro-b")


def ensure_officers(L: Ledger, branch: str) -> None:
    """A secretary for the branch and a committee member (post) for its county."""
    if L.get("archive/" + person(secretary(branch))) is None:
        import_member(L, secretary(branch), branch)
    county = county_of(branch)
    post = {
        "org_id": county,
        "person_key": person(committee_member(county)),
        "post": "COMMITTEE_MEMBER",
        "action": "APPOINT",
        "date": "2000-01-01",
    }
    if L.get(f"post/{county}/{post['person_key']}/COMMITTEE_MEMBER") is None:
        ok(L.submit(f"{county}/operator", "org.set_post", post), "committee post")


# ------------------------------------------------------------------------------------- meetings
def meeting_payload(meeting_id: str, meeting_type: str, start_ms: int, **fields: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "meeting_id": meeting_id,
        "meeting_type": meeting_type,
        "start": start_ms,
        "end": start_ms + 50 * 60_000,
        "location_code": "ROOM",
        "minutes_content_hash": digest("minutes:" + meeting_id),
        "minutes_text_hash": digest("minutes-text:" + meeting_id),
    }
    p.update(fields)
    return p


def _slot(L: Ledger, org: str, day: str) -> int:
    used = sum(
        len(L.scan(f"idx/mtgday/{org}/{t}/{day}/"))
        for t in ("BRANCH_GENERAL", "BRANCH_COMMITTEE", "COMMITTEE")
    )
    return ms(day, hour=6) + used * SLOT_MS


def voters(L: Ledger, branch: str, day: str) -> list[str]:
    """The branch's members with a vote on `day` (full members by then, not under 留党察看)."""
    from contracts.records import membership_on
    from contracts.rules.procedure import full_on

    out = []
    for _, m in L.scan(f"idx/member/{branch}/"):
        a = L.get("archive/" + m["person_key"])
        if a is None or membership_on(a, parse_date(day)) != branch or not full_on(a, day):
            continue
        if a["party_standing"] != "PROBATION_WITHIN_PARTY" and a["status"] != "SUSPENDED":
            out.append(m["person_key"])
    return out


def full_members(L: Ledger, branch: str) -> int:
    return sum(1 for _, m in L.scan(f"idx/member/{branch}/") if m["status"] == "FULL")


def general_vote(L: Ledger, branch: str, meeting_id: str, subject: str, day: str, **fields: Any) -> Receipt:
    """A branch general meeting on `day` voting on `subject` (a person's name): every voting
    member present, secret ballot, all in favour. `fields` override the payload."""
    entitled = voters(L, branch, day)
    payload = meeting_payload(
        meeting_id,
        "BRANCH_GENERAL",
        _slot(L, branch, day),
        entitled_voter_keys=entitled,
        attendance=[{"person_key": k, "status": "PRESENT"} for k in entitled],
        items=[
            {
                "item_id": "1",
                "subject_key": person(subject),
                "ballot_method": "SECRET",
                "yes": len(entitled),
                "no": 0,
                "abstain": 0,
                "result": "PASSED",
            }
        ],
    )
    payload.update(fields)
    return L.submit(f"{branch}/operator", "meeting.record", payload, at=day)


def branch_decision(L: Ledger, branch: str, meeting_id: str, subject: str, day: str) -> Receipt:
    """The branch committee (or, under 7 full members, the general meeting) decides on `subject`."""
    kind = "BRANCH_COMMITTEE" if full_members(L, branch) >= 7 else "BRANCH_GENERAL"
    if kind == "BRANCH_GENERAL":
        return general_vote(L, branch, meeting_id, subject, day)
    committee = voters(L, branch, day)[:3]
    item: dict[str, Any] = {"item_id": "1", "subject_key": person(subject), "ballot_method": "SHOW_OF_HANDS"}
    item.update(yes=len(committee), no=0, abstain=0, result="PASSED")
    payload = meeting_payload(
        meeting_id,
        kind,
        _slot(L, branch, day),
        items=[item],
        entitled_voter_keys=committee,
        attendance=[{"person_key": k, "status": "PRESENT"} for k in committee],
    )
    return L.submit(f"{branch}/operator", "meeting.record", payload, at=day)


def committee_approval(L: Ledger, county: str, meeting_id: str, subject: str, day: str) -> Receipt:
    item: dict[str, Any] = {"item_id": "1", "subject_key": person(subject), "ballot_method": "SECRET"}
    item.update(yes=5, no=0, abstain=0, result="PASSED")
    payload = meeting_payload(meeting_id, "COMMITTEE", _slot(L, county, day), items=[item])
    return L.submit(f"{county}/operator", "meeting.record", payload, at=day)


def decision_payload(decision_id: str, effective_date: str, **fields: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "decision_id": decision_id,
        "decision_body": "PARTY_COMMITTEE",
        "decision_mode": "MEETING",
        "category": "OTHER",
        "item_seq": 1,
        "result": "PASSED",
        "effective_date": effective_date,
    }
    p.update(fields)
    return p


# -------------------------------------------------------------------------------------- steps
def _doc(L: Ledger, branch: str, pid: str, name: str, kind: str, day: str, **fields: Any) -> str:
    doc_id = f"{pid}/{kind}"
    if L.get(f"doc/{doc_id.replace('/', '%2F')}") is not None:
        doc_id = f"{pid}/{kind}-{day}"  # a repeated step (S06, S21) documents each occurrence
    doc = doc_payload(doc_id, kind, [name], day, branch, text_hash=digest(f"text:{doc_id}"), **fields)
    if kind == "VOLUNTEER_BOOK":
        doc["serial_no"] = f"VB-{pid}"
    ok(L.submit(f"{branch}/operator", "material.register", doc, at=day), f"{name} {kind}")
    return doc_id


def prepare_step(
    L: Ledger,
    branch: str,
    pipeline_id: str,
    name: str,
    step_id: str,
    day: str,
    *,
    introducers: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Record what `step_id` rests on and return its fields (extra, actors, documents, decision)."""
    intro = introducers or introducers_of(pipeline_id)
    county = county_of(branch)
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if step_id in _DOC_AT:
        fields["doc_refs"] = [_doc(L, branch, pipeline_id, name, _DOC_AT[step_id], day)]
    mid = f"m-{pipeline_id}-{step_id}"
    if L.get("meeting/" + mid) is not None:
        mid = f"{mid}-{day}"  # a repeated step (S23 after an extension) meets again
    match step_id:
        case "S01":
            extra["received_date"] = day
        case "S02":
            fields["actor_keys"] = [person(secretary(branch))]
        case "S03" | "S07":
            ok(branch_decision(L, branch, mid, name, day), f"{name} {step_id} meeting")
            fields["decision_ref"] = mid
        case "S05" | "S09":
            fields["actor_keys"] = [person(i) for i in intro]
        case "S10":
            extra["conclusion"] = "QUALIFIED"
        case "S11":
            extra.update(days=3, hours=24)
        case "S12":
            start = add_days(parse_date(day), -9).isoformat()
            _doc(
                L,
                branch,
                pipeline_id,
                name,
                "PUBLIC_NOTICE",
                day,
                notice_start_date=start,
                notice_end_date=day,
            )
        case "S14":
            extra["volunteer_book_no"] = f"VB-{pipeline_id}"
        case "S15" | "S23":
            ok(general_vote(L, branch, mid, name, day), f"{name} {step_id} vote")
            fields["decision_ref"] = mid
            extra["item_id"] = "1"
        case "S16":
            fields["actor_keys"] = [person(committee_member(county))]
        case "S17" | "S24":
            ok(committee_approval(L, county, mid, name, day), f"{name} {step_id} approval")
            fields["decision_ref"] = mid
        case _:
            pass
    if extra:
        fields["extra"] = extra
    return fields


def step(
    L: Ledger,
    branch: str,
    pipeline_id: str,
    name: str,
    step_id: str,
    day: str,
    *,
    introducers: tuple[str, str] | None = None,
    **overrides: Any,
) -> Receipt:
    """Prepare and submit one step (see `prepare_step`); `overrides` replace prepared fields."""
    ensure_officers(L, branch)
    fields = prepare_step(L, branch, pipeline_id, name, step_id, day, introducers=introducers)
    fields.update(overrides)
    return submit_step(L, branch, pipeline_id, name, step_id, day, **fields)


def run_pipeline(
    ledger: Ledger,
    name: str,
    branch: str,
    pipeline_id: str,
    start: str,
    *,
    until: str = "S25",
    birth: str | None = "1990-01-01",
    introducers: tuple[str, str] | None = None,
) -> dict[str, str]:
    """Play a clean pipeline for `name` at `branch` from S01 on `start` through `until`; create the
    archive first when `birth` is given, and two introducers (full members) when not named."""
    op = f"{branch}/operator"
    if birth is not None:
        from contracts.testing import archive_payload

        ok(ledger.submit(op, "archive.create", archive_payload(name, birth), at=start), f"archive {name}")
    if introducers is None:
        for intro in introducers_of(pipeline_id):
            import_member(ledger, intro, branch)
    ensure_officers(ledger, branch)
    dates = pipeline_dates(start)
    for step_id, _, _ in PIPELINE_PLAN:
        receipt = step(ledger, branch, pipeline_id, name, step_id, dates[step_id], introducers=introducers)
        ok(receipt, f"{name} {step_id}")
        if step_id == until:
            break
    return dates
