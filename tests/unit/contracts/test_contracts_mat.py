"""MAT-01..07, table-driven (PASS / REJECT / FLAG:<colours> on the receipt of the last transaction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.testing import (
    Ledger,
    apply_for,
    archive_payload,
    digest,
    doc_payload,
    make_genesis,
    ok,
    outcome,
    person,
    submit_step,
)
from contracts.testing_procedure import run_pipeline, step
from wire.types import Receipt

B1, B2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2"
X1 = "cn.p1.c1.x1"
OP = f"{B1}/operator"


def _register(L: Ledger, doc: dict[str, Any], at: str | None = None, user: str = OP, **kw: Any) -> Receipt:
    return L.submit(user, "material.register", doc, at=at, **kw)


def _people(L: Ledger, *names: str) -> None:
    for n in names:
        ok(L.submit(OP, "archive.create", archive_payload(n, "1990-01-01")))


def _reuse(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _people(L, "ann", "bob")
        first = doc_payload("d-ann", "TALK_RECORD", ["ann"], "2015-01-02", B1, text_hash=digest("t-ann"))
        ok(_register(L, first))
        second = doc_payload("d-bob", "TALK_RECORD", ["bob"], "2015-01-02", B1, text_hash=digest("t-bob"))
        if kind == "same-file":
            second["content_hash"] = first["content_hash"]
        elif kind == "same-text":
            second["text_hash"] = first["text_hash"]
        elif kind == "minutes-exempt":
            second.update(
                doc_type="MINUTES", subject_keys=[person("ann"), person("bob")], text_hash=first["text_hash"]
            )
        elif kind == "same-person":
            second.update(subject_keys=[person("ann")], content_hash=first["content_hash"])
        return _register(L, second)

    case.__name__ = f"reuse_{kind}"
    return case


def _version(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _people(L, "ann")
        v1 = doc_payload("d1", "ASSESSMENT", ["ann"], "2015-01-02", B1)
        ok(_register(L, v1))
        v2 = dict(v1, doc_version=2, content_hash=digest("v2"))
        amend = dict(v2, prev_version=1, amend_reason="typo")
        match kind:
            case "same-version-other-content":
                return _register(L, dict(v1, content_hash=digest("other")))
            case "new-version-by-register":
                return _register(L, v2)
            case "amend-unapproved":
                return L.submit(OP, "material.amend", amend)
            case "amend-approved":
                return L.submit(OP, "material.amend", amend, approvers=[f"{X1}/approver"])
            case "amend-other-county-approver":
                return L.submit(OP, "material.amend", amend, approvers=["cn.p1.c1.x2/approver"])
            case "amend-date-approved":
                return L.submit(
                    OP, "material.amend", dict(amend, doc_date="2015-01-01"), approvers=[f"{X1}/approver"]
                )
            case "new":
                return _register(L, doc_payload("d2", "ASSESSMENT", ["ann"], "2015-01-02", B1))
        raise AssertionError(kind)

    case.__name__ = f"version_{kind}"
    return case


def _dates(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        ok(L.submit(OP, "archive.create", archive_payload("kid", "2000-06-01"), at="2015-01-02"))
        doc = doc_payload("d", "THOUGHT_REPORT", ["kid"], "2015-01-01", B1)
        match kind:
            case "future":
                doc["doc_date"] = "2015-01-03"
            case "before-birth":
                doc["doc_date"] = "1999-01-01"
            case "application-under-18":
                doc["doc_type"] = "APPLICATION"
            case "before-issuer":
                doc.update(doc_date="1999-12-31", subject_keys=[])
            case "fine":
                pass
        return _register(L, doc)

    case.__name__ = f"dates_{kind}"
    return case


def _stage_dates(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        ok(L.submit(OP, "archive.create", archive_payload("ann", "1990-01-01"), at="2015-02-01"))
        match kind:
            case "application-long-before":
                return apply_for(L, "ann", B1, "p1", "2015-05-01", doc_date="2015-03-01")
            case "application-fine":
                return apply_for(L, "ann", B1, "p1", "2015-05-01", doc_date="2015-04-20")
            case "review-before-s07":
                dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S09", birth=None)
                doc = doc_payload("pr", "POLITICAL_REVIEW", ["ann"], "2015-12-01", "cn.p1.c1.x1")
                return _register(L, doc, at=dates["S09"], user=f"{X1}/operator")
            case "thought-before-s01":
                run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S02", birth=None)
                return _register(L, doc_payload("tr", "THOUGHT_REPORT", ["ann"], "2015-01-20", B1))
        raise AssertionError(kind)

    case.__name__ = f"stage_{kind}"
    return case


def _late(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        if kind == "batch":
            L = Ledger(make_genesis(rule_config={"late_registration_days": 10_000}))
        _people(L, "ann")
        L.block(at="2016-01-10")
        if kind == "late":
            return _register(L, doc_payload("d", "THOUGHT_REPORT", ["ann"], "2015-11-30", B1))
        if kind == "timely":
            return _register(L, doc_payload("d", "THOUGHT_REPORT", ["ann"], "2015-12-31", B1))
        last: Receipt | None = None
        for i in range(11):
            day = f"2015-{(i % 12) + 1:02d}-15"
            last = _register(
                L, doc_payload(f"d{i}", "THOUGHT_REPORT", ["ann"], day, B1), at=L.time_ms + 60_000
            )
        assert last is not None
        return last

    case.__name__ = f"late_{kind}"
    return case


def _signer(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _people(L, "ann", "sec")
        doc = doc_payload("a", "ASSESSMENT", ["ann"], "2015-01-02", B1)
        match kind:
            case "self":
                doc.update(signer_keys=[person("ann")], signer_roles=["SUBJECT"])
            case "secretary-without-post":
                doc.update(signer_keys=[person("sec")], signer_roles=["SECRETARY"])
            case "secretary-in-post":
                post = {
                    "org_id": B1,
                    "person_key": person("sec"),
                    "post": "SECRETARY",
                    "action": "APPOINT",
                    "date": "2014-01-01",
                }
                ok(L.submit(OP, "org.set_post", post))
                doc.update(signer_keys=[person("sec")], signer_roles=["SECRETARY"])
            case "fake-introducer":
                doc.update(doc_type="OTHER", signer_keys=[person("sec")], signer_roles=["INTRODUCER"])
        return _register(L, doc)

    case.__name__ = f"signer_{kind}"
    return case


def _real_introducer(L: Ledger) -> Receipt:
    dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S09", introducers=None)
    doc = doc_payload(
        "intro-op",
        "OTHER",
        ["ann"],
        dates["S09"],
        B1,
        signer_keys=[person("p1-intro-a")],
        signer_roles=["INTRODUCER"],
    )
    return _register(L, doc, at=dates["S09"])


def _required(kind: str) -> Callable[[Ledger], Receipt]:
    def case(L: Ledger) -> Receipt:
        _people(L, "ann")
        if kind == "s01-missing":
            return submit_step(L, B1, "p1", "ann", "S01", "2015-02-01", extra={"received_date": "2015-02-01"})
        if kind == "s01-present":
            return apply_for(L, "ann", B1, "p1", "2015-02-01")
        dates = run_pipeline(L, "bob", B1, "p1", "2015-02-01", until="S14")
        if kind == "s15-present":
            return step(L, B1, "p1", "bob", "S15", dates["S15"])
        L2 = Ledger(
            make_genesis(rule_config={"stage_required_docs": {"S15": ["TRAINING_CERT", "EXTERNAL_INQUIRY"]}})
        )
        dates = run_pipeline(L2, "bob", B1, "p1", "2015-02-01", until="S14")
        return step(L2, B1, "p1", "bob", "S15", dates["S15"])

    case.__name__ = f"required_{kind}"
    return case


CASES = [
    ("MAT-01", _reuse("none"), "PASS"),
    ("MAT-01", _reuse("same-file"), "REJECT"),
    ("MAT-01", _reuse("same-text"), "FLAG:YELLOW"),
    ("MAT-01", _reuse("minutes-exempt"), "PASS"),
    ("MAT-01", _reuse("same-person"), "PASS"),
    ("MAT-02", _version("new"), "PASS"),
    ("MAT-02", _version("same-version-other-content"), "REJECT"),
    ("MAT-02", _version("new-version-by-register"), "REJECT"),
    ("MAT-02", _version("amend-unapproved"), "REJECT"),
    ("MAT-02", _version("amend-other-county-approver"), "REJECT"),
    ("MAT-02", _version("amend-approved"), "FLAG:BLUE"),
    ("MAT-02", _version("amend-date-approved"), "FLAG:BLUE+YELLOW"),
    ("MAT-03", _dates("fine"), "PASS"),
    ("MAT-03", _dates("future"), "REJECT"),
    ("MAT-03", _dates("before-birth"), "REJECT"),
    ("MAT-03", _dates("application-under-18"), "REJECT"),
    ("MAT-03", _dates("before-issuer"), "REJECT"),
    ("MAT-04", _stage_dates("application-fine"), "PASS"),
    ("MAT-04", _stage_dates("application-long-before"), "FLAG:RED"),
    ("MAT-04", _stage_dates("review-before-s07"), "FLAG:RED"),
    ("MAT-04", _stage_dates("thought-before-s01"), "FLAG:RED"),
    ("MAT-05", _late("timely"), "PASS"),
    ("MAT-05", _late("late"), "FLAG:YELLOW"),
    ("MAT-05", _late("batch"), "FLAG:YELLOW"),
    ("MAT-06", _signer("secretary-in-post"), "PASS"),
    ("MAT-06", _real_introducer, "PASS"),
    ("MAT-06", _signer("self"), "REJECT"),
    ("MAT-06", _signer("secretary-without-post"), "FLAG:RED"),
    ("MAT-06", _signer("fake-introducer"), "FLAG:RED"),
    ("MAT-07", _required("s01-present"), "PASS"),
    ("MAT-07", _required("s01-missing"), "REJECT"),
    ("MAT-07", _required("s15-present"), "PASS"),
    ("MAT-07", _required("s15-config-needs-more"), "REJECT"),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "expected"), CASES, ids=[f"{r}-{c.__name__}-{e}" for r, c, e in CASES]
)
def test_mat_rules(rule_id: str, case: Callable[[Ledger], Receipt], expected: str) -> None:
    L = Ledger()
    receipt = case(L)
    assert outcome(receipt, rule_id) == expected, receipt


def test_mat02_versions_never_overwrite() -> None:
    L = Ledger()
    _version("amend-approved")(L)
    v1, v2, head = L.get("doc/d1/v/00000001"), L.get("doc/d1/v/00000002"), L.get("doc/d1")
    assert v1 is not None and v2 is not None and head is not None
    assert v1["content_hash"] != v2["content_hash"]
    assert head["doc_version"] == 2 and v2["prev_version"] == 1 and v2["amend_reason"] == "typo"
