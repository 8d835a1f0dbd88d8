"""Paper tests for view changes: Castro & Liskov, OSDI'99, §4.4 (VIEW-CHANGE, NEW-VIEW, the O set
computed from prepared certificates above the stable checkpoint, timers with back-off), with the
chain rule of docs/consensus.md."""

from __future__ import annotations

from dataclasses import replace

from consensus import MessageReceived
from consensus.messages import (
    CommittedProof,
    NewView,
    PreparedCert,
    ViewChange,
    decode_message,
    pre_prepare_payload,
)
from consensus.view_change import compute_new_view
from tests.unit.consensus.harness import GENESIS, KEYS, PUB, Cluster, tx
from wire.crypto import Domain
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, CommitCertificate


def _block(height: int, parent: bytes, salt: int = 0) -> Block:
    txs = (b"t%d-%d" % (height, salt),)
    header = BlockHeader(
        chain_id="test",
        height=height,
        view=0,
        timestamp_ms=1000 + height + salt,
        prev_block_hash=parent,
        tx_root=merkle_root(txs),
        prev_state_root=bytes(32),
        prev_results_root=bytes(32),
        validators_hash=bytes(32),
        proposer=0,
    )
    return Block(header=header, txs=txs)


def _pc(block: Block, view: int) -> PreparedCert:
    return PreparedCert(view=view, seq=block.header.height, block=block, pp_signature=bytes(64), prepares=())


def _vc(
    replica: int, prepared: tuple[PreparedCert, ...] = (), committed: tuple[CommittedProof, ...] = ()
) -> ViewChange:
    return ViewChange(
        view=5,
        epoch=1,
        replica=replica,
        checkpoint=None,
        committed=committed,
        prepared=prepared,
        signature=bytes(64),
    )


B1 = _block(1, GENESIS)
B2 = _block(2, B1.hash)
B2X = _block(2, B1.hash, salt=1)
B3 = _block(3, B2.hash)
B3X = _block(3, B2X.hash)


def test_new_view_takes_the_highest_view_prepared_certificate_per_seq() -> None:
    """§4.4: for each seq the O set holds the digest of the prepared certificate with the highest view."""
    plan = compute_new_view(
        [_vc(0, (_pc(B1, 0), _pc(B2, 1))), _vc(1, (_pc(B1, 0), _pc(B2X, 3))), _vc(2)], 0, GENESIS
    )
    assert plan.reproposal_keys() == ((1, B1.hash), (2, B2X.hash))


def test_new_view_keeps_only_the_hash_consistent_prefix() -> None:
    """Chain rule: B3 extends B2, but B2X won seq 2, so B3 is dropped and seq 3 is proposed afresh."""
    plan = compute_new_view(
        [_vc(0, (_pc(B1, 0), _pc(B2, 1), _pc(B3, 1))), _vc(1, (_pc(B2X, 2),))], 0, GENESIS
    )
    assert plan.reproposal_keys() == ((1, B1.hash), (2, B2X.hash))


def test_new_view_re_proposes_a_committed_block() -> None:
    """A commit certificate counts as evidence with its view, so a committed block survives."""
    cert = CommitCertificate(height=2, view=4, block_hash=B2.hash, signatures=())
    plan = compute_new_view(
        [
            _vc(0, (_pc(B1, 0), _pc(B2X, 3))),
            _vc(1, (_pc(B1, 0),), (CommittedProof(block=B2, certificate=cert),)),
        ],
        0,
        GENESIS,
    )
    assert plan.reproposal_keys() == ((1, B1.hash), (2, B2.hash))


def test_new_view_with_no_evidence_is_empty() -> None:
    assert compute_new_view([_vc(0), _vc(1), _vc(2)], 0, GENESIS).reproposal_keys() == ()


def test_a_crashed_primary_is_replaced_and_the_new_primary_commits() -> None:
    """§4.4: backups time out, send VIEW-CHANGE, the primary of v+1 sends NEW-VIEW, requests commit."""
    c = Cluster(4)
    c.replicas[0] = None
    c.tick()
    c.submit(tx(1))
    c.tick(60)
    live = [r for r in c.replicas if r is not None]
    assert all(r.view == 1 and r.view_active for r in live)
    assert c.heights()[1:] == [1, 1, 1]


def test_a_block_committed_at_one_replica_survives_the_view_change() -> None:
    """§4.4 safety: COMMITs reach only replica 1; the primary dies; the new view re-proposes the
    block (it is prepared at a quorum) and every replica commits the same block at seq 1."""
    c = Cluster(4)
    c.tick()
    c.drop = lambda src, dst, data: data[1] == 34 and dst != 1
    c.submit(tx(1))
    assert c.heights()[1] == 1 and c.heights()[2:] == [0, 0]
    committed = c.hashes(1)[0]
    c.replicas[0] = None
    c.drop = lambda src, dst, data: False
    c.tick(80)
    assert c.heights()[1:] == [1, 1, 1]
    assert {c.hashes(i)[0] for i in (1, 2, 3)} == {committed}


def test_a_replica_joins_a_higher_view_only_on_f_plus_1_view_changes() -> None:
    """§4.4 liveness rule: one VIEW-CHANGE (even for a huge view) does not move a replica."""
    c = Cluster(4)
    c.tick()
    r1 = c.replicas[1]
    assert r1 is not None
    vc = ViewChange(
        view=2**40, epoch=1, replica=3, checkpoint=None, committed=(), prepared=(), signature=bytes(64)
    )
    vc = replace(vc, signature=KEYS[3].sign(Domain.VIEW_CHANGE, "test", vc.payload()))
    r1.step(MessageReceived(sender=PUB[3], data=vc.encode()))
    assert r1.view == 0
    vc2 = ViewChange(
        view=7, epoch=1, replica=2, checkpoint=None, committed=(), prepared=(), signature=bytes(64)
    )
    vc2 = replace(vc2, signature=KEYS[2].sign(Domain.VIEW_CHANGE, "test", vc2.payload()))
    r1.step(MessageReceived(sender=PUB[2], data=vc2.encode()))
    assert r1.view == 7 and not r1.view_active  # f+1 = 2: joins the (f+1)-th highest view


def test_a_new_view_whose_reproposals_differ_from_the_recomputation_is_rejected() -> None:
    """§4.4: backups recompute O from the VIEW-CHANGEs and refuse a NEW-VIEW that differs."""
    c = Cluster(4)
    c.replicas[0] = None
    c.tick()
    captured: list[bytes] = []

    def capture(src: int, dst: int, data: bytes) -> bool:
        if data[1] == 37:
            captured.append(data)
            return True
        return False

    c.drop = capture
    c.submit(tx(1))
    for _ in range(60):
        c.tick()
        if captured:
            break
    assert captured
    nv = decode_message(captured[0])
    assert isinstance(nv, NewView)
    bogus_sig = KEYS[nv.replica].sign(Domain.PRE_PREPARE, "test", pre_prepare_payload(nv.view, 1, bytes(32)))
    from consensus.messages import Reproposal

    forged = replace(nv, reproposals=(Reproposal(seq=1, digest=bytes(32), signature=bogus_sig),))
    forged = replace(forged, signature=KEYS[nv.replica].sign(Domain.NEW_VIEW, "test", forged.payload()))
    r2 = c.replicas[2]
    assert r2 is not None and r2.view == nv.view and not r2.view_active
    r2.step(MessageReceived(sender=PUB[nv.replica], data=forged.encode()))
    assert r2.stats.get("bad_new_view") == 1 and not r2.view_active
