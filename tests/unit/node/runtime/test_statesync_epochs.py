"""A snapshot anchor after a validator-set change (issue 17 with issue 16): the checkpoint, block s
and the headers after it are checked against the set in force at their heights, proven from the
genesis set by the epoch chain the answer carries; an answer that withholds the change, or whose
chain is not rooted in genesis, is refused (`statesync.verify_anchor`)."""

from __future__ import annotations

from typing import Any

import pytest

from consensus.messages import StableProof, checkpoint_payload
from node.runtime.statesync import SnapshotError, verify_anchor
from wire import codec
from wire.certificate import ValidatorSet, make_certificate
from wire.crypto import Domain, SigningKey
from wire.epochs import EpochProof
from wire.merkle import EMPTY_ROOT
from wire.types import Block, BlockHeader, commit_vote_bytes

CHAIN = "snap-epochs"
K, LAG = 4, 2
KEYS = [SigningKey(bytes([i + 1]) * 32) for i in range(5)]
OLD_KEYS, NEW_KEYS = KEYS[:4], KEYS[1:]  # KEYS[0] removed, KEYS[4] added at the boundary 4
OLD = ValidatorSet(tuple(k.public for k in OLD_KEYS))
NEW = ValidatorSet(tuple(k.public for k in NEW_KEYS))


def _header(height: int, current: ValidatorSet, following: ValidatorSet, prev: bytes) -> BlockHeader:
    return BlockHeader(
        chain_id=CHAIN,
        height=height,
        view=0,
        timestamp_ms=height,
        prev_block_hash=prev,
        tx_root=EMPTY_ROOT,
        prev_state_root=bytes([height]) * 32,
        prev_results_root=EMPTY_ROOT,
        validators_hash=current.hash,
        proposer=0,
        next_validators_hash=following.hash,
    )


def _cert(header: BlockHeader, signers: list[SigningKey]) -> bytes:
    payload = commit_vote_bytes(header.height, 0, header.hash)
    sigs = [(i, k.sign(Domain.COMMIT, CHAIN, payload)) for i, k in enumerate(signers)]
    return make_certificate(header.height, 0, header.hash, sigs).encode()


def _answer(chain_signers: list[SigningKey] = OLD_KEYS, with_chain: bool = True) -> list[Any]:
    boundary = _header(4, OLD, NEW, bytes(32))
    proof = EpochProof(
        start=5,
        validators=NEW.pubkeys,
        header_bytes=boundary.encode(),
        certificate_bytes=_cert(boundary, chain_signers),
    )
    block = Block(header=_header(8, NEW, NEW, b"\x01" * 32), txs=())
    state_root, results_root = b"\x09" * 32, EMPTY_ROOT
    payload = checkpoint_payload(8, block.hash, state_root, results_root)
    stable = StableProof(
        seq=8,
        block_hash=block.hash,
        state_root=state_root,
        results_root=results_root,
        signatures=tuple((i, k.sign(Domain.CHECKPOINT, CHAIN, payload)) for i, k in enumerate(NEW_KEYS)),
    )
    after = _header(9, NEW, NEW, block.hash)
    return [
        "snapshot",
        codec.encode_trusted(stable.to_wire()),
        block.encode(),
        _cert(block.header, NEW_KEYS),
        [[after.encode(), _cert(after, NEW_KEYS)]],
        [proof.to_wire()] if with_chain else [],
    ]


def test_the_anchor_is_checked_against_the_set_proven_in_force_at_its_height() -> None:
    anchor = verify_anchor(_answer(), OLD, CHAIN, LAG, K)
    assert anchor.proof.seq == 8 and [p.start for p in anchor.boundaries] == [5]
    assert anchor.later_roots == ((9 - LAG, bytes([9]) * 32, EMPTY_ROOT),)


def test_an_answer_that_withholds_the_change_is_refused() -> None:
    with pytest.raises(SnapshotError, match="another validator set"):
        verify_anchor(_answer(with_chain=False), OLD, CHAIN, LAG, K)


def test_a_chain_not_rooted_in_the_genesis_set_is_refused() -> None:
    with pytest.raises(SnapshotError, match="does not verify"):
        verify_anchor(_answer(chain_signers=NEW_KEYS), OLD, CHAIN, LAG, K)
