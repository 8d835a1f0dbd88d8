"""A replica rejoins the network's view (issue 18.8): one that is alone in a higher view follows the
view the others are active in, without voting there, and one that missed the NEW-VIEW of its own
view gets it forwarded. The `no_rejoin` mutant (the code before the fix) stays alone."""

from __future__ import annotations

from consensus import MessageReceived, RecoveredState, Replica, RequestsAvailable
from consensus.actions import Broadcast
from consensus.messages import (
    TAG_COMMIT,
    TAG_NEW_VIEW,
    TAG_PREPARE,
    TAG_STATUS,
    TAG_VIEW_CHANGE,
    Status,
    decode_message,
)
from consensus.state import KEY_VIEW
from tests.unit.consensus.harness import KEYS, PUB, Cluster, config, tx
from wire import codec


def _alone_in_view_1(mutants: frozenset[str] = frozenset(), *, deaf: bool = False) -> Cluster:
    """Replica 3 holds a request nobody else has, suspects the primary and enters view 1 alone
    (`deaf`: it hears no STATUS)."""
    c = Cluster(4)
    if deaf:
        c.drop = lambda src, dst, data: dst == 3 and data[1] == TAG_STATUS
    if mutants:
        c.replicas[3] = Replica(config(4, 3, c.p), KEYS[3].signer(), c.tx_checker, mutants=mutants)
    c.tick()
    c.submit(tx(1))
    c.deliver(3, RequestsAvailable(txs=(tx(9),)))
    r3 = c.replicas[3]
    assert r3 is not None
    for _ in range(40):
        c.tick()
        if r3.view == 1:
            break
    assert r3.view == 1 and not r3.view_active
    assert all(r is not None and r.view == 0 and r.view_active for r in c.replicas[:3])
    c.submit(tx(9))  # now the others have it too: nothing is left to suspect the primary for
    return c


def _sent(c: Cluster, i: int, start: int, tag: int) -> list[bytes]:
    return [a.data for a in c.actions[i][start:] if isinstance(a, Broadcast) and a.data[1] == tag]


def test_a_replica_alone_in_a_higher_view_follows_the_view_the_others_commit_in() -> None:
    c = _alone_in_view_1()
    r3 = c.replicas[3]
    assert r3 is not None
    mark = len(c.actions[3])
    c.tick(4)  # two STATUS rounds: f+1 peers report that they are active in view 0
    assert (r3.view, r3.view_active, r3.following) == (0, True, True)
    assert r3.stats.get("views_followed") == 1
    c.submit(tx(2))
    c.tick(2)
    assert c.heights() == [3, 3, 3, 3], "the follower commits what the others commit"
    assert c.hashes(3) == c.hashes(0)
    # Its VIEW-CHANGE(1) promised no vote below view 1: it signs no PREPARE or COMMIT in view 0.
    assert not _sent(c, 3, mark, TAG_PREPARE) and not _sent(c, 3, mark, TAG_COMMIT)
    # A restart resumes in the announced view, never in the followed one.
    assert codec.decode(c.stores[3][KEY_VIEW]) == [1, False, 1]  # view, active, epoch start


def test_the_code_before_the_fix_stays_alone_in_the_higher_view() -> None:
    c = _alone_in_view_1(frozenset({"no_rejoin"}))
    c.submit(tx(2))
    c.tick(40)
    r3 = c.replicas[3]
    assert r3 is not None and (r3.view, r3.view_active) == (1, False)
    assert c.heights() == [3, 3, 3, 3]  # it still commits by certificates, but never votes


def test_a_follower_re_enters_its_view_with_the_same_view_change_and_votes_again() -> None:
    c = _alone_in_view_1()
    r3 = c.replicas[3]
    assert r3 is not None
    first_vc = _sent(c, 3, 0, TAG_VIEW_CHANGE)
    assert len(set(first_vc)) == 1
    c.tick(4)
    assert r3.following
    mark = len(c.actions[3])
    c.replicas[0] = None  # the primary of view 0 dies: the others move to view 1
    c.submit(tx(3))
    c.tick(80)
    assert all(r is not None and r.view == 1 and r.view_active for r in c.replicas[1:])
    assert not r3.following
    assert set(_sent(c, 3, 0, TAG_VIEW_CHANGE)) == set(first_vc), "never a second, different VIEW-CHANGE(1)"
    commits = [decode_message(d) for d in _sent(c, 3, mark, TAG_COMMIT)]
    assert commits and all(getattr(m, "view", None) == 1 for m in commits), "it votes again in view 1"
    assert c.heights()[1:] == [3, 3, 3]


def test_a_restart_while_following_resumes_in_the_announced_view() -> None:
    c = _alone_in_view_1()
    c.tick(4)
    r3 = c.replicas[3]
    assert r3 is not None and r3.following
    last = c.chains[3][-1]
    restarted = Replica(
        config(4, 3, c.p),
        KEYS[3].signer(),
        c.tx_checker,
        RecoveredState(
            entries=tuple(c.stores[3].items()),
            committed_height=len(c.chains[3]),
            committed_hash=last[0].hash,
            committed_timestamp_ms=last[0].header.timestamp_ms,
            committed_certificate=last[1],
            recent_commits=tuple(c.chains[3]),
        ),
    )
    assert (restarted.view, restarted.view_active, restarted.following) == (1, False, False)


def test_a_replica_that_missed_the_new_view_of_its_view_gets_it_forwarded() -> None:
    """Waiting in view 1 for a NEW-VIEW the others installed: their STATUS answer forwards it."""
    c = Cluster(4)
    c.tick()
    c.replicas[0] = None
    c.drop = lambda src, dst, data: dst == 3 and data[1] == TAG_NEW_VIEW
    c.submit(tx(1))
    for _ in range(60):
        c.tick()
        if all(r is not None and r.view_active and r.view == 1 for r in c.replicas[1:3]):
            break
    r3 = c.replicas[3]
    assert r3 is not None and r3.view == 1 and not r3.view_active
    c.drop = lambda src, dst, data: False
    c.tick(4)
    assert r3.view == 1 and r3.view_active
    assert c.heights()[1:] == [1, 1, 1]


def test_stale_or_byzantine_status_alone_does_not_move_a_replica() -> None:
    """One peer's claim (f = 1) is not enough: f+1 peers must report the lower view."""
    c = _alone_in_view_1(deaf=True)
    r3 = c.replicas[3]
    assert r3 is not None and r3.view == 1
    claim = Status(replica=1, view=0, active=True, committed_height=0, certificate=b"", stable_seq=0)
    r3.step(MessageReceived(sender=PUB[1], data=claim.encode()))
    r3.step(MessageReceived(sender=PUB[1], data=claim.encode()))
    assert r3.view == 1 and not r3.view_active
    other = Status(replica=2, view=0, active=True, committed_height=0, certificate=b"", stable_seq=0)
    r3.step(MessageReceived(sender=PUB[2], data=other.encode()))
    assert r3.view == 0 and r3.view_active and r3.following
