"""Fresh histories for the deadline rules no earlier test reached: JOIN-05 (half-yearly assessment),
JOIN-07 (development target filed upward, opinions heard), JOIN-18 (filing after approval),
JOIN-25 (archive filed after conversion), JOIN-28 (stale application, configured minimum), each on
both sides of its date (a step on the last day raises nothing, one day later the deadline's
alert), through a handover where a pipeline moves, and with no alert in a clean history.

Dates (`START` 2015-02-01): S01 02-01, S02 02-21, S03 04-01, S06 10-01, S07 2016-04-01, S17
2016-09-01, S24 2017-09-01; `assessment_grace_days` 30, `filing_deadline_days` 30,
`archive_deadline_days` 60, `stale_application_months` 12."""

from __future__ import annotations

import pytest

from contracts.testing import Ledger, make_genesis, ok, person, submit_step
from contracts.testing_procedure import pipeline_dates, run_pipeline, step

B1, B2, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2.c1.x1.b1"
X1 = "cn.p1.c1.x1"
START = "2015-02-01"
D = pipeline_dates(START)


def _alerts(L: Ledger, rule_id: str) -> list[tuple[str, str]]:
    return [(a["colour"], a["reason_code"]) for a in L.alerts(rule_id)]


def _until(stop: str, **cfg: object) -> Ledger:
    L = Ledger(make_genesis(rule_config=dict(cfg)) if cfg else None)
    run_pipeline(L, "ann", B1, "p1", START, until=stop)
    return L


# ------------------------------------------------------------------------------ JOIN-05
@pytest.mark.parametrize(
    ("s06", "expected"),
    [
        ("2015-10-31", []),  # S03 2015-04-01 + 6 months + 30 days
        ("2015-11-01", [("YELLOW", "assessment_overdue")]),
    ],
)
def test_join05_the_first_assessment_after_the_activist_decision(
    s06: str, expected: list[tuple[str, str]]
) -> None:
    L = _until("S05")
    ok(step(L, B1, "p1", "ann", "S06", s06))
    assert _alerts(L, "JOIN-05") == expected


def test_join05_every_half_year_until_the_development_target_and_once_per_gap() -> None:
    L = _until("S05")
    for day in ("2015-10-01", "2016-03-31"):  # each within six months and the grace of the last
        ok(step(L, B1, "p1", "ann", "S06", day))
    L.block(at="2016-10-30")  # 2016-03-31 + 6 months + 30 days = 2016-10-30: not yet passed
    assert _alerts(L, "JOIN-05") == []
    L.block(at="2016-11-01")
    assert _alerts(L, "JOIN-05") == [("YELLOW", "assessment_overdue")]
    ok(step(L, B1, "p1", "ann", "S06", "2016-11-02"))  # the late assessment itself: the same alert
    L.block(at="2017-06-01")  # 2016-11-02 + 6 months + 30 days = 2017-06-01: not yet passed
    assert len(_alerts(L, "JOIN-05")) == 1
    ok(step(L, B1, "p1", "ann", "S07", "2017-06-01"))  # the last day: none after the target
    L.block(at="2018-01-01")
    assert len(_alerts(L, "JOIN-05")) == 1


def test_join05_follows_a_handover_to_the_new_branch() -> None:
    L = _until("S05")
    handover = {"pipeline_id": "p1", "person_key": person("ann"), "from_org_id": B1, "to_org_id": P2B}
    ok(L.submit(f"{B1}/operator", "join.pipeline_transfer", handover | {"handover_date": "2015-06-01"}))
    L.block(at="2015-11-01")
    (alert,) = L.alerts("JOIN-05")
    assert (alert["colour"], alert["org_id"]) == ("YELLOW", P2B)  # the branch holding it now


# ------------------------------------------------------------------------------ JOIN-07
@pytest.mark.parametrize(("s08", "expected"), [("2016-05-01", []), ("2016-05-02", [("BLUE", "not_filed")])])
def test_join07_the_development_target_is_filed_upward_in_time(
    s08: str, expected: list[tuple[str, str]]
) -> None:
    L = _until("S07")  # S07 2016-04-01: filed by 2016-05-01
    ok(step(L, B1, "p1", "ann", "S08", s08))
    assert _alerts(L, "JOIN-07") == expected


@pytest.mark.parametrize(
    ("with_opinions", "expected"), [(True, []), (False, [("YELLOW", "opinions_missing")])]
)
def test_join07_the_opinions_heard_are_cited(with_opinions: bool, expected: list[tuple[str, str]]) -> None:
    L = _until("S06")
    ok(step(L, B1, "p1", "ann", "S07", D["S07"], **({} if with_opinions else {"doc_refs": []})))
    ok(step(L, B1, "p1", "ann", "S08", D["S08"]))
    assert _alerts(L, "JOIN-07") == expected


