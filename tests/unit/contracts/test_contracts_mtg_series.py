"""MTG-05 (absence streaks, 3 and 6 months without organisational life) and MTG-06 (each
meeting series every period), through the due index on block time."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger, import_member, make_genesis, ms, ok, outcome, person
from contracts.testing_procedure import meeting_payload
from tests.support.rule_cases import B1, X1, alerts_of, just_after, just_before
from wire.types import Receipt


def _members(L: Ledger, *names: str) -> list[str]:
    for n in names:
        import_member(L, n, B1)
    return [person(n) for n in names]


def _meeting(
    L: Ledger, mid: str, kind: str, day: str, attendance: dict[str, str] | None = None, **kw: Any
) -> Receipt:
    att = [{"person_key": person(n), "status": s} for n, s in sorted((attendance or {}).items())]
    p = meeting_payload(mid, kind, ms(day, hour=8), attendance=att, **kw)
    return L.submit(f"{B1}/operator", "meeting.record", p, at=day)


# ---------------------------------------------------------------------------------------- MTG-05
@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("ABSENT", "ABSENT", "ABSENT"), "FLAG:YELLOW"),
        (("ABSENT", "PRESENT", "ABSENT"), "PASS"),
        (("LEAVE", "ABSENT", "LEAVE"), "FLAG:BLUE"),
        (("LEAVE", "LEAVE", "LEAVE"), "FLAG:BLUE"),
        (("ABSENT", "ABSENT", "PRESENT_ONLINE"), "PASS"),
        (("OBSERVER", "OBSERVER", "OBSERVER"), "PASS"),
    ],
)
def test_mtg05_absence_streak_in_a_series(statuses: tuple[str, ...], expected: str) -> None:
    L = Ledger()
    _members(L, "a", "m")
    r: Receipt | None = None
    for i, status in enumerate(statuses):
        r = ok(_meeting(L, f"td-{i}", "THEME_DAY", f"2016-0{i + 1}-10", {"a": "PRESENT", "m": status}))
    assert r is not None and outcome(r, "MTG-05") == expected


def test_mtg05_streak_counts_per_series_and_flags_once_per_streak() -> None:
    L = Ledger()
    _members(L, "a", "m")
    for i in range(3):  # absent from theme days, present at party lessons in between
        ok(_meeting(L, f"td-{i}", "THEME_DAY", f"2016-0{i + 1}-10", {"a": "PRESENT", "m": "ABSENT"}))
        ok(_meeting(L, f"pl-{i}", "PARTY_LESSON", f"2016-0{i + 1}-20", {"a": "PRESENT", "m": "PRESENT"}))
    r = ok(_meeting(L, "td-3", "THEME_DAY", "2016-04-10", {"a": "PRESENT", "m": "ABSENT"}))
    assert outcome(r, "MTG-05") == "PASS"  # the fourth absence continues the same streak
    assert [(a["colour"], a["reason_code"]) for a in L.alerts("MTG-05")] == [("YELLOW", "absent_streak")]


def test_mtg05_a_theme_day_without_attendance_judges_no_one() -> None:
    L = Ledger()
    _members(L, "a", "b", "c")
    for i in range(4):
        assert outcome(ok(_meeting(L, f"td-{i}", "THEME_DAY", f"2016-0{i + 1}-10")), "MTG-05") == "PASS"
    L.block(at=just_after("2017-01-01"))
    assert alerts_of(L, "MTG-05") == []


def _fired_for(L: Ledger, who: str, at: int) -> list[str]:
    L.block(at=at)
    return [
        a["colour"]
        for a in L.alerts("MTG-05")
        if a["raised_height"] == L.height and a["subject_keys"] == [person(who)]
    ]


def test_mtg05_three_and_six_months_without_organisational_life() -> None:
    L = Ledger()
    _members(L, "a", "m")
    ok(_meeting(L, "td-1", "THEME_DAY", "2016-01-10", {"a": "PRESENT", "m": "PRESENT"}))
    ok(_meeting(L, "td-2", "THEME_DAY", "2016-02-10", {"a": "PRESENT", "m": "ABSENT"}))
    assert _fired_for(L, "m", just_before("2016-04-10")) == []
    assert _fired_for(L, "m", just_after("2016-04-10")) == ["YELLOW"]
    assert _fired_for(L, "m", just_before("2016-07-10")) == []
    assert _fired_for(L, "m", just_after("2016-07-10")) == ["RED"]
    (red,) = [x for x in L.alerts("MTG-05") if x["colour"] == "RED" and x["subject_keys"] == [person("m")]]
    assert red["reason_code"] == "no_organisational_life" and red["org_id"] == B1
    # "a" attended on 02-10: a month later (the red line on 08-10 is still ahead)
    assert [x["colour"] for x in L.alerts("MTG-05") if x["subject_keys"] == [person("a")]] == ["YELLOW"]


def test_mtg05_leave_resets_the_clock_absence_does_not() -> None:
    L = Ledger()
    _members(L, "a", "m")
    ok(_meeting(L, "td-1", "THEME_DAY", "2016-01-10", {"a": "PRESENT", "m": "PRESENT"}))
    ok(_meeting(L, "td-2", "THEME_DAY", "2016-03-10", {"a": "ABSENT", "m": "LEAVE"}))
    assert _fired_for(L, "a", just_after("2016-04-10")) == ["YELLOW"]  # absent: counts from 01-10
    assert _fired_for(L, "m", just_after("2016-04-10")) == []
    assert _fired_for(L, "m", just_after("2016-06-10")) == ["YELLOW"]  # excused on 03-10: from there


def test_mtg05_first_seen_absent_counts_from_that_meeting() -> None:
    L = Ledger()
    _members(L, "a", "m")
    ok(_meeting(L, "td-1", "THEME_DAY", "2016-01-10", {"a": "PRESENT", "m": "ABSENT"}))
    assert _fired_for(L, "m", just_after("2016-04-10")) == ["YELLOW"]


def test_mtg05_no_alert_for_members_away_or_gone() -> None:
    L = Ledger()
    _members(L, "a", "f")
    ok(_meeting(L, "td-1", "THEME_DAY", "2016-01-10", {"a": "PRESENT", "f": "PRESENT"}))
    away = {"person_key": person("f"), "event": "FLOW_OUT", "date": "2016-02-01", "fixed_location": False}
    ok(L.submit(f"{B1}/operator", "archive.event", away))
    dead = {"person_key": person("a"), "event": "DECEASE", "date": "2016-02-02"}
    ok(L.submit(f"{B1}/operator", "archive.event", dead))
    L.block(at=just_after("2016-08-01"))
    assert alerts_of(L, "MTG-05") == []


# ---------------------------------------------------------------------------------------- MTG-06
def _go_live(cfg: dict[str, Any] | None = None) -> Ledger:
    """B1 records its first organisational life on 2016-01-05: judged from February."""
    L = Ledger(make_genesis(rule_config=cfg) if cfg else None)
    _members(L, "a", "b", "c")
    ok(_meeting(L, "td-jan", "THEME_DAY", "2016-01-05", {"a": "PRESENT", "b": "PRESENT", "c": "PRESENT"}))
    return L


def _series(L: Ledger, at: int) -> list[tuple[str, str, str]]:
    L.block(at=at)
    return sorted(
        (a["details"]["series"], a["details"]["period"], a["colour"])
        for a in L.alerts("MTG-06")
        if a["raised_height"] == L.height
    )


def test_mtg06_reminder_shortfall_and_two_periods_in_a_row() -> None:
    L = _go_live()
    assert _series(L, just_before("2016-02-22")) == []
    # 7 days before February ends: no theme day yet
    assert _series(L, just_after("2016-02-22")) == [("THEME_DAY", "2016-02/1", "BLUE")]
    # counted 7 days after the month: still none
    assert _series(L, just_before("2016-03-07")) == []
    assert _series(L, just_after("2016-03-07")) == [("THEME_DAY", "2016-02/1", "YELLOW")]
    ok(_meeting(L, "td-mar", "THEME_DAY", "2016-03-15"))
    L.block(at=just_after("2016-04-07"))
    assert [a for a in L.alerts("MTG-06") if a["details"]["period"] == "2016-03/1"] == []
    # April and May: none; May is the second in a row
    assert ("THEME_DAY", "2016-04/1", "YELLOW") in _series(L, just_after("2016-05-07"))
    assert ("THEME_DAY", "2016-05/1", "RED") in _series(L, just_after("2016-06-07"))


def test_mtg06_quarterly_and_yearly_series_judged_from_whole_periods_after_go_live() -> None:
    L = _go_live()
    got = _series(L, just_after("2016-07-07"))  # a quiet half year, caught up in one block
    quarterly = [s for s in got if s[0] in ("BRANCH_GENERAL", "PARTY_LESSON")]
    assert quarterly == [
        ("BRANCH_GENERAL", "2016-04/3", "BLUE"),
        ("BRANCH_GENERAL", "2016-04/3", "YELLOW"),
        ("PARTY_LESSON", "2016-04/3", "BLUE"),
        ("PARTY_LESSON", "2016-04/3", "YELLOW"),
    ]
    assert ("THEME_DAY", "2016-06/1", "RED") in got and ("THEME_DAY", "2016-02/1", "YELLOW") in got
    assert not any(
        s[0] in ("ORG_LIFE", "DEMOCRATIC_REVIEW", "SECRETARY_LESSON") for s in L_all(L)
    )  # 2016 began before
    year = _series(L, just_after("2018-01-07"))
    assert ("ORG_LIFE", "2017-01/12", "YELLOW") in year and (
        "DEMOCRATIC_REVIEW",
        "2017-01/12",
        "YELLOW",
    ) in year
    assert ("SECRETARY_LESSON", "2017-01/12", "YELLOW") in year
    assert not any(s[0] == "BRANCH_COMMITTEE" for s in L_all(L))  # three full members: no committee


def L_all(L: Ledger) -> list[tuple[str, str, str]]:
    return [(a["details"]["series"], a["details"]["period"], a["colour"]) for a in L.alerts("MTG-06")]


def test_mtg06_meetings_held_raise_nothing_and_the_secretary_lesson_counts() -> None:
    L = _go_live()
    post = {
        "org_id": B1,
        "person_key": person("a"),
        "post": "SECRETARY",
        "action": "APPOINT",
        "date": "2015-01-01",
    }
    ok(L.submit(f"{B1}/operator", "org.set_post", post))
    for month in range(2, 13):
        d = f"2016-{month:02d}-10"
        ok(_meeting(L, f"td-{month}", "THEME_DAY", d, {"a": "PRESENT", "b": "PRESENT", "c": "PRESENT"}))
        if month % 3 == 1:
            ok(
                _meeting(
                    L,
                    f"bg-{month}",
                    "BRANCH_GENERAL",
                    f"2016-{month:02d}-12",
                    {"a": "PRESENT", "b": "PRESENT", "c": "PRESENT"},
                )
            )
            ok(
                _meeting(
                    L,
                    f"pl-{month}",
                    "PARTY_LESSON",
                    f"2016-{month:02d}-14",
                    {"a": "PRESENT", "b": "PRESENT", "c": "PRESENT"},
                    lecturer_key=person("a"),
                )
            )
    L.block(at=just_after("2017-01-07"))
    # monthly theme days, a general meeting and a party lesson (by the secretary) each quarter
    assert [s for s in L_all(L) if s[0] in ("THEME_DAY", "BRANCH_GENERAL", "PARTY_LESSON")] == []
    assert alerts_of(L, "MTG-05") == []


def test_mtg06_per_org_party_lesson_period_and_party_groups() -> None:
    L = _go_live(cfg={"org_overrides": {X1: {"party_lesson_period": "MONTH"}}})
    ok(_meeting(L, "g1", "GROUP", "2016-01-20", {"a": "PRESENT"}, group_id="group-1"))
    got = _series(L, just_after("2016-03-07"))
    assert ("PARTY_LESSON", "2016-02/1", "YELLOW") in got and ("GROUP:group-1", "2016-02/1", "YELLOW") in got


def test_mtg06_branch_committee_only_with_seven_full_members() -> None:
    L = _go_live()
    _members(L, "d", "e", "f", "g")
    assert ("BRANCH_COMMITTEE", "2016-02/1", "YELLOW") in _series(L, just_after("2016-03-07"))


def test_mtg06_an_org_that_never_met_on_the_ledger_is_not_judged() -> None:
    L = Ledger()
    _members(L, "a", "b", "c")
    L.block(at=just_after("2018-01-07"))
    assert alerts_of(L, "MTG-06") == [] and L.scan("due/") == []


@pytest.mark.parametrize(
    ("lecturer", "expected"),
    [
        ("a", []),
        ("b", [("SECRETARY_LESSON", "2017-01/12", "BLUE"), ("SECRETARY_LESSON", "2017-01/12", "YELLOW")]),
    ],
)
def test_mtg06_the_branch_secretary_lectures_once_a_year(lecturer: str, expected: list[Any]) -> None:
    L = Ledger()
    _members(L, "a", "b", "c")
    post = {
        "org_id": B1,
        "person_key": person("a"),
        "post": "SECRETARY",
        "action": "APPOINT",
        "date": "2015-01-01",
    }
    ok(L.submit(f"{B1}/operator", "org.set_post", post))
    ok(_meeting(L, "td-dec", "THEME_DAY", "2016-12-05"))  # go-live: 2017 is the first whole year
    ok(_meeting(L, "pl", "PARTY_LESSON", "2017-05-10", lecturer_key=person(lecturer)))
    L.block(at=just_after("2018-01-07"))
    assert sorted(s for s in L_all(L) if s[0] == "SECRETARY_LESSON") == expected
