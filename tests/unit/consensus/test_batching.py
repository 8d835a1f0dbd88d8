"""Batching at the primary (`batch_delay_ticks`): a partial block waits for its oldest request to
age that many ticks, a full block goes at once, and 0 proposes every request as it arrives."""

from __future__ import annotations

from consensus import Broadcast
from consensus.messages import PrePrepare, decode_message
from tests.unit.consensus.harness import Cluster, params, tx


def proposals(c: Cluster) -> list[PrePrepare]:
    """The PRE-PREPAREs the primary (replica 0) has broadcast so far."""
    out = []
    for a in c.actions[0]:
        if isinstance(a, Broadcast):
            msg = decode_message(a.data)
            if isinstance(msg, PrePrepare):
                out.append(msg)
    return out


def test_requests_arriving_within_one_tick_share_one_block() -> None:
    c = Cluster(4, p=params(batch_delay_ticks=1))
    c.tick()
    for k in range(5):
        c.submit(tx(k))
    assert proposals(c) == [], "a partial batch must wait for the tick"
    c.tick()
    assert [len(pp.block.txs) for pp in proposals(c)] == [5]
    assert c.heights() == [1] * 4


def test_a_full_batch_is_proposed_at_once() -> None:
    c = Cluster(4, p=params(batch_delay_ticks=5, max_block_txs=4))
    c.tick()
    c.submit(*(tx(k) for k in range(6)))
    assert [len(pp.block.txs) for pp in proposals(c)] == [4], "the full block goes, the rest waits"
    c.tick(4)
    assert [len(pp.block.txs) for pp in proposals(c)] == [4]
    c.tick()
    assert [len(pp.block.txs) for pp in proposals(c)] == [4, 2]
    assert c.heights() == [2] * 4


def test_the_delay_counts_from_the_oldest_waiting_request() -> None:
    c = Cluster(4, p=params(batch_delay_ticks=2))
    c.tick()
    c.submit(tx(1))
    c.tick()
    c.submit(tx(2))
    assert proposals(c) == []
    c.tick()  # tx(1) has waited two ticks: both go, tx(2) does not hold it back
    assert [pp.block.txs for pp in proposals(c)] == [(tx(1), tx(2))]


def test_zero_delay_proposes_each_request_as_it_arrives() -> None:
    c = Cluster(4, p=params(batch_delay_ticks=0))
    c.tick()
    c.submit(tx(1))
    c.submit(tx(2))
    assert [pp.block.txs for pp in proposals(c)] == [(tx(1),), (tx(2),)]
    assert c.heights() == [2] * 4


def test_a_steady_trickle_makes_at_most_one_partial_block_per_tick() -> None:
    """The point of batching: blocks (each costing every replica signatures and synced writes)
    follow the clock, not the request rate."""
    batched, eager = Cluster(4, p=params(batch_delay_ticks=1)), Cluster(4, p=params(batch_delay_ticks=0))
    for c in (batched, eager):
        c.tick()
        k = 0
        for _ in range(10):
            for _ in range(4):
                c.submit(tx(k))
                k += 1
            c.tick()
    assert sum(len(pp.block.txs) for pp in proposals(batched)) == 40
    assert len(proposals(batched)) <= 10
    assert len(proposals(eager)) == 40
    assert batched.hashes(1) == batched.hashes(0)
