"""The admission cache: a transaction is fully checked once per node, then reused decoded."""

from __future__ import annotations

import pytest

from node.runtime.mempool import AdmissionError, Mempool, SignatureCache
from node.runtime.txcheck import TxChecker
from wire.crypto import SigningKey
from wire.types import SignedTransaction, TxBody


def _tx(nonce: int) -> SignedTransaction:
    key = SigningKey(b"\x05" * 32)
    body = TxBody(
        chain_id="c",
        tx_type="user.revoke",
        org_id="cn",
        signer=key.public,
        nonce=nonce,
        client_time_ms=1,
        payload={"pubkey": key.public.hex(), "reason": "left"},
    )
    return SignedTransaction.create(body, key.signer())


def test_known_only_after_add_and_bounded() -> None:
    cache = SignatureCache(capacity=2, decoded_capacity=1)
    a, b, c = (_tx(i) for i in range(3))
    assert cache.known(a.encode()) is None
    cache.add(a.encode(), a)
    assert cache.known(a.encode()) is a
    cache.add(b.encode(), b)
    assert cache.known(a.encode()) == a  # decoded again: only one decoded object is kept
    cache.add(c.encode(), c)
    assert cache.known(b.encode()) is None  # evicted (capacity 2, a was used more recently)
    assert cache.decode(c.encode()) is c


def _mempool(cache: SignatureCache) -> Mempool:
    return Mempool(chain_id="c", signatures=cache, is_committed=lambda tx_id: False)


def test_forged_signature_is_not_known_and_is_refused_at_admission() -> None:
    cache = SignatureCache()
    good = _tx(9)
    forged = SignedTransaction(body_bytes=good.body_bytes, signature=bytes(64))
    cache.add(good.encode(), good)
    assert cache.known(forged.encode()) is None
    with pytest.raises(AdmissionError) as err:
        _mempool(cache).admit(forged.encode())
    assert err.value.code == "bad_signature"
    assert cache.known(forged.encode()) is None


def test_admission_checks_once_and_proposal_validation_reuses_it() -> None:
    """Regression: admission verified the signature but did not record it, so every validator
    verified each transaction a second time when it reached consensus."""
    cache = SignatureCache()
    tx = _tx(4)
    admitted, new = _mempool(cache).admit(tx.encode())
    assert new and admitted.tx_id == tx.tx_id
    assert cache.misses == 1
    assert TxChecker("c", cache, 64 * 1024)((tx.encode(),))
    assert cache.misses == 1 and cache.hits == 1
