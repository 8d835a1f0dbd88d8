"""ARC-01..04, table-driven; ARC-04 through the due-date index (deadlines fire on block time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.testing import Ledger, archive_payload, doc_payload, import_member, ms, ok, outcome, person
from contracts.testing_procedure import run_pipeline
from wire.types import Receipt

B1 = "cn.p1.c1.x1.b1"
X1 = "cn.p1.c1.x1"
OP = f"{B1}/operator"


def amend_payload(L: Ledger, name: str, **changes: Any) -> dict[str, Any]:
    rec = L.get("archive/" + person(name))
    assert rec is not None
    fields = (
        "name_key",
        "birth_date",
        "gender",
        "join_date",
        "full_date",
        "expected_departure_date",
        "archive_hash",
        "volunteer_book_no",
    )
    p = {f: rec[f] for f in fields}
    p.update(person_key=person(name), prev_version=rec["version"], amend_reason="correction", **changes)
    return p


def _evidence(L: Ledger) -> str:
    ok(L.submit(OP, "material.register", doc_payload("evidence", "OTHER", ["m"], "2015-01-01", B1)))
    return "evidence"


def _pipeline_then_amend(**changes: Any) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        dates = run_pipeline(L, "m", B1, "p1", "2015-02-01", until="S17")
        ch = {k: (dates["S15"] if v == "S15" else v) for k, v in changes.items()}
        evidence = _evidence(L)
        return L.submit(
            OP,
            "archive.amend",
            amend_payload(L, "m", evidence_doc=evidence, **ch),
            approvers=[f"{X1}/approver"],
        )

    case.__name__ = "pipeline_amend_" + "_".join(f"{k}={v}" for k, v in changes.items())
    return case


def _import(birth: str, join: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        return L.submit(
            OP,
            "archive.create",
            archive_payload("m", birth, status="FULL", join_date=join, full_date=_year_after(join)),
        )

    case.__name__ = f"import_born_{birth}_joined_{join}"
    return case


def _year_after(day: str) -> str:
    return str(int(day[:4]) + 1) + day[4:]


def _key_date_change(field: str, *, evidence: bool, approver: str | None) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        import_member(L, "m", B1, birth="1970-01-01", join="2000-01-01", full="2001-01-01")
        # join and full dates move together: probation is one year (JOIN-20)
        extra: dict[str, Any] = {
            "birth_date": {"birth_date": "1970-02-01"},
            "join_date": {"join_date": "2000-02-01", "full_date": "2001-02-01"},
            "full_date": {"full_date": "2001-02-01", "join_date": "2000-02-01"},
        }[field]
        if evidence:
            extra["evidence_doc"] = _evidence(L)
        approvers = [approver] if approver else []
        return L.submit(OP, "archive.amend", amend_payload(L, "m", **extra), approvers=approvers)

    case.__name__ = f"change_{field}_evidence={evidence}_approver={approver}"
    return case


CASES = [
    ("ARC-01", _pipeline_then_amend(gender="FEMALE"), "PASS"),
    ("ARC-01", _pipeline_then_amend(join_date="2016-01-01"), "REJECT"),
    ("ARC-01", _pipeline_then_amend(full_date="2016-01-01"), "REJECT"),
    ("ARC-02", _import("1980-01-01", "2000-01-01"), "PASS"),
    ("ARC-02", _import("1985-06-02", "2003-06-01"), "FLAG:RED"),
    ("ARC-03", _key_date_change("birth_date", evidence=False, approver=None), "REJECT"),
    ("ARC-03", _key_date_change("birth_date", evidence=True, approver=None), "REJECT"),
    ("ARC-03", _key_date_change("birth_date", evidence=False, approver=f"{X1}/approver"), "REJECT"),
    ("ARC-03", _key_date_change("birth_date", evidence=True, approver="cn.p1.c1.x2/approver"), "REJECT"),
    ("ARC-03", _key_date_change("birth_date", evidence=True, approver=f"{X1}/approver"), "FLAG:YELLOW"),
    ("ARC-03", _key_date_change("join_date", evidence=True, approver=f"{X1}/approver"), "FLAG:YELLOW"),
    ("ARC-03", _key_date_change("full_date", evidence=False, approver=None), "REJECT"),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "expected"), CASES, ids=[f"{r}-{c.__name__}-{e}" for r, c, e in CASES]
)
def test_arc_rules(rule_id: str, case: Callable[[Ledger], Receipt], expected: str) -> None:
    L = Ledger()
    receipt = case(L)
    assert outcome(receipt, rule_id) == expected, receipt


def test_arc03_earliest_birth_date_stays_authoritative() -> None:
    L = Ledger()
    _key_date_change("birth_date", evidence=True, approver=f"{X1}/approver")(L)
    rec = L.get("archive/" + person("m"))
    assert rec is not None and rec["birth_date"] == "1970-02-01" and rec["birth_date_first"] == "1970-01-01"
    assert L.get("archive/" + person("m") + "/v/00000001")["birth_date"] == "1970-01-01"  # type: ignore[index]


# ------------------------------------------------------------------------------------ ARC-04 dues
def _dues_history(L: Ledger, *, paid_later: bool = False, abroad: bool = False) -> None:
    import_member(L, "m", B1, dues_paid_through="2015-01")
    if abroad:
        e = {"person_key": person("m"), "event": "ABROAD", "date": "2015-02-01"}
        ok(L.submit(OP, "archive.event", e, at="2015-02-01"))
    if paid_later:
        ok(
            L.submit(
                OP, "archive.dues", {"person_key": person("m"), "paid_through": "2015-03"}, at="2015-03-20"
            )
        )


def _fired(L: Ledger, rule_id: str, at: int) -> list[str]:
    before = {a["alert_id"] for a in L.alerts(rule_id)}
    L.block(at=at)
    return [a["colour"] for a in L.alerts(rule_id) if a["alert_id"] not in before]


def test_arc04_yellow_then_red_each_in_exactly_one_block() -> None:
    L = Ledger()
    _dues_history(L)
    assert _fired(L, "ARC-04", ms("2015-04-30", hour=23)) == []  # 3 months behind: not more than 3
    assert _fired(L, "ARC-04", ms("2015-05-01", hour=0)) == ["YELLOW"]  # 00:00 CST: now 4 behind
    assert _fired(L, "ARC-04", ms("2015-05-02")) == []
    assert _fired(L, "ARC-04", ms("2015-07-31", hour=23)) == []
    assert _fired(L, "ARC-04", ms("2015-08-01", hour=0)) == ["RED"]  # more than 6 months behind
    assert _fired(L, "ARC-04", ms("2016-08-01")) == []


def test_arc04_after_a_long_quiet_gap_both_fire_in_the_next_block() -> None:
    L = Ledger()
    _dues_history(L)
    assert sorted(_fired(L, "ARC-04", ms("2017-01-01"))) == ["RED", "YELLOW"]
    assert L.scan("due/") == []


def test_arc04_deadline_met_when_paid_then_counts_from_the_new_month() -> None:
    L = Ledger()
    _dues_history(L, paid_later=True)
    assert _fired(L, "ARC-04", ms("2015-06-30")) == []  # the 2015-01 deadline was met by paying
    assert _fired(L, "ARC-04", ms("2015-07-01")) == ["YELLOW"]  # 2015-03 + more than 3 months


def test_arc04_not_while_abroad() -> None:
    L = Ledger()
    _dues_history(L, abroad=True)
    assert _fired(L, "ARC-04", ms("2016-07-02")) == []
