"""Paper tests for checkpoints and garbage collection: Castro & Liskov, OSDI'99, §4.3."""

from __future__ import annotations

from consensus import Persist
from consensus.state import PREPARED_PREFIX, SLOT_PREFIX
from tests.unit.consensus.harness import Cluster, params, tx


def test_checkpoints_become_stable_every_k_blocks_and_move_the_low_watermark() -> None:
    """§4.3: after executing seq k (k mod K = 0) replicas multicast CHECKPOINT; q matching ones make
    it stable; the low watermark follows."""
    c = Cluster(4, p=params(checkpoint_interval=2, watermark_window=4))
    c.tick()
    for k in range(7):
        c.submit(tx(k))
        c.tick()
    assert c.heights()[:4] == [7] * 4
    for r in c.replicas[:4]:
        assert r is not None and r.stable_checkpoint == 6


def test_log_entries_at_or_below_the_stable_checkpoint_are_deleted_from_disk() -> None:
    """§4.3 garbage collection: persisted slot and prepared records below the stable checkpoint go."""
    c = Cluster(4, p=params(checkpoint_interval=2, watermark_window=4))
    c.tick()
    for k in range(7):
        c.submit(tx(k))
        c.tick()
    for store in c.stores[:4]:
        seqs = sorted(
            int.from_bytes(k[-8:], "big") for k in store if k.startswith((SLOT_PREFIX, PREPARED_PREFIX))
        )
        assert all(s > 6 for s in seqs), seqs
    deletes = [e for a in c.actions[1] if isinstance(a, Persist) for e in a.entries if e[1] is None]
    assert deletes


def test_the_primary_waits_at_the_high_watermark() -> None:
    """§4.3: seqs above h + L are not proposed until a checkpoint becomes stable."""
    c = Cluster(4, p=params(checkpoint_interval=2, watermark_window=4))
    c.tick()
    c.drop = lambda src, dst, data: data[1] == 35  # no CHECKPOINT gets through: h stays at 0
    for k in range(8):
        c.submit(tx(k))
        c.tick()
    assert max(c.heights()[:4]) == 4
    c.drop = lambda src, dst, data: False
    c.tick(30)
    heights = c.heights()[:4]
    assert heights[0] > 4 and heights == [heights[0]] * 4  # the backlog went into one more block
    assert sum(len(b.txs) for b, _ in c.chains[0]) == 8