def test_join07_refuses_a_development_target_not_decided_by_the_branch() -> None:
    L = _until("S06")
    r = step(L, B1, "p1", "ann", "S07", D["S07"], decision_ref=None)
    assert (r.status, r.rule_id, r.reason_code) == ("REJECTED", "JOIN-07", "no_committee_decision")


# ------------------------------------------------------------------------------ JOIN-18
@pytest.mark.parametrize(("s18", "expected"), [("2016-10-01", []), ("2016-10-02", [("BLUE", "not_filed")])])
def test_join18_the_approval_is_filed_in_time(s18: str, expected: list[tuple[str, str]]) -> None:
    L = _until("S17")  # S17 2016-09-01: filed by 2016-10-01
    ok(step(L, B1, "p1", "ann", "S18", s18))
    assert _alerts(L, "JOIN-18") == expected
    if expected:
        assert L.alerts("JOIN-18")[0]["org_id"] == X1  # the county files, the county answers


# ------------------------------------------------------------------------------ JOIN-25
@pytest.mark.parametrize(
    ("s25", "expected"),
    [
        ("2017-10-31", []),  # S24 2017-09-01 + 60 days
        ("2017-11-01", [("BLUE", "archive_incomplete")]),
        ("2017-12-30", [("BLUE", "archive_incomplete")]),  # + 120 days: the last day before YELLOW
        ("2017-12-31", [("BLUE", "archive_incomplete"), ("YELLOW", "archive_incomplete")]),
    ],
)
def test_join25_the_archive_is_filed_after_conversion(s25: str, expected: list[tuple[str, str]]) -> None:
    L = _until("S24")
    ok(step(L, B1, "p1", "ann", "S25", s25))
    L.block(at="2018-06-01")
    assert _alerts(L, "JOIN-25") == expected


@pytest.mark.parametrize(
    ("assessed", "expected"),
    [(True, []), (False, [("BLUE", "archive_incomplete"), ("YELLOW", "archive_incomplete")])],
)
def test_join25_an_archive_filed_in_time_without_its_materials(
    assessed: bool, expected: list[tuple[str, str]]
) -> None:
    L = _until("S05")
    if assessed:
        ok(step(L, B1, "p1", "ann", "S06", D["S06"]))
    else:  # the half-yearly assessment recorded without its ASSESSMENT document
        ok(submit_step(L, B1, "p1", "ann", "S06", D["S06"]))
    for s in list(D)[list(D).index("S07") :]:
        ok(step(L, B1, "p1", "ann", s, D[s]), s)  # S25 2017-09-11, in time
    L.block(at="2018-01-01")  # past S24 + 120 days
    assert _alerts(L, "JOIN-25") == expected


# ------------------------------------------------------------------------------ JOIN-28
@pytest.mark.parametrize(
    ("s03", "expected"),
    [("2016-02-01", []), ("2016-02-02", [("BLUE", "application_stale")])],  # S01 2015-02-01 + 12 months
)
def test_join28_an_application_is_not_left_unattended(s03: str, expected: list[tuple[str, str]]) -> None:
    L = _until("S02")
    ok(step(L, B1, "p1", "ann", "S03", s03))
    assert _alerts(L, "JOIN-28") == expected


@pytest.mark.parametrize(
    ("s03", "expected"), [("2015-04-30", [("BLUE", "early_activist")]), ("2015-05-01", [])]
)
def test_join28_a_configured_minimum_is_only_a_reminder(s03: str, expected: list[tuple[str, str]]) -> None:
    L = _until("S02", min_applicant_to_activist_months=3)
    ok(step(L, B1, "p1", "ann", "S03", s03))
    assert _alerts(L, "JOIN-28") == expected


def test_join28_a_handed_over_application_is_watched_at_the_new_branch() -> None:
    L = _until("S02")
    handover = {"pipeline_id": "p1", "person_key": person("ann"), "from_org_id": B1, "to_org_id": B2}
    ok(
        L.submit(
            f"{B1}/operator",
            "join.pipeline_transfer",
            handover | {"handover_date": "2015-06-01", "new_pipeline_id": "p1-b2"},
        )
    )
    L.block(at="2016-02-02")
    assert [(a["colour"], a["org_id"]) for a in L.alerts("JOIN-28")] == [("BLUE", B2)]


# ------------------------------------------------------------------------------ clean
def test_a_clean_pipeline_meets_every_deadline() -> None:
    L = _until("S25")
    L.block(at="2019-01-01")
    for rule in ("JOIN-05", "JOIN-07", "JOIN-18", "JOIN-25", "JOIN-28"):
        assert _alerts(L, rule) == [], rule
