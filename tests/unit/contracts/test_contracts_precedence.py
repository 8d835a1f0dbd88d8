"""Where two rules claim the same fact the receipt names the more specific one
(`contracts.rules.PRECEDENCE`, docs/contracts.md): each pair with the history where both refuse
(the specific one is named), the same history with the specific rule OFF (the general one still
refuses), and a clean variant (accepted)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.base import Verdict, reject
from contracts.rules import PRECEDENCE, may_outrank, outranks
from contracts.testing import Ledger, import_member, make_genesis, ms, ok, person, submit_step
from contracts.testing_procedure import general_vote, meeting_payload, pipeline_dates, run_pipeline, step
from tests.support.rule_cases import B1, B2, START
from wire.types import Receipt

D = pipeline_dates(START)  # S14 2016-07-11, S15 2016-08-01, S17 2016-09-01; probation ends 2017-08-01


def _ledger(off: str | None) -> Ledger:
    return Ledger(make_genesis(rule_config={"rule_modes": {off: "OFF"}}) if off else None)


def _why(r: Receipt) -> tuple[str, str]:
    return r.status, r.rule_id


# ------------------------------------------------------------------------ DUP-06 over JOIN-14
def _second_admission(item: str, off: str | None = None) -> Receipt:
    """ann and bob at one general meeting, one item each; bob's S15 cites `item`."""
    L = _ledger(off)
    run_pipeline(L, "ann", B1, "pa", START, until="S14")
    run_pipeline(L, "bob", B1, "pb", START, until="S14")
    voters = len(L.scan(f"idx/member/{B1}/"))
    items = [
        {"item_id": i, "subject_key": person(n), "ballot_method": "SECRET", "result": "PASSED"}
        | {"yes": voters, "no": 0, "abstain": 0}
        for i, n in (("1", "ann"), ("2", "bob"))
    ]
    ok(general_vote(L, B1, "vote", "ann", D["S15"], items=items))
    ok(submit_step(L, B1, "pa", "ann", "S15", D["S15"], decision_ref="vote", extra={"item_id": "1"}))
    return submit_step(L, B1, "pb", "bob", "S15", D["S15"], decision_ref="vote", extra={"item_id": item})


@pytest.mark.parametrize(
    ("item", "off", "expected"),
    [
        ("1", None, ("REJECTED", "DUP-06")),
        ("1", "DUP-06", ("REJECTED", "JOIN-14")),
        ("2", None, ("ACCEPTED", "")),
    ],
)
def test_an_s15_item_another_person_claimed_is_dup06(item: str, off: str | None, expected: Any) -> None:
    assert _why(_second_admission(item, off)) == expected


# ------------------------------------------------------------------------ JOIN-13 over DUP-06
@pytest.mark.parametrize(
    ("serial", "off", "expected"),
    [
        ("VB-pa", None, ("REJECTED", "JOIN-13")),
        ("VB-pa", "JOIN-13", ("REJECTED", "DUP-06")),
        ("VB-pb", None, ("ACCEPTED", "")),
    ],
)
def test_an_s14_serial_another_person_holds_is_join13(serial: str, off: str | None, expected: Any) -> None:
    L = _ledger(off)
    run_pipeline(L, "ann", B1, "pa", START, until="S14")
    run_pipeline(L, "bob", B1, "pb", START, until="S13")
    r = step(L, B1, "pb", "bob", "S14", D["S14"], extra={"volunteer_book_no": serial})
    assert _why(r) == expected


# ------------------------------------------------------------------------- ARC-01 over JOIN-20
def _amend(L: Ledger, **fields: Any) -> Receipt:
    a = L.get("archive/" + person("ann"))
    assert a is not None
    keep = ("birth_date", "gender", "join_date", "full_date", "expected_departure_date", "archive_hash")
    p = {k: a[k] for k in (*keep, "volunteer_book_no", "name_key") if a.get(k) is not None}
    p.update(person_key=person("ann"), prev_version=a["version"], amend_reason="correction", **fields)
    return L.submit(f"{B1}/operator", "archive.amend", p)


@pytest.mark.parametrize(
    ("join", "off", "expected"),
    [
        ("2016-08-02", None, ("REJECTED", "ARC-01")),  # the S15 is 2016-08-01
        ("2016-08-02", "ARC-01", ("REJECTED", "JOIN-20")),  # full 2017-08-01 is not join + 1 year
        ("2016-08-01", None, ("ACCEPTED", "")),
    ],
)
def test_archive_dates_against_a_pipeline_are_arc01(join: str, off: str | None, expected: Any) -> None:
    L = _ledger(off)
    run_pipeline(L, "ann", B1, "pa", START, until="S17")
    assert _why(_amend(L, join_date=join, full_date="2017-08-01")) == expected


