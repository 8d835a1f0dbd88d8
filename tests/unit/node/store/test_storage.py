"""Block storage: round trips, ordering, and clear errors for locked, corrupt, read-only or foreign data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from node.errors import (
    StorageCorruptError,
    StorageError,
    StorageUnavailableError,
    WrongChainError,
)
from node.store.storage import BlockReader, BlockStore, Meta, StoreReader
from tests.storage_fixtures import GENESIS_HASH, commit, make_block
from wire import statemap

ROOT = Path(__file__).resolve().parents[4]


def _commit(store: BlockStore, height: int, prev: bytes) -> bytes:
    block, cert, receipts = make_block(height, prev)
    commit(store, block, cert, receipts, [(b"s/%d" % height, b"v%d" % height), (b"s/last", b"%d" % height)])
    return block.hash


def test_round_trip(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        assert store.meta() is None and store.height == 0
        h1 = _commit(store, 1, GENESIS_HASH)
        h2 = _commit(store, 2, h1)
        assert store.height == 2
        block = store.block(2)
        assert block is not None and block.hash == h2 and block.header.prev_block_hash == h1
        assert store.height_of(h1) == 1
        receipts = store.receipts(2)
        assert len(receipts) == 3
        loc = store.tx_location(receipts[1].tx_id)
        assert loc is not None and (loc.height, loc.index) == (2, 1)
        assert store.receipt(2, 1) == receipts[1]
        reader = StoreReader(store)
        assert reader.get(b"s/last") == b"2"
        assert [k for k, _ in reader.scan(b"s/", b"s0")] == [b"s/1", b"s/2", b"s/last"]
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        assert store.height == 2


def test_out_of_order_and_inconsistent_commits_are_refused(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        block, cert, receipts = make_block(2, GENESIS_HASH)
        meta = Meta(height=2, block_hash=block.hash, state_root=b"\x00" * 32, results_root=b"\x00" * 32)
        with pytest.raises(StorageError, match="out of order"):
            store.commit_block(block, cert, receipts, [], meta, statemap.Changes(2), None)
        block, cert, receipts = make_block(1, GENESIS_HASH)
        meta = Meta(height=1, block_hash=block.hash, state_root=b"\x00" * 32, results_root=b"\x00" * 32)
        with pytest.raises(StorageError, match="receipts"):
            store.commit_block(block, cert, receipts[:1], [], meta, statemap.Changes(1), None)
        assert store.height == 0


def test_second_process_gets_a_clear_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with BlockStore.open(path, GENESIS_HASH):
        code = (
            "import sys\n"
            "from pathlib import Path\n"
            "from node.store.storage import BlockStore\n"
            "from node.errors import StorageLockedError\n"
            "try:\n"
            f"    BlockStore.open(Path({str(path)!r}), b'\\x42' * 32)\n"
            "except StorageLockedError as e:\n"
            "    print('LOCKED', e); sys.exit(0)\n"
            "sys.exit(1)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert "in use by another process" in out.stdout


def test_corrupt_directory_is_reported_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with BlockStore.open(path, GENESIS_HASH) as store:
        _commit(store, 1, GENESIS_HASH)
    (path / "CURRENT").write_text("MANIFEST-999999\n")
    with pytest.raises((StorageCorruptError, StorageUnavailableError)):
        BlockStore.open(path, GENESIS_HASH)
    for manifest in path.glob("MANIFEST-*"):
        manifest.write_bytes(b"\x00garbage" * 10)
    (path / "CURRENT").write_text(next(path.glob("MANIFEST-*")).name + "\n")
    with pytest.raises(StorageError):
        BlockStore.open(path, GENESIS_HASH)


def test_foreign_chain_is_refused(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH):
        pass
    with pytest.raises(WrongChainError):
        BlockStore.open(tmp_path / "db", b"\x43" * 32)


def test_read_only_directory_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True
        )
        if mounted.returncode != 0:
            pytest.skip("running as root without permission to mount a read-only tmpfs")
    else:
        path.chmod(0o555)
    try:
        with pytest.raises(StorageUnavailableError, match=r"not writable|cannot use"):
            BlockStore.open(path / "db", GENESIS_HASH)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(path)], check=False)
        else:
            path.chmod(0o755)


def test_missing_directory_without_create(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailableError):
        BlockStore.open(tmp_path / "nope", GENESIS_HASH, create=False)


def test_block_write_keys_name_every_key_a_block_wrote_except_markers(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        block, cert, receipts = make_block(1, GENESIS_HASH)
        writes: list[tuple[bytes, bytes | None]] = [(f"k/1/{i}".encode(), b"v") for i in range(3)]
        writes += [(b"alert/deadline", b"a"), (b"due/000/x", None), (b"tx/" + b"ab" * 32, b"m")]
        commit(store, block, cert, receipts, sorted(writes))
        assert store.block_write_keys(1) == sorted(
            [b"alert/deadline", b"due/000/x", b"k/1/0", b"k/1/1", b"k/1/2"]
        )
        assert store.block_write_keys(2) is None


def test_snapshot_reads_one_instant_while_blocks_commit(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        h1 = _commit(store, 1, GENESIS_HASH)
        with store.snapshot() as snap:
            _commit(store, 2, h1)
            assert snap.height == 1 and store.height == 2
            assert snap.state_get(b"s/last") == b"1"
            assert [k for k, _ in snap.state_scan(b"s/", b"s0")] == [b"s/1", b"s/last"]
            assert snap.block(2) is None
            with pytest.raises(StorageError):
                snap.persist_consensus([(b"x", b"y")])


def test_pruning_the_map_keeps_every_retained_height_whole(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        prev, states = GENESIS_HASH, {}
        state: dict[bytes, bytes] = {}
        for h in range(1, 13):
            block, cert, receipts = make_block(h, prev)
            writes: list[tuple[bytes, bytes | None]] = [
                (b"k/%d" % (h % 5), b"v%d" % h),
                (b"new/%d" % h, b"x"),
            ]
            if h % 4 == 0:
                writes.append((b"new/%d" % (h - 1), None))
            commit(store, block, cert, receipts, sorted(writes))
            for k, v in writes:
                if v is None:
                    state.pop(k, None)
                else:
                    state[k] = v
            states[h] = dict(state)
            prev = block.hash
        assert store.prune_map(8) > 0
        for h in range(8, 13):
            root = store.map_root(h)
            leaves = {
                n.key: n.value
                for _, _, n in statemap.iter_nodes(store.map_node, root)
                if isinstance(n, statemap.Leaf)
            }
            assert leaves == states[h]
        with pytest.raises(StorageError, match="pruned"):
            store.map_root(7)
        assert store.prune_map(8) == 0  # idempotent


def test_block_reader_reads_each_key_once_and_a_new_one_sees_the_next_block(tmp_path: Path) -> None:
    with BlockStore.open(tmp_path / "db", GENESIS_HASH) as store:
        h1 = _commit(store, 1, GENESIS_HASH)
        reader = BlockReader(store)
        reads: list[bytes] = []
        real = store.state_get

        def counted(key: bytes) -> bytes | None:
            reads.append(key)
            return real(key)

        store.state_get = counted  # type: ignore[method-assign]
        assert [
            reader.get(b"s/last"),
            reader.get(b"s/last"),
            reader.get(b"s/none"),
            reader.get(b"s/none"),
        ] == [
            b"1",
            b"1",
            None,
            None,
        ]
        assert reads == [b"s/last", b"s/none"]
        assert list(reader.scan(b"s/", b"s0")) == list(StoreReader(store).scan(b"s/", b"s0"))
        del store.state_get
        _commit(store, 2, h1)
        assert BlockReader(store).get(b"s/last") == b"2"


def _filled(path: Path, compress: bool) -> int:
    """Bytes on disk of a store holding 8 MiB of compressible records, compacted."""
    with BlockStore.open(path, GENESIS_HASH, compress=compress) as store:
        for start in range(0, 2_000, 200):
            store._write(
                [(b"S%06d" % i, b"member record %06d " % i * 200) for i in range(start, start + 200)],
                sync=False,
            )
        store._db.compact_range()
    return sum(f.stat().st_size for f in path.iterdir() if f.suffix == ".ldb")


def test_tables_are_written_uncompressed_unless_asked_and_either_opens_the_other(tmp_path: Path) -> None:
    """Issue 19: snappy was most of LevelDB's compaction CPU, so tables are written uncompressed by
    default (`[store] compression = "none"`); "snappy" trades that CPU for disk. A store written one
    way opens and reads the other way."""
    plain, packed = _filled(tmp_path / "plain", False), _filled(tmp_path / "packed", True)
    assert packed * 4 < plain, (plain, packed)
    with BlockStore.open(tmp_path / "packed", GENESIS_HASH, compress=False) as store:
        assert store._get(b"S000123") == b"member record 000123 " * 200
    with BlockStore.open(tmp_path / "plain", GENESIS_HASH, compress=True) as store:
        assert store._get(b"S001999") == b"member record 001999 " * 200
