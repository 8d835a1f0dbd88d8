"""Node governance (issue 17): proposals and approvals, pre-flight refusals, epochs scheduled at the
next checkpoint boundary, the registry changing at the epoch start, expiry and withdrawal. Every
refusal has a failing and a passing case."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.nodes import iter_epochs
from contracts.testing import Ledger, key, make_genesis, ok
from wire.epochs import epoch_start
from wire.genesis import ConsensusParams
from wire.types import Receipt

CN, P1, C1, X1, B1 = "cn", "cn.p1", "cn.p1.c1", "cn.p1.c1.x1", "cn.p1.c1.x1.b1"
X2, P2, P2C1 = "cn.p1.c1.x2", "cn.p2", "cn.p2.c1"
NODES = (
    ("central", CN, "validator"),
    ("province", P1, "validator"),
    ("city", C1, "validator"),
    ("county", X1, "validator"),
    ("branch", B1, "validator"),
    ("obs", P2, "observer"),
)
K, LAG = 4, 2
VALIDATOR_ORGS = [CN, P1, C1, X1, B1]


def _ledger(**cfg: Any) -> Ledger:
    params = ConsensusParams(checkpoint_interval=K, watermark_window=8, exec_lag=LAG)
    return Ledger(make_genesis(nodes=NODES, consensus=params, rule_config=cfg or None))


def admin(org: str) -> str:
    return f"{org}/admin"


def add(node_id: str, org: str, role: str = "validator", port: int = 7100, **kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "action": "add",
        "node_id": node_id,
        "org_id": org,
        "role": role,
        "pubkey": key(f"node/{node_id}").public.hex(),
        "host": "127.0.0.1",
        "p2p_port": port,
        "api_port": port + 1,
        "reason": "the county runs its own node",
    }
    p.update(kw)
    return p


def change(action: str, node_id: str, **kw: Any) -> dict[str, Any]:
    return {"action": action, "node_id": node_id, "reason": "maintenance", **kw}


def propose(L: Ledger, payload: dict[str, Any], by: str, approvers: tuple[str, ...] = ()) -> Receipt:
    return L.submit(admin(by), "node.propose", payload, approvers=[admin(a) for a in approvers])


def pid(L: Ledger) -> str:
    return L.blocks[-1][1][0].tx_id.hex()[:32]


def approve(L: Ledger, proposal: str, by: str) -> Receipt:
    return L.submit(admin(by), "node.approve", {"proposal_id": proposal})


def run_to(L: Ledger, height: int) -> None:
    while L.height < height - 1:
        L.block()


def _codes(r: Receipt) -> tuple[str, str]:
    return r.status, r.reason_code


def _epochs(L: Ledger) -> list[tuple[int, list[str]]]:
    return [(start, list(ids)) for start, _, ids in iter_epochs(L.state)]


# --------------------------------------------------------------------------------- the happy path
def test_a_validator_added_by_two_thirds_of_the_validator_orgs_and_its_own_org() -> None:
    L = _ledger()
    ok(propose(L, add("county2", X2), X2, approvers=(CN, P1, C1)))
    proposal = L.get(f"nodeprop/{pid(L)}")
    assert proposal is not None and proposal["status"] == "OPEN"
    assert proposal["required"] == {"kind": "validator", "pool": VALIDATOR_ORGS, "need": 4, "must": [X2]}
    assert sorted(proposal["approvals"]) == [CN, P1, C1, X2]
    r = approve(L, proposal["proposal_id"], X1)
    ok(r)
    h = L.height
    start = epoch_start(h, K, LAG)
    done = L.get(f"nodeprop/{proposal['proposal_id']}")
    assert done is not None and done["status"] == "EXECUTED" and done["effective_height"] == start
    assert f"valset/epoch/{start:012d}" in r.writes
    node = L.get("node/county2")
    assert node is not None and node["status"] == "JOINING" and node["pending"]["effective_height"] == start
    assert _epochs(L) == [
        (1, ["central", "province", "city", "county", "branch"]),
        (start, ["central", "province", "city", "county", "branch", "county2"]),
    ]
    run_to(L, start)
    assert L.get("node/county2")["status"] == "JOINING"  # type: ignore[index]
    L.block()  # block `start`: the epoch takes effect
    node = L.get("node/county2")
    assert node is not None and node["status"] == "ACTIVE" and node["pending"] is None
    assert L.get(f"nodekey/{key('node/county2').public.hex()}")["status"] == "ACTIVE"  # type: ignore[index]


def test_three_orgs_of_five_are_not_two_thirds() -> None:
    L = _ledger()
    ok(propose(L, add("county2", X2), X2, approvers=(CN, P1)))
    approve(L, pid(L), C1)
    assert L.get("node/county2") is None  # 3 of 5 validator orgs: still open


def test_the_own_org_admin_is_needed_besides_two_thirds() -> None:
    L = _ledger()
    ok(propose(L, add("county2", X2), CN, approvers=(P1, C1, X1)))  # 4 of 5, not X2
    proposal = pid(L)
    assert L.get(f"nodeprop/{proposal}")["status"] == "OPEN"  # type: ignore[index]
    ok(approve(L, proposal, X2))
    assert L.get(f"nodeprop/{proposal}")["status"] == "EXECUTED"  # type: ignore[index]


def test_an_observer_needs_its_org_and_the_parent_org() -> None:
    L = _ledger()
    ok(propose(L, add("obs2", P2C1, role="observer"), P2C1))
    proposal = L.get(f"nodeprop/{pid(L)}")
    assert proposal is not None and proposal["required"]["must"] == [P2C1, P2]
    assert _codes(approve(L, proposal["proposal_id"], CN)) == ("REJECTED", "not_an_approver")
    ok(approve(L, proposal["proposal_id"], P2))
    assert L.get("node/obs2")["role"] == "observer"  # type: ignore[index]
    assert _epochs(L)[-1][1] == ["central", "province", "city", "county", "branch"]  # set unchanged


def test_remove_rotate_promote_and_demote_take_effect_at_their_epoch() -> None:
    L = _ledger()
    everyone = (CN, P1, C1, X1)
    ok(propose(L, change("remove", "branch"), B1, approvers=everyone))
    start = epoch_start(L.height, K, LAG)
    assert _epochs(L)[-1] == (start, ["central", "province", "city", "county"])
    run_to(L, start + 1)
    assert L.get("node/branch")["status"] == "REMOVED"  # type: ignore[index]
    old = key("node/city").public.hex()
    new = key("node/city/2").public.hex()
    ok(propose(L, change("rotate_key", "city", pubkey=new), C1, approvers=(CN, P1, X1)))
    start = epoch_start(L.height, K, LAG)
    run_to(L, start + 1)
    assert L.get("node/city")["pubkey"] == new  # type: ignore[index]
    assert L.get(f"nodekey/{old}")["status"] == "ROTATED"  # type: ignore[index]
    ok(propose(L, change("set_role", "obs", role="validator"), P2, approvers=(CN, P1, C1, X1)))
    start = epoch_start(L.height, K, LAG)
    assert _epochs(L)[-1] == (start, ["central", "province", "city", "county", "obs"])
    run_to(L, start + 1)
    ok(propose(L, change("set_role", "obs", role="observer"), P2, approvers=(CN, P1, C1, X1)))
    start = epoch_start(L.height, K, LAG)
    run_to(L, start + 1)
    assert L.get("node/obs")["role"] == "observer"  # type: ignore[index]
    assert [e[0] for e in _epochs(L)] == sorted(e[0] for e in _epochs(L))


def test_a_rotated_out_node_key_signs_no_anchor() -> None:
    L = _ledger()
    new = key("node/city/2")
    ok(propose(L, change("rotate_key", "city", pubkey=new.public.hex()), C1, approvers=(CN, P1, X1, B1)))
    run_to(L, epoch_start(L.height, K, LAG) + 1)
    anchor = {
        "node_id": "city",
        "segment": 1,
        "first_seq": 1,
        "last_seq": 1,
        "prev_head": "00" * 32,
        "head_hash": "11" * 32,
        "file_hash": "22" * 32,
        "closed_at_ms": 1,
    }
    r = L.submit("x", "access.anchor", anchor, org_id=C1, signer_key=key("node/city"))
    assert _codes(r) == ("REJECTED", "key_rotated")
    ok(L.submit("x", "access.anchor", anchor, org_id=C1, signer_key=new))


# --------------------------------------------------------------------------------- pre-flight
def test_unknown_org_refused_and_known_org_accepted() -> None:
    L = _ledger()
    assert _codes(propose(L, add("n", "cn.p1.c1.x9"), CN)) == ("REJECTED", "unknown_org")
    ok(propose(L, add("n", X2), CN))


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (add("county", X2), "node_exists"),
        (add("n", X2, pubkey=key("node/city").public.hex()), "key_in_use"),
        (add("n", X2, pubkey=key(f"{CN}/admin").public.hex()), "key_in_use"),
        (add("n", X2, port=7001), "address_in_use"),  # 7001 is province's p2p, 7002 city's
        (add("n", X2, p2p_port=7100, api_port=7100), "address_in_use"),
        (change("rotate_key", "city", pubkey=key("node/county").public.hex()), "key_in_use"),
        (change("remove", "nobody"), "unknown_node"),
        (change("set_role", "city", role="validator"), "no_change"),
        ({**add("n", X2), "role": None}, "missing_field"),
        (change("remove", "city", pubkey=key("x").public.hex()), "unknown_field"),
    ],
)
def test_preflight_refusals(payload: dict[str, Any], code: str) -> None:
    L = _ledger()
    assert _codes(propose(L, payload, CN)) == ("REJECTED", code)


def test_preflight_passing_counterparts() -> None:
    L = _ledger()
    ok(propose(L, add("n", X2, port=7200), CN))
    ok(propose(L, change("rotate_key", "city", pubkey=key("fresh").public.hex()), CN))
    ok(propose(L, change("set_role", "city", role="observer"), CN))
    ok(propose(L, change("remove", "city"), CN))


def test_fewer_than_four_validators_refused() -> None:
    L = _ledger()
    ok(propose(L, change("remove", "branch"), B1, approvers=(CN, P1, C1, X1)))
    run_to(L, epoch_start(L.height, K, LAG) + 1)
    assert _codes(propose(L, change("remove", "county"), X1)) == ("REJECTED", "too_few_validators")
    assert _codes(propose(L, change("set_role", "county", role="observer"), X1)) == (
        "REJECTED",
        "too_few_validators",
    )
    ok(propose(L, change("rotate_key", "county", pubkey=key("k2").public.hex()), X1))  # 4 stay 4


def test_more_than_f_validator_changes_per_epoch_refused() -> None:
    L = _ledger()  # n = 5, f = 1
    ok(propose(L, add("county2", X2), X2, approvers=(CN, P1, C1, X1)))
    start = epoch_start(L.height, K, LAG)
    assert epoch_start(L.height + 1, K, LAG) == start  # the next block aims at the same boundary
    r = propose(L, change("remove", "branch"), B1, approvers=(CN, P1, C1, X1))
    assert _codes(r) == ("REJECTED", "too_many_changes")
    # an observer change does not count; nor a change aimed at the next epoch
    ok(propose(L, add("obs2", P2C1, role="observer", port=7300), P2C1, approvers=(P2,)))
    run_to(L, start)
    ok(propose(L, change("remove", "branch"), B1, approvers=(CN, P1, C1, X1)))


def test_one_change_per_node_until_it_takes_effect() -> None:
    L = _ledger()
    ok(
        propose(
            L, change("rotate_key", "city", pubkey=key("k2").public.hex()), C1, approvers=(CN, P1, X1, B1)
        )
    )
    start = epoch_start(L.height, K, LAG)
    r = propose(L, change("set_role", "city", role="observer"), C1)
    assert _codes(r) == ("REJECTED", "node_change_pending")
    run_to(L, start + 1)
    ok(propose(L, change("set_role", "city", role="observer"), C1))


def test_a_change_that_became_unsafe_refuses_the_completing_approval() -> None:
    L = _ledger()
    ok(propose(L, change("remove", "branch"), B1, approvers=(CN, P1)))  # 3 of 4 needed
    first = pid(L)
    adding = L.tx(
        admin(X2), "node.propose", add("county2", X2), approvers=[admin(o) for o in (CN, P1, C1, X1)]
    )
    approving = L.tx(admin(C1), "node.approve", {"proposal_id": first})
    added, r = L.block(adding, approving).receipts  # one block: both aim at one boundary
    ok(added)
    assert _codes(r) == ("REJECTED", "too_many_changes")
    assert L.get(f"nodeprop/{first}")["status"] == "OPEN"  # type: ignore[index]
    run_to(L, epoch_start(L.height, K, LAG))
    ok(approve(L, first, C1))


# --------------------------------------------------------------------------------- permissions
def test_who_may_propose_and_approve() -> None:
    L = _ledger()
    assert _codes(L.submit(f"{X2}/operator", "node.propose", add("n", X2))) == ("REJECTED", "missing_role")
    assert _codes(propose(L, add("n", X2), P2)) == ("REJECTED", "not_in_subtree")
    ok(propose(L, add("n", X2), C1))  # an ancestor's admin may propose
    proposal = pid(L)
    assert _codes(approve(L, proposal, C1)) == ("REJECTED", "already_approved")
    assert _codes(approve(L, proposal, P2)) == ("REJECTED", "not_an_approver")
    assert _codes(approve(L, "ab" * 16, CN)) == ("REJECTED", "unknown_proposal")
    ok(approve(L, proposal, CN))


def test_withdraw_and_expiry_are_recorded_with_reason_codes() -> None:
    L = _ledger()
    ok(propose(L, add("n", X2), X2))
    first = pid(L)
    assert _codes(L.submit(admin(P2), "node.withdraw", {"proposal_id": first, "reason": "x"})) == (
        "REJECTED",
        "not_the_proposer",
    )
    ok(L.submit(admin(X2), "node.withdraw", {"proposal_id": first, "reason": "changed our mind"}))
    rec = L.get(f"nodeprop/{first}")
    assert rec is not None and (rec["status"], rec["closed_reason_code"]) == ("WITHDRAWN", "withdrawn")
    assert _codes(approve(L, first, CN)) == ("REJECTED", "proposal_closed")
    ok(propose(L, {**add("n", X2), "ttl_ms": 3_600_000}, X2))
    second = pid(L)
    L.block(at=L.time_ms + 3_600_000)
    rec = L.get(f"nodeprop/{second}")
    assert rec is not None and (rec["status"], rec["closed_reason_code"]) == ("EXPIRED", "expired")
    assert _codes(approve(L, second, CN)) == ("REJECTED", "proposal_closed")
    assert L.scan("nodeprop_due/") == []


def test_approval_rules_are_configuration() -> None:
    L = _ledger(node_validator_approvals={"orgs_fraction": [1, 5], "own_org": False})
    ok(propose(L, add("n", X2), CN))  # cn is 1 of 5 validator orgs: enough
    assert L.get("node/n") is not None
    r = L.submit(
        admin(CN),
        "config.set",
        {"key": "node_observer_approvals", "value": {"own_org": True}, "org_id": None, "reason": "x"},
    )
    assert _codes(r) == ("REJECTED", "bad_value")
    ok(
        L.submit(
            admin(CN),
            "config.set",
            {
                "key": "node_observer_approvals",
                "value": {"own_org": True, "parent_org": False},
                "org_id": None,
                "reason": "x",
            },
        )
    )
    ok(propose(L, add("obs2", P2C1, role="observer", port=7300), P2C1))
    assert L.get("node/obs2") is not None
