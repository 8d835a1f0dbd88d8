"""Multi-year histories across the organisation tree, asserting the exact receipts and alerts."""

from __future__ import annotations

from typing import Any

from contracts.testing import (
    Ledger,
    apply_for,
    archive_payload,
    digest,
    doc_payload,
    import_member,
    ms,
    ok,
    person,
    submit_step,
)
from contracts.testing_procedure import run_pipeline, step

B1, B2, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2.c1.x1.b1"
X1 = "cn.p1.c1.x1"


# Organisational life (MTG-05/06) is judged from a branch's first recorded meeting: the admission
# meetings of a pipeline alone do not keep a branch's meeting series, so these histories also
# raise those alerts. The tests here are about other rules; tests/unit/contracts/test_contracts_mtg*
# and test_branch_year_of_meetings are about those.
ORG_LIFE = ("MTG-05", "MTG-06")


def _alerts(L: Ledger) -> list[tuple[str, str, str]]:
    return [(a["rule_id"], a["colour"], a["reason_code"]) for a in L.alerts() if a["rule_id"] not in ORG_LIFE]


def test_joining_in_one_province_then_applying_in_another() -> None:
    L = Ledger()
    dates = run_pipeline(L, "ann", B1, "p-ann", "2016-01-05", until="S07")
    pipeline_before = L.scan("pipeline/p-ann")
    archive_before = L.get("archive/" + person("ann"))

    # 2017-06: the same person (same ID number -> same person key) applies in province 2.
    dup_archive = L.submit(
        f"{P2B}/operator", "archive.create", archive_payload("ann", "1990-01-01"), at="2017-06-01"
    )
    assert (dup_archive.status, dup_archive.rule_id, dup_archive.reason_code) == (
        "REJECTED",
        "DUP-02",
        "parallel_pipeline",
    )
    second = apply_for(L, "ann", P2B, "p-ann-2", "2017-06-02")
    assert (second.status, second.rule_id, second.reason_code) == ("REJECTED", "DUP-02", "parallel_pipeline")
    assert "p-ann" in second.reason and B1 in second.reason

    assert L.scan("pipeline/p-ann") == pipeline_before  # the first pipeline is untouched
    assert L.get("archive/" + person("ann")) == archive_before
    assert L.get("pipeline/p-ann-2") is None
    # Refusals are receipts, not alerts; the second application document itself was registered
    # (a fact) and contradicts the stage of the person's open pipeline: MAT-04. Meanwhile the
    # first branch never filed the development target upward (S08): JOIN-07's deadline.
    assert _alerts(L) == [("JOIN-07", "BLUE", "not_filed"), ("MAT-04", "RED", "inconsistent_date")]

    # The first pipeline goes on to full membership...
    L2 = Ledger()
    run_pipeline(L2, "ann", B1, "p-ann", "2016-01-05")
    assert L2.get("archive/" + person("ann"))["status"] == "FULL"  # type: ignore[index]
    # ...and an application in province 2 two years later is duplicate joining: DUP-01.
    again = apply_for(L2, "ann", P2B, "p-ann-3", "2019-09-01")
    assert (again.status, again.rule_id, again.reason_code) == ("REJECTED", "DUP-01", "already_member")
    assert L2.get("pipeline/p-ann-3") is None
    assert dates["S07"] == "2017-03-05"


def test_same_scanned_application_registered_for_two_people() -> None:
    L = Ledger()
    for name in ("ann", "bob"):
        ok(L.submit(f"{B1}/operator", "archive.create", archive_payload(name, "1990-01-01"), at="2016-03-01"))
    scan = digest("the scanned file")
    ok(
        L.submit(
            f"{B1}/operator",
            "material.register",
            doc_payload("app-ann", "APPLICATION", ["ann"], "2016-03-01", B1, content_hash=scan),
        )
    )
    r = L.submit(
        f"{B2}/operator",
        "material.register",
        doc_payload("app-bob", "APPLICATION", ["bob"], "2016-03-01", B2, content_hash=scan),
    )
    assert (r.status, r.rule_id, r.reason_code) == ("REJECTED", "MAT-01", "document_reused")
    assert L.get("doc/app-bob") is None
    assert _alerts(L) == []


