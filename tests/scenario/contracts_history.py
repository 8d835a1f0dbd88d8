"""A deterministic multi-year history across the tree, replayed by the determinism test in
subprocesses under different PYTHONHASHSEED values. `python contracts_history.py` prints, per
block, the SHA-256 of the encoded writes and receipts, the state root and the results root."""

from __future__ import annotations

import hashlib
import json
import sys

from contracts.testing import (
    Ledger,
    apply_for,
    archive_payload,
    digest,
    doc_payload,
    import_member,
    ok,
    person,
    run_pipeline,
)
from wire.statehash import StateHash
from wire.types import results_root

B1, B2, P2B = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2.c1.x1.b1"


def build() -> Ledger:
    L = Ledger()
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
    L.block(at="2017-06-01")  # a quiet year: deadlines fire here
    L.block(at="2020-01-01")
    return L


def roots(L: Ledger) -> list[dict[str, str]]:
    from contracts import genesis_state

    sh = StateHash()
    for k, v in genesis_state(L.genesis):
        sh.add(k, v)
    state: dict[bytes, bytes] = dict(genesis_state(L.genesis))
    out = []
    for outcome in L.outcomes:
        h = hashlib.sha256()
        for k, v in outcome.writes:
            h.update(
                len(k).to_bytes(4, "big")
                + k
                + (b"\x00" if v is None else b"\x01" + len(v).to_bytes(4, "big") + v)
            )
            sh.update(k, state.get(k), v)
            if v is None:
                state.pop(k, None)
            else:
                state[k] = v
        for r in outcome.receipts:
            h.update(r.encode())
        out.append(
            {
                "digest": h.hexdigest(),
                "state_root": sh.root().hex(),
                "results_root": results_root(outcome.receipts).hex(),
            }
        )
    return out


def main() -> None:
    L = build()
    json.dump({"blocks": roots(L), "alerts": [a["alert_id"] for a in L.alerts()]}, sys.stdout)


if __name__ == "__main__":
    main()
