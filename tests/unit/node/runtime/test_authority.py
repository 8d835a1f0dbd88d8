"""No storage without authority (issue 18.2, RELIABILITY T13): admission refuses a signer that is
neither a registered live user key nor a node key at the current state, and approvals from keys
that are not live; a refused transaction never enters the mempool (so it is never gossiped,
ordered or stored)."""

from __future__ import annotations

import pytest

from contracts import keys
from node.errors import AdmissionError
from node.runtime.authority import SignerAuthority
from node.runtime.mempool import Mempool
from node.runtime.sigcache import SignatureCache
from wire import codec
from wire.crypto import SigningKey
from wire.types import SignedTransaction, TxBody

CHAIN = "authority-test"
ALICE, NODE, GONE, OLD, BROKEN = (SigningKey(bytes([i]) * 32) for i in range(1, 6))
# node keys through governance (issue 17): added and in force, added but its epoch not begun,
# rotated out, of a removed node, and the key a rotation put in force
ADDED, PENDING, ROTATED_OUT, REMOVED, ROTATED_IN = (SigningKey(bytes([i]) * 32) for i in range(6, 11))


def _state() -> dict[bytes, bytes]:
    def user(key: SigningKey, status: str) -> tuple[bytes, bytes]:
        doc = {"user_id": "u", "org_id": "cn.p1", "roles": ["operator"], "status": status}
        return keys.user(key.public.hex()).encode(), codec.encode(doc)

    def node(key: SigningKey, node_id: str, status: str) -> tuple[bytes, bytes]:
        doc = {"node_id": node_id, "org_id": "cn", "role": "validator", "status": status}
        return keys.node_key(key.public.hex()).encode(), codec.encode(doc)

    return dict(
        [
            user(ALICE, "ACTIVE"),
            user(GONE, "REVOKED"),
            user(OLD, "ROTATED"),
            node(NODE, "v0", "ACTIVE"),
            node(ADDED, "county", "ACTIVE"),
            node(PENDING, "branch2", "PENDING"),
            node(ROTATED_OUT, "city", "ROTATED"),
            node(ROTATED_IN, "city", "ACTIVE"),
            node(REMOVED, "branch", "REMOVED"),
            (keys.user(BROKEN.public.hex()).encode(), b"\xc1 not msgpack"),
        ]
    )


def _tx(key: SigningKey, nonce: int = 1, approvers: tuple[SigningKey, ...] = ()) -> SignedTransaction:
    body = TxBody(
        chain_id=CHAIN,
        tx_type="alert.ack",
        org_id="cn.p1",
        signer=key.public,
        nonce=nonce,
        client_time_ms=1,
        payload={"alert_id": "0" * 32},
    )
    return SignedTransaction.create(body, key.signer(), tuple(a.signer() for a in approvers))


def _mempool(state: dict[bytes, bytes]) -> Mempool:
    return Mempool(
        chain_id=CHAIN,
        signatures=SignatureCache(),
        is_committed=lambda tx_id: False,
        authority=SignerAuthority(state.get).check,
    )


def _refusal(pool: Mempool, tx: SignedTransaction) -> str:
    with pytest.raises(AdmissionError) as info:
        pool.admit(tx.encode())
    return info.value.code


def test_three_hundred_fresh_keys_are_all_refused_and_nothing_is_kept() -> None:
    pool = _mempool(_state())
    codes = {_refusal(pool, _tx(SigningKey.generate(), i)) for i in range(300)}
    assert codes == {"unknown_signer"}
    assert len(pool) == 0 and pool.bytes == 0 and pool.refused == {"unknown_signer": 300}


def test_registered_live_keys_and_node_keys_are_admitted() -> None:
    pool = _mempool(_state())
    assert pool.admit(_tx(ALICE).encode())[1]
    assert pool.admit(_tx(NODE).encode())[1]
    assert len(pool) == 2


def test_revoked_rotated_undecodable_and_bad_approvals_are_refused() -> None:
    pool = _mempool(_state())
    assert _refusal(pool, _tx(GONE)) == "signer_revoked"
    assert _refusal(pool, _tx(OLD)) == "signer_rotated"
    assert _refusal(pool, _tx(BROKEN)) == "unknown_signer"  # a record that does not decode
    assert _refusal(pool, _tx(ALICE, 2, (SigningKey.generate(),))) == "bad_approval"
    assert _refusal(pool, _tx(ALICE, 3, (GONE,))) == "bad_approval"
    assert len(pool) == 0


def test_a_key_registered_later_is_admitted_then() -> None:
    state = _state()
    pool = _mempool(state)
    newcomer = SigningKey.generate()
    tx = _tx(newcomer)
    assert _refusal(pool, tx) == "unknown_signer"
    state[keys.user(newcomer.public.hex()).encode()] = codec.encode(
        {"user_id": "n", "org_id": "cn.p1", "roles": ["operator"], "status": "ACTIVE"}
    )
    assert pool.admit(tx.encode())[1]


def test_node_keys_follow_governance() -> None:
    """An added node's key and a rotated-in key are admitted once in force; a key whose epoch has
    not begun, a rotated-out key and a removed node's key are refused with their reason."""
    pool = _mempool(_state())
    assert pool.admit(_tx(ADDED).encode())[1]
    assert pool.admit(_tx(ROTATED_IN).encode())[1]
    assert _refusal(pool, _tx(PENDING)) == "unknown_signer"
    assert _refusal(pool, _tx(ROTATED_OUT)) == "signer_rotated"
    assert _refusal(pool, _tx(REMOVED)) == "signer_revoked"
    assert len(pool) == 2
