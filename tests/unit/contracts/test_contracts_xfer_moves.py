"""A probationary member who moves (DOMAIN.md A.3, XFER-04/05 and the 2026-12 decision): the accepted
transfer-in moves the open pipeline with the member; the receiving branch records S21-S25 with the
probation end unchanged; any step, vote, approval, handover or transfer-out by the old branch or its
county is XFER-04 RED REJECT, and so is a vote whose item's subject has moved."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.state import encode_record
from contracts.testing import (
    Ledger,
    doc_payload,
    import_member,
    make_genesis,
    ok,
    person,
    step_payload,
    submit_step,
)
from contracts.testing_procedure import committee_approval, general_vote, run_pipeline, step
from tests.support.rule_cases import START, alerts_of, fired, just_after, just_before
from wire.types import Receipt

B1, B2, X1 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1.c1.x1"  # the old branch and its county
P2B, P2X = "cn.p2.c1.x1.b1", "cn.p2.c1.x1"  # the receiving branch (another province) and its county
REPORT = "2017-01-20"  # ann reports to P2B; her probation (S15 2016-08-01) ends 2017-08-01
D = {"S21": "2017-03-01", "S22": "2017-08-01", "S23": "2017-08-01", "S24": "2017-09-01", "S25": "2017-09-11"}


def _letter(to_org: str = P2B, **kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "transfer_id": "T1",
        "person_key": person("ann"),
        "member_status": "PROBATIONARY",
        "from_org_id": B1,
        "to_org_id": to_org,
        "issue_date": "2017-01-10",
        "valid_until": "2017-04-10",
        "reason": "JOB_CHANGE",
        "dues_paid_through": "2016-12",
        "probation_assessment_doc": "ann/probation-assessment",
    }
    p.update(kw)
    return p


def moved(*, to_org: str = P2B, accepted: bool = True, report: str = REPORT, cfg: Any = None) -> Ledger:
    """ann, probationary at B1 since the S17 of 2016-09-01 (oath taken), moves to `to_org`."""
    L = Ledger(make_genesis(rule_config=cfg) if cfg else None)
    for i in range(3):
        import_member(L, f"receiving-{i}", to_org)
    run_pipeline(L, "ann", B1, "p1", START, until="S20")
    assessment = doc_payload("ann/probation-assessment", "ASSESSMENT", ["ann"], "2017-01-09", B1)
    ok(L.submit(f"{B1}/operator", "material.register", assessment, at="2017-01-09"))
    ok(L.submit(f"{B1}/operator", "transfer.out", _letter(to_org), at="2017-01-10"))
    into = {"transfer_id": "T1", "person_key": person("ann"), "to_org_id": to_org, "report_date": report}
    into |= {"receipt_date": report, "accepted": accepted}
    if not accepted:
        into |= {"refusal_reason": "not our unit", "refusal_doc": "ann/probation-assessment"}
    ok(L.submit(f"{to_org}/operator", "transfer.in", into, at=report))
    return L


def _why(r: Receipt) -> tuple[str, str, str]:
    return r.status, r.rule_id, r.reason_code


def test_the_accepted_transfer_in_moves_the_pipeline_and_keeps_the_probation_end() -> None:
    L = moved()
    pipe, archive = L.get("pipeline/p1"), L.get("archive/" + person("ann"))
    assert pipe is not None and archive is not None
    assert (pipe["org_id"], pipe["moved_from"], pipe["probation_end"]) == (P2B, [B1], "2017-08-01")
    assert (archive["current_org_id"], archive["probation_end"], archive["status"]) == (
        P2B,
        "2017-08-01",
        "PROBATIONARY",
    )
    handover = [e for _, e in L.scan("pipeline/p1/ev/") if e["kind"] == "TRANSFER"]
    assert [(e["from_org_id"], e["to_org_id"], e["transfer_id"], e["handover_date"]) for e in handover] == [
        (B1, P2B, "T1", REPORT)
    ]


def test_the_receiving_branch_converts_the_member_with_the_probation_end_unchanged() -> None:
    L = moved()
    for s, day in D.items():
        ok(step(L, P2B, "p1", "ann", s, day), s)  # S24 by P2X, the receiving county
    archive = L.get("archive/" + person("ann"))
    assert archive is not None
    assert (archive["status"], archive["full_date"], archive["current_org_id"]) == ("FULL", "2017-08-01", P2B)
    assert L.get("pipeline/p1")["status"] == "COMPLETED"  # type: ignore[index]
    rules = {a["rule_id"] for a in L.alerts()} - {"MTG-05", "MTG-06"}
    assert not rules & {"XFER-04", "XFER-05", "JOIN-16", "JOIN-21", "JOIN-22", "JOIN-23", "MTG-07", "MTG-09"}


@pytest.mark.parametrize("s", ["S21", "S22", "S23"])
def test_the_old_branch_writes_no_step_after_the_move(s: str) -> None:
    L = moved()
    assert _why(submit_step(L, B1, "p1", "ann", s, D[s])) == ("REJECTED", "XFER-04", "left_branch_acts")
    assert L.get("pipeline/p1")["steps"].get(s) is None  # type: ignore[index]


def test_the_old_county_approves_no_conversion_after_the_move() -> None:
    L = moved()
    for s in ("S21", "S22", "S23"):
        ok(step(L, P2B, "p1", "ann", s, D[s]))
    ok(committee_approval(L, P2X, "new-county", "ann", D["S24"]))
    s24 = step_payload("p1", "ann", "S24", D["S24"], decision_ref="new-county")
    r = L.submit(f"{X1}/approver", "join.step", s24, at=D["S24"])
    assert _why(r) == ("REJECTED", "XFER-04", "left_branch_acts")
    assert L.get("archive/" + person("ann"))["status"] == "PROBATIONARY"  # type: ignore[index]
    ok(L.submit(f"{P2X}/approver", "join.step", s24, at=D["S24"]))  # the receiving county approves
    assert L.get("archive/" + person("ann"))["status"] == "FULL"  # type: ignore[index]


def test_a_move_within_the_county_leaves_the_county_approving() -> None:
    L = moved(to_org=B2)
    for s, day in D.items():
        ok(step(L, B2, "p1", "ann", s, day), s)  # S24 by X1, the county of both branches
    assert L.get("archive/" + person("ann"))["status"] == "FULL"  # type: ignore[index]


@pytest.mark.parametrize(("day", "expected"), [("2017-01-19", "ACCEPTED"), ("2017-01-20", "REJECTED")])
def test_a_vote_of_the_old_branch_on_a_member_who_moved(day: str, expected: str) -> None:
    # the item's subject is judged, not only the people recorded: on the report date ann is P2B's
    L = moved()
    r = general_vote(L, B1, "m-old", "ann", day)
    assert r.status == expected, r
    if expected == "REJECTED":
        assert (r.rule_id, r.reason_code) == ("XFER-04", "subject_moved_away")


def test_the_old_county_votes_on_no_member_who_moved_away() -> None:
    L = moved()
    assert _why(committee_approval(L, X1, "old-county", "ann", "2017-09-01")) == (
        "REJECTED",
        "XFER-04",
        "subject_moved_away",
    )
    ok(committee_approval(L, P2X, "new-county", "ann", "2017-09-01"))
    L2 = moved(to_org=B2)  # within the county: X1 still votes on her
    ok(committee_approval(L2, X1, "county", "ann", "2017-09-01"))


def test_handovers_after_approval_follow_the_relationship() -> None:
    L = moved()
    handover = {"pipeline_id": "p1", "person_key": person("ann"), "handover_date": "2017-02-01"}
    old = L.submit(
        f"{B1}/operator", "join.pipeline_transfer", handover | {"from_org_id": B1, "to_org_id": P2B}
    )
    assert _why(old) == ("REJECTED", "XFER-04", "left_branch_acts")
    away = L.submit(
        f"{P2B}/operator", "join.pipeline_transfer", handover | {"from_org_id": P2B, "to_org_id": B2}
    )
    assert _why(away) == ("REJECTED", "XFER-04", "relationship_elsewhere")
    assert L.get("pipeline/p1")["org_id"] == P2B  # type: ignore[index]


def test_a_pipeline_left_behind_catches_up_with_the_relationship() -> None:
    # a transfer-in recorded before pipelines followed their member left the pipeline at B1: the
    # holder hands it to the branch holding the relationship (and to nowhere else)
    L = moved()
    pipe = L.get("pipeline/p1")
    assert pipe is not None
    pipe.update(org_id=B1, moved_from=[])
    L.state.apply([(b"pipeline/p1", encode_record(pipe))])
    handover = {"pipeline_id": "p1", "person_key": person("ann"), "handover_date": "2017-02-01"}
    elsewhere = L.submit(
        f"{B1}/operator", "join.pipeline_transfer", handover | {"from_org_id": B1, "to_org_id": B2}
    )
    assert _why(elsewhere) == ("REJECTED", "XFER-04", "relationship_elsewhere")
    renamed = handover | {"from_org_id": B1, "to_org_id": P2B, "new_pipeline_id": "p1-2"}
    assert _why(L.submit(f"{B1}/operator", "join.pipeline_transfer", renamed)) == (
        "REJECTED",
        "",
        "bad_value",
    )
    ok(L.submit(f"{B1}/operator", "join.pipeline_transfer", handover | {"from_org_id": B1, "to_org_id": P2B}))
    assert L.get("pipeline/p1")["moved_from"] == [B1]  # type: ignore[index]
    assert _why(step(L, B1, "p1", "ann", "S21", D["S21"])) == ("REJECTED", "XFER-04", "left_branch_acts")
    ok(step(L, P2B, "p1", "ann", "S21", D["S21"]))


def test_a_refused_transfer_leaves_the_pipeline_with_the_old_branch() -> None:
    L = moved(accepted=False)
    assert L.get("pipeline/p1")["org_id"] == B1  # type: ignore[index]
    ok(step(L, B1, "p1", "ann", "S21", D["S21"]))
    r = step(L, P2B, "p1", "ann", "S22", D["S22"])
    assert _why(r) == ("REJECTED", "", "wrong_org")  # never held by P2B: not a move


def test_in_transit_the_old_branch_stays_responsible() -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", START, until="S20")
    ok(L.submit(f"{B1}/operator", "transfer.out", _letter(probation_assessment_doc=None), at="2017-01-10"))
    ok(step(L, B1, "p1", "ann", "S21", D["S21"]))  # not reported yet: B1 still writes
    assert _why(step(L, P2B, "p1", "ann", "S22", D["S22"])) == ("REJECTED", "", "wrong_org")


def test_the_old_branch_issues_no_letter_after_the_move() -> None:
    L = moved()
    again = _letter(transfer_id="T2", member_status="PROBATIONARY", issue_date="2017-02-01")
    r = L.submit(f"{B1}/operator", "transfer.out", again | {"valid_until": "2017-03-01"}, at="2017-02-01")
    assert _why(r) == ("REJECTED", "XFER-04", "left_branch_acts")
    ok(
        L.submit(
            f"{P2B}/operator",
            "transfer.out",
            again | {"from_org_id": P2B, "to_org_id": B2, "valid_until": "2017-03-01"},
            at="2017-02-01",
        )
    )


def test_deadlines_set_before_the_move_alert_the_receiving_side() -> None:
    L = moved()
    ok(step(L, P2B, "p1", "ann", "S21", D["S21"]))
    assert fired(L, "JOIN-21", just_before("2017-09-01")) == []
    assert fired(L, "JOIN-21", just_after("2017-09-01")) == [("BLUE", "conversion_application_missing")]
    (alert,) = L.alerts("JOIN-21")
    assert alert["org_id"] == P2X  # set by X1's S17; the receiving county answers for it now
    assert alerts_of(L, "XFER-04") == []
