"""The admission cache: a transaction is fully checked once per node, then reused decoded."""

from __future__ import annotations

from node.mempool import SignatureCache
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
        payload={},
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


def test_forged_signature_is_not_known_and_does_not_verify() -> None:
    cache = SignatureCache()
    good = _tx(9)
    forged = SignedTransaction(body_bytes=good.body_bytes, signature=bytes(64))
    cache.add(good.encode(), good)
    assert cache.known(forged.encode()) is None
    assert not cache.verified(forged.encode())
    assert cache.verified(good.encode())
