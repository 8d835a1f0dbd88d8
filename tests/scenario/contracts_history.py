"""A deterministic multi-year history across the tree, replayed by the determinism test in
subprocesses under different PYTHONHASHSEED values. `python contracts_history.py` prints, per
block, the SHA-256 of the encoded writes and receipts, the state root and the results root."""

from __future__ import annotations

import hashlib
import json
import sys

from auditor.replay import MemoryMap
from contracts.testing import (
    Ledger,
    apply_for,
    archive_payload,
    digest,
    doc_payload,
    import_member,
    make_genesis,
    ok,
    person,
)
from contracts.testing_procedure import run_pipeline
from wire.types import results_root

B1, B2, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2.c1.x1.b1"


def build() -> Ledger:
    L = Ledger(make_genesis(rule_config={"rollout_shadow_blocks": 3}))
    for i in range(3):
        import_member(L, f"member-{i}", B1, dues_paid_through="2015-01", name_key=digest(f"nk{i % 2}"))
    run_pipeline(L, "ann", B1, "p-ann", "2015-03-01")
    run_pipeline(L, "bob", B2, "p-bob", "2015-04-01", until="S09")
    apply_for(L, "bob", P2B, "p-bob-2", "2016-01-01")  # DUP-02
    apply_for(L, "cy", B1, "p-cy", "2016-02-01")  # no archive: refused
    ok(L.submit(f"{B1}/operator", "archive.create", archive_payload("cy", "1999-01-01"), at="2016-02-02"))
    talk = doc_payload(
        "talk", "TALK_RECORD", ["cy"], "2016-01-01", B1, text_hash=digest("text:p-ann/APPLICATION")
    )
    L.submit(f"{B1}/operator", "material.register", talk, at="2016-03-01")
    out = {
        "transfer_id": "T-1",
        "person_key": person("member-0"),
        "member_status": "FULL",
        "from_org_id": B1,
        "to_org_id": P2B,
        "issue_date": "2016-03-01",
        "valid_until": "2016-08-01",
        "reason": "JOB_CHANGE",
    }
    L.submit(f"{B1}/operator", "transfer.out", out, at="2016-03-01")
    L.submit(
        f"{B1}/operator",
        "archive.event",
        {"person_key": person("member-1"), "event": "LOST_CONTACT", "date": "2016-03-02"},
    )
    _issue6(L)
    L.block(at="2017-06-01")  # a quiet year: deadlines fire here
    L.block(at="2020-01-01")
    return L


def _issue6(L: Ledger) -> None:
    """Organisational life, decisions, governance and the alert lifecycle (issue 6)."""
    from contracts.testing import ms
    from contracts.testing_procedure import decision_payload, meeting_payload

    ok(
        L.submit(
            "cn/admin", "calendar.set", {"year": 2016, "holidays": ["2016-05-02"], "reason": "2016 放假安排"}
        )
    )
    ok(
        L.submit(
            "cn/admin", "config.set", {"key": "late_registration_days", "value": 20, "reason": "tighter"}
        )
    )
    members = [person(f"member-{i}") for i in range(3)]
    for month in (3, 4, 5):
        att = [{"person_key": k, "status": "ABSENT" if k == members[2] else "PRESENT"} for k in members]
        text = digest("copied minutes") if month == 5 else digest(f"minutes {month}")
        m = meeting_payload(f"td-2016-{month}", "THEME_DAY", ms(f"2016-0{month}-05", hour=8), attendance=att)
        m["minutes_text_hash"] = text if month != 3 else digest("copied minutes")
        L.submit(f"{B1}/operator", "meeting.record", m, at=f"2016-0{month}-05")
    for i, day in enumerate(("2016-06-01", "2016-06-10", "2016-06-20")):
        pay = decision_payload(
            f"pay-{i}", day, decision_mode="INDIVIDUAL", amount_fen=9_000_000, counterparty_key="acme"
        )
        L.submit("cn.p1.c1.x1/operator", "decision.record", pay, at=day)
    em = decision_payload("em-1", "2016-06-15", decision_mode="EMERGENCY_INDIVIDUAL", category="LARGE_FUNDS")
    em["execution"] = [{"exec_id": "e1", "exec_date": "2016-06-15", "amount_fen": 1}]
    L.submit("cn.p1.c1.x1/operator", "decision.record", em, at="2016-06-15")
    rollout = {
        "changes": [{"key": "late_registration_days", "value": 60, "org_id": None}],
        "reason": "looser",
    }
    ok(L.submit("cn/admin", "config.rollout", rollout, at="2016-06-20"))
    late = doc_payload("late-report", "THOUGHT_REPORT", ["cy"], "2016-05-26", B1)
    L.submit(f"{B1}/operator", "material.register", late, at="2016-06-20")  # shadow: DROP_FLAG
    red = [a for a in L.alerts() if a["colour"] == "RED" and a["status"] == "OPEN"]
    for a in red[:2]:
        L.submit(
            "cn.p1/admin",
            "alert.resolve",
            {"alert_id": a["alert_id"], "reason": "checked", "evidence_hash": digest(a["alert_id"])},
        )
    yellow = [a for a in L.alerts() if a["colour"] == "YELLOW"]
    if yellow:
        L.submit(
            f"{yellow[0]['org_id']}/operator",
            "alert.ack",
            {"alert_id": yellow[0]["alert_id"], "note": "seen"},
        )


def roots(L: Ledger) -> list[dict[str, str]]:
    from contracts import genesis_state

    state_map = MemoryMap(genesis_state(L.genesis))
    out = []
    for height, outcome in enumerate(L.outcomes, start=1):
        h = hashlib.sha256()
        for k, v in outcome.writes:
            h.update(
                len(k).to_bytes(4, "big")
                + k
                + (b"\x00" if v is None else b"\x01" + len(v).to_bytes(4, "big") + v)
            )
        state_root = state_map.apply(height, outcome.writes)
        for r in outcome.receipts:
            h.update(r.encode())
        out.append(
            {
                "digest": h.hexdigest(),
                "state_root": state_root.hex(),
                "results_root": results_root(outcome.receipts).hex(),
            }
        )
    return out


def main() -> None:
    L = build()
    json.dump({"blocks": roots(L), "alerts": [a["alert_id"] for a in L.alerts()]}, sys.stdout)


if __name__ == "__main__":
    main()
