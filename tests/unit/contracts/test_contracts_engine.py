"""The engine's admission checks, permissions, identities, schemas, genesis state, configuration,
shadow mode and the registries."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from contracts import TX_TYPES, BlockContext, TxRejected, check_tx, execute_block, genesis_state, registry
from contracts.bootstrap import merged_rule_config
from contracts.errors import GenesisStateError, InvariantError
from contracts.schema import validate
from contracts.testing import (
    Ledger,
    MemoryState,
    archive_payload,
    key,
    make_genesis,
    ms,
    ok,
    person,
    step_payload,
)
from contracts.testing_procedure import prepare_step, run_pipeline, step
from wire.types import Receipt

B1, B2, X1, X2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1.c1.x1", "cn.p1.c1.x2"
OP = f"{B1}/operator"

# DOMAIN.md section B.0, every row (76): id -> (colours, disposition)
DOMAIN_INDEX = {
    "JOIN-01": ("RED", "REJECT"),
    "JOIN-02": ("RED/YELLOW", "REJECT+FLAG"),
    "JOIN-03": ("RED/BLUE", "REJECT+FLAG"),
    "JOIN-04": ("RED", "REJECT"),
    "JOIN-05": ("YELLOW", "FLAG"),
    "JOIN-06": ("RED", "REJECT"),
    "JOIN-07": ("RED/YELLOW/BLUE", "REJECT+FLAG"),
    "JOIN-08": ("RED", "REJECT"),
    "JOIN-09": ("RED/YELLOW", "REJECT+FLAG"),
    "JOIN-10": ("RED/YELLOW", "REJECT+FLAG"),
    "JOIN-11": ("RED", "REJECT"),
    "JOIN-12": ("YELLOW", "FLAG"),
    "JOIN-13": ("RED", "REJECT"),
    "JOIN-14": ("RED", "REJECT+FLAG"),
    "JOIN-15": ("RED", "REJECT"),
    "JOIN-16": ("RED", "REJECT"),
    "JOIN-17": ("RED/YELLOW/BLUE", "FLAG"),
    "JOIN-18": ("BLUE", "FLAG"),
    "JOIN-19": ("RED/BLUE", "REJECT+FLAG"),
    "JOIN-20": ("RED", "REJECT"),
    "JOIN-21": ("RED/YELLOW", "REJECT+FLAG"),
    "JOIN-22": ("RED", "FLAG"),
    "JOIN-23": ("RED", "REJECT"),
    "JOIN-24": ("RED/BLUE", "REJECT"),
    "JOIN-25": ("YELLOW/BLUE", "FLAG"),
    "JOIN-26": ("YELLOW", "FLAG"),
    "JOIN-27": ("YELLOW", "FLAG"),
    "JOIN-28": ("BLUE", "FLAG"),
    "DUP-01": ("RED", "REJECT"),
    "DUP-02": ("RED", "REJECT"),
    "DUP-03": ("RED/YELLOW", "REJECT+FLAG"),
    "DUP-04": ("RED/BLUE", "REJECT+FLAG"),
    "DUP-05": ("YELLOW", "FLAG"),
    "DUP-06": ("RED", "REJECT"),
    "MAT-01": ("RED/YELLOW", "REJECT+FLAG"),
    "MAT-02": ("RED/YELLOW/BLUE", "REJECT+FLAG"),
    "MAT-03": ("RED", "REJECT"),
    "MAT-04": ("RED", "FLAG"),
    "MAT-05": ("YELLOW", "FLAG"),
    "MAT-06": ("RED", "REJECT+FLAG"),
    "MAT-07": ("RED", "REJECT"),
    "ARC-01": ("RED", "REJECT"),
    "ARC-02": ("RED", "FLAG"),
    "ARC-03": ("RED/YELLOW", "REJECT+FLAG"),
    "ARC-04": ("RED/YELLOW", "FLAG"),
    "MTG-01": ("RED/YELLOW", "FLAG"),
    "MTG-02": ("RED/YELLOW", "REJECT+FLAG"),
    "MTG-03": ("RED/YELLOW", "REJECT"),
    "MTG-04": ("RED/YELLOW", "FLAG"),
    "MTG-05": ("RED/YELLOW/BLUE", "FLAG"),
    "MTG-06": ("RED/YELLOW/BLUE", "FLAG"),
    "MTG-07": ("RED/YELLOW", "REJECT"),
    "MTG-08": ("RED/YELLOW", "REJECT+FLAG"),
    "MTG-09": ("YELLOW/BLUE", "FLAG"),
    "XFER-01": ("RED", "REJECT"),
    "XFER-02": ("RED", "REJECT"),
    "XFER-03": ("RED/YELLOW/BLUE", "REJECT+FLAG"),
    "XFER-04": ("RED", "REJECT"),
    "XFER-05": ("RED/YELLOW", "REJECT+FLAG"),
    "XFER-06": ("YELLOW", "FLAG"),
    "XFER-07": ("RED/BLUE", "FLAG"),
    "XFER-08": ("YELLOW", "FLAG"),
    "XFER-09": ("YELLOW/BLUE", "FLAG"),
    "XFER-10": ("RED", "FLAG"),
    "DEC-01": ("RED", "REJECT"),
    "DEC-02": ("RED/YELLOW", "REJECT"),
    "DEC-03": ("RED", "REJECT"),
    "DEC-04": ("RED", "REJECT"),
    "DEC-05": ("RED/YELLOW", "FLAG"),
    "DEC-06": ("RED/YELLOW", "FLAG"),
    "DEC-07": ("RED/YELLOW", "REJECT+FLAG"),
    "DEC-08": ("RED", "FLAG"),
    "DEC-09": ("YELLOW", "FLAG"),
    "DEC-10": ("RED", "FLAG"),
    "DEC-11": ("YELLOW", "FLAG"),
    "DEC-12": ("YELLOW", "FLAG"),
}
# DOMAIN.md "Decisions and clarifications (2026-12)" win over the older B.0 row: JOIN-21 raises
# a BLUE reminder before the conversion application exists; JOIN-22 refuses an approval item
# (or decision) another person's approval already cited, or an item without a subject.
CLARIFIED = {
    "JOIN-21": ("RED/YELLOW/BLUE", "REJECT+FLAG"),
    "JOIN-22": ("RED", "REJECT+FLAG"),
}
DOMAIN_MD = Path("/work/shared/DOMAIN.md")
_ROW = re.compile(r"^\| ((?:JOIN|DUP|MAT|ARC|MTG|XFER|DEC)-\d\d) \| [^|]+\| ([A-Z/]+) \| ([A-Z+]+) \|")


def test_domain_index_is_the_b0_table_of_domain_md() -> None:
    if not DOMAIN_MD.exists():
        pytest.skip("the shared DOMAIN.md is not on this machine")
    rows = [
        m.groups() for line in DOMAIN_MD.read_text(encoding="utf-8").splitlines() if (m := _ROW.match(line))
    ]
    assert {i: (c, d) for i, c, d in rows} == DOMAIN_INDEX
    assert [i for i, _, _ in rows] == list(DOMAIN_INDEX)


def test_registry_matches_domain_index() -> None:
    got = {r.rule_id: ("/".join(c.value for c in r.colours), r.disposition) for r in registry()}
    assert got == DOMAIN_INDEX | CLARIFIED


def test_cli_rules_list_json_lists_every_rule() -> None:
    from node.cli import cli

    result = CliRunner().invoke(cli, ["rules", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == list(DOMAIN_INDEX)
    table = CliRunner().invoke(cli, ["rules", "list"])
    assert table.exit_code == 0 and "XFER-10" in table.output


def test_tx_types_are_introspectable() -> None:
    for name, spec in TX_TYPES.items():
        doc = spec.to_json()
        assert doc["tx_type"] == name and doc["payload"]["type"] == "object"
        json.dumps(doc)  # plain JSON for the SDK generator


# ------------------------------------------------------------------------------------- admission
def _reason(r: Receipt) -> tuple[str, str]:
    return r.status, r.reason_code


def test_replay_is_rejected_and_writes_nothing() -> None:
    L = Ledger()
    tx = L.tx(OP, "archive.create", archive_payload("ann", "1990-01-01"))
    first = L.block(tx)
    assert first.receipts[0].accepted
    again = L.block(tx)
    assert _reason(again.receipts[0]) == ("REJECTED", "replayed")
    assert again.writes == ()
    dup = L.block(*[L.tx(OP, "archive.create", archive_payload("bob", "1990-01-01"))] * 2)
    assert [r.status for r in dup.receipts] == ["ACCEPTED", "REJECTED"]


def test_rejected_tx_changes_no_state_but_keeps_marker_and_receipt() -> None:
    L = Ledger()
    tx = L.tx(OP, "archive.create", archive_payload("ann", "1990-01-01", id_check_ok=False))
    out = L.block(tx)
    assert _reason(out.receipts[0]) == ("REJECTED", "id_check_failed")
    assert [k.decode() for k, _ in out.writes] == [f"tx/{tx.tx_id.hex()}"]
    assert L.get(f"tx/{tx.tx_id.hex()}") == {"height": 1, "status": "REJECTED"}
    assert Receipt.decode(out.receipts[0].encode()) == out.receipts[0]


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"chain_id": "other-chain"}, "wrong_chain"),
        ({"client_time_ms": ms("2015-01-02") - 86_400_001}, "stale_tx"),
        ({"client_time_ms": ms("2015-01-02") + 86_400_001}, "stale_tx"),
        ({"org_id": B2}, "wrong_org"),
        ({"signer_key": key("stranger")}, "unknown_signer"),
        ({"approvers": ["stranger"]}, "bad_approval"),
        ({"approvers": [OP]}, "bad_approval"),
    ],
)
def test_admission_rejections(kw: dict[str, Any], code: str) -> None:
    L = Ledger()
    tx = L.tx(OP, "archive.create", archive_payload("ann", "1990-01-01"), **kw)
    L.time_ms = ms("2015-01-02") - 60_000
    assert _reason(L.block(tx).receipts[0]) == ("REJECTED", code)


def test_unknown_type_and_schema_errors() -> None:
    L = Ledger()
    assert _reason(L.submit(OP, "archive.destroy", {})) == ("REJECTED", "unknown_tx_type")
    cases: list[tuple[Any, str]] = [
        ([], "not_an_object"),
        (dict(archive_payload("a", "1990-01-01"), colour="red"), "unknown_field"),
        ({"person_key": person("a")}, "missing_field"),
        (dict(archive_payload("a", "1990-01-01"), key_version=True), "wrong_type"),
        (dict(archive_payload("a", "1990-01-01"), volunteer_book_no="x" * 65), "too_long"),
        (dict(archive_payload("a", "1990-01-01"), birth_date="1990-02-30"), "bad_format"),
        (dict(archive_payload("a", "1990-01-01"), status="KING"), "bad_value"),
        (dict(archive_payload("a", "1990-01-01"), person_key="XYZ"), "bad_format"),
        (dict(archive_payload("a", "1990-01-01"), key_version=0), "out_of_range"),
    ]
    for payload, code in cases:
        assert _reason(L.submit(OP, "archive.create", payload)) == ("REJECTED", code), payload
        with pytest.raises(TxRejected) as err:
            check_tx(L.tx(OP, "archive.create", payload))
        assert err.value.code == code


def test_check_tx_accepts_a_well_formed_tx() -> None:
    L = Ledger()
    check_tx(L.tx(OP, "archive.create", archive_payload("a", "1990-01-01")))


def test_schema_normalises_optional_fields() -> None:
    p = validate(TX_TYPES["archive.create"].schema, archive_payload("a", "1990-01-01"))
    assert p["status"] == "NONE" and p["no_rejoin"] is False and p["name_key"] is None


# ----------------------------------------------------------------------------------- identities
def test_org_create_by_parent_admin_only() -> None:
    L = Ledger()
    new = {"org_id": f"{X1}.b9", "name": "b9", "enc_pubkey": "11" * 32, "founded_date": "2015-01-01"}
    assert _reason(L.submit(f"{X1}/operator", "org.create", new)) == ("REJECTED", "missing_role")
    assert _reason(L.submit(f"{X2}/admin", "org.create", new)) == ("REJECTED", "wrong_parent")
    assert _reason(L.submit("cn.p1.c1/admin", "org.create", new)) == ("REJECTED", "wrong_parent")
    ok(L.submit(f"{X1}/admin", "org.create", new))
    rec = L.get(f"org/{X1}.b9")
    assert rec is not None and rec["level"] == "BRANCH" and rec["approval_authority"] is False
    assert _reason(L.submit(f"{X1}/admin", "org.create", new)) == ("REJECTED", "org_exists")
    county = {"org_id": "cn.p1.c1.x7", "name": "x7", "enc_pubkey": "12" * 32, "founded_date": "2015-01-01"}
    ok(L.submit("cn.p1.c1/admin", "org.create", county))
    assert L.get("org/cn.p1.c1.x7")["approval_authority"] is True  # type: ignore[index]


def test_users_register_rotate_revoke() -> None:
    L = Ledger()
    alice, alice2 = key("alice"), key("alice-2")
    reg = {"user_id": "alice", "org_id": B1, "pubkey": alice.public.hex(), "roles": ["operator"]}
    assert _reason(L.submit(f"{B2}/admin", "user.register", reg)) == ("REJECTED", "not_in_subtree")
    ok(L.submit(f"{X1}/admin", "user.register", reg))  # an ancestor's admin may register
    assert _reason(L.submit(f"{X1}/admin", "user.register", reg)) == ("REJECTED", "key_exists")
    ok(L.submit("alice", "archive.create", archive_payload("ann", "1990-01-01"), org_id=B1, signer_key=alice))
    grant = {"pubkey": alice.public.hex(), "role": "approver"}
    ok(L.submit(f"{B1}/admin", "user.grant_role", grant))
    assert L.get(f"user/{alice.public.hex()}")["roles"] == ["approver", "operator"]  # type: ignore[index]
    ok(L.submit(f"{B1}/admin", "user.revoke_role", grant))
    rotate = {"pubkey": alice.public.hex(), "new_pubkey": alice2.public.hex()}
    ok(L.submit(f"{B1}/admin", "user.rotate_key", rotate))
    old = L.submit(
        "alice", "archive.create", archive_payload("bob", "1990-01-01"), org_id=B1, signer_key=alice
    )
    assert _reason(old) == ("REJECTED", "key_rotated")
    ok(
        L.submit(
            "alice", "archive.create", archive_payload("bob", "1990-01-01"), org_id=B1, signer_key=alice2
        )
    )
    ok(L.submit(f"{B1}/admin", "user.revoke", {"pubkey": alice2.public.hex(), "reason": "left"}))
    gone = L.submit(
        "alice", "archive.create", archive_payload("cy", "1990-01-01"), org_id=B1, signer_key=alice2
    )
    assert _reason(gone) == ("REJECTED", "key_revoked")
    assert L.get("userid/alice") == {"user_id": "alice", "pubkey": alice2.public.hex()}


def test_revoked_approver_cannot_approve() -> None:
    L = Ledger()
    dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S16")
    ok(L.submit(f"{X1}/admin", "user.revoke", {"pubkey": key(f"{X1}/approver").public.hex(), "reason": "x"}))
    r = step(L, B1, "p1", "ann", "S17", dates["S17"])
    assert _reason(r) == ("REJECTED", "key_revoked")


def test_org_encryption_key_is_versioned() -> None:
    L = Ledger()
    ok(L.submit(f"{X1}/admin", "org.set_enc_key", {"org_id": B1, "enc_pubkey": "22" * 32}))
    rec = L.get(f"org/{B1}")
    assert rec is not None and rec["enc_pubkey"] == "22" * 32 and rec["enc_key_version"] == 2
    assert L.get(f"org/{B1}/enc/00000001") is not None and L.get(f"org/{B1}/enc/00000002") is not None
    assert _reason(L.submit(f"{B2}/admin", "org.set_enc_key", {"org_id": B1, "enc_pubkey": "33" * 32})) == (
        "REJECTED",
        "not_in_subtree",
    )


# ---------------------------------------------------------------------------------- permissions
def test_branch_cannot_write_another_branchs_records() -> None:
    L = Ledger()
    dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S03")
    r = L.submit(f"{B2}/operator", "join.step", step_payload("p1", "ann", "S05", dates["S05"]), org_id=B2)
    assert _reason(r) == ("REJECTED", "wrong_org")
    amend = {
        "person_key": person("ann"),
        "prev_version": 1,
        "amend_reason": "x",
        "birth_date": "1990-01-01",
    }
    assert _reason(L.submit(f"{B2}/operator", "archive.amend", amend)) == ("REJECTED", "wrong_org")
    ev = {"person_key": person("ann"), "event": "LOST_CONTACT", "date": "2015-05-01"}
    assert _reason(L.submit(f"{B2}/operator", "archive.event", ev)) == ("REJECTED", "wrong_org")


def test_county_cannot_approve_another_countys_admission() -> None:
    L = Ledger()
    dates = run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S16")
    s17 = step_payload(
        "p1", "ann", "S17", dates["S17"], **prepare_step(L, B1, "p1", "ann", "S17", dates["S17"])
    )
    assert _reason(L.submit(f"{X2}/approver", "join.step", s17)) == ("REJECTED", "not_in_subtree")
    assert _reason(L.submit("cn.p1.c1/admin", "join.step", s17)) == ("REJECTED", "no_approval_authority")
    assert _reason(L.submit(f"{X1}/operator", "join.step", s17)) == ("REJECTED", "approval_required")
    assert _reason(L.submit(f"{X1}/operator", "join.step", s17, approvers=[f"{X2}/approver"])) == (
        "REJECTED",
        "approval_required",
    )
    assert _reason(L.submit(f"{B1}/operator", "join.step", s17)) == ("REJECTED", "not_in_subtree")
    ok(L.submit(f"{X1}/operator", "join.step", s17, approvers=[f"{X1}/approver"]))


def test_expulsion_needs_the_approving_org() -> None:
    L = Ledger()
    ok(
        L.submit(
            OP,
            "archive.create",
            archive_payload("m", "1970-01-01", status="FULL", join_date="2000-01-01", full_date="2001-01-01"),
        )
    )
    ev = {"person_key": person("m"), "event": "EXPEL", "date": "2015-02-01"}
    assert _reason(L.submit(OP, "archive.event", ev)) == ("REJECTED", "approval_required")
    assert _reason(L.submit(OP, "archive.event", ev, approvers=[f"{X2}/approver"])) == (
        "REJECTED",
        "approval_required",
    )
    ok(L.submit(OP, "archive.event", ev, approvers=[f"{X1}/approver"]))
    rec = L.get("archive/" + person("m"))
    assert rec is not None and rec["status"] == "EXPELLED" and rec["current_org_id"] is None


# ------------------------------------------------------------------------ genesis and configuration
def test_genesis_state_is_sorted_and_complete() -> None:
    g = make_genesis()
    entries = genesis_state(g)
    ks = [k for k, _ in entries]
    assert ks == sorted(ks) and len(set(ks)) == len(ks)
    assert b"cfg/g/version" in ks and b"meta/chain" in ks and b"org/cn.p1.c1.x1.b1" in ks


@pytest.mark.parametrize(
    "bad",
    [
        {"recipt_days": 30},
        {"receipt_days": "30"},
        {"rule_modes": {"DUP-01": "MAYBE"}},
        {"rule_modes": {"NOPE-01": "OFF"}},
        {"org_overrides": {"nowhere": {}}},
        {"party_lesson_period": "FORTNIGHT"},
        {"receipt_days": -1},
        {"org_overrides": {"cn.p1": {"party_lesson_period": "WEEK"}}},
        {"org_overrides": {"cn.p1": {"rule_modes": {}}}},
    ],
)
def test_genesis_rule_config_errors(bad: dict[str, Any]) -> None:
    g = make_genesis()
    object.__setattr__(g, "rule_config", dict(g.rule_config) | bad)
    with pytest.raises(GenesisStateError):
        genesis_state(g)


def test_genesis_without_new_keys_gets_defaults() -> None:
    g = make_genesis()
    object.__setattr__(g, "rule_config", {"version": 3})
    assert merged_rule_config(g)["receipt_days"] == 30


def test_per_org_override_applies_to_the_subtree() -> None:
    L = Ledger(make_genesis(rule_config={"org_overrides": {X1: {"late_registration_days": 100}}}))
    ok(L.submit(OP, "archive.create", archive_payload("ann", "1990-01-01")))
    L.block(at="2015-03-01")
    from contracts.testing import doc_payload, outcome

    late = doc_payload("d", "THOUGHT_REPORT", ["ann"], "2015-01-02", B1)
    assert outcome(L.submit(OP, "material.register", late), "MAT-05") == "PASS"
    other = doc_payload("e", "THOUGHT_REPORT", ["ann"], "2015-01-02", X2)
    assert outcome(L.submit(f"{X2}/operator", "material.register", other), "MAT-05") == "FLAG:YELLOW"


def test_shadow_mode_reports_without_enforcing_and_off_skips() -> None:
    modes = {"DUP-01": "SHADOW", "XFER-08": "OFF"}
    L = Ledger(make_genesis(rule_config={"rule_modes": modes}))
    ok(
        L.submit(
            OP,
            "archive.create",
            archive_payload("m", "1970-01-01", status="FULL", join_date="2000-01-01", full_date="2001-01-01"),
        )
    )
    from contracts.testing import apply_for

    r = apply_for(L, "m", B2, "p2", "2015-03-01")
    assert r.accepted and [(s.rule_id, s.colour, s.disposition) for s in r.shadow] == [
        ("DUP-01", "RED", "REJECT")
    ]


def test_execute_block_refuses_a_state_without_genesis() -> None:
    with pytest.raises(InvariantError):
        execute_block(MemoryState(), BlockContext(chain_id="x", height=1, time_ms=0), [])
