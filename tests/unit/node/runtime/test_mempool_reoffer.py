"""Re-offering pending transactions (node/runtime/mempool.py `Mempool.stale`): every pending
transaction is offered again until a block commits it, at doubling intervals up to a cap, oldest
first and at most `limit` per call."""

from __future__ import annotations

from node.runtime.mempool import Mempool, SignatureCache
from tests.unit.node.runtime.test_sigcache import _tx


def _pool_with(n: int) -> tuple[Mempool, list[bytes]]:
    pool = Mempool(chain_id="c", signatures=SignatureCache(), is_committed=lambda tx_id: False)
    raws = [_tx(i).encode() for i in range(n)]
    for raw in raws:
        pool.admit(raw, now_s=0.0)
    return pool, raws


def test_reoffers_back_off_to_the_cap_and_never_stop() -> None:
    pool, _ = _pool_with(1)
    due = [t for t in range(0, 41) if pool.stale(float(t), 2.0, 100)]
    # after the admission at 0: 2 s, then 4, 8, 8, 8 ... (cap: 4 x 2 s)
    assert due == [2, 6, 14, 22, 30, 38]


def test_oldest_first_and_at_most_limit_per_call() -> None:
    pool, raws = _pool_with(5)
    assert pool.stale(2.0, 2.0, 3) == raws[:3]
    assert pool.stale(2.0, 2.0, 3) == raws[3:]  # the first three are not due again yet
    assert pool.stale(3.0, 2.0, 10) == []


def test_a_committed_transaction_is_no_longer_offered() -> None:
    pool, raws = _pool_with(2)
    pool.remove([_tx(0).tx_id])
    assert pool.stale(100.0, 2.0, 10) == [raws[1]]
