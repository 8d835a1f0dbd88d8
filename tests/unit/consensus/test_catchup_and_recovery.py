"""Catch-up (RELIABILITY B10, C13) and restart (C4, D7) behaviour of the replica."""

from __future__ import annotations

from consensus import BlocksFetched, MessageReceived, RecoveredState, Replica, RequestTransfer, Tick
from consensus.messages import decode_message
from tests.unit.consensus.harness import KEYS, PUB, Cluster, config, tx


def test_a_partitioned_replica_catches_up_by_verified_transfer() -> None:
    c = Cluster(4, observers=1)
    c.tick()
    c.drop = lambda src, dst, data: dst == 3 or src == 3
    for k in range(5):
        c.submit(tx(k))
        c.tick()
    assert c.heights()[3] == 0
    c.drop = lambda src, dst, data: False
    c.tick(30)
    assert c.heights() == [5] * 5
    assert any(isinstance(a, RequestTransfer) for a in c.actions[3])


def test_catch_up_rejects_forged_blocks_and_certificates_and_never_trusts_a_claimed_height() -> None:
    c = Cluster(4)
    c.tick()
    for k in range(3):
        c.submit(tx(k))
        c.tick()
    fresh = Replica(config(4, 3), KEYS[3].signer(), lambda txs: True)
    fresh.step(Tick(now_ms=c.now))
    block, cert = c.chains[0][0]
    other_block, other_cert = c.chains[0][1]
    items = (
        (block.encode(), other_cert.encode()),  # certificate for another block
        (b"\x93garbage", cert.encode()),  # undecodable
        (other_block.encode(), other_cert.encode()),  # valid but out of order: buffered
    )
    out = fresh.step(BlocksFetched(sender=PUB[0], items=items))
    assert fresh.committed_height == 0 and fresh.stats.get("bad_transfer_item") == 2
    out = fresh.step(BlocksFetched(sender=PUB[1], items=((block.encode(), cert.encode()),)))
    assert fresh.committed_height == 2  # block 1 arrived, the buffered block 2 followed
    assert len([a for a in out if type(a).__name__ == "Commit"]) == 2


def test_a_restarted_replica_re_sends_rather_than_contradicts_its_votes() -> None:
    """Persist-before-send: after a restart the replica restores its slot and its vote."""
    c = Cluster(4)
    c.tick()
    c.drop = lambda src, dst, data: data[1] == 34  # no COMMIT arrives: seq 1 stays open
    c.submit(tx(1))
    r1 = c.replicas[1]
    assert r1 is not None and r1.committed_height == 0
    entries = tuple(sorted(c.stores[1].items()))
    restarted = Replica(
        config(4, 1),
        KEYS[1].signer(),
        lambda txs: True,
        RecoveredState(
            entries=entries,
            committed_height=0,
            committed_hash=r1.st.committed_hash,
            committed_timestamp_ms=0,
            committed_certificate=None,
        ),
    )
    assert 1 in restarted.st.slots and restarted.st.slots[1].my_prepare == r1.st.slots[1].my_prepare
    sent = [a for t in range(30) for a in restarted.step(Tick(now_ms=c.now + 50 * t)) if hasattr(a, "data")]
    votes = [decode_message(a.data) for a in sent if a.data[1] in (33, 34)]  # type: ignore[attr-defined]
    assert votes and all(v.digest == r1.st.slots[1].digest for v in votes)  # type: ignore[union-attr]


def test_remote_garbage_never_raises() -> None:
    r = Replica(config(4, 1), KEYS[1].signer(), lambda txs: True)
    for data in (b"", b"\x00", b"\x93\x20\x01\x00", bytes(range(256)), b"\x92\x26\x01"):
        for sender in (b"", PUB[0], PUB[2], b"\x63" * 32):
            r.step(MessageReceived(sender=sender, data=data))
    assert r.stats.get("undecodable", 0) > 0


def test_the_reported_height_is_one_an_honest_validator_is_at() -> None:
    """Readiness of a node replaying from genesis (it cannot verify certificates of epochs it does
    not know yet): the (f+1)-th highest STATUS height of the other validators, so f liars cannot
    move it up."""
    observer = Replica(config(4, None), None, lambda txs: True)
    assert observer.reported_height == 0
    observer.st.peer_heights.update({PUB[0]: 10, PUB[1]: 500, PUB[2]: 9})  # PUB[1] lies: f = 1
    assert observer.reported_height == 10
    observer.st.peer_heights[PUB[7]] = 900  # not a validator: not counted
    assert observer.reported_height == 10
    validator = Replica(config(4, 3), KEYS[3].signer(), lambda txs: True)
    validator.st.peer_heights.update({PUB[3]: 700, PUB[0]: 12})  # its own entry never counts
    assert validator.reported_height == 0  # one claim from the others: could be the liar
    validator.st.peer_heights[PUB[2]] = 11
    assert validator.reported_height == 11
