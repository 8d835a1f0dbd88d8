"""What the replica recovers from the store at start: the consensus records, the committed tip,
the executed roots of the last heights and the recent commits.

Rules:

- A store at height 0 without consensus records recovers nothing (None): the replica starts from
  genesis.
- Only what the store holds is handed on: the roots of the heights `exec_lag + 1` below the tip
  (those present: a snapshot-joined store has none below its base), the blocks and certificates
  of the last `watermark_window` heights, and the validator epochs (`registry.read_epochs`).
"""

from __future__ import annotations

from consensus import RecoveredState
from node.runtime.registry import read_epochs
from node.store.storage import BlockStore, Meta
from wire.genesis import Genesis


def recovered_state(store: BlockStore, genesis: Genesis, meta: Meta) -> RecoveredState | None:
    entries = tuple(store.consensus_entries())
    if meta.height == 0 and not entries:
        return None
    lag = genesis.consensus.exec_lag
    executed = []
    for h in range(max(0, meta.height - lag - 1), meta.height + 1):
        roots = store.roots(h)
        if roots is not None:
            executed.append((h, roots[0], roots[1]))
    block = store.block(meta.height) if meta.height else None
    window = genesis.consensus.watermark_window
    recent = []
    for h in range(max(1, meta.height - window + 1), meta.height + 1):
        b, c = store.block(h), store.certificate(h)
        if b is not None and c is not None:
            recent.append((b, c))
    return RecoveredState(
        entries=entries,
        committed_height=meta.height,
        committed_hash=meta.block_hash,
        committed_timestamp_ms=block.header.timestamp_ms if block else genesis.genesis_time_ms,
        committed_certificate=store.certificate(meta.height) if meta.height else None,
        executed=tuple(executed),
        recent_commits=tuple(recent),
        epochs=read_epochs(store),
    )
