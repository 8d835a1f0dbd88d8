"""Data protection in the contracts: sealed envelopes stored and never judged, blob references,
`privacy.reseal` authority, and `access.anchor` signed by node keys only, in order, chained."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import TX_TYPES, genesis_state
from contracts.testing import Ledger, archive_payload, digest, doc_payload, key, ok, person
from wire.types import Receipt

B1, B2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2"
OP = f"{B1}/operator"
NODE = key("node/v0")
ZERO = "0" * 64


def envelope(
    tag: str, orgs: tuple[str, ...] = (B1, "cn.p1.c1.x1", "cn.p1.c1", "cn.p1", "cn")
) -> dict[str, Any]:
    return {
        "v": 1,
        "nonce": digest("n" + tag)[:48],
        "ct": digest("ct" + tag) * 3,
        "keys": [{"org_id": o, "key_version": 1, "sealed": (digest(o + tag) * 3)[:160]} for o in orgs],
    }


def rejected(r: Receipt) -> str:
    assert r.status == "REJECTED", r
    return r.reason_code


def anchor(segment: int, first: int, last: int, prev: str, head: str, **kw: Any) -> dict[str, Any]:
    return {
        "node_id": "v0",
        "segment": segment,
        "first_seq": first,
        "last_seq": last,
        "prev_head": prev,
        "head_hash": head,
        "file_hash": digest(f"file{segment}"),
        "closed_at_ms": 1,
        **kw,
    }


# --------------------------------------------------------------------------------- envelopes
def test_sealed_fields_are_stored_with_the_record_and_kept_by_amendments() -> None:
    L = Ledger()
    ok(L.submit(OP, "archive.create", archive_payload("ann", "1990-01-01", sealed=envelope("a"))))
    rec = L.get("archive/" + person("ann"))
    assert rec is not None and rec["sealed"] == envelope("a")
    amend = {
        "person_key": person("ann"),
        "prev_version": 1,
        "amend_reason": "gender",
        "birth_date": "1990-01-01",
    }
    ok(L.submit(OP, "archive.amend", {**amend, "gender": "FEMALE"}))
    rec = L.get("archive/" + person("ann"))
    assert rec is not None and rec["sealed"] == envelope("a")  # absent: kept
    ok(
        L.submit(
            OP, "archive.amend", {**amend, "prev_version": 2, "gender": "FEMALE", "sealed": envelope("b")}
        )
    )
    rec = L.get("archive/" + person("ann"))
    assert rec is not None and rec["sealed"] == envelope("b") and rec["version"] == 3
    v2 = L.get(f"archive/{person('ann')}/v/00000002")
    assert v2 is not None and v2["sealed"] == envelope("a")  # history keeps the old envelope
    # a changed envelope alone is an amendment; the same one again is none
    same = {**amend, "prev_version": 3, "gender": "FEMALE", "sealed": envelope("b")}
    assert rejected(L.submit(OP, "archive.amend", same)) == "no_change"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"v": 2}, "out_of_range"),
        ({"nonce": "zz" * 24}, "bad_format"),
        ({"ct": "abc"}, "too_short"),
        ({"ct": "a" * 33}, "bad_format"),
        ({"keys": []}, "too_short"),
        ({"keys": [{"org_id": B1, "key_version": 1, "sealed": "00"}]}, "bad_format"),
        ({"extra": 1}, "unknown_field"),
    ],
)
def test_malformed_envelopes_are_refused_by_the_schema(change: dict[str, Any], code: str) -> None:
    L = Ledger()
    bad = {**envelope("a"), **change}
    assert rejected(L.submit(OP, "archive.create", archive_payload("ann", "1990-01-01", sealed=bad))) == code


def test_materials_meetings_and_decisions_carry_envelopes_and_blobs() -> None:
    L = Ledger()
    ok(L.submit(OP, "archive.create", archive_payload("ann", "1990-01-01")))
    blob = {"hash": digest("blob"), "size": 1234}
    doc = doc_payload("d-1", "APPLICATION", ["ann"], "2015-01-02", B1, blob=blob, sealed=envelope("d"))
    ok(L.submit(OP, "material.register", doc))
    rec = L.get("doc/d-1")
    assert rec is not None and rec["blob"] == blob and rec["sealed"] == envelope("d")
    assert L.get(f"hash/b/{digest('blob')}/doc:d-1") == {
        "kind": "doc",
        "id": "d-1",
        "version": 1,
        "org_id": B1,
    }
    start = L.time_ms - 3_600_000
    meeting = {
        "meeting_id": "m-1",
        "meeting_type": "THEME_DAY",
        "start": start,
        "end": start + 600_000,
        "location_code": "R1",
        "minutes_content_hash": digest("minutes"),
        "sealed": envelope("m"),
    }
    ok(L.submit(OP, "meeting.record", meeting))
    decision = {
        "decision_id": "x-1",
        "decision_body": "BRANCH_COMMITTEE",
        "decision_mode": "MEETING",
        "category": "OTHER",
        "item_seq": 1,
        "result": "PASSED",
        "effective_date": "2015-01-02",
        "sealed": envelope("x"),
    }
    ok(L.submit(OP, "decision.record", decision))
    m, x = L.get("meeting/m-1"), L.get("decision/x-1")
    assert m is not None and m["sealed"] == envelope("m") and x is not None and x["sealed"] == envelope("x")


# ------------------------------------------------------------------------------------ reseal
def test_reseal_needs_an_admin_of_the_org_or_above_and_the_current_key_version() -> None:
    L = Ledger()
    item = {"envelope": digest("env"), "sealed": (digest("s") * 3)[:160]}
    body = {"org_id": B1, "key_version": 1, "items": [item]}
    ok(L.submit(f"{B1}/admin", "privacy.reseal", body))
    assert L.get(f"seal/{digest('env')}/{B1}/00000001") is not None
    ok(L.submit(f"{B1}/admin", "org.set_enc_key", {"org_id": B1, "enc_pubkey": digest("new")}))
    assert rejected(L.submit(f"{B1}/admin", "privacy.reseal", body)) == "stale_key_version"
    ok(L.submit("cn.p1/admin", "privacy.reseal", {**body, "key_version": 2}))
    assert [k for k, _ in L.scan(f"seal/{digest('env')}/")] == [
        f"seal/{digest('env')}/{B1}/00000001",
        f"seal/{digest('env')}/{B1}/00000002",
    ]
    assert rejected(L.submit(f"{B2}/admin", "privacy.reseal", {**body, "key_version": 2})) == "not_in_subtree"
    assert rejected(L.submit(OP, "privacy.reseal", {**body, "key_version": 2})) == "missing_role"
    twice = {**body, "key_version": 2, "items": [item, {**item, "sealed": "11" * 80}]}
    assert rejected(L.submit(f"{B1}/admin", "privacy.reseal", twice)) == "duplicate_item"


# ---------------------------------------------------------------------------- access anchors
def test_genesis_lists_node_keys_and_anchors_are_node_signed_only() -> None:
    L = Ledger()
    assert dict(genesis_state(L.genesis))[f"nodekey/{NODE.public.hex()}".encode()]
    assert TX_TYPES["access.anchor"].signed_by == "node" and TX_TYPES["archive.create"].signed_by == "user"
    first = anchor(1, 1, 10, ZERO, digest("h1"))
    ok(L.submit("cn/node", "access.anchor", first, signer_key=NODE))
    head = L.get("access/v0")
    assert head is not None and (head["segment"], head["last_seq"], head["head_hash"]) == (
        1,
        10,
        digest("h1"),
    )
    # a user key cannot anchor; a node key can sign nothing else; a node acts for its own org
    assert rejected(L.submit("cn/admin", "access.anchor", anchor(2, 11, 12, digest("h1"), "22" * 32))) == (
        "unknown_signer"
    )
    ark = archive_payload("ann", "1990-01-01")
    assert rejected(L.submit("cn/node", "archive.create", ark, signer_key=NODE)) == "unknown_signer"
    nxt = anchor(2, 11, 12, digest("h1"), digest("h2"))
    assert rejected(L.submit("cn.p1/node", "access.anchor", nxt, signer_key=NODE)) == "wrong_org"
    assert rejected(L.submit("cn/node", "access.anchor", {**nxt, "node_id": "v9"}, signer_key=NODE)) == (
        "wrong_node"
    )
    assert rejected(L.submit("cn/node", "access.anchor", nxt, signer_key=NODE, approvers=["cn/admin"])) == (
        "bad_approval"
    )


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (anchor(3, 11, 12, "H1", "h"), "anchor_out_of_order"),
        (anchor(2, 12, 12, "H1", "h"), "anchor_out_of_order"),
        (anchor(2, 11, 12, ZERO, "h"), "anchor_chain_break"),
        (anchor(2, 11, 10, "H1", "h"), "bad_value"),
        (anchor(2, 11, 12, "H1", "h", restart=True), "bad_value"),
        (anchor(2, 11, 12, ZERO, "h", restart=True), None),
        (anchor(2, 11, 12, "H1", "h"), None),
    ],
)
def test_anchors_are_consecutive_and_chained(payload: dict[str, Any], code: str | None) -> None:
    L = Ledger()
    ok(L.submit("cn/node", "access.anchor", anchor(1, 1, 10, ZERO, digest("H1")), signer_key=NODE))
    p = {**payload, "prev_head": digest("H1") if payload["prev_head"] == "H1" else payload["prev_head"]}
    p["head_hash"] = digest(p["head_hash"])
    r = L.submit("cn/node", "access.anchor", p, signer_key=NODE)
    if code is None:
        ok(r)
        head = L.get("access/v0")
        assert head is not None and head["restarts"] == (1 if p.get("restart") else 0)
        assert L.get("access/v0/00000002") is not None
    else:
        assert rejected(r) == code


# --------------------------------------------------------------------------------- clear text (18.6)
def test_a_personal_number_in_a_prose_field_is_a_rule_of_the_ledger() -> None:
    """Issue 18.6: an ID number in `reason` of archive.event was committed in clear. The stateless
    check (admission, proposal validation, the auditor) and execution refuse it alike; a sealed
    text in its place is stored."""
    from contracts import TxRejected, check_tx

    L = Ledger()
    ok(L.submit(OP, "archive.create", archive_payload("ann", "1990-01-01")))
    event = {"person_key": person("ann"), "event": "LOST_CONTACT", "date": "2024-01-02"}
    clear = {**event, "reason": "moved; ID 11010519491231002X, phone 13812345678"}
    with pytest.raises(TxRejected) as info:
        check_tx(L.tx(OP, "archive.event", clear))
    assert info.value.code == "personal_data_in_clear"
    assert rejected(L.submit(OP, "archive.event", clear)) == "personal_data_in_clear"
    assert "11010519491231002X" not in str(L.get("archive/" + person("ann")))
    sealed = {**event, "reason": "sealed1:" + "Qk" * 400}
    check_tx(L.tx(OP, "archive.event", sealed))
    ok(L.submit(OP, "archive.event", sealed))
