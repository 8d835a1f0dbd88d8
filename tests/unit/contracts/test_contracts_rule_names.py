"""Rules name themselves (DOMAIN.md 2026-12): a refusal that a rule describes names the rule on the
receipt (`rule_id`) with its reason, even where a structural check (permission, payload range)
would refuse it too, so an auditor filtering refusals by rule sees every attempt."""

from __future__ import annotations

import pytest

from contracts import check_tx
from contracts.testing import Ledger, archive_payload, import_member, ok, step_payload
from contracts.testing_procedure import pipeline_dates, prepare_step, run_pipeline, step
from tests.support.rule_cases import B1, START, X1, X2
from wire.types import Receipt

D = pipeline_dates(START)  # S13 2016-07-06, S16 08-11, S17 09-01; probation ends 2017-08-01
CITY = "cn.p1.c1"


def _why(r: Receipt) -> tuple[str, str, str]:
    return r.status, r.rule_id, r.reason_code


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (f"{B1}/operator", ("REJECTED", "JOIN-16", "not_in_subtree")),  # the branch itself
        (f"{X2}/approver", ("REJECTED", "JOIN-16", "not_in_subtree")),  # a sibling county
        (f"{CITY}/admin", ("REJECTED", "JOIN-16", "no_approval_authority")),  # the city above
        (f"{X1}/operator", ("REJECTED", "", "approval_required")),  # the county without an approver
        (f"{X1}/approver", ("ACCEPTED", "", "")),
    ],
)
def test_who_writes_an_admission_approval(writer: str, expected: tuple[str, str, str]) -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", START, until="S16")
    s17 = step_payload("p1", "ann", "S17", D["S17"], **prepare_step(L, B1, "p1", "ann", "S17", D["S17"]))
    assert _why(L.submit(writer, "join.step", s17, at=D["S17"])) == expected


@pytest.mark.parametrize(
    ("step_id", "until", "rule"),
    [
        ("S13", "S12", "JOIN-11"),
        ("S16", "S15", "JOIN-15"),
        ("S24", "S23", "JOIN-22"),
        ("S04", "S03", "JOIN-03"),
    ],
)
def test_a_sibling_county_writing_a_committee_step_names_the_rule(
    step_id: str, until: str, rule: str
) -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", START, until=until)
    day = D[step_id]
    fields = prepare_step(L, B1, "p1", "ann", step_id, day)
    r = L.submit(f"{X2}/approver", "join.step", step_payload("p1", "ann", step_id, day, **fields), at=day)
    assert _why(r) == ("REJECTED", rule, "not_in_subtree")


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (13, ("REJECTED", "JOIN-23", "extension_out_of_range")),
        (5, ("REJECTED", "JOIN-23", "extension_out_of_range")),
        (0, ("REJECTED", "JOIN-23", "extension_out_of_range")),
        (12, ("ACCEPTED", "", "")),
        (6, ("ACCEPTED", "", "")),
    ],
)
def test_a_probation_extension_out_of_range_is_join23(months: int, expected: tuple[str, str, str]) -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", START, until="S22")
    extend = {"result": "EXTEND", "extra": {"item_id": "1", "extension_months": months}}
    r = step(L, B1, "p1", "ann", "S23", D["S23"], **extend)
    assert _why(r) == expected
    if not r.accepted:  # a receipt in a block (an attempt leaves evidence), not a mempool refusal
        tx = L.blocks[-1][1][0]
        check_tx(tx)


@pytest.mark.parametrize(
    ("ext", "full", "expected"),
    [
        (13, "2002-02-01", ("REJECTED", "JOIN-23", "extension_out_of_range")),  # join + 12 + 13 months
        (13, "2001-01-01", ("REJECTED", "JOIN-23", "extension_out_of_range")),  # JOIN-20 too: JOIN-23 named
        (3, "2001-04-01", ("REJECTED", "JOIN-23", "extension_out_of_range")),
        (6, "2001-07-01", ("ACCEPTED", "", "")),
        (0, "2001-01-01", ("ACCEPTED", "", "")),
    ],
)
def test_an_imported_archive_extension_out_of_range_is_join23(
    ext: int, full: str, expected: tuple[str, str, str]
) -> None:
    L = Ledger()
    payload = archive_payload("m", "1970-01-01", status="FULL", join_date="2000-01-01", full_date=full)
    payload["probation_extension_months"] = ext
    assert _why(L.submit(f"{B1}/operator", "archive.create", payload)) == expected


def test_an_extension_without_its_months_is_still_a_missing_field() -> None:
    L = Ledger()
    import_member(L, "x", B1)
    run_pipeline(L, "ann", B1, "p1", START, until="S22")
    r = step(L, B1, "p1", "ann", "S23", D["S23"], result="EXTEND", extra={"item_id": "1"})
    assert _why(r) == ("REJECTED", "", "missing_field")
    ok(step(L, B1, "p1", "ann", "S23", D["S23"]))
