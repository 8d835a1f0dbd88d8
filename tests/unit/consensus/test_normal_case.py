"""Paper tests for the normal case: Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI'99,
§4.2 (pre-prepare, prepare, commit), with this project's chain rule and block validation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import Broadcast, Commit, MessageReceived, Persist, Replica, Send, Tick
from consensus.messages import (
    CommitVote,
    PrepareVote,
    PrePrepare,
    commit_payload,
    decode_message,
    pre_prepare_payload,
    prepare_payload,
)
from tests.unit.consensus.harness import GENESIS, KEYS, PUB, RESULTS0, STATE0, T0, Cluster, config, tx
from wire.crypto import Domain
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader


def test_four_replicas_commit_one_block_per_seq_in_order_with_valid_certificates() -> None:
    """§4.2: a request batch is pre-prepared, prepared and committed at every replica, in seq order."""
    c = Cluster(4, observers=1)
    c.tick()
    for k in range(5):
        c.submit(tx(k))
        c.tick()
    assert c.heights() == [5] * 5
    assert all(c.hashes(i) == c.hashes(0) for i in range(5))
    from wire.certificate import verify_certificate

    for block, cert in c.chains[4]:
        verify_certificate(
            cert, config(4, 0).validators, "test", height=block.header.height, block_hash=block.hash
        )
        assert len(cert.signatures) >= 3


@pytest.mark.parametrize("n", [4, 5, 7])
def test_progress_with_f_silent_backups(n: int) -> None:
    """§4.2 with q = ceil((n+f+1)/2): f crashed backups do not stop the normal case."""
    c = Cluster(n)
    f = (n - 1) // 3
    for i in range(n - f, n):
        c.replicas[i] = None
    c.tick()
    c.submit(tx(1), tx(2))
    c.tick(3)
    assert c.heights()[: n - f] == [1] * (n - f)


def test_own_votes_are_persisted_before_they_are_sent() -> None:
    """Persist-before-send (RELIABILITY C4): every PREPARE/COMMIT/PRE-PREPARE a replica broadcasts is
    in a Persist earlier in the same action list."""
    c = Cluster(4)
    c.tick()
    c.submit(tx(1))
    for actions in c.actions[:4]:
        persisted: set[bytes] = set()
        for a in actions:
            if isinstance(a, Persist):
                persisted |= {v for _, v in a.entries if v is not None}
            elif isinstance(a, Broadcast) and a.data[1] in (32, 33, 34):
                assert any(a.data in v for v in persisted), "a vote was sent before it was persisted"


def _proposal(c: Cluster, **header_changes: object) -> PrePrepare:
    h = BlockHeader(
        chain_id="test",
        height=1,
        view=0,
        timestamp_ms=c.now,
        prev_block_hash=GENESIS,
        tx_root=merkle_root([tx(1)]),
        prev_state_root=STATE0,
        prev_results_root=RESULTS0,
        validators_hash=config(4, 0).validators.hash,
        proposer=0,
    )
    txs = (tx(1),)
    h = replace(h, **header_changes)  # type: ignore[arg-type]
    block = Block(header=h, txs=txs)
    sig = KEYS[0].sign(Domain.PRE_PREPARE, "test", pre_prepare_payload(0, 1, block.hash))
    return PrePrepare(view=0, seq=1, block=block, signature=sig)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"prev_block_hash": bytes(32)}, "invalid_proposal_parent"),
        ({"timestamp_ms": T0}, "invalid_proposal_timestamp"),
        ({"timestamp_ms": T0 + 10**7}, "invalid_proposal_timestamp"),
        ({"validators_hash": bytes(32)}, "invalid_proposal_validators"),
        ({"prev_state_root": bytes(32)}, "invalid_proposal_roots"),
        ({"proposer": 1}, "invalid_proposal_header"),
        ({"tx_root": bytes(32)}, "bad_block"),
    ],
)
def test_a_backup_refuses_an_invalid_proposal(change: dict[str, object], reason: str) -> None:
    """§4.2 acceptance conditions plus block validation: parent hash, timestamp (strictly after the
    parent, within the drift bound), validator set, execution roots, proposer, tx root."""
    c = Cluster(4)
    c.tick()
    backup = c.replicas[1]
    assert backup is not None
    out = backup.step(MessageReceived(sender=PUB[0], data=_proposal(c, **change).encode()))
    assert not any(isinstance(a, Broadcast) for a in out)
    assert backup.stats.get(reason) == 1


def test_a_backup_refuses_a_proposal_the_tx_checker_rejects() -> None:
    c = Cluster(4)
    c.tick()
    backup = Replica(config(4, 1), KEYS[1].signer(), lambda txs: False)
    backup.step(Tick(now_ms=c.now))
    backup.step(MessageReceived(sender=PUB[0], data=_proposal(c).encode()))
    assert backup.stats.get("invalid_proposal_tx_checker") == 1


def test_pre_prepare_from_a_non_primary_or_with_a_bad_signature_is_dropped() -> None:
    c = Cluster(4)
    c.tick()
    backup = c.replicas[1]
    assert backup is not None
    good = _proposal(c)
    backup.step(MessageReceived(sender=PUB[2], data=good.encode()))
    forged = replace(good, signature=bytes(64))
    backup.step(MessageReceived(sender=PUB[0], data=forged.encode()))
    assert backup.stats.get("bad_pre_prepare") == 2


def test_an_equivocating_primary_gets_one_digest_per_seq_at_a_backup() -> None:
    """§4.2: a backup accepts at most one PRE-PREPARE per (view, seq); a second digest is evidence."""
    c = Cluster(4)
    c.tick()
    backup = c.replicas[1]
    assert backup is not None
    first = backup.step(MessageReceived(sender=PUB[0], data=_proposal(c).encode()))
    assert any(isinstance(a, Broadcast) for a in first)
    second = backup.step(MessageReceived(sender=PUB[0], data=_proposal(c, timestamp_ms=c.now + 1).encode()))
    assert not any(isinstance(a, Broadcast) for a in second)
    assert backup.stats.get("equivocation") == 1


def test_a_pre_prepare_outside_the_watermarks_is_dropped() -> None:
    """§4.2: seq must lie in (h, h + L]."""
    c = Cluster(4)
    c.tick()
    backup = c.replicas[1]
    assert backup is not None
    pp = _proposal(c)
    far = replace(pp, seq=1000, block=Block(header=replace(pp.block.header, height=1000), txs=pp.block.txs))
    far = replace(
        far, signature=KEYS[0].sign(Domain.PRE_PREPARE, "test", pre_prepare_payload(0, 1000, far.block.hash))
    )
    backup.step(MessageReceived(sender=PUB[0], data=far.encode()))
    # so far ahead that its validator set is not even fixed yet: dropped before the watermarks
    assert backup.stats.get("unknown_epoch") == 1 and 1000 not in backup.st.slots


def test_a_pre_prepare_is_buffered_until_its_parent_arrives() -> None:
    """The chain rule: PRE-PREPARE(v, s) waits for the accepted PRE-PREPARE of s-1 (reordering)."""
    c = Cluster(4)
    c.tick()
    held: list[tuple[int, bytes]] = []

    def hold_first(src: int, dst: int, data: bytes) -> bool:
        if src == 0 and dst == 1 and data[1] == 32 and decode_message(data).seq == 1:  # type: ignore[union-attr]
            held.append((dst, data))
            return True
        return False

    c.drop = hold_first
    c.submit(tx(1))
    c.tick()
    c.drop = lambda s, d, x: False
    assert c.heights()[0] == 1
    for _, data in held:
        c.deliver(1, MessageReceived(sender=PUB[0], data=data))
    c.tick(12)
    assert c.heights() == [1, 1, 1, 1]


def test_observers_follow_but_never_sign() -> None:
    """Observers build certificates from COMMITs and commit, but never send a vote."""
    c = Cluster(4, observers=2)
    c.tick()
    c.submit(tx(1))
    c.tick(2)
    assert c.heights()[4:] == [1, 1]
    for i in (4, 5):
        assert any(isinstance(a, Commit) for a in c.actions[i])
        assert not any(isinstance(a, (Broadcast, Send, Persist)) for a in c.actions[i])


def test_prepare_from_a_spoofed_sender_is_dropped() -> None:
    c = Cluster(4)
    c.tick()
    backup = c.replicas[1]
    assert backup is not None
    vote = PrepareVote(view=0, seq=1, digest=bytes(32), replica=2, signature=bytes(64))
    backup.step(MessageReceived(sender=PUB[3], data=vote.encode()))
    assert backup.stats.get("spoofed_sender") == 1


def test_votes_from_outside_the_validator_set_are_ignored() -> None:
    """RELIABILITY S3: a PREPARE or COMMIT arriving from a sender outside the validator set (an
    observer, index >= n) is dropped before its signature is even looked at, and counted."""
    c = Cluster(4, observers=1)
    c.tick()
    r1 = c.replicas[1]
    assert r1 is not None
    digest = bytes(32)
    sig = KEYS[4].sign(Domain.PREPARE, "test", prepare_payload(0, 1, digest))
    r1.step(
        MessageReceived(
            sender=PUB[4], data=PrepareVote(view=0, seq=1, digest=digest, replica=4, signature=sig).encode()
        )
    )
    sig = KEYS[4].sign(Domain.COMMIT, "test", commit_payload(0, 1, digest))
    r1.step(
        MessageReceived(
            sender=PUB[4], data=CommitVote(view=0, seq=1, digest=digest, replica=4, signature=sig).encode()
        )
    )
    # the sender's key holds no index of the epoch's set: dropped as a spoofed sender
    assert r1.stats.get("spoofed_sender") == 2
    assert not r1.st.prepare_votes and not r1.st.commit_votes