def test_minutes_text_copied_into_another_persons_talk_record() -> None:
    L = Ledger()
    import_member(L, "sec", B1)
    ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("ann", "1995-01-01"), at="2016-04-01"))
    minutes_text = digest("minutes text of the April general meeting")
    meeting = {
        "meeting_id": "b1-2016-04",
        "meeting_type": "BRANCH_GENERAL",
        "start": ms("2016-04-08", hour=14),
        "end": ms("2016-04-08", hour=16),
        "location_code": "HALL",
        "minutes_content_hash": digest("minutes file"),
        "minutes_text_hash": minutes_text,
        "attendance": [{"person_key": person("sec"), "status": "PRESENT"}],
    }
    ok(L.submit(f"{B1}/operator", "meeting.record", meeting, at="2016-04-09"))
    talk = doc_payload("talk-ann", "TALK_RECORD", ["ann"], "2016-05-01", B1, text_hash=minutes_text)
    r = ok(L.submit(f"{B1}/operator", "material.register", talk, at="2016-05-02"))
    assert [(a.rule_id, a.colour) for a in r.alerts] == [("MAT-01", "YELLOW")]
    alert = L.get(f"alert/{r.alerts[0].alert_id}")
    assert alert is not None
    assert alert["reason_code"] == "text_copied"
    assert alert["subject_keys"] == [person("ann")]
    assert f"hash/t/{minutes_text}/meeting:b1-2016-04" in alert["record_refs"]
    assert {k: alert[k] for k in ("org_id", "status", "resolver_sig", "rule_set_version")} == {
        "org_id": B1,
        "status": "OPEN",
        "resolver_sig": None,
        "rule_set_version": 1,
    }
    # the branch holds its general meeting with one full member on the ledger: MTG-09's reminder
    assert _alerts(L) == [("MTG-09", "BLUE", "branch_too_small"), ("MAT-01", "YELLOW", "text_copied")]


def test_transfer_in_without_transfer_out() -> None:
    L = Ledger()
    import_member(L, "m", P2B)
    r = L.submit(
        f"{B1}/operator",
        "transfer.in",
        {
            "transfer_id": "FAKE-1",
            "person_key": person("m"),
            "to_org_id": B1,
            "report_date": "2016-05-01",
            "accepted": True,
        },
        at="2016-05-01",
    )
    assert (r.status, r.rule_id, r.reason_code) == ("REJECTED", "XFER-01", "no_transfer_out")
    rec = L.get("archive/" + person("m"))
    assert rec is not None and rec["current_org_id"] == P2B
    assert _alerts(L) == []


def _out(tid: str, frm: str, to: str, issue: str, valid: str, dues: str) -> dict[str, Any]:
    return {
        "transfer_id": tid,
        "person_key": person("m"),
        "member_status": "FULL",
        "from_org_id": frm,
        "to_org_id": to,
        "issue_date": issue,
        "valid_until": valid,
        "reason": "JOB_CHANGE",
        "dues_paid_through": dues,
    }


def test_member_active_in_two_branches() -> None:
    L = Ledger()
    import_member(L, "m", B1, dues_paid_through="2016-12")
    import_member(L, "n", B1, dues_paid_through="2016-12")
    ok(
        L.submit(
            f"{B1}/operator",
            "archive.dues",
            {"person_key": person("m"), "paid_through": "2017-02"},
            at="2017-03-01",
        )
    )
    ok(
        L.submit(
            f"{B1}/operator", "transfer.out", _out("L-2017-1", B1, P2B, "2017-03-01", "2017-06-01", "2017-02")
        )
    )
    ok(
        L.submit(
            f"{P2B}/operator",
            "transfer.in",
            {
                "transfer_id": "L-2017-1",
                "person_key": person("m"),
                "to_org_id": P2B,
                "report_date": "2017-03-20",
                "receipt_date": "2017-03-25",
                "accepted": True,
            },
            at="2017-03-20",
        )
    )

    # 2018: the old branch still records the member at its general meeting...
    meeting = {
        "meeting_id": "b1-2018-01",
        "meeting_type": "BRANCH_GENERAL",
        "start": ms("2018-01-10", hour=14),
        "end": ms("2018-01-10", hour=16),
        "location_code": "HALL",
        "minutes_content_hash": digest("b1-2018-01"),
        "attendance": [
            {"person_key": person("n"), "status": "PRESENT"},
            {"person_key": person("m"), "status": "PRESENT"},
        ],
    }
    r = L.submit(f"{B1}/operator", "meeting.record", meeting, at="2018-01-11")
    assert (r.status, r.rule_id, r.reason_code) == ("REJECTED", "XFER-04", "left_branch_acts")
    # ...issues another letter for them...
    r = L.submit(
        f"{B1}/operator", "transfer.out", _out("L-2018-1", B1, B2, "2018-01-12", "2018-02-12", "2017-12")
    )
    assert (r.status, r.rule_id) == ("REJECTED", "XFER-04")
    # ...and a third branch opens a second archive for them.
    r = L.submit(f"{B2}/operator", "archive.create", archive_payload("m", "1970-01-01"))
    assert (r.status, r.rule_id, r.reason_code) == ("REJECTED", "XFER-04", "member_elsewhere")
    # The same meeting with the member as a guest (dual organisational life) is fine.
    meeting["attendance"][1]["status"] = "OBSERVER"
    ok(L.submit(f"{B1}/operator", "meeting.record", meeting, at="2018-01-12"))
    # Nobody paid dues after the quiet year: ARC-04 fired for both at the start of the first block
    # after it (n paid through 2016-12, m through 2017-02; both now more than 6 months behind).
    dues = [a for a in L.alerts() if a["rule_id"] == "ARC-04"]
    got = sorted((a["rule_id"], a["colour"], a["subject_keys"][0], a["raised_height"]) for a in dues)
    first_2018 = dues[0]["raised_height"]
    # and the old branch, one full member left on the ledger, should be in a joint branch
    assert [(a["rule_id"], a["colour"]) for a in L.alerts() if a["rule_id"] != "ARC-04"] == [
        ("MTG-09", "BLUE")
    ]
    assert got == sorted(
        (rule, colour, person(who), first_2018)
        for rule, colour, who in [
            ("ARC-04", "YELLOW", "n"),
            ("ARC-04", "RED", "n"),
            ("ARC-04", "YELLOW", "m"),
            ("ARC-04", "RED", "m"),
        ]
    )


