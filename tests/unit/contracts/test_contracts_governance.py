"""Governed rule configuration (config.set, config.rollout, calendar.set) and the alert lifecycle
(alert.ack / alert.resolve / alert.waive)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.state import Overlay, View
from contracts.testing import Ledger, doc_payload, import_member, make_genesis, ok, person
from contracts.workdays import working_days
from wire.types import Receipt

B1, B2, X1, C1 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1.c1.x1", "cn.p1.c1"
CENTRAL = "cn/admin"


def _reason(r: Receipt) -> tuple[str, str]:
    return r.status, r.reason_code


def _late_doc(L: Ledger, doc_id: str, days_late: int, at: str = "2015-03-01") -> Receipt:
    """A thought report of `ann` registered `days_late` days after its date (MAT-05)."""
    from contracts.calendar import add_days, parse_date

    day = add_days(parse_date(at), -days_late).isoformat()
    return L.submit(
        f"{B1}/operator", "material.register", doc_payload(doc_id, "THOUGHT_REPORT", ["ann"], day, B1), at=at
    )


def _ledger(**cfg: Any) -> Ledger:
    L = Ledger(make_genesis(rule_config=cfg or None))
    from contracts.testing import archive_payload

    ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("ann", "1980-01-01")))
    return L


def _set(key: str, value: Any, org_id: str | None = None) -> dict[str, Any]:
    return {"key": key, "value": value, "org_id": org_id, "reason": "policy"}


# ---------------------------------------------------------------------------------- config.set
@pytest.mark.parametrize(
    ("user", "payload", "code"),
    [
        (f"{B1}/admin", _set("late_registration_days", 10), "central_admin_required"),
        (f"{B1}/operator", _set("late_registration_days", 10), "missing_role"),
        (f"{X1}/admin", _set("late_registration_days", 10, X1), "central_admin_required"),
        (f"{X1}/admin", _set("party_lesson_period", "MONTH", B1), "central_admin_required"),
        (CENTRAL, _set("no_such_key", 1), "unknown_config_key"),
        (CENTRAL, _set("version", 7), "unknown_config_key"),
        (CENTRAL, _set("late_registration_days", "10"), "wrong_type"),
        (CENTRAL, _set("late_registration_days", True), "wrong_type"),
        (CENTRAL, _set("late_registration_days", -1), "out_of_range"),
        (CENTRAL, _set("absence_streak_n", 0), "out_of_range"),
        (CENTRAL, _set("stale_tx_ms", 1000), "out_of_range"),
        (CENTRAL, _set("party_lesson_period", "FORTNIGHT"), "bad_value"),
        (CENTRAL, _set("rule_modes", {"NOPE-01": "OFF"}), "bad_value"),
        (CENTRAL, _set("rule_modes", {"MAT-05": "MAYBE"}), "bad_value"),
        (CENTRAL, _set("rule_modes", {}, X1), "global_only"),
        (CENTRAL, _set("late_registration_days", 30), "no_change"),
        (CENTRAL, _set("late_registration_days", 10, "cn.zz"), "unknown_org"),
    ],
)
def test_config_set_refusals(user: str, payload: dict[str, Any], code: str) -> None:
    L = _ledger()
    assert _reason(L.submit(user, "config.set", payload)) == ("REJECTED", code)
    assert L.get("cfg/g/version")["value"] == 1  # type: ignore[index]


def test_config_set_versions_and_alerts_carry_the_version_in_force() -> None:
    L = _ledger()
    before = ok(_late_doc(L, "d1", 20))
    assert before.alerts == ()  # 20 days: within the default 30
    ok(L.submit(CENTRAL, "config.set", _set("late_registration_days", 10)))
    assert L.get("cfg/g/version")["value"] == 2  # type: ignore[index]
    hist = L.get("cfg/h/00000002")
    assert hist is not None and hist["kind"] == "set" and hist["user_id"] == CENTRAL
    assert hist["changes"] == [{"key": "late_registration_days", "org_id": None, "old": 30, "new": 10}]
    after = ok(_late_doc(L, "d2", 20))
    assert [(a.rule_id, a.colour) for a in after.alerts] == [("MAT-05", "YELLOW")]
    assert L.get(f"alert/{after.alerts[0].alert_id}")["rule_set_version"] == 2  # type: ignore[index]


def test_delegated_key_set_by_the_org_itself_for_its_subtree() -> None:
    L = _ledger()
    ok(L.submit(f"{X1}/admin", "config.set", _set("party_lesson_period", "MONTH", X1)))
    rec = L.get(f"cfg/o/{X1}/party_lesson_period")
    assert rec is not None and rec["value"] == "MONTH" and rec["version"] == 2
    # the central admin may set any key for any org, and change the delegation itself
    ok(L.submit(CENTRAL, "config.set", _set("late_registration_days", 100, B1)))
    assert ok(_late_doc(L, "d1", 60)).alerts == ()
    ok(L.submit(CENTRAL, "config.set", _set("config_delegated_keys", [])))
    r = L.submit(f"{X1}/admin", "config.set", _set("party_lesson_period", "YEAR", X1))
    assert _reason(r) == ("REJECTED", "central_admin_required")


# ------------------------------------------------------------------------------------ rollouts
def test_rollout_shadows_for_n_blocks_then_binds() -> None:
    L = _ledger(rollout_shadow_blocks=2)
    r = ok(
        L.submit(
            CENTRAL,
            "config.rollout",
            {"changes": [_change("late_registration_days", 10)], "reason": "tighten"},
        )
    )
    start = L.height
    rollout = L.get("cfg/rollout")
    assert rollout is not None and rollout["bind_height"] == start + 3 and r.alerts == ()
    shadowed = ok(_late_doc(L, "d1", 20))  # block start+1: in force 30, candidate 10
    assert shadowed.alerts == ()
    assert [(s.rule_id, s.colour, s.disposition, s.reason_code) for s in shadowed.shadow] == [
        ("MAT-05", "YELLOW", "FLAG", "late_registration")
    ]
    assert ok(_late_doc(L, "d2", 20)).shadow != ()  # block start+2: still shadow
    assert L.get("cfg/g/version")["value"] == 1  # type: ignore[index]
    bound = ok(_late_doc(L, "d3", 20))  # block start+3: bound at its start
    assert L.height == start + 3 and bound.shadow == ()
    assert [(a.rule_id, a.colour) for a in bound.alerts] == [("MAT-05", "YELLOW")]
    assert L.get(f"alert/{bound.alerts[0].alert_id}")["rule_set_version"] == 2  # type: ignore[index]
    assert L.get("cfg/rollout") is None
    done = L.scan("cfg/rollouts/")
    assert [v["state"] for _, v in done] == ["BOUND"] and done[0][1]["bound_height"] == start + 3
    assert L.get("cfg/h/00000002")["kind"] == "rollout"  # type: ignore[index]


def _change(key: str, value: Any, org_id: str | None = None) -> dict[str, Any]:
    return {"key": key, "value": value, "org_id": org_id}


def test_rollout_shows_dropped_verdicts_and_rejections_it_would_lift() -> None:
    L = _ledger(rollout_shadow_blocks=5)
    ok(
        L.submit(
            CENTRAL,
            "config.rollout",
            {"changes": [_change("rule_modes", {"MAT-05": "OFF", "MAT-03": "OFF"})], "reason": "x"},
        )
    )
    r = ok(_late_doc(L, "d1", 40))
    assert [(a.rule_id, a.colour) for a in r.alerts] == [("MAT-05", "YELLOW")]
    assert [(s.rule_id, s.disposition) for s in r.shadow] == [("MAT-05", "DROP_FLAG")]
    future = doc_payload("d2", "THOUGHT_REPORT", ["ann"], "2030-01-01", B1)
    rej = L.submit(f"{B1}/operator", "material.register", future)
    assert (rej.status, rej.rule_id) == ("REJECTED", "MAT-03")
    assert [(s.rule_id, s.disposition) for s in rej.shadow] == [("MAT-03", "DROP_REJECT")]


def test_rollout_refusals_and_cancel() -> None:
    L = _ledger(rollout_shadow_blocks=5)
    body = {"changes": [_change("late_registration_days", 10)], "reason": "x"}
    assert _reason(L.submit(f"{X1}/admin", "config.rollout", body)) == ("REJECTED", "central_admin_required")
    assert _reason(L.submit(CENTRAL, "config.rollout", dict(body, shadow_blocks=4))) == (
        "REJECTED",
        "out_of_range",
    )
    twice = {"changes": [_change("late_registration_days", 10)] * 2, "reason": "x"}
    assert _reason(L.submit(CENTRAL, "config.rollout", twice)) == ("REJECTED", "duplicate_item")
    bad = {"changes": [_change("late_registration_days", "x")], "reason": "x"}
    assert _reason(L.submit(CENTRAL, "config.rollout", bad)) == ("REJECTED", "wrong_type")
    assert _reason(L.submit(CENTRAL, "config.cancel_rollout", {"reason": "x"})) == ("REJECTED", "no_rollout")
    ok(L.submit(CENTRAL, "config.rollout", body))
    assert _reason(L.submit(CENTRAL, "config.rollout", body)) == ("REJECTED", "rollout_pending")
    ok(L.submit(CENTRAL, "config.cancel_rollout", {"reason": "second thoughts"}))
    for _ in range(8):
        L.block()
    assert L.get("cfg/rollout") is None and L.get("cfg/g/version")["value"] == 1  # type: ignore[index]
    assert [v["state"] for _, v in L.scan("cfg/rollouts/")] == ["CANCELLED"]


# ------------------------------------------------------------------------------------ calendar
def test_calendar_is_central_versioned_and_counts_working_days() -> None:
    L = _ledger()
    cal = {
        "year": 2024,
        "holidays": ["2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04", "2024-10-07"],
        "workdays": ["2024-09-29", "2024-10-12"],
        "reason": "国务院办公厅 2024 放假安排",
    }
    assert _reason(L.submit(f"{X1}/admin", "calendar.set", cal)) == ("REJECTED", "central_admin_required")
    wrong = dict(cal, holidays=["2025-01-01"])
    assert _reason(L.submit(CENTRAL, "calendar.set", wrong)) == ("REJECTED", "bad_value")
    both = dict(cal, workdays=["2024-10-01"])
    assert _reason(L.submit(CENTRAL, "calendar.set", both)) == ("REJECTED", "bad_value")
    ok(L.submit(CENTRAL, "calendar.set", cal))
    view = View(Overlay(L.state))
    # Sun 09-29 (make-up) .. Sat 10-12 (make-up): 29, 30, 08, 09, 10, 11, 12 -> 7
    assert working_days(view, date(2024, 9, 29), date(2024, 10, 12)) == (7, ["2024:v1"])
    assert working_days(view, date(2024, 12, 30), date(2025, 1, 3)) == (5, ["2024:v1", "2025:none"])
    ok(L.submit(CENTRAL, "calendar.set", dict(cal, holidays=[], workdays=[])))
    assert working_days(View(Overlay(L.state)), date(2024, 10, 1), date(2024, 10, 7)) == (5, ["2024:v2"])
    assert L.get("cal/2024/v/00000001") is not None and L.get("cfg/g/version")["value"] == 3  # type: ignore[index]


# ----------------------------------------------------------------------------- alert lifecycle
def _yellow(L: Ledger) -> str:
    return ok(_late_doc(L, "late", 40)).alerts[0].alert_id


def _red(L: Ledger) -> str:
    # ARC-02: an imported member who joined before turning 18 (RED FLAG)
    r = import_member(L, "kid", B1, birth="1990-01-01", join="2005-01-01", full="2006-01-01")
    (alert,) = [a for a in r.alerts if a.colour == "RED"]
    return alert.alert_id


def test_ack_then_resolve_keeps_every_step_in_the_history() -> None:
    L = _ledger()
    aid = _yellow(L)
    ok(L.submit(f"{B1}/operator", "alert.ack", {"alert_id": aid, "note": "looking"}))
    assert _reason(L.submit(f"{B1}/operator", "alert.ack", {"alert_id": aid})) == ("REJECTED", "bad_status")
    evidence = "ab" * 32
    tx = L.tx(
        f"{B1}/operator",
        "alert.resolve",
        {"alert_id": aid, "reason": "late scan, original seen", "evidence_hash": evidence},
    )
    ok(L.block(tx).receipts[0])
    rec = L.get(f"alert/{aid}")
    assert rec is not None and rec["status"] == "RESOLVED"
    assert [(h["action"], h["from"], h["to"], h["org_id"]) for h in rec["history"]] == [
        ("ACK", "OPEN", "ACKED", B1),
        ("RESOLVE", "ACKED", "RESOLVED", B1),
    ]
    step = rec["history"][1]
    assert step["evidence_hash"] == evidence and step["tx_id"] == tx.tx_id.hex()
    assert step["signature"] == tx.signature.hex() and step["user_id"] == f"{B1}/operator"
    assert rec["resolver_sig"] == {
        "pubkey": tx.body.signer.hex(),
        "signature": tx.signature.hex(),
        "tx_id": tx.tx_id.hex(),
    }
    waive = {"alert_id": aid, "reason": "x"}
    assert _reason(L.submit(f"{X1}/approver", "alert.waive", waive)) == ("REJECTED", "bad_status")


@pytest.mark.parametrize(
    ("user", "action", "code"),
    [
        (f"{B1}/operator", "resolve", "higher_org_required"),
        (f"{B1}/admin", "waive", "higher_org_required"),
        (f"{B2}/admin", "resolve", "not_in_subtree"),
        ("cn.p1.c1.x2/approver", "resolve", "not_in_subtree"),
        (f"{X1}/operator", "waive", "missing_role"),
        (f"{X1}/operator", "resolve", ""),
        (f"{X1}/approver", "waive", ""),
        (f"{C1}/admin", "resolve", ""),
        (f"{B1}/operator", "ack", ""),
    ],
)
def test_red_alert_is_closed_only_from_above(user: str, action: str, code: str) -> None:
    L = _ledger()
    aid = _red(L)
    payload: dict[str, Any] = {"alert_id": aid}
    if action != "ack":
        payload.update(reason="checked the archive", evidence_hash="cd" * 32)
    r = L.submit(user, f"alert.{action}", payload)
    if code:
        assert _reason(r) == ("REJECTED", code)
        assert L.get(f"alert/{aid}")["status"] == "OPEN"  # type: ignore[index]
    else:
        ok(r)
        rec = L.get(f"alert/{aid}")
        assert rec is not None and rec["history"][-1]["org_id"] == user.rsplit("/", 1)[0]


def test_lifecycle_refusals() -> None:
    L = _ledger()
    aid = _yellow(L)
    unknown = {"alert_id": "0" * 32}
    assert _reason(L.submit(f"{B1}/operator", "alert.ack", unknown)) == ("REJECTED", "unknown_alert")
    doc = {"alert_id": aid, "reason": "x", "evidence_hash": "ab" * 32, "evidence_doc": "nope"}
    assert _reason(L.submit(f"{B1}/operator", "alert.resolve", doc)) == ("REJECTED", "unknown_doc")
    ok(L.submit(f"{B1}/admin", "alert.waive", {"alert_id": aid, "reason": "duplicate of another"}))
    assert L.get(f"alert/{aid}")["status"] == "WAIVED"  # type: ignore[index]
    assert person("ann") in L.get(f"alert/{aid}")["subject_keys"]  # type: ignore[index]
