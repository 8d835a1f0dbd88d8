"""RELIABILITY T3 (nonce gaps, out-of-order nonces) and T15 (valid at admission, invalid at
execution). The nonce policy (docs/architecture.md): a nonce is only part of the signed body; a
transaction is applied at most once by its id (the replay marker), so gaps and any order are
accepted, and the outcome is the same on every validator."""

from __future__ import annotations

from contracts.testing import Ledger, archive_payload, key

OP = "cn.p1.c1.x1.b1/operator"


def test_nonce_gaps_and_out_of_order_nonces_are_accepted_and_deterministic() -> None:
    maker = Ledger()
    txs = [
        maker.tx(OP, "archive.create", archive_payload(name, "1990-01-01"), nonce=nonce)
        for name, nonce in (("ann", 9), ("bob", 2), ("cid", 1_000_000), ("dan", 2))
    ]
    a, b = Ledger(), Ledger()
    first, second = a.block(*txs), b.block(*txs)
    assert [r.status for r in first.receipts] == ["ACCEPTED"] * 4, "a gap, a lower and a reused nonce"
    assert first.writes == second.writes and first.receipts == second.receipts
    # what is refused is the same transaction again (same id), whatever its nonce
    again = a.block(txs[1])
    assert again.receipts[0].status == "REJECTED" and again.receipts[0].reason_code == "replayed"


def test_a_key_revoked_between_admission_and_execution_is_rejected_alike_everywhere() -> None:
    """RELIABILITY T15: a transaction admitted while its key was valid (a node's mempool checked it
    against the state then) lands in a block right after the block that revokes the key: every
    validator records the same REJECTED receipt (key_revoked) and the same writes."""

    b1, x1 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1"
    maker = Ledger()
    alice = key("alice")
    reg = {"user_id": "alice", "org_id": b1, "pubkey": alice.public.hex(), "roles": ["operator"]}
    register = maker.tx(f"{x1}/admin", "user.register", reg)
    admitted = maker.tx(
        "alice", "archive.create", archive_payload("ann", "1990-01-01"), org_id=b1, signer_key=alice
    )
    revoke = maker.tx(f"{b1}/admin", "user.revoke", {"pubkey": alice.public.hex(), "reason": "left"})
    outcomes = []
    for ledger in (Ledger(), Ledger()):
        assert ledger.block(register).receipts[0].accepted
        assert ledger.block(revoke).receipts[0].accepted
        outcomes.append(ledger.block(admitted))
    first, second = outcomes
    assert first.receipts[0].status == "REJECTED" and first.receipts[0].reason_code == "key_revoked"
    assert first.receipts == second.receipts and first.writes == second.writes