def test_expelled_member_reapplies_after_two_and_after_six_years() -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p-ann", "2015-02-01")
    ev = {"person_key": person("ann"), "event": "EXPEL", "date": "2018-01-15", "reason": "discipline"}
    ok(L.submit(f"{B1}/operator", "archive.event", ev, approvers=[f"{X1}/approver"], at="2018-01-15"))
    rec = L.get("archive/" + person("ann"))
    assert (
        rec is not None and rec["status"] == "EXPELLED" and rec["memberships"][-1]["left_on"] == "2018-01-15"
    )

    two = apply_for(L, "ann", B2, "p-ann-2020", "2020-01-15")
    assert (two.status, two.rule_id, two.reason_code) == ("REJECTED", "DUP-03", "expelled_within_bar")
    assert L.get("pipeline/p-ann-2020") is None

    six = apply_for(L, "ann", P2B, "p-ann-2024", "2024-01-15")
    assert six.accepted and [(a.rule_id, a.colour) for a in six.alerts] == [("DUP-03", "YELLOW")]
    alert = L.get(f"alert/{six.alerts[0].alert_id}")
    assert alert is not None and alert["details"] == {"expelled_date": "2018-01-15", "bar_ends": "2023-01-15"}
    assert alert["source"] == {"tx_id": six.tx_id.hex()} and alert["raised_at"] == L.time_ms
    rec = L.get("archive/" + person("ann"))
    assert rec is not None and rec["status"] == "APPLICANT" and rec["org_id"] == P2B
    assert _alerts(L) == [("DUP-03", "YELLOW", "expelled_reapplies")]
    # the history of the archive is kept, version by version
    versions = L.scan("archive/" + person("ann") + "/v/")
    assert [v["status"] for _, v in versions][-3:] == ["FULL", "EXPELLED", "APPLICANT"]


def test_pipeline_handover_continues_and_counts_as_one_attempt() -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", "2016-01-05", until="S06")
    handover = {
        "pipeline_id": "p1",
        "person_key": person("ann"),
        "from_org_id": B1,
        "to_org_id": P2B,
        "handover_date": "2016-10-01",
        "new_pipeline_id": "p1-p2",
    }
    ok(L.submit(f"{B1}/operator", "join.pipeline_transfer", handover, at="2016-10-01"))
    assert L.get("pipeline/p1")["status"] == "TRANSFERRED"  # type: ignore[index]
    # the new unit continues: S07 counts S03 from the old unit (JOIN-24 across the transfer)
    r = step(L, P2B, "p1-p2", "ann", "S07", "2017-03-05")
    assert r.accepted and r.alerts == ()  # S04/S06 were recorded by the old unit; S08 is not due yet
    assert L.get("archive/" + person("ann"))["status"] == "DEV_TARGET"  # type: ignore[index]
    # the old unit can no longer write the pipeline
    r = submit_step(L, B1, "p1", "ann", "S07", "2017-03-06")
    assert (r.status, r.reason_code) == ("REJECTED", "pipeline_closed")
