"""JOIN-02..07 and JOIN-28, table-driven, with their deadlines on block time."""

from __future__ import annotations

import pytest

from contracts.testing import Ledger, import_member, make_genesis, ok, outcome, person, submit_step
from contracts.testing_procedure import pipeline_dates, run_pipeline, step
from tests.support.rule_cases import (
    B1,
    START,
    Case,
    alerts_of,
    case_ids,
    day,
    fired,
    just_after,
    just_before,
    named,
    shown,
)
from wire.types import Receipt

D = pipeline_dates(START)


def _until(stop: str, *, start: str = START, config: dict[str, object] | None = None) -> Ledger:
    L = Ledger(make_genesis(rule_config=config) if config else None)
    run_pipeline(L, "ann", B1, "p1", start, until=stop)
    return L


def talk_on(received: str, talk: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", received, until="S01")
        return step(L, B1, "p1", "ann", "S02", talk)

    expected = "PASS" if talk <= day(received, months=1) else "FLAG:YELLOW"
    return ("JOIN-02", named(f"received_{received}_talk_{talk}", build), expected)


def _s03_without_talk(L: Ledger) -> Receipt:
    run_pipeline(L, "ann", B1, "p1", START, until="S01")
    return step(L, B1, "p1", "ann", "S03", D["S03"])


def _s03(**overrides: object) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S02")
        return step(L, B1, "p1", "ann", "S03", D["S03"], **overrides)

    return ("JOIN-03", named("s03_" + "_".join(f"{k}={v}" for k, v in overrides.items()), build), "")


def _s03_big_branch(kind: str) -> Case:
    """A branch of 7+ full members has a committee: the general meeting no longer decides."""

    def build(L: Ledger) -> Receipt:
        for i in range(6):
            import_member(L, f"m{i}", B1)
        run_pipeline(L, "ann", B1, "p1", START, until="S02")
        fields = {} if kind == "committee" else {"decision_ref": "general"}
        if kind == "general":
            from contracts.testing_procedure import general_vote

            ok(general_vote(L, B1, "general", "ann", D["S03"]))
        return step(L, B1, "p1", "ann", "S03", D["S03"], **fields)

    return ("JOIN-03", named(f"big_branch_{kind}", build), "PASS" if kind == "committee" else "REJECT")


def _contacts(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        import_member(L, "prob", B1, status="PROBATIONARY", join="2014-06-01", full=None)  # type: ignore[arg-type]
        run_pipeline(L, "ann", B1, "p1", START, until="S04")
        actors = {
            "one": ["p1-intro-a"],
            "two": ["p1-intro-a", "p1-intro-b"],
            "none": [],
            "three": ["p1-intro-a", "p1-intro-b", "secretary@" + B1],
            "self": ["ann"],
            "probationary": ["p1-intro-a", "prob"],
        }[kind]
        return step(L, B1, "p1", "ann", "S05", D["S05"], actor_keys=[person(a) for a in actors])

    return ("JOIN-04", named(f"contacts_{kind}", build), "PASS" if kind in ("one", "two") else "REJECT")


def _assessment(s06: str | None, s07: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S05")
        L.mark = L.height
        if s06 is not None:
            r = step(L, B1, "p1", "ann", "S06", s06)
            if s07 == "-":
                return r
            ok(r)
        return step(L, B1, "p1", "ann", "S07", s07)

    # S03 2015-04-01: due by 2015-10-01 + 30 days = 2015-10-31
    late = (s06 or "") > "2015-10-31" if s07 == "-" else s07 > day(s06 or D["S03"], months=6, days=30)
    return ("JOIN-05", named(f"s06_{s06}_s07_{s07}", build), "FLAG:YELLOW" if late else "PASS")


def _activist_year(s07: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S06")
        return step(L, B1, "p1", "ann", "S07", s07)

    return ("JOIN-06", named(f"s07_{s07}", build), "PASS" if s07 >= "2016-04-01" else "REJECT")


def _s07(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S06")
        match kind:
            case "fine":
                return step(L, B1, "p1", "ann", "S07", D["S07"])
            case "no-decision":
                return step(L, B1, "p1", "ann", "S07", D["S07"], decision_ref=None)
            case "no-opinions":
                return step(L, B1, "p1", "ann", "S07", D["S07"], doc_refs=[])
        raise AssertionError(kind)

    expected = {"fine": "PASS", "no-decision": "REJECT", "no-opinions": "FLAG:YELLOW"}[kind]
    return ("JOIN-07", named(f"s07_{kind}", build), expected)


def _early_activist(minimum: int, s03: str) -> Case:
    def build(L: Ledger) -> Receipt:
        if minimum:
            L.__init__(make_genesis(rule_config={"min_applicant_to_activist_months": minimum}))  # type: ignore[misc]
        run_pipeline(L, "ann", B1, "p1", START, until="S02")
        return step(L, B1, "p1", "ann", "S03", s03)

    early = minimum > 0 and s03 < day(START, months=minimum)
    return ("JOIN-28", named(f"min_{minimum}_s03_{s03}", build), "FLAG:BLUE" if early else "PASS")


s03_ok, s03_none = _s03(), _s03(decision_ref=None)
CASES: list[Case] = [
    talk_on("2015-02-01", "2015-02-21"),
    talk_on("2015-02-01", "2015-03-01"),  # exactly one month: in time
    talk_on("2015-02-01", "2015-03-02"),
    talk_on("2015-01-31", "2015-02-28"),  # month end: 01-31 + 1 month = 02-28
    talk_on("2015-01-31", "2015-03-01"),
    talk_on("2016-01-31", "2016-02-29"),  # leap year: 02-29
    talk_on("2016-01-31", "2016-03-01"),
    ("JOIN-02", named("s03_without_talk", _s03_without_talk), "REJECT"),
    (s03_ok[0], s03_ok[1], "PASS"),
    (s03_none[0], s03_none[1], "REJECT"),
    _s03_big_branch("committee"),
    _s03_big_branch("general"),
    _contacts("one"),
    _contacts("two"),
    _contacts("none"),
    _contacts("three"),
    _contacts("self"),
    _contacts("probationary"),
    _assessment("2015-10-01", "-"),
    _assessment("2015-10-31", "-"),  # six months plus the 30-day grace: in time
    _assessment("2015-11-01", "-"),
    _assessment("2015-10-01", "2016-04-01"),
    _assessment("2015-10-01", "2016-05-01"),
    _assessment(None, "2016-04-01"),  # no assessment since S03
    _activist_year("2016-04-01"),  # exactly a year
    _activist_year("2016-03-31"),
    _s07("fine"),
    _s07("no-decision"),
    _s07("no-opinions"),
    _early_activist(0, "2015-02-25"),
    _early_activist(3, "2015-04-30"),
    _early_activist(3, "2015-05-01"),
]


@pytest.mark.parametrize(("rule_id", "case", "expected"), CASES, ids=case_ids(CASES))
def test_join_stage_rules(rule_id: str, case: object, expected: str) -> None:
    L = Ledger()
    receipt = case(L)  # type: ignore[operator]
    assert shown(L, receipt, rule_id) == expected, receipt


def test_join02_late_talk_recorded_with_a_backfilled_application_flags_on_the_receipt() -> None:
    """When the application is registered late, in the same block as the late talk, the deadline has
    not fired yet: the talk's own transaction carries the flag (and the deadline then stays quiet)."""
    L = Ledger()
    from contracts.testing import archive_payload, doc_payload, step_payload

    ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("ann", "1990-01-01"), at="2015-06-01"))
    ok(
        L.submit(
            f"{B1}/operator",
            "material.register",
            doc_payload("app", "APPLICATION", ["ann"], "2015-02-01", B1),
        )
    )
    import_member(L, "secretary@" + B1, B1)
    s01 = step_payload("p1", "ann", "S01", "2015-02-01", extra={"received_date": "2015-02-01"})
    s02 = step_payload("p1", "ann", "S02", "2015-04-01", actor_keys=[person("secretary@" + B1)])
    out = L.block(L.tx(f"{B1}/operator", "join.step", s01), L.tx(f"{B1}/operator", "join.step", s02))
    assert [outcome(r, "JOIN-02") for r in out.receipts] == ["PASS", "FLAG:YELLOW"]
    L.block(at=just_after("2015-07-01"))
    assert alerts_of(L, "JOIN-02") == [("YELLOW", "late_talk")]


# ------------------------------------------------------------------------------------- deadlines
def test_join02_talk_overdue_fires_once_in_the_first_block_after_the_month() -> None:
    L = _until("S01")
    assert fired(L, "JOIN-02", just_before("2015-03-01")) == []
    assert fired(L, "JOIN-02", just_after("2015-03-01")) == [("YELLOW", "talk_overdue")]
    assert fired(L, "JOIN-02", just_after("2015-03-02")) == []
    r = ok(step(L, B1, "p1", "ann", "S02", "2015-03-05"))  # the late talk itself: no second alert
    assert outcome(r, "JOIN-02") == "PASS" and alerts_of(L, "JOIN-02") == [("YELLOW", "talk_overdue")]


def test_join02_no_alert_when_the_talk_came_in_time() -> None:
    L = _until("S02")
    L.block(at=just_after("2015-06-01"))
    assert alerts_of(L, "JOIN-02") == []


def test_join03_and_join07_filing_deadlines() -> None:
    L = _until("S03")
    assert fired(L, "JOIN-03", just_after(day(D["S03"], days=29))) == []
    assert fired(L, "JOIN-03", just_after(day(D["S03"], days=30))) == [("BLUE", "not_filed")]
    L2 = _until("S08")  # S04 and S08 filed five days after S03 and S07
    L2.block(at=just_after("2017-01-01"))
    assert alerts_of(L2, "JOIN-03") == [] and alerts_of(L2, "JOIN-07") == []
    L4 = Ledger()
    run_pipeline(L4, "ann", B1, "p1", START, until="S06")
    ok(step(L4, B1, "p1", "ann", "S07", D["S07"]))
    assert fired(L4, "JOIN-07", just_after(day(D["S07"], days=30))) == [("BLUE", "not_filed")]


def test_join05_assessment_overdue_then_late_assessment_raises_nothing_more() -> None:
    L = _until("S05")
    assert fired(L, "JOIN-05", just_before("2015-10-31")) == []
    assert fired(L, "JOIN-05", just_after("2015-10-31")) == [("YELLOW", "assessment_overdue")]
    r = ok(step(L, B1, "p1", "ann", "S06", "2015-12-01"))
    assert outcome(r, "JOIN-05") == "PASS"  # same gap, already flagged
    # the next half year counts from the late assessment
    assert fired(L, "JOIN-05", just_after(day("2015-12-01", months=6, days=30))) == [
        ("YELLOW", "assessment_overdue")
    ]


def test_join28_stale_application() -> None:
    L = _until("S02")
    assert fired(L, "JOIN-28", just_before("2016-02-01")) == []
    assert fired(L, "JOIN-28", just_after("2016-02-01")) == [("BLUE", "application_stale")]
    L2 = _until("S03")
    L2.block(at=just_after("2016-03-01"))
    assert alerts_of(L2, "JOIN-28") == []


def test_deadlines_of_a_failed_pipeline_raise_nothing() -> None:
    L = _until("S01")
    fail = {"pipeline_id": "p1", "person_key": person("ann"), "step": "S02", "event_date": "2015-02-10"}
    ok(submit_step(L, B1, "p1", "ann", "S02", "2015-02-10", result="FAIL"))
    assert fail["step"] == "S02"
    L.block(at=just_after("2016-06-01"))
    assert alerts_of(L, "JOIN-02") == [] and alerts_of(L, "JOIN-28") == []


def test_join04_contact_imported_expelled_without_status_date_is_refused_not_a_crash() -> None:
    L = Ledger()
    from contracts.testing import archive_payload

    gone = archive_payload("gone", "1970-01-01", status="EXPELLED", expelled_date="2010-01-01")
    gone.update(join_date="2000-01-01", full_date="2001-01-01")
    ok(L.submit(f"{B1}/operator", "archive.create", gone))
    run_pipeline(L, "ann", B1, "p1", START, until="S04")
    r = step(L, B1, "p1", "ann", "S05", D["S05"], actor_keys=[person("gone")])
    assert outcome(r, "JOIN-04") == "REJECT"
