"""Domain separation and transaction signing (RELIABILITY T1-T6, A3)."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.certificate import ValidatorSet, make_certificate, quorum_size, verify_certificate
from wire.crypto import Domain, SigningKey, sign_bytes, verify
from wire.errors import CertificateError, DecodeError
from wire.types import SignedTransaction, TxBody, commit_vote_bytes

chain_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@cache
def _key(i: int) -> SigningKey:
    return SigningKey(bytes([i + 1]) * 32)


@given(
    st.sampled_from(list(Domain)), st.sampled_from(list(Domain)), chain_ids, chain_ids, st.binary(max_size=64)
)
@settings(max_examples=300)
def test_a_signature_verifies_only_in_its_own_domain_and_chain(
    d1: Domain, d2: Domain, c1: str, c2: str, payload: bytes
) -> None:
    key = _key(0)
    sig = key.sign(d1, c1, payload)
    assert verify(d1, c1, key.public, payload, sig)
    if (d1, c1) != (d2, c2):
        assert not verify(d2, c2, key.public, payload, sig)


@given(
    st.sampled_from(list(Domain)), st.sampled_from(list(Domain)), chain_ids, chain_ids, st.binary(max_size=16)
)
def test_sign_bytes_of_different_kinds_never_collide(
    d1: Domain, d2: Domain, c1: str, c2: str, payload: bytes
) -> None:
    if (d1, c1) != (d2, c2):
        assert sign_bytes(d1, c1, payload) != sign_bytes(d2, c2, payload)


def _tx(chain: str = "test-chain", nonce: int = 7, payload: object = None) -> SignedTransaction:
    key = _key(1)
    body = TxBody(
        chain_id=chain,
        tx_type="member.archive.create",
        org_id="cn.gs",
        signer=key.public,
        nonce=nonce,
        client_time_ms=1_700_000_000_000,
        payload=payload if payload is not None else {"person_key": "ab" * 32, "birth_date": "1990-01-01"},
    )
    return SignedTransaction.create(body, key.signer(), approvers=[_key(2).signer()])


def test_transaction_round_trip_and_signature() -> None:
    tx = _tx()
    data = tx.encode()
    back = SignedTransaction.decode(data)
    assert back == tx and back.encode() == data
    assert back.signature_ok()
    assert back.tx_id == tx.tx_id


@given(st.integers(0, 200), st.integers(0, 7))
@settings(max_examples=200)
def test_every_body_bit_is_covered_by_the_signature(position: int, bit: int) -> None:
    tx = _tx()
    body = bytearray(tx.body_bytes)
    position %= len(body)
    body[position] ^= 1 << bit
    forged = SignedTransaction(body_bytes=bytes(body), signature=tx.signature, approvals=tx.approvals)
    try:
        forged.body  # noqa: B018 - mutated bytes may no longer decode, which is a rejection too
    except DecodeError:
        return
    assert not forged.signature_ok()


def test_transaction_for_another_chain_does_not_verify_there() -> None:
    tx = _tx(chain="chain-a")
    assert tx.signature_ok()
    moved = dataclasses.replace(tx.body, chain_id="chain-b")
    replay = SignedTransaction(body_bytes=moved.encode(), signature=tx.signature)
    assert not replay.signature_ok()


def test_approval_order_does_not_change_the_id() -> None:
    tx = _tx()
    assert tx.tx_id == SignedTransaction(body_bytes=tx.body_bytes, signature=tx.signature).tx_id


def test_duplicate_approver_is_rejected() -> None:
    tx = _tx()
    doubled = SignedTransaction(body_bytes=tx.body_bytes, signature=tx.signature, approvals=tx.approvals * 2)
    with pytest.raises(DecodeError):
        SignedTransaction.decode(doubled.encode())


@pytest.mark.parametrize(("n", "q"), [(1, 1), (4, 3), (5, 4), (6, 4), (7, 5), (10, 7), (16, 11), (31, 21)])
def test_quorum_table(n: int, q: int) -> None:
    assert quorum_size(n) == q


@given(st.integers(1, 100))
def test_two_quorums_intersect_in_f_plus_one(n: int) -> None:
    f = (n - 1) // 3
    assert 2 * quorum_size(n) - n >= f + 1


def test_certificate_verification() -> None:
    keys = [_key(10 + i) for i in range(5)]
    vset = ValidatorSet(tuple(k.public for k in keys))
    block_hash = b"\x07" * 32
    vote = commit_vote_bytes(3, 0, block_hash)
    sigs = [(i, keys[i].sign(Domain.COMMIT, "c", vote)) for i in range(5)]
    cert = make_certificate(3, 0, block_hash, sigs[:4])
    verify_certificate(cert, vset, "c", height=3, block_hash=block_hash)
    with pytest.raises(CertificateError):  # below quorum (q = 4 at n = 5)
        verify_certificate(make_certificate(3, 0, block_hash, sigs[:3]), vset, "c")
    with pytest.raises(CertificateError):  # wrong chain
        verify_certificate(cert, vset, "other")
    with pytest.raises(CertificateError):  # other block
        verify_certificate(cert, vset, "c", block_hash=b"\x08" * 32)
    with pytest.raises(CertificateError):  # signature of another kind
        wrong = [(i, keys[i].sign(Domain.PREPARE, "c", vote)) for i in range(4)]
        verify_certificate(make_certificate(3, 0, block_hash, wrong), vset, "c")
    from wire.types import CommitCertificate

    assert CommitCertificate.decode(cert.encode()) == cert
    dup = CommitCertificate(
        height=3, view=0, block_hash=block_hash, signatures=(sigs[0], sigs[0], sigs[1], sigs[2])
    )
    with pytest.raises(DecodeError):
        CommitCertificate.decode(dup.encode())
