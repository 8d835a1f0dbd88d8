"""No schema-valid meeting or decision, however odd, makes the engine raise: a rule that crashed on
one would halt the chain on every node (InvariantError is for the engine's own bugs). Every
transaction gets a receipt, and the deadlines it schedules fire quietly or with alerts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.meetings import ATTENDANCE_STATUSES, MEETING_TYPES
from contracts.testing import Ledger, import_member, ms, person
from contracts.testing_procedure import meeting_payload
from tests.support.rule_cases import B1, B2, X1

PEOPLE = [person(f"p{i}") for i in range(6)]
DAY0 = ms("2016-03-10", hour=8)
HOUR = 3_600_000
people = st.lists(st.sampled_from(PEOPLE), max_size=6, unique=True)
day = st.integers(0, 40).map(lambda n: f"2016-{2 + n // 28:02d}-{1 + n % 28:02d}")


@st.composite
def meetings(draw: Any, mid: str) -> tuple[str, dict[str, Any]]:
    start = DAY0 + draw(st.integers(-60, 2)) * HOUR
    att = [{"person_key": k, "status": draw(st.sampled_from(ATTENDANCE_STATUSES))} for k in draw(people)]
    items = [
        {
            "item_id": str(i),
            "subject_key": draw(st.none() | st.sampled_from(PEOPLE)),
            "ballot_method": draw(st.sampled_from(("SECRET", "SHOW_OF_HANDS"))),
            "yes": draw(st.integers(0, 7)),
            "no": draw(st.integers(0, 3)),
            "abstain": 0,
            "result": draw(st.sampled_from(("PASSED", "REJECTED"))),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    written = [
        {"person_key": k, "vote": "YES", "submitted_at": start + draw(st.integers(-2, 2)) * HOUR}
        for k in draw(people)[:2]
    ]
    topics = (
        [
            {
                "topic_id": "t",
                "title_hash": "ab" * 32,
                "category": "LARGE_FUNDS",
                "added_at": start + draw(st.integers(-2, 2)) * HOUR,
            }
        ]
        if draw(st.booleans())
        else []
    )
    org = draw(st.sampled_from((B1, X1)))
    p = meeting_payload(
        mid,
        draw(st.sampled_from(MEETING_TYPES)),
        start,
        end=start + draw(st.integers(-1, 26)) * HOUR,
        attendance=att,
        entitled_voter_keys=draw(people),
        items=items,
        written_opinions=written,
        topics=topics,
        joint_org_ids=[B2] if org == B1 and draw(st.booleans()) else [],
        group_id=draw(st.none() | st.just("g1")),
    )
    if draw(st.booleans()):
        p["minutes_text_hash"] = "cd" * 32
    return org, p


@st.composite
def decisions(draw: Any, did: str) -> dict[str, Any]:
    members = draw(people)
    p: dict[str, Any] = {
        "decision_id": did,
        "decision_body": "PARTY_COMMITTEE",
        "decision_mode": draw(
            st.sampled_from(("MEETING", "CIRCULATION", "INDIVIDUAL", "EMERGENCY_INDIVIDUAL"))
        ),
        "meeting_id": draw(st.none() | st.just("m-0")),
        "category": draw(
            st.sampled_from(("MAJOR_DECISION", "PERSONNEL", "MAJOR_PROJECT", "LARGE_FUNDS", "OTHER"))
        ),
        "item_seq": 1,
        "amount_fen": draw(st.none() | st.integers(0, 30_000_000)),
        "counterparty_key": draw(st.none() | st.just("acme")),
        "members_entitled": members,
        "members_present": draw(people),
        "votes": [{"person_key": k, "vote": draw(st.sampled_from(("YES", "NO")))} for k in draw(people)],
        "speaking_order": [
            {
                "person_key": k,
                "seq": draw(st.integers(0, 5)),
                "opinion": draw(st.sampled_from(("AGREE", "DEFER"))),
            }
            for k in draw(people)
        ],
        "interests": [{"person_key": k, "relation": "kin"} for k in draw(people)[:1]],
        "recusals": [{"person_key": k, "reason": "kin"} for k in draw(people)[:1]],
        "principal_key": draw(st.none() | st.sampled_from(PEOPLE)),
        "result": draw(st.sampled_from(("PASSED", "REJECTED", "DEFERRED"))),
        "effective_date": draw(day),
        "execution": [
            {
                "exec_id": f"e{i}",
                "exec_date": draw(day),
                "amount_fen": draw(st.integers(0, 9_000_000)),
                "counterparty_key": draw(st.none() | st.just("x")),
            }
            for i in range(draw(st.integers(0, 2)))
        ],
        "ratification_ref": draw(st.none() | st.just("d-0")),
        "reconsiders": draw(st.none() | st.just("d-0")),
        "agree_to_reconsider": draw(people),
        "major_administrative": draw(st.booleans()),
        "materials_sent_at": draw(st.none() | st.integers(DAY0 - 72 * HOUR, DAY0)),
    }
    if draw(st.booleans()):
        start, end = draw(day), draw(day)
        p["public_notice"] = {"start_date": start, "end_date": end, "doc_id": "n"}
    return p


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_odd_meetings_and_decisions_get_receipts_never_exceptions(data: st.DataObject) -> None:
    L = Ledger()
    for i in range(4):
        import_member(L, f"p{i}", B1)
    for i in range(3):
        org, m = data.draw(meetings(f"m-{i}"))
        L.submit(f"{org}/operator", "meeting.record", m, at="2016-03-12")
        L.submit(f"{X1}/operator", "decision.record", data.draw(decisions(f"d-{i}")), at="2016-03-12")
    L.block(at=ms("2017-06-01"))  # every deadline they scheduled fires
    assert all(len(o.receipts) <= 1 for o in L.outcomes)


@st.composite
def steps(draw: Any) -> dict[str, Any]:
    from contracts.calendar import add_days, parse_date
    from contracts.records import RESULTS, STEPS

    near = st.integers(-400, 500).map(lambda n: add_days(parse_date("2016-08-01"), n).isoformat())

    extra: dict[str, Any] = {
        "received_date": draw(near),
        "conclusion": draw(st.sampled_from(("QUALIFIED", "UNQUALIFIED"))),
        "days": draw(st.integers(0, 5)),
        "special_case": draw(st.booleans()),
        "volunteer_book_no": draw(st.sampled_from(("VB-1", "VB-2"))),
        "item_id": draw(st.none() | st.just("0")),
        "reported_date": draw(st.none() | near),
        "extension_months": draw(st.integers(0, 12)),
    }
    return {
        "pipeline_id": "p1",
        "person_key": person("ann"),
        "step": draw(st.sampled_from(STEPS)),
        "event_date": draw(near),
        "decision_ref": draw(st.none() | st.sampled_from(("m-0", "m-1", "m-p1-S15", "m-p1-S03"))),
        "actor_keys": draw(people),
        "result": draw(st.sampled_from(RESULTS)),
        "extra": extra,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_odd_joining_steps_get_receipts_never_exceptions(data: st.DataObject) -> None:
    from contracts.testing import apply_for, archive_payload, ok

    L = Ledger()
    for i in range(4):
        import_member(L, f"p{i}", B1)
    ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("ann", "1990-01-01"), at="2016-02-01"))
    for i in range(2):
        org, m = data.draw(meetings(f"m-{i}"))
        L.submit(f"{org}/operator", "meeting.record", m, at="2016-03-12")
    apply_for(L, "ann", B1, "p1", "2016-03-01")
    for _ in range(8):
        s = data.draw(steps())
        user = (
            f"{X1}/approver"
            if s["step"] in ("S04", "S08", "S13", "S16", "S17", "S18", "S24")
            else f"{B1}/operator"
        )
        L.submit(user, "join.step", s, at="2016-04-01")
    L.block(at=ms("2019-06-01"))
