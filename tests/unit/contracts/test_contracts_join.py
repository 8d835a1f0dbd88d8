"""JOIN-01, JOIN-08, JOIN-13, JOIN-24, table-driven (PASS / REJECT / FLAG:<colour> on the receipt)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.testing import (
    Ledger,
    archive_payload,
    doc_payload,
    import_member,
    make_genesis,
    ok,
    outcome,
    person,
    submit_step,
)
from contracts.testing_procedure import prepare_step, run_pipeline, step
from wire.types import Receipt

B1, B2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2"
X1 = "cn.p1.c1.x1"


def _applicant_born(birth: str, apply_on: str) -> Callable[[Ledger], Receipt]:
    """The application is registered before the archive (so MAT-03 cannot see the birth date):
    JOIN-01 is the rule that catches the age at S01."""

    def case(L: Ledger) -> Receipt:
        doc = doc_payload("p1/APPLICATION", "APPLICATION", ["ann"], apply_on, B1)
        ok(L.submit(f"{B1}/operator", "material.register", doc, at=apply_on))
        ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("ann", birth)))
        return submit_step(L, B1, "p1", "ann", "S01", apply_on, extra={"received_date": apply_on})

    return case


def _with_strict_age(case: Callable[[Ledger], Receipt]) -> Callable[[Ledger], Receipt]:
    def wrapped(L: Ledger) -> Receipt:
        strict = Ledger(make_genesis(rule_config={"age_from_day_after_birthday": True}))
        return case(strict)

    wrapped.__name__ = case.__name__ + "_strict"
    return wrapped


def _introducers(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        import_member(L, "i1", B1)
        import_member(L, "i2", B1)
        import_member(L, "prob", B1, status="PROBATIONARY", full=None)  # type: ignore[arg-type]
        import_member(L, "late", B1, join="2016-01-01", full="2017-01-01")
        import_member(L, "bad", B1, party_standing="PROBATION_WITHIN_PARTY")
        dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S08", introducers=("i1", "i2"))
        actors = {
            "good": ["i1", "i2"],
            "one": ["i1"],
            "one-twice": ["i1", "i1"],
            "three": ["i1", "i2", "late"],
            "probationary": ["i1", "prob"],
            "self": ["i1", "ann"],
            "not-yet-full": ["i1", "late"],
            "liuDang": ["i1", "bad"],
            "unknown": ["i1", "nobody"],
        }[kind]
        return step(L, B1, "p1", "ann", "S09", dates["S09"], actor_keys=[person(a) for a in actors])

    case.__name__ = f"introducers_{kind}"
    return case


def _introducer_suspended_before_s15(L: Ledger) -> Receipt:
    import_member(L, "i1", B1)
    import_member(L, "i2", B1)
    dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S14", introducers=("i1", "i2"))
    suspend = {"person_key": person("i2"), "event": "SUSPEND", "date": dates["S14"]}
    ok(L.submit(f"{B1}/operator", "archive.event", suspend, approvers=[f"{X1}/approver"], at=dates["S14"]))
    return step(L, B1, "p1", "ann", "S15", dates["S15"], introducers=("i1", "i2"))


def _introducers_still_full_at_s15(L: Ledger) -> Receipt:
    dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S14")
    return step(L, B1, "p1", "ann", "S15", dates["S15"])


def _volunteer_book(reused: bool) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        run_pipeline(L, "bob", B2, "pb", "2015-02-01", until="S14")
        dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S13")
        serial = "VB-pb" if reused else "VB-p1"
        return step(L, B1, "p1", "ann", "S14", dates["S14"], extra={"volunteer_book_no": serial})

    case.__name__ = f"volunteer_book_reused_{reused}"
    return case


def _order(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S02")
        match kind:
            case "next":
                return step(L, B1, "p1", "ann", "S03", "2015-04-01")
            case "skip":
                return step(L, B1, "p1", "ann", "S05", "2015-04-01")
            case "before-predecessor":
                return step(L, B1, "p1", "ann", "S03", "2015-02-10")
            case "future":
                fields = prepare_step(L, B1, "p1", "ann", "S03", "2015-04-01")
                return L.submit(f"{B1}/operator", "join.step", dict(_s("S03", "2015-05-01"), **fields))
            case "repeat":
                return step(L, B1, "p1", "ann", "S02", dates["S02"])
            case "late-filing-missing":
                ok(step(L, B1, "p1", "ann", "S03", "2015-04-01"))
                ok(step(L, B1, "p1", "ann", "S05", "2015-04-05"))
                return step(L, B1, "p1", "ann", "S07", "2016-04-05")
            case "late-filing-present":
                ok(step(L, B1, "p1", "ann", "S03", "2015-04-01"))
                ok(step(L, B1, "p1", "ann", "S04", "2015-04-03"))
                ok(step(L, B1, "p1", "ann", "S05", "2015-04-05"))
                ok(step(L, B1, "p1", "ann", "S06", "2015-10-05"))
                return step(L, B1, "p1", "ann", "S07", "2016-04-05")
            case "repeatable":
                ok(step(L, B1, "p1", "ann", "S03", "2015-04-01"))
                ok(step(L, B1, "p1", "ann", "S06", "2015-10-01"))
                return step(L, B1, "p1", "ann", "S06", "2016-04-01", doc_refs=[])
        raise AssertionError(kind)

    case.__name__ = f"order_{kind}"
    return case


def _s(step: str, day: str) -> dict[str, object]:
    return {"pipeline_id": "p1", "person_key": person("ann"), "step": step, "event_date": day}


CASES = [
    ("JOIN-01", _applicant_born("1997-06-15", "2015-06-15"), "PASS"),
    ("JOIN-01", _applicant_born("1997-06-15", "2015-06-14"), "REJECT"),
    ("JOIN-01", _with_strict_age(_applicant_born("1997-06-15", "2015-06-15")), "REJECT"),
    ("JOIN-01", _with_strict_age(_applicant_born("1997-06-15", "2015-06-16")), "PASS"),
    ("JOIN-01", _applicant_born("1998-02-28", "2016-02-28"), "PASS"),
    ("JOIN-08", _introducers("good"), "PASS"),
    ("JOIN-08", _introducers("one"), "REJECT"),
    ("JOIN-08", _introducers("one-twice"), "REJECT"),
    ("JOIN-08", _introducers("three"), "REJECT"),
    ("JOIN-08", _introducers("probationary"), "REJECT"),
    ("JOIN-08", _introducers("self"), "REJECT"),
    ("JOIN-08", _introducers("not-yet-full"), "REJECT"),
    ("JOIN-08", _introducers("liuDang"), "REJECT"),
    ("JOIN-08", _introducers("unknown"), "REJECT"),
    ("JOIN-08", _introducer_suspended_before_s15, "REJECT"),
    ("JOIN-08", _introducers_still_full_at_s15, "PASS"),
    ("JOIN-13", _volunteer_book(False), "PASS"),
    ("JOIN-13", _volunteer_book(True), "REJECT"),
    ("JOIN-24", _order("next"), "PASS"),
    ("JOIN-24", _order("skip"), "REJECT"),
    ("JOIN-24", _order("before-predecessor"), "REJECT"),
    ("JOIN-24", _order("future"), "REJECT"),
    ("JOIN-24", _order("repeat"), "REJECT"),
    ("JOIN-24", _order("repeatable"), "PASS"),
    ("JOIN-24", _order("late-filing-missing"), "FLAG:BLUE+BLUE"),
    ("JOIN-24", _order("late-filing-present"), "PASS"),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "expected"), CASES, ids=[f"{r}-{c.__name__}-{e}" for r, c, e in CASES]
)
def test_join_rules(rule_id: str, case: Callable[[Ledger], Receipt], expected: str) -> None:
    L = Ledger()
    receipt = case(L)
    assert outcome(receipt, rule_id) == expected, receipt


def test_join01_leap_day_birthday_counts_from_feb_28() -> None:
    # born 2000-02-29: addYears(18) clamps to 2018-02-28 (DOMAIN 0.2)
    assert outcome(_applicant_born("2000-02-29", "2018-02-28")(Ledger()), "JOIN-01") == "PASS"
    assert outcome(_applicant_born("2000-02-29", "2018-02-27")(Ledger()), "JOIN-01") == "REJECT"


def test_join24_blue_reminder_once_per_pipeline_and_step() -> None:
    L = Ledger()
    _order("late-filing-missing")(L)
    r = step(L, B1, "p1", "ann", "S09", "2016-05-01", actor_keys=[person("x"), person("y")])
    assert r.rule_id == "JOIN-08"  # introducers unknown; the reminders were not repeated anyway
    assert sorted(a["details"] == {} for a in L.alerts("JOIN-24")) == [True, True]
    assert len(L.alerts("JOIN-24")) == 2
