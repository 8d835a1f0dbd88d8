"""`audit verify --workers N` on an archive with snapshots: segments replayed in parallel processes.

The parallel audit gives the report of the sequential one, and whatever is tampered with (a
transaction, the state the archive claims at a segment start, a root certified by a Byzantine
quorum, in any segment or at the seam between two) is caught with the sequential verdict: the
same height, check and reason. An export with snapshots (`auditor/export.py`) of a chain whose
validators change audits in parallel to the sequential report, wherever the seams fall.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor import segments
from auditor.archive import ArchiveBlock, ArchiveReader, ArchiveWriter, NodeReader
from auditor.export import export_chain
from auditor.segments import plan, snapshot_heights
from auditor.verify import AuditReport, audit_archive
from client_sdk.builders import NodePropose
from node.cli import cli
from node.dev.chaingen import write_archive
from node.store.storage import BlockStore
from tests.support.auditchain import (
    BuiltChain,
    StoreNode,
    build_chain,
    governance_tx,
    node_app,
    reheader,
    serve,
)
from wire.crypto import SigningKey
from wire.types import Block

# the session chain: 8 blocks of 6 transactions, exec_lag 2; snapshots after blocks 2, 4 and 6
SEGMENTS = [(0, 2), (2, 4), (4, 8)]


@pytest.fixture(scope="module")
def archive(chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("segments") / "chain.arc"
    write_archive(chain.genesis, chain.data_dir, path, parts=(4,))
    return path


def _same(doc: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs by design between runs (time, workers, segments)."""
    return {k: v for k, v in doc.items() if k not in ("timings", "tx_per_s", "workers", "segments")}


def sequential_and_parallel(path: Path, chain: BuiltChain) -> tuple[AuditReport, AuditReport]:
    seq = audit_archive(path, chain.genesis, workers=1)
    par = audit_archive(path, chain.genesis, workers=3)
    assert (seq.segments, par.segments) == (1, 3)
    assert _same(par.to_json()) == _same(seq.to_json())
    return seq, par


def rewrite(src: Path, dst: Path, change: Callable[[ArchiveBlock], ArchiveBlock]) -> Path:
    with ArchiveReader(src) as r:
        h = r.header
        w = ArchiveWriter(dst, r.genesis(), height=h.height, source="t", snapshots=h.snapshots)
        for block in r.blocks():
            w.add(change(block))
        w.finish()
    return dst


def test_the_segments_follow_the_snapshots(archive: Path) -> None:
    with ArchiveReader(archive) as r:
        assert r.header.snapshots == (2, 4, 6)
    assert plan(8, (2, 4, 6), 3, 2) == SEGMENTS
    assert plan(8, (2, 4, 6), 2, 2) == [(0, 4), (4, 8)]
    assert plan(8, (), 4, 2) == [(0, 8)]  # nothing to cut at: one segment
    assert plan(8, (1, 7), 2, 2) == [(0, 8)]  # a segment shorter than exec_lag cannot certify its start
    assert snapshot_heights(8, 4, 2) == [2, 4, 6]  # what the archive above holds
    assert snapshot_heights(8, 8, 2) == [2, 3, 4, 5, 6]  # none that would leave less than exec_lag
    assert snapshot_heights(3, 2, 2) == [] and snapshot_heights(8, 1, 2) == []


def test_parallel_gives_the_sequential_report(archive: Path, chain: BuiltChain) -> None:
    seq, par = sequential_and_parallel(archive, chain)
    doc = par.to_json()
    assert par.ok, doc
    assert doc["blocks"] == chain.height and doc["verified_height"] == chain.height
    assert doc["roots_confirmed_height"] == chain.height - chain.genesis.consensus.exec_lag
    assert doc["checks"]["snapshots"] == {"passed": 3, "failed": 0}
    assert doc["checks"]["state_roots"] == {"passed": chain.height - 2, "failed": 0}
    two = audit_archive(archive, chain.genesis, workers=2)
    assert two.segments == 2 and _same(two.to_json()) == _same(seq.to_json())


@pytest.mark.parametrize("height", [1, 3, 6])
def test_a_changed_transaction_is_caught_in_every_segment(
    archive: Path, chain: BuiltChain, tmp_path: Path, height: int
) -> None:
    def change(b: ArchiveBlock) -> ArchiveBlock:
        if b.height != height:
            return b
        block = Block.decode(b.block_bytes)
        tx = bytearray(block.txs[0])
        tx[-1] ^= 1
        forged = Block(header=block.header, txs=(bytes(tx), *block.txs[1:]))
        return dataclasses.replace(b, block_bytes=forged.encode())

    seq, _ = sequential_and_parallel(rewrite(archive, tmp_path / "t.arc", change), chain)
    assert seq.failure is not None and (seq.failure.height, seq.failure.check) == (height, "headers")


