"""`SignedTransaction.derived`: a value computed from a transaction's bytes once per object, which
the mempool's check and execution share (the contracts' normalised payload)."""

from __future__ import annotations

import pytest

from contracts import TxRejected, check_tx
from contracts.engine import checked_payload
from contracts.testing import Ledger
from contracts.txtypes import TX_TYPES
from wire.types import SignedTransaction


def _tx(payload: object) -> SignedTransaction:
    return Ledger().tx("cn.p1.c1.x1.b1/admin", "material.register", payload)


PAYLOAD = {
    "doc_id": "cn.p1.c1.x1.b1/other-1",
    "doc_version": 1,
    "doc_type": "OTHER",
    "subject_keys": [],
    "content_hash": "ab" * 32,
    "doc_date": "2015-01-01",
    "issuer_org_id": "cn.p1.c1.x1.b1",
}


def test_a_derived_value_is_computed_once_per_object() -> None:
    tx = _tx(PAYLOAD)
    calls: list[int] = []

    def make() -> int:
        calls.append(1)
        return len(calls)

    assert tx.derived("n", make) == 1 and tx.derived("n", make) == 1 and calls == [1]
    # a fresh decode of the same bytes starts without it
    assert SignedTransaction.decode(tx.encode()).derived("n", make) == 2


def test_a_failure_is_not_remembered() -> None:
    tx = _tx(PAYLOAD)

    def fail() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        tx.derived("n", fail)
    assert tx.derived("n", lambda: 7) == 7


def test_admission_and_execution_share_the_checked_payload() -> None:
    tx = SignedTransaction.decode(_tx(PAYLOAD).encode())
    check_tx(tx)
    spec = TX_TYPES["material.register"]
    first = checked_payload(tx, spec)
    assert checked_payload(tx, spec) is first
    assert first == checked_payload(SignedTransaction.decode(tx.encode()), spec)


def test_a_payload_refused_at_admission_is_refused_again_with_the_same_code() -> None:
    tx = _tx({**PAYLOAD, "doc_version": "one"})
    codes = []
    for _ in range(2):
        with pytest.raises(TxRejected) as err:
            check_tx(tx)
        codes.append(err.value.code)
    assert codes == ["wrong_type", "wrong_type"]
