"""One approval item approves one person (DOMAIN.md JOIN-16, JOIN-22 and the 2026-12 decision): an
S17/S24 cites a county committee item naming the person, or a decision record no other person's
approval cited; an item without a subject (batch approval, 批量审批), another person's item, or a
decision record that already backed another approval is RED REJECT. The other collective-approval
problems stay what they were (JOIN-16 REJECT, JOIN-22 RED FLAG)."""

from __future__ import annotations

import pytest

from contracts.testing import Ledger, ms, ok, person, submit_step
from contracts.testing_procedure import decision_payload, meeting_payload, pipeline_dates, run_pipeline
from tests.support.rule_cases import B1, START, X1
from wire.types import Receipt

D = pipeline_dates(START)  # S17 2016-09-01, S24 2017-09-01 (both pipelines run on the same dates)


def _committee(L: Ledger, mid: str, day: str, *subjects: str | None) -> None:
    """A county committee meeting on `day` passing one item per subject (None: an item naming nobody)."""
    items = [
        {
            "item_id": str(i + 1),
            "ballot_method": "SECRET",
            "yes": 5,
            "no": 0,
            "abstain": 0,
            "result": "PASSED",
        }
        | ({"subject_key": person(s)} if s is not None else {})
        for i, s in enumerate(subjects)
    ]
    ok(
        L.submit(
            f"{X1}/operator",
            "meeting.record",
            meeting_payload(mid, "COMMITTEE", ms(day, hour=7), items=items),
            at=day,
        )
    )


def _two(until: str) -> Ledger:
    L = Ledger()
    run_pipeline(L, "ann", B1, "pa", START, until=until)
    run_pipeline(L, "bob", B1, "pb", START, until=until)
    return L


def _approve(L: Ledger, step: str, name: str, ref: str, item: str | None = None) -> Receipt:
    extra = {"extra": {"item_id": item}} if item is not None else {}
    pid = "pa" if name == "ann" else "pb"
    return submit_step(L, B1, pid, name, step, D[step], decision_ref=ref, **extra)


def _why(r: Receipt) -> tuple[str, str, str]:
    return r.status, r.rule_id, r.reason_code


@pytest.mark.parametrize(("step", "rule", "before"), [("S17", "JOIN-16", "S16"), ("S24", "JOIN-22", "S23")])
@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("2", ("ACCEPTED", "", "")),  # bob's own item
        (None, ("ACCEPTED", "", "")),  # the one item naming bob
        ("1", ("REJECTED", "RULE", "item_of_another_person")),  # ann's item, which ann's approval cited
        ("3", ("REJECTED", "RULE", "item_without_subject")),  # an item naming nobody
        ("9", ("REJECTED", "RULE", "no_item")),
    ],
)
def test_an_approval_cites_an_item_of_the_person_alone(
    step: str, rule: str, before: str, item: str | None, expected: tuple[str, str, str]
) -> None:
    L = _two(before)
    _committee(L, "county", D[step], "ann", "bob", None)
    ok(_approve(L, step, "ann", "county", "1"))
    want = tuple(rule if x == "RULE" else x for x in expected)
    assert _why(_approve(L, step, "bob", "county", item)) == want


@pytest.mark.parametrize(("step", "rule", "before"), [("S17", "JOIN-16", "S16"), ("S24", "JOIN-22", "S23")])
def test_batch_approval_by_an_item_naming_nobody_is_refused_for_everyone(
    step: str, rule: str, before: str
) -> None:
    L = _two(before)
    _committee(L, "batch", D[step], None)
    for name in ("ann", "bob"):
        assert _why(_approve(L, step, name, "batch", "1")) == ("REJECTED", rule, "item_without_subject")
    assert L.scan("idx/apprv/m/batch/") == []


@pytest.mark.parametrize(("step", "rule", "before"), [("S17", "JOIN-16", "S16"), ("S24", "JOIN-22", "S23")])
def test_one_decision_record_backs_one_approval(step: str, rule: str, before: str) -> None:
    L = _two(before)
    _committee(L, "county", D[step], "ann", "bob")
    dec = decision_payload("approve-1", D[step], meeting_id="county")
    ok(L.submit(f"{X1}/operator", "decision.record", dec, at=D[step]))
    ok(_approve(L, step, "ann", "approve-1"))
    assert L.get("idx/apprv/d/approve-1") == {"person_key": person("ann"), "pipeline_id": "pa", "step": step}
    assert _why(_approve(L, step, "bob", "approve-1")) == ("REJECTED", rule, "decision_already_cited")
    dec2 = decision_payload("approve-2", D[step], meeting_id="county", item_seq=2)
    ok(L.submit(f"{X1}/operator", "decision.record", dec2, at=D[step]))
    ok(_approve(L, step, "bob", "approve-2"))


def test_a_conversion_approval_not_made_collectively_stays_a_red_flag() -> None:
    L = _two("S23")
    _committee(L, "county", D["S24"], "ann")
    dec = decision_payload("circulated", D["S24"], decision_mode="CIRCULATION")
    ok(L.submit(f"{X1}/operator", "decision.record", dec, at=D["S24"]))
    r = ok(_approve(L, "S24", "ann", "circulated"))
    assert [(a.rule_id, a.colour) for a in r.alerts if a.rule_id == "JOIN-22"] == [("JOIN-22", "RED")]
