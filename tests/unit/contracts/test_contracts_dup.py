"""DUP-01..06, table-driven: each case builds a history and states how the rule shows on the
receipt of the last transaction (PASS, REJECT, or FLAG:<colour>)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.testing import (
    Ledger,
    apply_for,
    archive_payload,
    doc_payload,
    import_member,
    ok,
    outcome,
    person,
    step_payload,
)
from contracts.testing_procedure import general_vote, run_pipeline, step
from wire.types import Receipt

B1, B2, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2.c1.x1.b1"
X1 = "cn.p1.c1.x1"


def _fresh_applicant(L: Ledger) -> Receipt:
    ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("ann", "1990-01-01"), at="2016-01-01"))
    return apply_for(L, "ann", B1, "p1", "2016-01-05")


def _member_applies_again(L: Ledger) -> Receipt:
    import_member(L, "ann", B1)
    return apply_for(L, "ann", P2B, "p2", "2016-01-05")


def _open_pipeline_elsewhere(L: Ledger) -> Receipt:
    run_pipeline(L, "ann", B1, "p1", "2016-01-05", until="S03")
    return apply_for(L, "ann", P2B, "p2", "2016-06-01")


def _open_pipeline_archive_create(L: Ledger) -> Receipt:
    run_pipeline(L, "ann", B1, "p1", "2016-01-05", until="S02")
    return L.submit(
        f"{P2B}/operator", "archive.create", archive_payload("ann", "1990-01-01"), at="2016-03-01"
    )


def _failed_pipeline_then_elsewhere(L: Ledger) -> Receipt:
    run_pipeline(L, "ann", B1, "p1", "2016-01-05", until="S02")
    fail = step_payload("p1", "ann", "S03", "2016-03-01", result="FAIL")
    ok(L.submit(f"{B1}/operator", "join.step", fail, at="2016-03-01"))
    return apply_for(L, "ann", P2B, "p2", "2016-06-01")


def _transferred_pipeline_continues(L: Ledger) -> Receipt:
    run_pipeline(L, "ann", B1, "p1", "2016-01-05", until="S03")
    handover = {
        "pipeline_id": "p1",
        "person_key": person("ann"),
        "from_org_id": B1,
        "to_org_id": B2,
        "handover_date": "2016-04-01",
        "new_pipeline_id": "p1b",
    }
    ok(L.submit(f"{B1}/operator", "join.pipeline_transfer", handover, at="2016-04-01"))
    return step(L, B2, "p1b", "ann", "S05", "2016-04-10", actor_keys=[person("p1-intro-a")])


def _expelled(years_later: int, no_rejoin: bool = False) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        p = archive_payload(
            "ann", "1970-01-01", status="EXPELLED", expelled_date="2015-03-01", no_rejoin=no_rejoin
        )
        ok(L.submit(f"{B1}/operator", "archive.create", p, at="2015-03-10"))
        return apply_for(L, "ann", P2B, "p2", f"{2015 + years_later}-03-01")

    return case


def _previous_status(status: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        p = archive_payload("ann", "1970-01-01", status=status)
        ok(L.submit(f"{B1}/operator", "archive.create", p, at="2015-03-10"))
        return apply_for(L, "ann", B1, "p2", "2016-03-01")

    return case


def _restore(from_status: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        import_member(L, "ann", B1)
        event = {"REMOVED": "REMOVE", "SUSPENDED": "SUSPEND", "EXPELLED": "EXPEL", "WITHDRAWN": "WITHDRAW"}[
            from_status
        ]
        e = {"person_key": person("ann"), "event": event, "date": "2015-06-01"}
        ok(L.submit(f"{B1}/operator", "archive.event", e, approvers=[f"{X1}/approver"], at="2015-06-01"))
        r = {"person_key": person("ann"), "event": "RESTORE", "date": "2016-06-01"}
        return L.submit(f"{B1}/operator", "archive.event", r, approvers=[f"{X1}/approver"], at="2016-06-01")

    return case


def _name_key(second_same: bool) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        ok(
            L.submit(
                f"{B1}/operator", "archive.create", archive_payload("ann", "1990-01-01", name_key="aa" * 32)
            )
        )
        nk = "aa" * 32 if second_same else "bb" * 32
        return L.submit(
            f"{P2B}/operator", "archive.create", archive_payload("ann-2", "1990-01-01", name_key=nk)
        )

    return case


def _book_claimed(by: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        import_member(L, "ann", B1, volunteer_book_no="VB-1")
        if by == "archive":
            return L.submit(
                f"{B2}/operator",
                "archive.create",
                archive_payload("bob", "1990-01-01", volunteer_book_no="VB-1"),
            )
        if by == "same-person-material":
            doc = doc_payload("vb", "VOLUNTEER_BOOK", ["ann"], "2015-01-02", B1, serial_no="VB-1")
            return L.submit(f"{B1}/operator", "material.register", doc)
        ok(L.submit(f"{B2}/operator", "archive.create", archive_payload("bob", "1990-01-01")))
        doc = doc_payload("vb", "VOLUNTEER_BOOK", ["bob"], "2015-01-02", B2, serial_no="VB-1")
        return L.submit(f"{B2}/operator", "material.register", doc)

    return case


def _s15_item(same_item: bool) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "pa", "2015-02-01", until="S14")
        run_pipeline(L, "bob", B1, "pb", "2015-02-01", until="S14")
        # one general meeting with an item per person, but items that do not name their person
        items = [
            {"item_id": i, "ballot_method": "SECRET", "yes": 5, "no": 0, "abstain": 0, "result": "PASSED"}
            for i in ("i1", "i2")
        ]
        ok(general_vote(L, B1, "m-1", "ann", "2016-08-01", items=items))
        s15 = step_payload("pa", "ann", "S15", "2016-08-01", decision_ref="m-1", extra={"item_id": "i1"})
        ok(L.submit(f"{B1}/operator", "join.step", s15, at="2016-08-01"))
        item = "i1" if same_item else "i2"
        s15b = step_payload("pb", "bob", "S15", "2016-08-01", decision_ref="m-1", extra={"item_id": item})
        return L.submit(f"{B1}/operator", "join.step", s15b, at="2016-08-01")

    return case


CASES = [
    ("DUP-01", _fresh_applicant, "PASS"),
    ("DUP-01", _member_applies_again, "REJECT"),
    ("DUP-02", _fresh_applicant, "PASS"),
    ("DUP-02", _open_pipeline_elsewhere, "REJECT"),
    ("DUP-02", _open_pipeline_archive_create, "REJECT"),
    ("DUP-02", _failed_pipeline_then_elsewhere, "PASS"),
    ("DUP-02", _transferred_pipeline_continues, "PASS"),
    ("DUP-03", _expelled(2), "REJECT"),
    ("DUP-03", _expelled(6), "FLAG:YELLOW"),
    ("DUP-03", _expelled(6, no_rejoin=True), "REJECT"),
    ("DUP-03", _fresh_applicant, "PASS"),
    ("DUP-04", _previous_status("REMOVED"), "FLAG:BLUE"),
    ("DUP-04", _previous_status("WITHDRAWN"), "FLAG:BLUE"),
    ("DUP-04", _restore("REMOVED"), "REJECT"),
    ("DUP-04", _restore("EXPELLED"), "REJECT"),
    ("DUP-04", _restore("SUSPENDED"), "PASS"),
    ("DUP-05", _name_key(False), "PASS"),
    ("DUP-05", _name_key(True), "FLAG:YELLOW"),
    ("DUP-06", _book_claimed("archive"), "REJECT"),
    ("DUP-06", _book_claimed("material"), "REJECT"),
    ("DUP-06", _book_claimed("same-person-material"), "PASS"),
    ("DUP-06", _s15_item(True), "REJECT"),
    ("DUP-06", _s15_item(False), "PASS"),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "expected"), CASES, ids=[f"{r}-{c.__name__}-{e}" for r, c, e in CASES]
)
def test_dup_rules(rule_id: str, case: Callable[[Ledger], Receipt], expected: str) -> None:
    L = Ledger()
    receipt = case(L)
    assert outcome(receipt, rule_id) == expected, receipt


def test_dup05_alerts_once_per_pair() -> None:
    L = Ledger()
    _name_key(True)(L)
    amend = archive_payload("ann-2", "1990-01-01", name_key="aa" * 32, gender="FEMALE")
    amend.update(prev_version=1, amend_reason="gender recorded")
    for k in ("key_version", "id_check_ok"):
        amend.pop(k)
    r = ok(L.submit(f"{P2B}/operator", "archive.amend", amend))
    assert outcome(r, "DUP-05") == "PASS"
    assert len(L.alerts("DUP-05")) == 1


def test_dup02_rejection_leaves_first_pipeline_untouched() -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", "2016-01-05", until="S03")
    before = L.scan("pipeline/p1")
    r = apply_for(L, "ann", P2B, "p2", "2016-06-01")
    assert (r.rule_id, r.reason_code) == ("DUP-02", "parallel_pipeline")
    assert L.scan("pipeline/p1") == before
    assert L.get("pipeline/p2") is None
