"""RELIABILITY T3 (nonce gaps and out-of-order nonces). The policy (docs/architecture.md): a nonce is
only part of the signed body; a transaction is applied at most once by its id (the replay marker),
so gaps and any order are accepted, and the outcome is the same on every validator."""

from __future__ import annotations

from contracts.testing import Ledger, archive_payload

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