@pytest.mark.parametrize("height", [2, 4])
@pytest.mark.parametrize("how", ["changed", "dropped"])
def test_a_wrong_state_at_a_segment_start_is_caught(
    archive: Path, chain: BuiltChain, tmp_path: Path, height: int, how: str
) -> None:
    def change(b: ArchiveBlock) -> ArchiveBlock:
        if b.height != height or b.state is None:
            return b
        entries = list(b.state)
        if how == "changed":
            entries[len(entries) // 2] = (entries[len(entries) // 2][0], b"forged")
        else:
            del entries[len(entries) // 2]
        return dataclasses.replace(b, state=tuple(entries))

    seq, _ = sequential_and_parallel(rewrite(archive, tmp_path / "t.arc", change), chain)
    assert seq.failure is not None and (seq.failure.height, seq.failure.check) == (height, "snapshots")


@pytest.mark.parametrize("height", [3, 4, 7])  # in a segment's first blocks, at the seam, in the last
def test_a_wrong_root_certified_by_a_byzantine_quorum_is_caught(tmp_path: Path, height: int) -> None:
    bad = build_chain(
        tmp_path / "c",
        blocks=8,
        txs_per_block=6,
        hook=lambda h, b: reheader(b, prev_state_root=bytes(32)) if h == height else b,
    )
    path = tmp_path / "bad.arc"
    write_archive(bad.genesis, bad.data_dir, path, parts=(4,))
    seq, _ = sequential_and_parallel(path, bad)
    assert seq.failure is not None
    assert (seq.failure.height, seq.failure.check) == (height - 2, "state_roots")


def test_the_cli_runs_the_segments(archive: Path, chain: BuiltChain) -> None:
    args = ["audit", "verify", "--archive", str(archive), "--genesis", str(chain.net / "genesis.json")]
    result = CliRunner().invoke(cli, [*args, "--workers", "3", "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 segments replayed in parallel" in result.output
    assert f"verified to height {chain.height}" in result.output


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.999])
def test_a_truncated_archive_gives_the_sequential_verdict(
    archive: Path, chain: BuiltChain, tmp_path: Path, keep: float
) -> None:
    data = archive.read_bytes()
    cut = tmp_path / "cut.arc"
    cut.write_bytes(data[: int(len(data) * keep)])
    seq = audit_archive(cut, chain.genesis, workers=1)
    par = audit_archive(cut, chain.genesis, workers=3)
    assert not seq.ok and seq.failure is not None and seq.failure.check == "availability"
    assert _same(par.to_json()) == _same(seq.to_json())


def test_an_archive_without_snapshots_is_audited_block_by_block(chain: BuiltChain, tmp_path: Path) -> None:
    path = tmp_path / "plain.arc"
    write_archive(chain.genesis, chain.data_dir, path)
    report = audit_archive(path, chain.genesis, workers=3)
    assert report.ok and report.segments == 1 and report.workers == 3


def test_a_segment_reads_past_the_frames_below_its_start(archive: Path) -> None:
    with ArchiveReader(archive) as r:
        every = [(b.height, b.state is not None) for b in r.blocks()]
    for start in range(1, 9):
        with ArchiveReader(archive) as r:
            assert [(b.height, b.state is not None) for b in r.blocks(skip_below=start)] == every[start - 1 :]


def test_a_segment_process_that_dies_leaves_no_verdict(
    archive: Path, chain: BuiltChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = segments.run_segment

    def dying(path: Path, genesis: Any, index: int, *args: Any, **kw: Any) -> Any:
        if index == 1:
            os._exit(3)
        return real(path, genesis, index, *args, **kw)

    monkeypatch.setattr(segments, "run_segment", dying)
    report = audit_archive(archive, chain.genesis, workers=3)
    assert report.failure is None and not report.ok
    assert report.incomplete == "the process of segment 2 ended (exit code 3) without a result"


# a chain whose validators change: block 2 rotates the branch validator's key (in force from
# block 17, the first checkpoint after it), block 18 removes the county validator (from block 33)
ROTATED = SigningKey(b"\x52" * 32)


def _validator_changes(height: int, chain: BuiltChain) -> list[Any]:
    if height == 2:
        chain.signing_keys[ROTATED.public] = ROTATED
        rotate = NodePropose(action="rotate_key", node_id="branch", pubkey=ROTATED.public.hex(), reason="r")
        return [governance_tx(chain, rotate, "cn.gs.lz.cg.b001")]
    if height == 18:
        remove = NodePropose(action="remove", node_id="county", reason="r")
        return [governance_tx(chain, remove, "cn.gs.lz.cg")]
    return []


def test_an_export_across_validator_epochs_audits_in_parallel(tmp_path: Path) -> None:
    built = build_chain(tmp_path / "c", blocks=36, txs_per_block=1, sealed=2, extra=_validator_changes)
    assert [(e.from_height, e.validators.n) for e in built.epochs] == [(1, 5), (17, 5), (33, 4)]
    path = tmp_path / "epochs.arc"
    with (
        BlockStore.open(built.data_dir, built.genesis.hash) as store,
        StoreNode(store, built.genesis) as node,
        serve(node_app(node)) as url,
        NodeReader(url) as reader,
    ):
        result = export_chain(reader, built.genesis, path, segments=6, progress=False)
    # seams after both changes, and at 31, whose first blocks (32, 33) cross into the third epoch
    assert result.snapshots == (6, 12, 19, 25, 31)
    seq = audit_archive(path, built.genesis, workers=1)
    assert seq.ok and seq.segments == 1 and seq.epochs == 3, seq.to_json()
    for workers, cuts in ((2, 2), (3, 3), (6, 6)):
        par = audit_archive(path, built.genesis, workers=workers)
        assert par.segments == cuts and _same(par.to_json()) == _same(seq.to_json())
