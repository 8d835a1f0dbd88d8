"""Validator-set epochs (wire/epochs.py): the boundary rule, when a set is fixed, and the proof of
the set at a height (the chain of certified boundary headers), with every refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wire.certificate import ValidatorSet, make_certificate
from wire.crypto import Domain, SigningKey, sha256
from wire.epochs import (
    EpochProof,
    ValidatorEpoch,
    epoch_base,
    epoch_start,
    known_horizon,
    set_known,
    validators_at,
    verify_epoch_chain,
)
from wire.errors import ProofError
from wire.types import BlockHeader, commit_vote_bytes

KEYS = [SigningKey(bytes([i + 1]) * 32) for i in range(8)]
OLD = ValidatorSet(tuple(k.public for k in KEYS[:4]))
NEW = ValidatorSet(tuple(k.public for k in KEYS[:5]))
K = 4


@pytest.mark.parametrize(
    ("h", "k", "lag", "start"),
    [(1, 4, 1, 5), (2, 4, 2, 5), (3, 4, 2, 9), (4, 4, 0, 5), (16, 16, 2, 33), (14, 16, 2, 17)],
)
def test_a_change_takes_effect_after_the_first_checkpoint_at_or_after_h_plus_lag(
    h: int, k: int, lag: int, start: int
) -> None:
    assert epoch_start(h, k, lag) == start
    boundary = start - 1
    assert boundary % k == 0 and boundary >= h + lag


def test_the_set_of_a_height_is_fixed_by_the_blocks_it_may_depend_on() -> None:
    # the set of height 9 (base 8) is fixed once 8 - lag is executed, before 9's own roots are known
    assert epoch_base(9, 4) == 8 and epoch_base(8, 4) == 4 and epoch_base(1, 4) == 0
    assert not set_known(9, 5, 4, 2) and set_known(9, 6, 4, 2)
    assert set_known(4, 0, 4, 2)
    assert known_horizon(6, 4, 2) == 12 and known_horizon(5, 4, 2) == 8


def _header(height: int, validators: ValidatorSet, following: ValidatorSet) -> BlockHeader:
    return BlockHeader(
        chain_id="c",
        height=height,
        view=0,
        timestamp_ms=1,
        prev_block_hash=bytes(32),
        tx_root=bytes(32),
        prev_state_root=bytes(32),
        prev_results_root=bytes(32),
        validators_hash=validators.hash,
        proposer=0,
        next_validators_hash=following.hash,
    )


def _proof(start: int, signers: list[SigningKey], header: BlockHeader | None = None) -> EpochProof:
    header = header or _header(start - 1, OLD, NEW)
    payload = commit_vote_bytes(header.height, 0, header.hash)
    sigs = [(i, k.sign(Domain.COMMIT, "c", payload)) for i, k in enumerate(signers)]
    cert = make_certificate(header.height, 0, header.hash, sigs)
    return EpochProof(
        start=start, validators=NEW.pubkeys, header_bytes=header.encode(), certificate_bytes=cert.encode()
    )


def test_a_proven_epoch_chain_gives_the_set_of_every_height() -> None:
    proof = _proof(9, KEYS[:3])
    epochs = verify_epoch_chain("c", OLD, K, [proof])
    assert epochs == (ValidatorEpoch(1, OLD), ValidatorEpoch(9, NEW))
    assert validators_at(epochs, 8) == OLD and validators_at(epochs, 9) == NEW
    assert EpochProof.from_json(proof.to_json()) == proof
    # a header with no change names the same set twice
    assert (
        _header(3, OLD, OLD).next_validators_hash
        == BlockHeader.decode(_header(3, OLD, OLD).encode()).validators_hash
    )


@pytest.mark.parametrize(
    ("proof", "why"),
    [
        (_proof(9, KEYS[:2]), "quorum"),  # 2 of 4 signatures
        (_proof(9, [KEYS[0], KEYS[1], KEYS[5]]), "does not verify"),  # a key outside the old set
        (_proof(10, KEYS[:3], _header(9, OLD, NEW)), "checkpoint"),  # 9 is not a multiple of K
        (_proof(9, KEYS[:3], _header(8, NEW, NEW)), "does not name the set of the epoch from 1"),
        (_proof(9, KEYS[:3], _header(8, OLD, OLD)), "does not name the set of the epoch from 9"),
        (_proof(9, KEYS[:3], replace(_header(8, OLD, NEW), chain_id="other")), "not block 8"),
        (replace(_proof(9, KEYS[:3]), header_bytes=b"\x00"), "decode"),
    ],
)
def test_a_forged_or_wrong_epoch_proof_is_refused(proof: EpochProof, why: str) -> None:
    with pytest.raises(ProofError, match=why):
        verify_epoch_chain("c", OLD, K, [proof])


def test_epochs_must_come_in_order() -> None:
    first = _proof(9, KEYS[:3])
    with pytest.raises(ProofError, match="checkpoint height after"):
        verify_epoch_chain("c", OLD, K, [first, replace(first, start=5)])
    assert sha256(first.header_bytes) != bytes(32)
