"""JOIN-17..23 and JOIN-25, table-driven, with their deadlines (approval, filing, oath, probation,
conversion, archive)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import (
    Ledger,
    archive_payload,
    import_member,
    make_genesis,
    ms,
    ok,
    person,
    submit_step,
)
from contracts.testing_procedure import general_vote, pipeline_dates, run_pipeline, step
from tests.support.rule_cases import (
    B1,
    START,
    Case,
    alerts_of,
    case_ids,
    fired,
    just_after,
    just_before,
    named,
    shown,
)
from wire.types import Receipt

# S15 2016-08-01 S16 08-11 S17 09-01 S18 09-11 S20 09-16 S22/S23 2017-08-01 S24 09-01 S25 09-11;
# probation ends 2017-08-01
D = pipeline_dates(START)


def _ledger(**cfg: Any) -> Ledger:
    return Ledger(make_genesis(rule_config=cfg) if cfg else None)


def _until(stop: str, **cfg: Any) -> Ledger:
    L = _ledger(**cfg)
    run_pipeline(L, "ann", B1, "p1", START, until=stop)
    return L


def _approve_on(day: str, *, reason: str | None = None, reported: str | None = None) -> Case:
    """S17 on `day`; the deadlines that came due before are fired first, so only S17 itself shows."""

    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S14")
        extra = {"item_id": "1"} | ({"reported_date": reported} if reported else {})
        ok(step(L, B1, "p1", "ann", "S15", D["S15"], extra=extra))
        ok(step(L, B1, "p1", "ann", "S16", D["S16"]))
        L.block(at=ms(day, hour=9))
        L.mark = L.height
        kw: dict[str, Any] = {} if reason is None else {"extra": {"special_extension_reason": reason}}
        return step(L, B1, "p1", "ann", "S17", day, **kw)

    t0 = reported or D["S15"]
    from tests.support.rule_cases import day as shift

    if day <= shift(t0, months=3):
        expected = "PASS"
    elif day <= shift(t0, months=6) and reason:
        expected = "FLAG:YELLOW"
    else:
        expected = "FLAG:RED"
    return ("JOIN-17", named(f"approve_{day}_reason={bool(reason)}_reported={reported}", build), expected)


def _late_after_s17(rule_id: str, s: str, day: str, expected: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S17")
        L.mark = L.height
        return step(L, B1, "p1", "ann", s, day)

    return (rule_id, named(f"{s}_on_{day}", build), expected)


def _oath_before_approval(L: Ledger) -> Receipt:
    run_pipeline(L, "ann", B1, "p1", START, until="S16")
    return step(L, B1, "p1", "ann", "S20", "2016-08-20")


def _import(join: str, full: str, ext: int = 0) -> Case:
    def build(L: Ledger) -> Receipt:
        p = archive_payload("m", "1970-01-01", status="FULL", join_date=join, full_date=full)
        p["probation_extension_months"] = ext
        return L.submit(f"{B1}/operator", "archive.create", p)

    from tests.support.rule_cases import day as shift

    expected = "PASS" if full == shift(join, months=12 + ext) else "REJECT"
    return ("JOIN-20", named(f"import_{join}_{full}_ext{ext}", build), expected)


def _amend_full_date(L: Ledger) -> Receipt:
    import_member(L, "m", B1)
    amend = {
        "person_key": person("m"),
        "prev_version": 1,
        "amend_reason": "typo",
        "birth_date": "1970-01-01",
        "join_date": "2000-01-01",
        "full_date": "2001-03-01",
    }
    return L.submit(f"{B1}/operator", "archive.amend", amend)


def _conversion(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S21")
        match kind:
            case "fine":
                ok(step(L, B1, "p1", "ann", "S22", D["S22"]))
                L.mark = L.height
                return step(L, B1, "p1", "ann", "S23", D["S23"])
            case "premature":
                ok(step(L, B1, "p1", "ann", "S22", "2017-07-31"))
                return step(L, B1, "p1", "ann", "S23", "2017-07-31")
            case "no-application":
                ok(submit_step(L, B1, "p1", "ann", "S22", D["S22"]))
                return step(L, B1, "p1", "ann", "S23", D["S23"])
            case "no-vote":
                ok(step(L, B1, "p1", "ann", "S22", D["S22"]))
                return step(L, B1, "p1", "ann", "S23", D["S23"], decision_ref=None)
            case "show-of-hands":
                ok(step(L, B1, "p1", "ann", "S22", D["S22"]))
                everyone = [person(n) for n in ("secretary@" + B1, "p1-intro-a", "p1-intro-b")]
                item = {"item_id": "1", "subject_key": person("ann"), "ballot_method": "SHOW_OF_HANDS"}
                item.update(yes=3, no=0, abstain=0, result="PASSED")
                ok(general_vote(L, B1, "hands", "ann", D["S23"], items=[item]))
                assert len(everyone) == 3
                return submit_step(
                    L, B1, "p1", "ann", "S23", D["S23"], decision_ref="hands", extra={"item_id": "1"}
                )
            case "late" | "very-late" | "late-application":
                ok(step(L, B1, "p1", "ann", "S22", "2017-10-01" if kind == "late-application" else D["S22"]))
                L.mark = L.height
                when = {"late": "2017-09-02", "very-late": "2017-11-02", "late-application": "2017-10-20"}[
                    kind
                ]
                return step(L, B1, "p1", "ann", "S23", when)
        raise AssertionError(kind)

    expected = {
        "fine": "PASS",
        "show-of-hands": "FLAG:RED",
        "late": "FLAG:YELLOW",
        "very-late": "FLAG:RED+YELLOW",
        # the member applied late: the discussion 19 days later is in time (the deadline already
        # raised the missing discussion of August; see the deadline test)
        "late-application": "PASS",
    }.get(kind, "REJECT")
    return ("JOIN-21", named(f"conversion_{kind}", build), expected)


def _conversion_approval(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S23")
        L.mark = L.height
        if kind == "not-collective":
            return step(L, B1, "p1", "ann", "S24", D["S24"], decision_ref=None)
        return step(L, B1, "p1", "ann", "S24", "2017-11-02" if kind == "late" else D["S24"])

    return ("JOIN-22", named(f"s24_{kind}", build), "PASS" if kind == "fine" else "FLAG:RED")


def _extension(months: int, *, on: str = "2017-08-01", second: bool = False, cfg: Any = None) -> Case:
    def build(L: Ledger) -> Receipt:
        if cfg:
            L.__init__(make_genesis(rule_config=cfg))  # type: ignore[misc]
        run_pipeline(L, "ann", B1, "p1", START, until="S21")
        ok(step(L, B1, "p1", "ann", "S22", min(on, D["S22"])))
        extend = {"result": "EXTEND", "extra": {"item_id": "1", "extension_months": months}}
        if second:
            ok(step(L, B1, "p1", "ann", "S23", on, **extend))
            return step(L, B1, "p1", "ann", "S23", "2018-02-01", **extend)
        return step(L, B1, "p1", "ann", "S23", on, **extend)

    good = 6 <= months <= 12 and not second and on >= "2017-08-01"
    name = f"extend_{months}_on_{on}_second={second}"
    return ("JOIN-23", named(name, build), "PASS" if good else "REJECT")


def _archive(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        if kind == "assessment-missing":
            run_pipeline(L, "ann", B1, "p1", START, until="S05")
            ok(submit_step(L, B1, "p1", "ann", "S06", D["S06"]))  # no ASSESSMENT document
            for s in list(D)[list(D).index("S07") : list(D).index("S24") + 1]:
                ok(step(L, B1, "p1", "ann", s, D[s]), s)
        else:
            run_pipeline(L, "ann", B1, "p1", START, until="S24")
        return step(L, B1, "p1", "ann", "S25", D["S25"])

    return ("JOIN-25", named(f"archive_{kind}", build), "PASS" if kind == "fine" else "FLAG:BLUE")


CASES: list[Case] = [
    _approve_on("2016-09-01"),
    _approve_on("2016-11-01"),  # exactly three months
    _approve_on("2016-11-02"),
    _approve_on("2016-11-02", reason="the committee was reorganised"),
    _approve_on("2017-02-01", reason="the committee was reorganised"),  # exactly six months
    _approve_on("2017-02-02", reason="the committee was reorganised"),
    _approve_on("2016-11-30", reported="2016-08-31"),  # 08-31 + 3 months = 11-30
    _approve_on("2016-12-01", reported="2016-08-31"),
    _approve_on("2017-02-28", reported="2016-11-30"),  # + 3 months = 2017-02-28
    _approve_on("2017-03-01", reported="2016-11-30"),
    _late_after_s17("JOIN-18", "S18", "2016-09-11", "PASS"),
    _late_after_s17("JOIN-18", "S18", "2016-10-01", "PASS"),  # 30 days
    _late_after_s17("JOIN-18", "S18", "2016-10-02", "FLAG:BLUE"),
    _late_after_s17("JOIN-19", "S20", "2016-09-16", "PASS"),
    _late_after_s17("JOIN-19", "S20", "2016-12-01", "PASS"),  # three months
    _late_after_s17("JOIN-19", "S20", "2016-12-02", "FLAG:BLUE"),
    ("JOIN-19", named("oath_before_approval", _oath_before_approval), "REJECT"),
    _import("2000-01-01", "2001-01-01"),
    _import("2000-01-01", "2001-01-02"),
    _import("2000-01-01", "2001-07-01", ext=6),
    _import("2000-01-01", "2001-01-01", ext=6),
    _import("2016-02-29", "2017-02-28"),  # leap day: one year later clamps to 02-28
    ("JOIN-20", named("amend_full_date_alone", _amend_full_date), "REJECT"),
    *(
        _conversion(k)
        for k in (
            "fine",
            "premature",
            "no-application",
            "no-vote",
            "show-of-hands",
            "late",
            "very-late",
            "late-application",
        )
    ),
    _conversion_approval("fine"),
    _conversion_approval("late"),
    _conversion_approval("not-collective"),
    _extension(6),
    _extension(12),
    _extension(5),
    _extension(6, second=True),
    _extension(6, on="2017-07-31", cfg={"rule_modes": {"JOIN-21": "OFF"}}),
    _archive("fine"),
    _archive("assessment-missing"),
]


@pytest.mark.parametrize(("rule_id", "case", "expected"), CASES, ids=case_ids(CASES))
def test_join_probation_rules(rule_id: str, case: object, expected: str) -> None:
    L = Ledger()
    receipt = case(L)  # type: ignore[operator]
    assert shown(L, receipt, rule_id) == expected, receipt


# ------------------------------------------------------------------------------------- deadlines
def test_join17_reminder_overdue_and_six_month_deadlines() -> None:
    L = _until("S16")
    assert fired(L, "JOIN-17", just_before("2016-10-01")) == []
    assert fired(L, "JOIN-17", just_after("2016-10-01")) == [("BLUE", "approval_due_soon")]
    assert fired(L, "JOIN-17", just_after("2016-11-01")) == [("YELLOW", "approval_overdue")]
    assert fired(L, "JOIN-17", just_before("2017-02-01")) == []
    assert fired(L, "JOIN-17", just_after("2017-02-01")) == [("RED", "approval_overdue_max")]


def test_join17_no_deadline_alert_once_approved() -> None:
    L = _until("S17")
    L.block(at=just_after("2017-03-01"))
    assert alerts_of(L, "JOIN-17") == []


def test_join18_and_join19_deadlines_and_one_alert_each() -> None:
    L = _until("S17")
    assert fired(L, "JOIN-18", just_after("2016-10-01")) == [("BLUE", "not_filed")]
    assert fired(L, "JOIN-19", just_after("2016-12-01")) == [("BLUE", "oath_missing")]
    ok(step(L, B1, "p1", "ann", "S18", "2016-12-05"))
    ok(step(L, B1, "p1", "ann", "S20", "2016-12-05"))
    assert alerts_of(L, "JOIN-18") == [("BLUE", "not_filed")]
    assert alerts_of(L, "JOIN-19") == [("BLUE", "oath_missing")]


def test_join21_without_an_application_the_deadline_is_a_blue_reminder() -> None:
    # DOMAIN 2026-12: before the conversion application (S22) exists, the grace deadline after the
    # probation end (2017-08-01 + 1 month) is a BLUE reminder to the branch, never YELLOW or RED
    L = _until("S21")
    assert fired(L, "JOIN-21", just_before("2017-09-01")) == []
    assert fired(L, "JOIN-21", just_after("2017-09-01")) == [("BLUE", "conversion_application_missing")]
    assert fired(L, "JOIN-21", just_after("2017-11-01")) == []
    assert alerts_of(L, "JOIN-21") == [("BLUE", "conversion_application_missing")]


def test_join21_conversion_deadlines_follow_the_probation_end_once_applied() -> None:
    L = _until("S22")  # applied on the probation end, 2017-08-01
    assert fired(L, "JOIN-21", just_before("2017-09-01")) == []
    assert fired(L, "JOIN-21", just_after("2017-09-01")) == [("YELLOW", "conversion_late")]
    assert fired(L, "JOIN-21", just_before("2017-11-01")) == []
    assert fired(L, "JOIN-21", just_after("2017-11-01")) == [("RED", "conversion_very_late")]


def test_join21_a_late_application_moves_the_due_date() -> None:
    L = _until("S21")
    assert fired(L, "JOIN-21", just_after("2017-09-01")) == [("BLUE", "conversion_application_missing")]
    ok(step(L, B1, "p1", "ann", "S22", "2017-10-01"))  # due now 2017-11-01 (YELLOW), 2018-01-01 (RED)
    assert fired(L, "JOIN-21", just_before("2017-11-01")) == []
    assert fired(L, "JOIN-21", just_after("2017-11-01")) == [("YELLOW", "conversion_late")]
    assert fired(L, "JOIN-21", just_before("2018-01-01")) == []
    assert fired(L, "JOIN-21", just_after("2018-01-01")) == [("RED", "conversion_very_late")]


def test_join21_a_late_application_discussed_in_time_raises_no_yellow() -> None:
    L = _until("S21")
    L.block(at=just_after("2017-09-01"))
    ok(step(L, B1, "p1", "ann", "S22", "2017-10-01"))
    ok(step(L, B1, "p1", "ann", "S23", "2017-11-01"))  # the last day of the moved due date
    L.block(at=just_after("2018-01-01"))
    assert alerts_of(L, "JOIN-21") == [("BLUE", "conversion_application_missing")]


def test_join21_extension_moves_the_deadlines() -> None:
    L = _until("S22")
    extend = {"result": "EXTEND", "extra": {"item_id": "1", "extension_months": 6}}
    ok(step(L, B1, "p1", "ann", "S23", D["S23"], **extend))
    rec = L.get("pipeline/p1")
    assert rec is not None and rec["probation_end"] == "2018-02-01"
    L.block(at=just_after("2017-12-01"))
    assert alerts_of(L, "JOIN-21") == []  # the old deadlines saw the moved end and stayed quiet
    assert fired(L, "JOIN-21", just_after("2018-03-01")) == [("YELLOW", "conversion_late")]


def test_join22_and_join25_deadlines() -> None:
    L = _until("S23")
    assert fired(L, "JOIN-22", just_after("2017-11-01")) == [("RED", "approval_overdue")]
    L2 = _until("S24")
    assert fired(L2, "JOIN-25", just_before("2017-10-31")) == []
    assert fired(L2, "JOIN-25", just_after("2017-10-31")) == [("BLUE", "archive_incomplete")]
    assert fired(L2, "JOIN-25", just_after("2017-12-30")) == [("YELLOW", "archive_incomplete")]
    L3 = _until("S25")
    L3.block(at=just_after("2018-01-30"))
    assert alerts_of(L3, "JOIN-25") == []
