"""XFER-01..10, table-driven; the deadline parts (XFER-03/07/09/10) through the due-date index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.testing import Ledger, doc_payload, import_member, ms, ok, outcome, person
from contracts.testing_procedure import run_pipeline
from wire.types import Receipt

B1, B2, OTHER_COUNTY, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1.c1.x2.b1", "cn.p2.c1.x1.b1"
X1 = "cn.p1.c1.x1"


def out_payload(tid: str = "T1", **kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "transfer_id": tid,
        "person_key": person("m"),
        "member_status": "FULL",
        "from_org_id": B1,
        "to_org_id": B2,
        "issue_date": "2016-03-01",
        "valid_until": "2016-04-01",
        "reason": "JOB_CHANGE",
        "dues_paid_through": "2016-02",
    }
    p.update(kw)
    return p


def in_payload(tid: str = "T1", **kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "transfer_id": tid,
        "person_key": person("m"),
        "to_org_id": B2,
        "report_date": "2016-03-10",
        "receipt_date": "2016-03-15",
        "accepted": True,
    }
    p.update(kw)
    return p


def _member(L: Ledger, **kw: Any) -> None:
    import_member(L, "m", B1, **kw)


def _out(**kw: Any) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _member(L)
        return L.submit(f"{B1}/operator", "transfer.out", out_payload(**kw), at="2016-03-01")

    case.__name__ = "out_" + "_".join(f"{k}={v}" for k, v in kw.items())
    return case


def _in(
    out_kw: dict[str, Any] | None = None, user: str = f"{B2}/operator", **kw: Any
) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _member(L)
        import_member(L, "other", B1)
        ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(**(out_kw or {})), at="2016-03-01"))
        return L.submit(user, "transfer.in", in_payload(**kw), at="2016-06-01")

    case.__name__ = f"in_{out_kw}_" + "_".join(f"{k}={v}" for k, v in kw.items())
    return case


def _in_without_out(L: Ledger) -> Receipt:
    _member(L)
    return L.submit(f"{B2}/operator", "transfer.in", in_payload(), at="2016-03-10")


def _twice(L: Ledger) -> Receipt:
    _in()(L)
    return L.submit(f"{B2}/operator", "transfer.in", in_payload(), at="2016-06-02")


def _second_out_in_transit(L: Ledger) -> Receipt:
    _member(L)
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01"))
    return L.submit(f"{B1}/operator", "transfer.out", out_payload("T2"), at="2016-03-02")


def _out_by_stranger(L: Ledger) -> Receipt:
    _member(L)
    return L.submit(
        f"{B2}/operator", "transfer.out", out_payload(from_org_id=B2, to_org_id=B1), at="2016-03-01"
    )


def _out_of_applicant(L: Ledger) -> Receipt:
    run_pipeline(L, "m", B1, "p", "2015-02-01", until="S03")
    return L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01")


def _after_move(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _member(L)
        import_member(L, "x", B1)
        ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01"))
        ok(L.submit(f"{B2}/operator", "transfer.in", in_payload(), at="2016-03-10"))
        meeting: dict[str, Any] = {
            "meeting_id": "m-" + kind,
            "meeting_type": "BRANCH_GENERAL",
            "start": ms("2016-04-01", hour=9),
            "end": ms("2016-04-01", hour=11),
            "location_code": "HALL",
            "minutes_content_hash": "ab" * 32,
            "attendance": [{"person_key": person("x"), "status": "PRESENT"}],
        }
        match kind:
            case "old-branch-out":
                return L.submit(f"{B1}/operator", "transfer.out", out_payload("T2"), at="2016-04-01")
            case "old-branch-meeting":
                meeting["attendance"].append({"person_key": person("m"), "status": "PRESENT"})
            case "old-branch-vote":
                meeting["entitled_voter_keys"] = [person("m")]
            case "old-branch-observer":
                meeting["attendance"].append({"person_key": person("m"), "status": "OBSERVER"})
            case "old-branch-before-move":
                meeting.update(start=ms("2016-03-05", hour=9), end=ms("2016-03-05", hour=11))
                meeting["attendance"].append({"person_key": person("m"), "status": "PRESENT"})
            case "new-branch-meeting":
                meeting["attendance"] = [{"person_key": person("m"), "status": "PRESENT"}]
                return L.submit(f"{B2}/operator", "meeting.record", meeting, at="2016-04-02")
            case "second-archive":
                p = {
                    "person_key": person("m"),
                    "key_version": 1,
                    "id_check_ok": True,
                    "birth_date": "1970-01-01",
                }
                return L.submit(f"{P2B}/operator", "archive.create", p, at="2016-04-02")
        return L.submit(f"{B1}/operator", "meeting.record", meeting, at="2016-04-02")

    case.__name__ = f"after_move_{kind}"
    return case


def _probation(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        dates = run_pipeline(L, "m", B1, "p", "2015-02-01", until="S20")
        day = dates["S20"]
        ok(
            L.submit(
                f"{B1}/operator",
                "material.register",
                doc_payload("assess", "ASSESSMENT", ["m"], day, B1),
                at=day,
            )
        )
        base = out_payload(
            member_status="PROBATIONARY", issue_date=day, valid_until=day, dues_paid_through=day[:7]
        )
        match kind:
            case "with-assessment":
                return L.submit(
                    f"{B1}/operator", "transfer.out", dict(base, probation_assessment_doc="assess")
                )
            case "without-assessment":
                return L.submit(f"{B1}/operator", "transfer.out", base)
            case "says-full":
                return L.submit(f"{B1}/operator", "transfer.out", dict(base, member_status="FULL"))
        ok(L.submit(f"{B1}/operator", "transfer.out", dict(base, probation_assessment_doc="assess")))
        end = L.get("archive/" + person("m"))["probation_end"]  # type: ignore[index]
        reset = end if kind == "in-keeps-end" else day
        return L.submit(
            f"{B2}/operator",
            "transfer.in",
            in_payload(report_date=day, receipt_date=day, probation_end=reset),
        )

    case.__name__ = f"probation_{kind}"
    return case


def _flow_back(months_away: int) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _member(L)
        e = {"person_key": person("m"), "event": "FLOW_OUT", "date": "2016-01-01", "fixed_location": True}
        ok(L.submit(f"{B1}/operator", "archive.event", e, at="2016-01-01"))
        back = f"2016-{1 + months_away:02d}-01"
        e = {"person_key": person("m"), "event": "FLOW_BACK", "date": back}
        return L.submit(f"{B1}/operator", "archive.event", e, at=back)

    case.__name__ = f"flow_back_after_{months_away}_months"
    return case


CASES = [
    ("XFER-01", _in(), "PASS"),
    ("XFER-01", _in_without_out, "REJECT"),
    ("XFER-01", _in(person_key=person("other")), "REJECT"),
    ("XFER-01", _in(to_org_id=OTHER_COUNTY, user=f"{OTHER_COUNTY}/operator"), "REJECT"),
    ("XFER-01", _in(out_kw={"to_org_id": X1}), "PASS"),  # routed to the county, received by its branch
    ("XFER-01", _twice, "REJECT"),
    ("XFER-02", _out(), "PASS"),
    ("XFER-02", _second_out_in_transit, "REJECT"),
    ("XFER-02", _out_by_stranger, "REJECT"),
    ("XFER-02", _out_of_applicant, "REJECT"),
    ("XFER-03", _out(valid_until="2016-06-01"), "PASS"),
    ("XFER-03", _out(valid_until="2016-06-02"), "REJECT"),
    ("XFER-03", _out(to_org_id=P2B, valid_until="2016-09-01"), "PASS"),
    ("XFER-03", _out(to_org_id=P2B, valid_until="2016-09-02"), "REJECT"),
    ("XFER-03", _in(report_date="2016-04-01", receipt_date="2016-04-02"), "PASS"),
    ("XFER-03", _in(report_date="2016-04-02", receipt_date="2016-04-02"), "FLAG:YELLOW"),
    ("XFER-04", _after_move("old-branch-before-move"), "PASS"),
    ("XFER-04", _after_move("new-branch-meeting"), "PASS"),
    ("XFER-04", _after_move("old-branch-observer"), "PASS"),
    ("XFER-04", _after_move("old-branch-out"), "REJECT"),
    ("XFER-04", _after_move("old-branch-meeting"), "REJECT"),
    ("XFER-04", _after_move("old-branch-vote"), "REJECT"),
    ("XFER-04", _after_move("second-archive"), "REJECT"),
    ("XFER-05", _probation("with-assessment"), "PASS"),
    ("XFER-05", _probation("without-assessment"), "FLAG:YELLOW"),
    ("XFER-05", _probation("says-full"), "REJECT"),
    ("XFER-05", _probation("in-keeps-end"), "PASS"),
    ("XFER-05", _probation("in-resets-end"), "REJECT"),
    ("XFER-06", _out(), "PASS"),
    ("XFER-06", _out(dues_paid_through="2016-01"), "FLAG:YELLOW"),
    ("XFER-06", _out(dues_paid_through=None), "FLAG:YELLOW"),
    ("XFER-07", _in(), "PASS"),
    ("XFER-07", _in(report_date="2016-03-10", receipt_date="2016-04-10"), "FLAG:BLUE"),
    ("XFER-07", _in(accepted=False), "FLAG:RED"),
    ("XFER-08", _out(), "PASS"),
    ("XFER-08", _out(under_investigation=True), "FLAG:YELLOW"),
    ("XFER-09", _flow_back(5), "PASS"),
    ("XFER-09", _flow_back(10), "PASS"),  # the deadlines fired first (below); the flags are not repeated
]


def _late_report_with_certificate(L: Ledger) -> Receipt:
    _member(L)
    ok(
        L.submit(
            f"{B2}/operator",
            "material.register",
            doc_payload("cert", "OTHER", ["m"], "2016-03-01", B2),
            at="2016-03-01",
        )
    )
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01"))
    return L.submit(
        f"{B2}/operator",
        "transfer.in",
        in_payload(report_date="2016-04-05", receipt_date="2016-04-05", special_circumstances_doc="cert"),
        at="2016-04-05",
    )


def _refused_with_reason(L: Ledger) -> Receipt:
    _member(L)
    ok(
        L.submit(
            f"{B2}/operator",
            "material.register",
            doc_payload("why", "OTHER", ["m"], "2016-03-01", B2),
            at="2016-03-01",
        )
    )
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01"))
    return L.submit(
        f"{B2}/operator",
        "transfer.in",
        in_payload(accepted=False, refusal_reason="wrong unit", refusal_doc="why"),
        at="2016-03-10",
    )


CASES += [
    ("XFER-03", _late_report_with_certificate, "FLAG:BLUE"),
    ("XFER-07", _refused_with_reason, "PASS"),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "expected"), CASES, ids=[f"{r}-{c.__name__}-{e}" for r, c, e in CASES]
)
def test_xfer_rules(rule_id: str, case: Callable[[Ledger], Receipt], expected: str) -> None:
    L = Ledger()
    receipt = case(L)
    assert outcome(receipt, rule_id) == expected, receipt


def test_transfer_moves_the_relationship_only_on_transfer_in() -> None:
    L = Ledger()
    _member(L)
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01"))
    rec = L.get("archive/" + person("m"))
    assert rec is not None and rec["current_org_id"] == B1 and rec["relationship_state"] == "IN_TRANSIT"
    ok(L.submit(f"{B2}/operator", "transfer.in", in_payload(), at="2016-03-10"))
    rec = L.get("archive/" + person("m"))
    assert rec is not None and rec["current_org_id"] == B2 and rec["relationship_state"] == "NORMAL"
    assert [(m["org_id"], m["joined_on"], m["left_on"]) for m in rec["memberships"]] == [
        (B1, "2000-01-01", "2016-03-10"),
        (B2, "2016-03-10", None),
    ]


# --------------------------------------------------------------------------------------- deadlines
def _fired(L: Ledger, rule_id: str, at: int | str) -> list[str]:
    before = {a["alert_id"] for a in L.alerts(rule_id)}
    L.block(at=at)
    return [f"{a['colour']}:{a['reason_code']}" for a in L.alerts(rule_id) if a["alert_id"] not in before]


def test_xfer03_reminder_then_no_report_red() -> None:
    L = Ledger()
    _member(L)
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(valid_until="2016-05-31"), at="2016-03-01"))
    assert _fired(L, "XFER-03", ms("2016-05-15", hour=23)) == []
    assert _fired(L, "XFER-03", ms("2016-05-16", hour=0)) == ["BLUE:report_due"]  # 15 days before valid_until
    assert _fired(L, "XFER-03", ms("2016-09-01", hour=23)) == []  # addMonths(issue, 6) is still within
    assert _fired(L, "XFER-03", ms("2016-09-02", hour=0)) == ["RED:no_report"]
    assert _fired(L, "XFER-03", "2017-09-02") == []


def test_xfer03_no_alert_once_reported() -> None:
    L = Ledger()
    _member(L)
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(valid_until="2016-05-31"), at="2016-03-01"))
    ok(L.submit(f"{B2}/operator", "transfer.in", in_payload(), at="2016-03-10"))
    assert _fired(L, "XFER-03", "2017-01-01") == []


def test_xfer07_missing_receipt_blue_and_late_receipt_tx() -> None:
    L = Ledger()
    _member(L)
    ok(L.submit(f"{B1}/operator", "transfer.out", out_payload(), at="2016-03-01"))
    ok(L.submit(f"{B2}/operator", "transfer.in", in_payload(receipt_date=None), at="2016-03-10"))
    assert _fired(L, "XFER-07", ms("2016-04-09", hour=23)) == []
    assert _fired(L, "XFER-07", ms("2016-04-10", hour=0)) == ["BLUE:receipt_missing"]
    r = L.submit(f"{B1}/operator", "transfer.receipt", {"transfer_id": "T1", "receipt_date": "2016-04-20"})
    assert r.accepted and outcome(r, "XFER-07") == "PASS"  # same (rule, transfer) key: raised once


def test_xfer09_blue_at_six_months_yellow_at_nine() -> None:
    L = Ledger()
    _member(L)
    e = {"person_key": person("m"), "event": "FLOW_OUT", "date": "2016-01-31", "fixed_location": True}
    ok(L.submit(f"{B1}/operator", "archive.event", e, at="2016-01-31"))
    assert _fired(L, "XFER-09", ms("2016-07-30", hour=23)) == []
    assert _fired(L, "XFER-09", ms("2016-07-31", hour=0)) == ["BLUE:long_absence"]
    assert _fired(L, "XFER-09", ms("2016-10-31", hour=0)) == ["YELLOW:long_absence"]


def test_xfer09_not_for_a_changing_place_or_after_return() -> None:
    L = Ledger()
    _member(L)
    e = {"person_key": person("m"), "event": "FLOW_OUT", "date": "2016-01-31", "fixed_location": False}
    ok(L.submit(f"{B1}/operator", "archive.event", e, at="2016-01-31"))
    assert _fired(L, "XFER-09", "2017-01-01") == []
    L2 = Ledger()
    _flow_back(5)(L2)
    assert _fired(L2, "XFER-09", "2017-01-01") == []


def test_xfer09_flow_back_after_a_quiet_gap_flags_once() -> None:
    L = Ledger()
    r = _flow_back(10)(L)
    assert outcome(r, "XFER-09") == "PASS"
    assert sorted(a["colour"] for a in L.alerts("XFER-09")) == ["BLUE", "YELLOW"]


@pytest.mark.parametrize(
    ("events", "check_at", "expected"),
    [
        ([("LOST_CONTACT", "2016-01-15")], ("2016-07-14", "2016-07-15"), "RED:lost_contact"),
        ([("ABROAD", "2016-01-15")], ("2021-01-15", "2021-01-16"), "RED:abroad_too_long"),
    ],
)
def test_xfer10_deadlines(events: list[tuple[str, str]], check_at: tuple[str, str], expected: str) -> None:
    L = Ledger()
    _member(L)
    for event, day in events:
        ok(
            L.submit(
                f"{B1}/operator",
                "archive.event",
                {"person_key": person("m"), "event": event, "date": day},
                at=day,
            )
        )
    assert _fired(L, "XFER-10", ms(check_at[0], hour=23)) == []
    assert _fired(L, "XFER-10", ms(check_at[1], hour=0)) == [expected]


def test_xfer10_suspended_and_still_lost_after_two_years() -> None:
    L = Ledger()
    _member(L)
    ok(
        L.submit(
            f"{B1}/operator",
            "archive.event",
            {"person_key": person("m"), "event": "LOST_CONTACT", "date": "2016-01-15"},
            at="2016-01-15",
        )
    )
    assert _fired(L, "XFER-10", "2016-07-20") == ["RED:lost_contact"]
    s = {"person_key": person("m"), "event": "SUSPEND", "date": "2016-08-01"}
    ok(L.submit(f"{B1}/operator", "archive.event", s, approvers=[f"{X1}/approver"], at="2016-08-01"))
    assert _fired(L, "XFER-10", ms("2018-07-31", hour=23)) == []
    assert _fired(L, "XFER-10", ms("2018-08-01", hour=0)) == ["RED:suspended_still_lost"]


def test_xfer10_contact_restored_in_time_raises_nothing() -> None:
    L = Ledger()
    _member(L)
    for event, day in (("LOST_CONTACT", "2016-01-15"), ("CONTACT_RESTORED", "2016-05-01")):
        ok(
            L.submit(
                f"{B1}/operator",
                "archive.event",
                {"person_key": person("m"), "event": event, "date": day},
                at=day,
            )
        )
    assert _fired(L, "XFER-10", "2017-01-01") == []