# ------------------------------------------------------------------------ XFER-04 over XFER-02
@pytest.mark.parametrize(
    ("issuer", "off", "expected"),
    [
        (B1, None, ("REJECTED", "XFER-04")),
        (B1, "XFER-04", ("REJECTED", "XFER-02")),
        (B2, None, ("ACCEPTED", "")),
    ],
)
def test_a_letter_from_the_branch_the_member_left_is_xfer04(
    issuer: str, off: str | None, expected: Any
) -> None:
    L = _ledger(off)
    import_member(L, "m", B1)
    letter = {"person_key": person("m"), "member_status": "FULL", "reason": "JOB_CHANGE"}
    letter |= {"dues_paid_through": "2016-02", "issue_date": "2016-03-01", "valid_until": "2016-04-01"}
    ok(
        L.submit(
            f"{B1}/operator",
            "transfer.out",
            letter | {"transfer_id": "T1", "from_org_id": B1, "to_org_id": B2},
        )
    )
    into = {"transfer_id": "T1", "person_key": person("m"), "to_org_id": B2, "report_date": "2016-03-10"}
    ok(L.submit(f"{B2}/operator", "transfer.in", into | {"receipt_date": "2016-03-12", "accepted": True}))
    again = letter | {"transfer_id": "T2", "from_org_id": issuer, "to_org_id": "cn.p1.c1.x2.b1"}
    assert (
        _why(
            L.submit(
                f"{issuer}/operator",
                "transfer.out",
                again | {"issue_date": "2016-04-01", "valid_until": "2016-05-01"},
            )
        )
        == expected
    )


# ------------------------------------------------------------------------ JOIN-23 over JOIN-21
@pytest.mark.parametrize(
    ("day", "off", "expected"),
    [
        ("2017-07-31", None, ("REJECTED", "JOIN-23")),  # the probation ends 2017-08-01
        ("2017-07-31", "JOIN-23", ("REJECTED", "JOIN-21")),
        ("2017-08-01", None, ("ACCEPTED", "")),
    ],
)
def test_an_extension_before_the_probation_ends_is_join23(day: str, off: str | None, expected: Any) -> None:
    L = _ledger(off)
    run_pipeline(L, "ann", B1, "pa", START, until="S21")
    ok(step(L, B1, "pa", "ann", "S22", day))
    extend = {"result": "EXTEND", "extra": {"item_id": "1", "extension_months": 6}}
    r = step(L, B1, "pa", "ann", "S23", day, **extend)
    assert _why(r) == expected
    if r.rule_id == "JOIN-23":
        assert r.reason_code == "extension_before_expiry"


def test_precedence_pairs_are_about_one_fact() -> None:
    def refusal(rule_id: str, code: str) -> Verdict:
        return reject(rule_id, code, "a refusal")

    assert outranks(refusal("MTG-07", "bad_roster"), refusal("MTG-03", "not_a_member"))
    assert not outranks(refusal("MTG-07", "no_quorum"), refusal("MTG-03", "not_a_member"))
    assert outranks(refusal("JOIN-23", "extension_before_expiry"), refusal("JOIN-21", "premature"))
    assert not outranks(
        refusal("JOIN-23", "second_extension"), refusal("JOIN-21", "no_conversion_application")
    )
    assert not outranks(refusal("MTG-03", "not_a_member"), refusal("MTG-07", "bad_roster"))
    assert may_outrank("XFER-04", "MTG-03") and may_outrank("XFER-04", "MTG-07")
    assert not may_outrank("MTG-03", "MTG-07") and not may_outrank("JOIN-14", "DUP-06")
    assert all(p.fact and p.general != p.specific for p in PRECEDENCE)


@pytest.mark.parametrize(
    ("stranger_as", "expected"),
    [
        ("entitled", ("REJECTED", "MTG-07", "bad_roster")),  # the same fact: MTG-07 names it
        ("roll-call", ("REJECTED", "MTG-03", "not_a_member")),  # MTG-07's no_quorum is another fact
    ],
)
def test_a_refusal_for_another_fact_keeps_the_first_rule(
    stranger_as: str, expected: tuple[str, str, str]
) -> None:
    L = Ledger()
    for i in range(4):
        import_member(L, f"m{i}", B1)
    members = [person(f"m{i}") for i in range(4)]
    entitled = [*members, person("stranger")] if stranger_as == "entitled" else members
    item = {
        "item_id": "1",
        "ballot_method": "ROLL_CALL",
        "yes": 1,
        "no": 0,
        "abstain": 0,
        "result": "REJECTED",
    }
    if stranger_as == "roll-call":
        item["votes"] = [{"person_key": person("stranger"), "vote": "YES"}]
    att = [{"person_key": members[0], "status": "PRESENT"}]
    p = meeting_payload(
        "m", "BRANCH_GENERAL", ms("2016-03-01", 8), entitled_voter_keys=entitled, attendance=att
    )
    r = L.submit(f"{B1}/operator", "meeting.record", p | {"items": [item]}, at="2016-03-01")
    assert (r.status, r.rule_id, r.reason_code) == expected
