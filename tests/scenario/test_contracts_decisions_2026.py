"""Multi-year histories written from the sentences of DOMAIN.md's "Decisions and clarifications
(2026-12)", each with a history that passes and one that fails, on both sides of the dates that
matter. Organisational life (MTG-05/06) is judged from a branch's first recorded meeting and is
not what these histories are about (`_alerts` leaves it out)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger, doc_payload, import_member, ms, ok, person, step_payload, submit_step
from contracts.testing_procedure import (
    committee_approval,
    general_vote,
    meeting_payload,
    pipeline_dates,
    prepare_step,
    run_pipeline,
    step,
)
from wire.types import Receipt

B1, B2, X1, X2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1.c1.x1", "cn.p1.c1.x2"
P2B, P2X = "cn.p2.c1.x1.b1", "cn.p2.c1.x1"
START = "2015-02-01"
D = pipeline_dates(START)  # S15 2016-08-01, S17 2016-09-01, S20 2016-09-16; probation ends 2017-08-01
THESE = (
    "XFER-04",
    "XFER-05",
    "JOIN-16",
    "JOIN-21",
    "JOIN-22",
    "JOIN-23",
    "MTG-03",
    "MTG-07",
    "MTG-09",
    "DUP-06",
)


def _alerts(L: Ledger) -> list[tuple[str, str, str]]:
    return [
        (a["rule_id"], a["colour"], a["reason_code"])
        for a in L.alerts()
        if a["rule_id"] not in ("MTG-05", "MTG-06")
    ]


def _why(r: Receipt) -> tuple[str, str, str]:
    return r.status, r.rule_id, r.reason_code


def _moves_to_province_2(L: Ledger) -> None:
    """ann, a probationary member of B1 since 2016-08-01, moves to P2B in January 2017."""
    for i in range(3):
        import_member(L, f"p2-{i}", P2B)
    run_pipeline(L, "ann", B1, "p-ann", START, until="S20")
    doc = doc_payload("ann/assessment", "ASSESSMENT", ["ann"], "2017-01-09", B1)
    ok(L.submit(f"{B1}/operator", "material.register", doc, at="2017-01-09"))
    letter = {"transfer_id": "GS-2017-0001", "person_key": person("ann"), "member_status": "PROBATIONARY"}
    letter |= {"from_org_id": B1, "to_org_id": P2B, "issue_date": "2017-01-10", "valid_until": "2017-07-10"}
    letter |= {
        "reason": "JOB_CHANGE",
        "dues_paid_through": "2016-12",
        "probation_assessment_doc": "ann/assessment",
    }
    ok(L.submit(f"{B1}/operator", "transfer.out", letter, at="2017-01-10"))
    into = {"transfer_id": "GS-2017-0001", "person_key": person("ann"), "to_org_id": P2B}
    into |= {"report_date": "2017-01-20", "receipt_date": "2017-01-25", "accepted": True}
    ok(L.submit(f"{P2B}/operator", "transfer.in", into, at="2017-01-20"))


def test_the_open_pipeline_moves_with_an_accepted_transfer_in_and_the_receiving_branch_converts() -> None:
    # "a probationary member's open pipeline moves with an accepted transfer-in: from that block on
    # only the receiving branch (and its ancestors' approvers) may write its steps"
    L = Ledger()
    _moves_to_province_2(L)
    assert L.get("pipeline/p-ann")["org_id"] == P2B  # type: ignore[index]
    ok(step(L, P2B, "p-ann", "ann", "S21", "2017-03-01"))
    ok(step(L, P2B, "p-ann", "ann", "S22", "2017-07-20"))
    # the probation end is unchanged (2017-08-01): the day before it the vote is premature
    early = step(L, P2B, "p-ann", "ann", "S23", "2017-07-31")
    assert _why(early) == ("REJECTED", "JOIN-21", "premature")
    ok(step(L, P2B, "p-ann", "ann", "S23", "2017-08-01"))
    ok(step(L, P2B, "p-ann", "ann", "S24", "2017-09-01"))  # approved by P2X, the receiving county
    ok(step(L, P2B, "p-ann", "ann", "S25", "2017-09-11"))
    ann = L.get("archive/" + person("ann"))
    assert ann is not None and (ann["status"], ann["full_date"], ann["current_org_id"]) == (
        "FULL",
        "2017-08-01",
        P2B,
    )
    assert not {r for r, _, _ in _alerts(L)} & set(THESE)


def test_any_step_vote_approval_or_letter_by_the_old_branch_or_its_county_is_xfer04() -> None:
    L = Ledger()
    _moves_to_province_2(L)
    ok(step(L, P2B, "p-ann", "ann", "S21", "2017-03-01"))
    ok(step(L, P2B, "p-ann", "ann", "S22", "2017-07-20"))
    # the old branch's vote on her, held the day of her report and later: refused (the day before
    # she reported, 2017-01-19, the relationship was still B1's)
    assert general_vote(L, B1, "b1-before", "ann", "2017-01-19").accepted
    for mid, day in (("b1-report-day", "2017-01-20"), ("b1-conversion", "2017-08-01")):
        assert _why(general_vote(L, B1, mid, "ann", day)) == ("REJECTED", "XFER-04", "subject_moved_away")
    # ... its conversion step, citing a vote of its own ...
    s23 = submit_step(
        L, B1, "p-ann", "ann", "S23", "2017-08-01", decision_ref="b1-before", extra={"item_id": "1"}
    )
    assert _why(s23) == ("REJECTED", "XFER-04", "left_branch_acts")
    # ... the old county's approval meeting and approval ...
    assert _why(committee_approval(L, X1, "x1-approval", "ann", "2017-09-01"))[1] == "XFER-04"
    ok(step(L, P2B, "p-ann", "ann", "S23", "2017-08-01"))
    ok(committee_approval(L, P2X, "p2x-approval", "ann", "2017-09-01"))
    s24 = step_payload("p-ann", "ann", "S24", "2017-09-01", decision_ref="p2x-approval")
    assert _why(L.submit(f"{X1}/approver", "join.step", s24, at="2017-09-01")) == (
        "REJECTED",
        "XFER-04",
        "left_branch_acts",
    )
    # ... and another letter for her
    letter = {"transfer_id": "GS-2017-0002", "person_key": person("ann"), "member_status": "PROBATIONARY"}
    letter |= {"from_org_id": B1, "to_org_id": B2, "issue_date": "2017-09-02", "valid_until": "2017-10-02"}
    letter |= {
        "reason": "OTHER",
        "dues_paid_through": "2017-08",
        "probation_assessment_doc": "ann/assessment",
    }
    assert _why(L.submit(f"{B1}/operator", "transfer.out", letter, at="2017-09-02"))[1] == "XFER-04"
    assert L.get("archive/" + person("ann"))["status"] == "PROBATIONARY"  # type: ignore[index]
    assert [a for a in _alerts(L) if a[0] == "XFER-04"] == []  # refusals are receipts, not alerts


@pytest.mark.parametrize("step_id", ["S17", "S24"])
def test_one_approval_item_approves_one_person_batch_approval_is_refused(step_id: str) -> None:
    # "citing an item that another person's S17/S24 already cited, or an item without a subject,
    # is JOIN-16 (or JOIN-22) RED REJECT"
    L = Ledger()
    names = ("ann", "bob", "cy")
    before = "S16" if step_id == "S17" else "S23"
    for n in names:
        run_pipeline(L, n, B1, f"p-{n}", START, until=before)
    day, rule = D[step_id], "JOIN-16" if step_id == "S17" else "JOIN-22"
    batch = {"item_id": "all", "ballot_method": "SECRET", "yes": 7, "no": 0, "abstain": 0, "result": "PASSED"}
    p = meeting_payload("x1-batch", "COMMITTEE", ms(day, hour=6), items=[batch])
    ok(L.submit(f"{X1}/operator", "meeting.record", p, at=day))
    for n in names:
        r = submit_step(L, B1, f"p-{n}", n, step_id, day, decision_ref="x1-batch", extra={"item_id": "all"})
        assert _why(r) == ("REJECTED", rule, "item_without_subject")
    # one item per person, one by one: accepted; reusing ann's item for bob: refused
    items = [
        {"item_id": n, "subject_key": person(n), "ballot_method": "SECRET", "result": "PASSED"}
        | {"yes": 7, "no": 0, "abstain": 0}
        for n in names
    ]
    ok(
        L.submit(
            f"{X1}/operator",
            "meeting.record",
            meeting_payload("x1-each", "COMMITTEE", ms(day, 8), items=items),
            at=day,
        )
    )
    ok(submit_step(L, B1, "p-ann", "ann", step_id, day, decision_ref="x1-each", extra={"item_id": "ann"}))
    reuse = submit_step(L, B1, "p-bob", "bob", step_id, day, decision_ref="x1-each", extra={"item_id": "ann"})
    assert _why(reuse) == ("REJECTED", rule, "item_of_another_person")
    for n in ("bob", "cy"):
        ok(submit_step(L, B1, f"p-{n}", n, step_id, day, decision_ref="x1-each", extra={"item_id": n}))


def test_entitled_voters_padded_with_probationary_members_7_of_13_really_4_of_10() -> None:
    # "a probationary member, an outsider or a non-member listed as entitled is MTG-07 RED REJECT,
    # for ordinary and committee votes as much as for admissions"
    L = Ledger()
    full = [f"full-{i}" for i in range(10)]
    for n in full:
        import_member(L, n, B1)
    for i in range(3):
        import_member(L, f"prob-{i}", B1, status="PROBATIONARY", join="2016-01-10", full=None)  # type: ignore[arg-type]
    prob = [f"prob-{i}" for i in range(3)]

    def resolution(mid: str, entitled: list[str], present: list[str]) -> Receipt:
        item = {"item_id": "1", "ballot_method": "SHOW_OF_HANDS", "yes": len(present), "no": 0, "abstain": 0}
        att = [{"person_key": person(n), "status": "PRESENT" if n in present else "ABSENT"} for n in entitled]
        p = meeting_payload(mid, "BRANCH_GENERAL", ms("2016-06-20", 14), items=[item | {"result": "PASSED"}])
        p.update(entitled_voter_keys=[person(n) for n in entitled], attendance=att)
        return L.submit(f"{B1}/operator", "meeting.record", p, at="2016-06-21")

    padded = resolution("padded", full + prob, full[:4] + prob)
    assert _why(padded) == ("REJECTED", "MTG-07", "bad_roster")
    assert _why(resolution("real", full, full[:4])) == ("REJECTED", "MTG-07", "no_quorum")
    ok(resolution("quorate", full, full[:6]))


def test_rules_name_themselves_an_auditor_filtering_refusals_by_rule_sees_every_attempt() -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p-ann", START, until="S16")
    fields = prepare_step(L, B1, "p-ann", "ann", "S17", D["S17"])
    s17 = step_payload("p-ann", "ann", "S17", D["S17"], **fields)
    attempts = [
        L.submit(f"{B1}/operator", "join.step", s17, at=D["S17"]),  # the branch approves itself
        L.submit(f"{X2}/approver", "join.step", s17, at=D["S17"]),  # a sibling county
    ]
    ok(L.submit(f"{X1}/approver", "join.step", s17, at=D["S17"]))
    for s in ("S18", "S19", "S20", "S21", "S22"):
        ok(step(L, B1, "p-ann", "ann", s, D[s]))
    for months, day in ((13, "2017-08-01"), (5, "2017-08-02")):
        extend = {"result": "EXTEND", "extra": {"item_id": "1", "extension_months": months}}
        attempts.append(step(L, B1, "p-ann", "ann", "S23", day, **extend))
    refusals = [
        (r.rule_id, r.reason_code) for r in (rc for o in L.outcomes for rc in o.receipts) if not r.accepted
    ]
    assert [(r.rule_id, r.reason_code) for r in attempts] == [
        ("JOIN-16", "not_in_subtree"),
        ("JOIN-16", "not_in_subtree"),
        ("JOIN-23", "extension_out_of_range"),
        ("JOIN-23", "extension_out_of_range"),
    ]
    assert sorted(x for x in refusals if x[0] in ("JOIN-16", "JOIN-23")) == sorted(
        (r.rule_id, r.reason_code) for r in attempts
    )
    ok(
        step(
            L,
            B1,
            "p-ann",
            "ann",
            "S23",
            "2017-08-03",
            result="EXTEND",
            extra={"item_id": "1", "extension_months": 12},
        )
    )


@pytest.mark.parametrize(
    ("s22", "s23", "expected"),
    [
        (None, None, [("JOIN-21", "BLUE", "conversion_application_missing")]),
        ("2017-10-01", "2017-11-01", [("JOIN-21", "BLUE", "conversion_application_missing")]),
        (
            "2017-10-01",
            "2017-11-02",
            [("JOIN-21", "BLUE", "conversion_application_missing"), ("JOIN-21", "YELLOW", "conversion_late")],
        ),
        ("2017-08-01", "2017-09-01", []),  # applied on the probation end, discussed within a month
        ("2017-08-01", "2017-09-02", [("JOIN-21", "YELLOW", "conversion_late")]),
    ],
)
def test_a_late_conversion_application_is_a_blue_reminder_and_moves_the_due_date(
    s22: str | None, s23: str | None, expected: list[tuple[str, str, str]]
) -> None:
    # "while S22 is not yet recorded ... passing it raises BLUE (conversion_application_missing),
    # not YELLOW; a later S22 moves the due date ..., and a YELLOW is raised only if S23 then misses it"
    L = Ledger()
    run_pipeline(L, "ann", B1, "p-ann", START, until="S21")
    if s22 is not None and s23 is not None:
        ok(step(L, B1, "p-ann", "ann", "S22", s22))
        ok(step(L, B1, "p-ann", "ann", "S23", s23))
    L.block(at="2018-03-01")
    assert [a for a in _alerts(L) if a[0] == "JOIN-21"] == expected


def _meeting_of(L: Ledger, branch: str, kind: str, day: str, at: str) -> Receipt:
    p = meeting_payload(f"{branch}/{kind}-{day}", kind, ms(day, 19))
    return L.submit(f"{branch}/operator", "meeting.record", p, at=at)


def _move(L: Ledger, name: str, src: str, dst: str, day: str) -> None:
    out = {
        "transfer_id": f"L-{name}",
        "person_key": person(name),
        "member_status": "FULL",
        "reason": "JOB_CHANGE",
    }
    out |= {
        "from_org_id": src,
        "to_org_id": dst,
        "issue_date": day,
        "valid_until": day,
        "dues_paid_through": day[:7],
    }
    ok(L.submit(f"{src}/operator", "transfer.out", out, at=day))
    into = {"transfer_id": f"L-{name}", "person_key": person(name), "to_org_id": dst, "report_date": day}
    ok(L.submit(f"{dst}/operator", "transfer.in", into | {"receipt_date": day, "accepted": True}, at=day))


def test_mtg09_counts_members_on_the_meeting_date_when_minutes_are_written_late() -> None:
    # "member counts are taken on the meeting date, not at the block that records the minutes"
    L = Ledger()
    for i in range(8):
        import_member(L, f"b1-{i}", B1)
    for i in range(6):
        import_member(L, f"b2-{i}", B2)
    # 2016-05-01: two of B1's eight full members move to B2 (B1 6, B2 8 from that day)
    _move(L, "b1-6", B1, B2, "2016-05-01")
    _move(L, "b1-7", B1, B2, "2016-05-01")
    # April's committee minutes, written in May: B1 had 8 (no flag), B2 had 6 (flagged)
    ok(_meeting_of(L, B1, "BRANCH_COMMITTEE", "2016-04-28", at="2016-05-05"))
    ok(_meeting_of(L, B2, "BRANCH_COMMITTEE", "2016-04-28", at="2016-05-05"))
    # May's, on the day of the move and later: the other way round
    ok(_meeting_of(L, B1, "BRANCH_COMMITTEE", "2016-05-01", at="2016-05-05"))
    ok(_meeting_of(L, B2, "BRANCH_COMMITTEE", "2016-05-01", at="2016-05-05"))
    flagged = [(a["org_id"], a["record_refs"][0]) for a in L.alerts("MTG-09") if a["colour"] == "YELLOW"]
    assert flagged == [
        (B2, f"meeting/{B2}%2FBRANCH_COMMITTEE-2016-04-28"),
        (B1, f"meeting/{B1}%2FBRANCH_COMMITTEE-2016-05-01"),
    ]


def test_clean_histories_raise_no_alert_of_these_rules() -> None:
    L = Ledger()
    for i in range(3):
        import_member(L, f"m-{i}", B1)
    run_pipeline(L, "ann", B1, "p-ann", START)
    run_pipeline(L, "bob", B2, "p-bob", "2015-03-01")
    att: list[dict[str, Any]] = [{"person_key": person(f"m-{i}"), "status": "PRESENT"} for i in range(3)]
    att.append({"person_key": person("guest"), "status": "OBSERVER"})
    ok(
        L.submit(
            f"{B1}/operator",
            "meeting.record",
            meeting_payload("td", "THEME_DAY", ms("2017-10-10", 9), attendance=att),
        )
    )
    L.block(at="2019-01-01")
    assert not {r for r, _, _ in _alerts(L)} & set(THESE)
