"""A valid chain built offline, for the benchmark figures that need a long history.

Rules: blocks are made exactly as a primary would (headers with the lagged roots, strictly
increasing timestamps, the genesis validator set), executed through the same `Executor` a node
uses, and certified by a quorum of the network's own validator keys (read from its node
directories). Nothing in it is fake except that no consensus messages were exchanged: every check
of the auditor, of an observer catching up and of a node restarting on it applies. The last
stable checkpoint is certified by the same quorum, as the validators would have done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from auditor.archive import ArchiveBlock, ArchiveWriter
from auditor.segments import snapshot_heights
from consensus.messages import StableProof, checkpoint_payload
from consensus.state import KEY_STABLE
from node.dev.workload import Workload
from node.errors import StorageError
from node.metrics import StageClock
from node.runtime.authority import SignerAuthority
from node.runtime.executor import Executor
from node.runtime.mempool import Mempool
from node.runtime.sigcache import SignatureCache
from node.store.storage import BlockStore
from wire import codec, statemap
from wire.certificate import make_certificate
from wire.crypto import Domain, Signer
from wire.files import load_genesis, load_signing_key
from wire.genesis import Genesis
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, commit_vote_bytes


def generate_chain(
    net: Path,
    data_dir: Path,
    txs: int,
    *,
    block_txs: int = 2000,
    seed: int = 3,
    progress: Callable[[int], None] | None = None,
    on_apply: Callable[[int, float], None] | None = None,
    stages: StageClock | None = None,
    admit: bool = False,
    compress: bool = False,
) -> int:
    """Append blocks holding `txs` workload transactions to the store at `data_dir`; return its height.
    `on_apply(transactions, cpu_seconds)` is told the thread CPU time of each `Executor.apply`;
    `stages` gets the executor's split (execution, state map, storage). `admit`: each block's
    transactions first pass a validator's admission (a mempool over this store with the signer
    check; its CPU time to stage `admission`) and execution reuses the objects it decoded, as on a
    node. `compress`: a new store writes its tables with snappy (`[store] compression`)."""
    genesis = load_genesis(net / "genesis.json")
    keys = [
        load_signing_key(net / "nodes" / n.node_id / "node.key").signer() for n in genesis.validator_nodes
    ]
    quorum = genesis.validators.quorum
    work = Workload(genesis, net, seed=seed)
    lag = genesis.consensus.exec_lag
    with BlockStore.open(data_dir, genesis.hash, compress=compress) as store:
        signatures = SignatureCache()
        executor = Executor(store, genesis, signatures.decode, stages=stages)
        pool = (
            Mempool(
                chain_id=genesis.chain_id,
                signatures=signatures,
                is_committed=lambda tx_id: store.tx_location(tx_id) is not None,
                authority=SignerAuthority(store.state_get).check,
                max_tx_bytes=genesis.consensus.max_tx_bytes,
            )
            if admit
            else None
        )
        meta = executor.meta
        prev_hash, height = meta.block_hash, meta.height
        last = store.block(height)
        ts = max(int(time.time() * 1000) - 10 * 24 * 3600_000, genesis.genesis_time_ms + 1)
        if last is not None:
            ts = last.header.timestamp_ms
        done = 0
        while done < txs:
            n = min(block_txs, txs - done)
            ts += 1000
            batch = tuple(work.next_tx(ts - 500).encode() for _ in range(n))
            if pool is not None:
                started = time.thread_time()
                admitted = [pool.admit(raw)[0].tx_id for raw in batch]
                if stages is not None:
                    stages.add("admission", time.thread_time() - started)
            height += 1
            roots = store.roots(max(0, height - lag))
            if roots is None:
                raise RuntimeError(f"no roots for height {max(0, height - lag)}")
            header = BlockHeader(
                chain_id=genesis.chain_id,
                height=height,
                view=0,
                timestamp_ms=ts,
                prev_block_hash=prev_hash,
                tx_root=merkle_root(batch),
                prev_state_root=roots[0],
                prev_results_root=roots[1],
                validators_hash=genesis.validators.hash,
                proposer=0,
            )
            block = Block(header=header, txs=batch)
            vote = commit_vote_bytes(height, 0, block.hash)
            sigs = [(i, k.sign(Domain.COMMIT, genesis.chain_id, vote)) for i, k in enumerate(keys[:quorum])]
            started = time.thread_time()
            executor.apply(block, make_certificate(height, 0, block.hash, sigs))
            if on_apply is not None:
                on_apply(n, time.thread_time() - started)
            if pool is not None:
                pool.remove(admitted)
            prev_hash = block.hash
            done += n
            if progress is not None:
                progress(n)
        _certify_checkpoint(store, genesis, keys[:quorum], height)
        return height


def _certify_checkpoint(store: BlockStore, genesis: Genesis, keys: list[Signer], height: int) -> None:
    """Persist the stable checkpoint the validators would have certified by now (the highest
    multiple of `checkpoint_interval` at or below `height`), signed by a quorum: without it a
    network started on the chain keeps its low watermark at 0 and cannot propose above
    `watermark_window`."""
    seq = height - height % genesis.consensus.checkpoint_interval
    roots = store.roots(seq)
    block = store.block(seq)
    if seq == 0 or roots is None or block is None:
        return
    payload = checkpoint_payload(seq, block.hash, roots[0], roots[1])
    proof = StableProof(
        seq=seq,
        block_hash=block.hash,
        state_root=roots[0],
        results_root=roots[1],
        signatures=tuple(
            (i, k.sign(Domain.CHECKPOINT, genesis.chain_id, payload)) for i, k in enumerate(keys)
        ),
    )
    store.persist_consensus([(KEY_STABLE, codec.encode_trusted(proof.to_wire()))])


def archive_from_store(net: Path, data_dir: Path, out: Path, *, parts: Sequence[int] = ()) -> int:
    """Write the store's chain as an export archive (the auditor's `--archive` input)."""
    return write_archive(load_genesis(net / "genesis.json"), data_dir, out, parts=parts)


def write_archive(genesis: Genesis, data_dir: Path, out: Path, *, parts: Sequence[int] = ()) -> int:
    """The store's chain as an archive, with the whole state after the heights that cut it into n
    equal parts, for each n of `parts` (the auditor's segments for n workers: `snapshot_heights`);
    only heights whose state map the store still holds (it prunes the maps of old heights)."""
    with BlockStore.open(data_dir, genesis.hash) as store:
        top = store.height
        lag = genesis.consensus.exec_lag
        wanted = sorted({h for n in parts for h in snapshot_heights(top, n, lag)})
        states = {h: st for h in wanted if (st := _state_at(store, h)) is not None}
        writer = ArchiveWriter(out, genesis, height=top, source=str(data_dir), snapshots=sorted(states))
        try:
            for h in range(1, top + 1):
                block, cert = store.block_bytes(h), store.certificate_bytes(h)
                if block is None or cert is None:
                    raise RuntimeError(f"block {h} missing from {data_dir}")
                receipts = tuple(r.encode() for r in store.receipts(h))
                writer.add(
                    ArchiveBlock(
                        height=h,
                        block_bytes=block,
                        certificate_bytes=cert,
                        receipts=receipts,
                        state=states.pop(h, None),
                    )
                )
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        return top


def _state_at(store: BlockStore, height: int) -> tuple[tuple[bytes, bytes], ...] | None:
    """Every state entry after block `height`, read from the store's map; None when pruned."""
    try:
        root = store.map_root(height)
    except StorageError:
        return None
    out: list[tuple[bytes, bytes]] = []
    after, more = b"", True
    while more:
        page, _, more = statemap.scan(store.map_node, root, after, None, 10_000)
        out.extend(page)
        if page:
            after = page[-1][0] + b"\x00"
    return tuple(out)
