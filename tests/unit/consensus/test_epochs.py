"""Validator-set epochs in the replica (issue 17): a set change reported by execution takes effect
at its boundary (the first checkpoint height >= h + exec_lag), headers name the set in force and
the next one, certificates of each height verify against its own set, a removed or rotated-out
key is refused from the boundary on, and a replica catches up across epochs it did not know."""

from __future__ import annotations

from consensus import Broadcast, EpochInfo, MessageReceived, RecoveredState, Replica
from consensus.messages import CommitVote, commit_payload, decode_message
from tests.unit.consensus.harness import KEYS, PUB, RESULTS0, Cluster, config, params, tx
from wire.certificate import ValidatorSet, verify_certificate
from wire.crypto import Domain, sha256, verify
from wire.epochs import epoch_start

P = params(checkpoint_interval=4, watermark_window=8, exec_lag=1)


def _run(c: Cluster, blocks: int) -> None:
    c.tick()
    for k in range(blocks):
        c.submit(tx(k))
        c.tick()


def test_an_added_validator_votes_from_its_epoch_on() -> None:
    start = epoch_start(2, 4, 1)
    assert start == 5
    old, new = ValidatorSet(tuple(PUB[:4])), ValidatorSet(tuple(PUB[:5]))
    c = Cluster(4, observers=1, p=P, keyed_observers=True, epochs_at={2: (EpochInfo(start, new),)})
    _run(c, 10)
    assert c.heights() == [10] * 5
    for block, cert in c.chains[0]:
        h = block.header.height
        in_force = old if h < start else new
        following = old if h + 1 < start else new
        assert (block.header.validators_hash, block.header.next_validators_hash) == (
            in_force.hash,
            following.hash,
        ), h
        verify_certificate(cert, in_force, "test", height=h, block_hash=block.hash)
    newcomer = c.replicas[4]
    assert newcomer is not None and newcomer.is_validator and newcomer.epoch_start == start
    assert any(4 in dict(cert.signatures) for _, cert in c.chains[0][start:])


def test_a_removed_validator_stops_voting_and_its_key_is_refused() -> None:
    start = 5
    c = Cluster(5, p=P, epochs_at={2: (EpochInfo(start, ValidatorSet(tuple(PUB[:4]))),)})
    _run(c, 8)
    assert c.heights()[:4] == [8] * 4
    gone = c.replicas[4]
    assert gone is not None and not gone.is_validator  # it follows as an observer
    assert all(4 not in dict(cert.signatures) for _, cert in c.chains[0][start - 1 :])
    r = c.replicas[0]
    assert r is not None
    block = c.chains[0][-1][0]
    seq = block.header.height + 1
    for index, sender in ((4, PUB[4]), (3, PUB[4]), (3, PUB[3])):
        sig = KEYS[4].sign(Domain.COMMIT, "test", commit_payload(0, seq, block.hash))
        vote = CommitVote(view=0, seq=seq, digest=block.hash, replica=index, signature=sig)
        r.step(MessageReceived(sender=sender, data=vote.encode()))
    assert r.stats.get("spoofed_sender") == 2  # index 4 is nobody now; index 3 is not PUB[4]
    assert r.stats.get("bad_signature") == 1  # PUB[3]'s slot with the removed key's signature


def test_a_rotated_validator_signs_with_its_new_key_after_a_restart() -> None:
    start = 5
    rotated = ValidatorSet((*PUB[:3], PUB[5]))
    c = Cluster(4, p=P, epochs_at={2: (EpochInfo(start, rotated),)})
    _run(c, 5)
    r3 = c.replicas[3]
    assert r3 is not None and r3.epoch_start == start and not r3.is_validator
    # the operator restarts the node with its new key (what `orgledger node run` does)
    chain = c.chains[3]
    c.replicas[3] = Replica(
        config(4, None, P),
        KEYS[5].signer(),
        c.tx_checker,
        RecoveredState(
            entries=tuple(c.stores[3].items()),
            committed_height=len(chain),
            committed_hash=chain[-1][0].hash,
            committed_timestamp_ms=chain[-1][0].header.timestamp_ms,
            committed_certificate=chain[-1][1],
            executed=tuple((h, sha256(b"state%d" % h), RESULTS0) for h in range(1, len(chain) + 1)),
            recent_commits=tuple(chain),
            epochs=(EpochInfo(start, rotated, chain[start - 2][0].hash),),
        ),
    )
    c.keys[3] = PUB[5]
    for k in range(5, 12):
        c.submit(tx(k))
        c.tick()
    c.tick(20)
    assert c.heights() == [12] * 4
    assert c.replicas[3] is not None and c.replicas[3].me == 3
    for block, cert in c.chains[0][start - 1 :]:
        verify_certificate(cert, rotated, "test", height=block.header.height, block_hash=block.hash)
    votes = [decode_message(a.data) for a in c.actions[3] if isinstance(a, Broadcast) and a.data[1] == 34]
    mine = [v for v in votes if isinstance(v, CommitVote) and v.seq > start]
    assert mine and all(
        verify(Domain.COMMIT, "test", PUB[5], commit_payload(v.view, v.seq, v.digest), v.signature)
        for v in mine
    )


def test_a_lagging_observer_catches_up_across_an_epoch_it_did_not_know() -> None:
    new = ValidatorSet(tuple(PUB[:5]))
    c = Cluster(5, observers=1, p=P, epochs_at={2: (EpochInfo(5, ValidatorSet(tuple(PUB[:4]))),)})
    c.drop = lambda src, dst, data: dst == 5 or src == 5
    _run(c, 14)
    assert c.heights()[5] == 0
    c.drop = lambda src, dst, data: False
    for _ in range(20):
        c.tick(5)
        if c.heights()[5] == c.heights()[0]:
            break
    assert c.heights()[5] == c.heights()[0] >= 14
    obs = c.replicas[5]
    assert obs is not None and obs.epoch_start == 5 and obs.stats.get("transfers_requested", 0) > 1
    assert new.n == 5


def test_a_pre_prepare_outside_the_watermarks_with_a_known_set_is_dropped() -> None:
    """§4.2 with epochs: a seq whose set is known but above h + L is outside the watermarks."""
    c = Cluster(4, p=P)
    c.drop = lambda src, dst, data: data[1] == 35  # no CHECKPOINT: the low watermark stays at 0
    _run(c, 9)
    assert c.heights() == [8] * 4  # L = 8
    r = c.replicas[1]
    assert r is not None and r.stable_checkpoint == 0 and r.known(9)
    assert r.stats.get("outside_watermarks", 0) == 0
    primary_pp = [a for a in c.actions[0] if type(a).__name__ == "Broadcast" and a.data[1] == 32]  # type: ignore[attr-defined]
    assert primary_pp
