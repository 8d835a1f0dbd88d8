"""`orgledger export`: a node's chain copied to an archive, with state snapshots from a replay.

Rules:

- Blocks, certificates and receipts are fetched from height 1 to the node's height at the start
  (`NodeReader`, `ordered_prefetch`) and written in order (`ArchiveWriter`); nothing is checked
  here: the auditor verifies the archive.
- With `segments` N > 1 the archive carries the whole state after the heights that cut it into N
  segments of equal length that the auditor can start a segment at (`segments.snapshot_heights`).
  Nodes keep only recent state, so that state is not fetched: the exporter replays the blocks it
  exports with the auditor's replay (`Replayer`, up to the last snapshot height only) and writes
  its own replayed state. The exporter is not trusted for it either: the auditor checks every
  snapshot against its own replay and against the certified roots.
- A block that cannot be replayed (it does not decode, or names another height) stops an export
  with snapshots; without snapshots it is copied as served.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from auditor.archive import ArchiveBlock, ArchiveWriter, NodeReader, ordered_prefetch
from auditor.errors import SourceError
from auditor.replay import Replayer
from auditor.segments import snapshot_heights
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.types import Block


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    height: int
    blocks: int
    txs: int
    bytes: int
    seconds: float
    snapshots: tuple[int, ...] = ()


def export_chain(
    reader: NodeReader,
    genesis: Genesis,
    out: Path,
    *,
    segments: int = 1,
    progress: bool = True,
    window: int = 8,
) -> ExportResult:
    """Copy the node's blocks, certificates and receipts from height 1 to its current height, with
    the replayed state after the heights that cut it into `segments` (1: no snapshots)."""
    from tqdm import tqdm

    started = time.monotonic()
    status = reader.status()
    if status.get("genesis_hash") != genesis.hash.hex():
        raise SourceError(
            f"the node is of genesis {str(status.get('genesis_hash'))[:16]}…, "
            f"not of the given genesis {genesis.hash.hex()[:16]}…"
        )
    height = reader.height()
    cuts = snapshot_heights(height, segments, genesis.consensus.exec_lag)
    replayer = Replayer(genesis) if cuts else None

    def fetch(h: int) -> ArchiveBlock:
        block, cert = reader.block(h)
        return ArchiveBlock(
            height=h, block_bytes=block, certificate_bytes=cert, receipts=tuple(reader.receipts(h))
        )

    writer = ArchiveWriter(out, genesis, height=height, source=reader.url, snapshots=cuts)
    txs = 0
    try:
        with tqdm(total=height, unit="block", desc="export", disable=not progress) as bar:
            for item in ordered_prefetch(fetch, range(1, height + 1), window=window):
                if replayer is not None and item.height <= cuts[-1]:
                    _replay(replayer, item)
                    if item.height in cuts:
                        item = dataclasses.replace(item, state=tuple(replayer.state.items()))
                writer.add(item)
                txs += len(item.receipts)
                bar.update(1)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return ExportResult(
        path=out,
        height=height,
        blocks=height,
        txs=txs,
        bytes=out.stat().st_size,
        seconds=time.monotonic() - started,
        snapshots=tuple(cuts),
    )


def _replay(replayer: Replayer, item: ArchiveBlock) -> None:
    """Apply the block to the replay (a SourceError when it cannot be)."""
    h = item.height
    advice = "export without --segments and audit that archive"
    try:
        block = Block.decode(item.block_bytes)
    except DecodeError as exc:
        raise SourceError(f"block {h} does not decode ({exc.message}); {advice}", height=h) from exc
    if block.header.height != h:
        raise SourceError(f"block {h} names height {block.header.height}; {advice}", height=h)
    replayer.apply(block)
