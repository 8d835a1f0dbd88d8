"""Block storage on LevelDB (plyvel): blocks, certificates, transaction index, receipts, ledger state,
consensus records and the meta record.

Rules:

- A committed block is written in ONE `write_batch(transaction=True, sync=True)`: block,
  certificate, hash index, transaction index, receipts, state changes, the state map's new nodes
  and stale list, the roots and the meta record together. After any crash the store holds exactly the blocks up to the meta
  height: all of a block or none of it (RELIABILITY D1, C3).
- Consensus records (`Persist` actions) are written with `sync=True` before the caller sends
  anything that depends on them.
- Keys are namespaced by one leading byte; heights are 8-byte big-endian so they sort.
- Every plyvel failure becomes a StorageError subclass; the caller treats it as fatal (stop, never
  sign or serve on bad data). After a write fails the store refuses every later write.
- One process per directory (LevelDB's lock); a second opener gets StorageLockedError.
- The store is bound to one chain: the genesis hash is written on creation and checked on open.
- Each block also stores the state keys it wrote that no receipt lists (`W` + height: deadline
  effects, alerts raised by deadlines), so `block_write_keys(h)` names every record key block h
  changed without re-executing it. The read index (node/index/) is its consumer.
- `snapshot()` gives a consistent read-only view (meta, state, receipts of one instant) while
  blocks keep committing.
- The state map (wire/statemap.py): the flat state (`S`) serves the contracts' reads; beside it
  every map node is stored at `N` + version + position, and `Z` + height holds the list of the
  (position, version) nodes that block replaced. The roots record of each height names the map root's
  (hash, version), so the map as of any height whose stale nodes are not yet pruned can be read
  and proven. `prune_map(keep_from)` deletes the nodes no root of `keep_from` or later needs.
- LevelDB's write buffer (memtable) is WRITE_BUFFER_BYTES, not its 4 MiB default: each block
  writes keys spread over the whole key space (transaction ids, state keys, deletions of old map
  nodes), so every level-0 table overlaps all of level 1 and each flush rewrote level 1; a larger buffer flushes less often and LevelDB's compaction thread used about
  30% less CPU per transaction (docs/benchmarks.md, issue 19), for up to twice the buffer in
  memory (the buffer and the one being flushed).
- Tables are written uncompressed unless `compress` (node.toml `[store] compression = "snappy"`):
  snappy was most of LevelDB's compaction CPU, 120-190 µs per transaction per node at saturation
  and 410-500 at half rate on a grown store, against 71 and 136 without (docs/benchmarks.md,
  issue 19). Each table block records how it was written, so a store opens either way.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel

from node.errors import (
    StorageCorruptError,
    StorageError,
    StorageLockedError,
    StorageUnavailableError,
    WrongChainError,
)
from wire import codec
from wire.statemap import Changes, Ref, root_hash
from wire.types import Block, CommitCertificate, Receipt

META = b"M:last"
GENESIS = b"M:genesis"
PRUNED = b"M:map-pruned"  # the lowest height whose map root is still whole
SNAPSHOT_PENDING = b"M:snapshot-pending"
BASE = b"M:base"  # the height a snapshot installed (no block below it is stored); absent: 0
BOUNDARIES = b"M:epoch-boundaries"  # a snapshot's proven epoch boundaries below its base
NO_MAP = -2  # a roots record of a height whose map this store never held (below a snapshot)
INSTALL_CHUNK = 10_000
WRITE_BUFFER_BYTES = 32 * 1024 * 1024
P_BLOCK = b"B"
P_CERT = b"C"
P_HASH = b"H"
P_TX = b"T"
P_RECEIPT = b"R"
P_STATE = b"S"
P_CONSENSUS = b"K"
P_ROOTS = b"E"
P_WRITES = b"W"
P_MAP = b"N"
P_STALE = b"Z"
TX_MARKER_PREFIX = b"tx/"


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


@dataclass(frozen=True, slots=True, kw_only=True)
class Meta:
    """The last complete block: its height and hash, and the roots after executing it."""

    height: int
    block_hash: bytes
    state_root: bytes
    results_root: bytes

    def encode(self) -> bytes:
        return codec.encode_trusted([self.height, self.block_hash, self.state_root, self.results_root])

    @classmethod
    def decode(cls, data: bytes) -> Meta:
        h, bh, sr, rr = codec.decode(data)
        return cls(height=h, block_hash=bh, state_root=sr, results_root=rr)


@dataclass(frozen=True, slots=True, kw_only=True)
class TxLocation:
    height: int
    index: int


class BlockStore:
    """The node's LevelDB. Open with `BlockStore.open(path, genesis_hash)`; close when done."""

    def __init__(self, db: Any, path: Path) -> None:
        self._db = db
        self.path = path
        self._failed: StorageError | None = None

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def open(
        cls, path: Path, genesis_hash: bytes, *, create: bool = True, compress: bool = False
    ) -> BlockStore:
        path = Path(path)
        try:
            if create:
                path.mkdir(parents=True, exist_ok=True)
            db = plyvel.DB(
                str(path),
                create_if_missing=create,
                paranoid_checks=True,
                bloom_filter_bits=10,
                write_buffer_size=WRITE_BUFFER_BYTES,
                compression="snappy" if compress else None,
            )
        except plyvel.CorruptionError as exc:
            raise StorageCorruptError(f"data directory {path} is corrupt: {exc}") from exc
        except plyvel.IOError as exc:
            raise _io_error(path, exc) from exc
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise StorageUnavailableError(
                    f"data directory {path} is not writable: {exc.strerror}"
                ) from exc
            raise StorageUnavailableError(f"cannot use data directory {path}: {exc.strerror}") from exc
        except plyvel.Error as exc:
            raise _io_error(path, exc) from exc
        store = cls(db, path)
        try:
            store._bind_genesis(genesis_hash)
        except BaseException:
            db.close()
            raise
        return store

    def _bind_genesis(self, genesis_hash: bytes) -> None:
        stored = self._get(GENESIS)
        if stored is None:
            if self._get(META) is not None:
                raise StorageCorruptError(f"{self.path}: blocks present but no genesis marker")
            self._write([(GENESIS, genesis_hash)], sync=True)
        elif stored != genesis_hash:
            raise WrongChainError(
                f"{self.path} holds chain with genesis {stored.hex()[:16]}…, not {genesis_hash.hex()[:16]}…"
            )

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ low level
    def _get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._db.get(key, verify_checksums=True)
        except plyvel.CorruptionError as exc:
            raise StorageCorruptError(f"{self.path}: corrupt record: {exc}") from exc
        except plyvel.Error as exc:
            raise StorageError(f"{self.path}: read failed: {exc}") from exc
        except RuntimeError as exc:  # plyvel raises RuntimeError on a closed database
            raise StorageError(f"{self.path}: {exc}") from exc
        return value

    def _write(self, puts: Sequence[tuple[bytes, bytes | None]], *, sync: bool) -> None:
        if self._failed is not None:
            raise StorageError(f"{self.path}: refusing writes after an earlier failure: {self._failed}")
        try:
            with self._db.write_batch(transaction=True, sync=sync) as wb:
                for key, value in puts:
                    if value is None:
                        wb.delete(key)
                    else:
                        wb.put(key, value)
        except plyvel.Error as exc:
            self._failed = (
                _io_error(self.path, exc) if isinstance(exc, plyvel.IOError) else StorageError(str(exc))
            )
            raise self._failed from exc
        except RuntimeError as exc:
            self._failed = StorageError(f"{self.path}: {exc}")
            raise self._failed from exc

    def _scan(self, start: bytes, stop: bytes, *, fill_cache: bool = True) -> Iterator[tuple[bytes, bytes]]:
        """Records in [start, stop); `fill_cache=False` for a scan of everything (it would evict
        the block cache the node's reads use, for blocks read once)."""
        try:
            yield from self._db.iterator(start=start, stop=stop, verify_checksums=True, fill_cache=fill_cache)
        except plyvel.CorruptionError as exc:
            raise StorageCorruptError(f"{self.path}: corrupt record during scan: {exc}") from exc
        except plyvel.Error as exc:
            raise StorageError(f"{self.path}: scan failed: {exc}") from exc

    # ------------------------------------------------------------------ the commit path
    def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate,
        receipts: Sequence[Receipt],
        writes: Sequence[tuple[bytes, bytes | None]],
        meta: Meta,
        changes: Changes,
        root: Ref | None,
        consensus: Sequence[tuple[bytes, bytes | None]] = (),
    ) -> None:
        """Write one executed block and everything that follows from it in one synced batch."""
        height = block.header.height
        if meta.height != height or meta.block_hash != block.hash:
            raise StorageError("meta record does not describe the block being committed")
        current = self.meta()
        expected = 1 if current is None else current.height + 1
        if height != expected:
            raise StorageError(f"block {height} out of order: the store expects {expected}")
        if len(receipts) != len(block.txs):
            raise StorageError(f"block {height}: {len(receipts)} receipts for {len(block.txs)} transactions")
        puts: list[tuple[bytes, bytes | None]] = [
            (P_BLOCK + _h(height), block.encode()),
            (P_CERT + _h(height), certificate.encode()),
            (P_HASH + block.hash, _h(height)),
        ]
        indexed: set[bytes] = set()
        for index, receipt in enumerate(receipts):
            # the first occurrence of an id keeps the index; a replay never moves it
            if receipt.tx_id not in indexed and self._get(P_TX + receipt.tx_id) is None:
                puts.append((P_TX + receipt.tx_id, codec.encode_trusted([height, index])))
                indexed.add(receipt.tx_id)
            puts.append((P_RECEIPT + _h(height) + index.to_bytes(4, "big"), receipt.encode()))
        puts.extend((P_STATE + key, value) for key, value in writes)
        puts.append((P_WRITES + _h(height), codec.encode_trusted(_unlisted_keys(receipts, writes))))
        puts.extend((P_CONSENSUS + key, value) for key, value in consensus)
        puts.extend(_map_puts(changes))
        puts.append((P_ROOTS + _h(height), _roots_record(meta, root)))
        puts.append((META, meta.encode()))
        self._write(puts, sync=True)

    def write_genesis_state(
        self, entries: Sequence[tuple[bytes, bytes]], meta: Meta, changes: Changes, root: Ref | None
    ) -> None:
        """Write the genesis state (height 0) and its map once, in one synced batch."""
        if self.meta() is not None:
            raise StorageError("genesis state written twice")
        puts: list[tuple[bytes, bytes | None]] = [(P_STATE + k, v) for k, v in entries]
        puts.extend(_map_puts(changes))
        puts.append((P_ROOTS + _h(0), _roots_record(meta, root)))
        puts.append((META, meta.encode()))
        self._write(puts, sync=True)

    # ------------------------------------------------------------------ joining by snapshot
    def consensus_get(self, key: bytes) -> bytes | None:
        return self._get(P_CONSENSUS + key)

    def snapshot_pending(self) -> bool:
        """A snapshot install began and did not finish (the next start wipes and refetches)."""
        return self._get(SNAPSHOT_PENDING) is not None

    def reset_for_snapshot(self) -> None:
        """Empty the store of everything but its chain binding and mark a snapshot install begun.
        Only for a store that holds no block (height 0) or an unfinished install."""
        meta = self.meta()
        if meta is not None and meta.height > 0:
            raise StorageError(f"{self.path}: a store at height {meta.height} cannot take a snapshot")
        for prefix in (P_STATE, P_MAP, P_STALE, P_ROOTS, P_CONSENSUS, P_BLOCK, P_CERT, P_HASH):
            while True:
                keys = [k for k, _ in self._scan(prefix, bytes([prefix[0] + 1]))][:INSTALL_CHUNK]
                if not keys:
                    break
                self._write([(k, None) for k in keys], sync=False)
        self._write(
            [(META, None), (PRUNED, None), (BASE, None), (BOUNDARIES, None), (SNAPSHOT_PENDING, b"1")],
            sync=True,
        )

    def clear_snapshot_pending(self) -> None:
        """Give up a snapshot install on an emptied store (it starts from genesis again)."""
        if self.meta() is not None:
            raise StorageError(f"{self.path}: only an emptied store gives up a snapshot")
        self._write([(SNAPSHOT_PENDING, None)], sync=True)

    def write_state(self, entries: Sequence[tuple[bytes, bytes]]) -> None:
        """State entries of a snapshot being installed (synced: a chunk is kept once verified)."""
        self._write([(P_STATE + k, v) for k, v in entries], sync=True)

    def write_map_nodes(self, changes: Changes, *, drop_stale: bool) -> None:
        """Map nodes of a snapshot being built; its intermediate versions are never roots, so
        their stale nodes are deleted at once."""
        puts: list[tuple[bytes, bytes | None]] = [
            (P_MAP + _h(changes.version) + pos, data) for pos, data in changes.nodes
        ]
        if drop_stale:
            puts.extend((P_MAP + _h(v) + pos, None) for pos, v in changes.stale)
        self._write(puts, sync=False)

    def install_snapshot(
        self,
        *,
        meta: Meta,
        root: Ref | None,
        block_bytes: bytes,
        certificate_bytes: bytes,
        earlier_roots: Sequence[tuple[int, bytes, bytes]],
        consensus: Sequence[tuple[bytes, bytes]],
        boundaries: bytes = b"",
    ) -> None:
        """Finish a snapshot install: the store becomes a node at `meta.height` (one synced batch).
        `boundaries`: the encoded proofs of the validator epochs that began at or below it (their
        boundary blocks are not stored; `snapshot_boundaries`)."""
        h = meta.height
        block_hash = meta.block_hash
        puts: list[tuple[bytes, bytes | None]] = [
            (P_BLOCK + _h(h), block_bytes),
            (P_CERT + _h(h), certificate_bytes),
            (P_HASH + block_hash, _h(h)),
            (P_ROOTS + _h(h), _roots_record(meta, root)),
            (PRUNED, _h(h)),
            (BASE, _h(h)),
            (META, meta.encode()),
            (SNAPSHOT_PENDING, None),
            (BOUNDARIES, boundaries or None),
        ]
        for height, state_root, results_root in earlier_roots:
            puts.append((P_ROOTS + _h(height), codec.encode_trusted([state_root, results_root, NO_MAP])))
        puts.extend((P_CONSENSUS + k, v) for k, v in consensus)
        self._write(puts, sync=True)

    def persist_consensus(self, entries: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Durably write consensus records (own votes etc.) before anything is sent."""
        self._write([(P_CONSENSUS + k, v) for k, v in entries], sync=True)

    # ------------------------------------------------------------------ reads
    def meta(self) -> Meta | None:
        raw = self._get(META)
        if raw is None:
            return None
        try:
            return Meta.decode(raw)
        except (ValueError, TypeError) as exc:
            raise StorageCorruptError(f"{self.path}: meta record is corrupt") from exc

    @property
    def height(self) -> int:
        meta = self.meta()
        return 0 if meta is None else meta.height

    def block_bytes(self, height: int) -> bytes | None:
        return self._get(P_BLOCK + _h(height))

    def block(self, height: int) -> Block | None:
        raw = self.block_bytes(height)
        return None if raw is None else self._decode(Block.decode, raw, f"block {height}")

    def certificate_bytes(self, height: int) -> bytes | None:
        return self._get(P_CERT + _h(height))

    def certificate(self, height: int) -> CommitCertificate | None:
        raw = self.certificate_bytes(height)
        return None if raw is None else self._decode(CommitCertificate.decode, raw, f"certificate {height}")

    def height_of(self, block_hash: bytes) -> int | None:
        raw = self._get(P_HASH + block_hash)
        return None if raw is None else int.from_bytes(raw, "big")

    def tx_location(self, tx_id: bytes) -> TxLocation | None:
        raw = self._get(P_TX + tx_id)
        if raw is None:
            return None
        height, index = self._decode(codec.decode, raw, "tx index")
        return TxLocation(height=height, index=index)

    def receipt(self, height: int, index: int) -> Receipt | None:
        raw = self._get(P_RECEIPT + _h(height) + index.to_bytes(4, "big"))
        return None if raw is None else self._decode(Receipt.decode, raw, f"receipt {height}/{index}")

    def receipts(self, height: int) -> list[Receipt]:
        rows = self._scan(P_RECEIPT + _h(height), P_RECEIPT + _h(height + 1))
        return [self._decode(Receipt.decode, v, f"receipt {height}") for _, v in rows]

    def roots(self, height: int) -> tuple[bytes, bytes] | None:
        """(state root, results root) after executing block `height` (0 = genesis)."""
        raw = self._get(P_ROOTS + _h(height))
        if raw is None:
            return None
        state_root, results_root, _ = self._decode(codec.decode, raw, f"roots {height}")
        return state_root, results_root

    def map_root(self, height: int) -> Ref | None:
        """The state map's root after block `height` as (hash, version); None for an empty map.
        StorageError when the height is unknown or its map was pruned."""
        raw = self._get(P_ROOTS + _h(height))
        if raw is None:
            raise StorageError(f"{self.path}: no roots for height {height}")
        state_root, _, version = self._decode(codec.decode, raw, f"roots {height}")
        if height < self.map_pruned_below() or version == NO_MAP:
            raise StorageError(f"{self.path}: the state map of height {height} was pruned")
        return None if version < 0 else (state_root, version)

    def map_node(self, position: bytes, version: int) -> bytes:
        """A state map node (`wire.statemap.NodeSource`); KeyError when absent."""
        raw = self._get(P_MAP + _h(version) + position)
        if raw is None:
            raise KeyError(position)
        return raw

    def base_height(self) -> int:
        """The lowest height whose block this store holds minus one: 0 for a store that replayed
        from genesis, s for one that joined by the snapshot of height s."""
        raw = self._get(BASE)
        return 0 if raw is None else int.from_bytes(raw, "big")

    def snapshot_boundaries(self) -> bytes | None:
        """What `install_snapshot` kept as `boundaries` (None: none, or no snapshot)."""
        return self._get(BOUNDARIES)

    def map_pruned_below(self) -> int:
        raw = self._get(PRUNED)
        return 0 if raw is None else int.from_bytes(raw, "big")

    def prune_map(self, keep_from: int, max_nodes: int = 100_000) -> int:
        """Delete up to `max_nodes` map nodes that no root of height `keep_from` or later refers to
        (those that went stale at or below it); returns how many. Idempotent, one batch."""
        end = P_STALE + _h(keep_from + 1)
        puts: list[tuple[bytes, bytes | None]] = []
        nodes = 0
        done = True
        for key, raw in self._scan(P_STALE, end):
            if nodes >= max_nodes:
                done = False
                break
            for position, version in self._decode(codec.decode_trusted, raw, "stale list"):
                puts.append((P_MAP + _h(version) + position, None))
                nodes += 1
            puts.append((key, None))
        if done and keep_from > self.map_pruned_below():
            puts.append((PRUNED, keep_from.to_bytes(8, "big")))
        if puts:
            self._write(puts, sync=False)
        return nodes

    def block_write_keys(self, height: int) -> list[bytes] | None:
        """Every state key block `height` wrote (set or deleted), except the replay markers `tx/<id>`.

        The union of the accepted receipts' `writes` and the keys stored beside the block that no
        receipt lists. None when the block is unknown or was stored before this record existed
        (the caller then rescans the state)."""
        raw = self._get(P_WRITES + _h(height))
        if raw is None:
            return None
        extra = self._decode(codec.decode, raw, f"write keys {height}")
        keys = {k.encode("utf-8") for r in self.receipts(height) if r.accepted for k in r.writes}
        keys.update(extra)
        return sorted(keys)

    @contextmanager
    def snapshot(self) -> Iterator[BlockStore]:
        """A read-only store over one consistent instant of the database (plyvel snapshot).

        Only the read methods may be used on it; it is closed when the block exits."""
        try:
            snap = self._db.snapshot()
        except (plyvel.Error, RuntimeError) as exc:
            raise StorageError(f"{self.path}: cannot take a snapshot: {exc}") from exc
        view = BlockStore(snap, self.path)
        view._failed = StorageError("a snapshot is read-only")
        try:
            yield view
        finally:
            snap.close()

    def state_get(self, key: bytes) -> bytes | None:
        return self._get(P_STATE + key)

    def state_scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        n = len(P_STATE)
        for k, v in self._scan(P_STATE + start, P_STATE + end):
            yield k[n:], v

    def state_items(self) -> Iterator[tuple[bytes, bytes]]:
        n = len(P_STATE)
        for k, v in self._scan(P_STATE, bytes([P_STATE[0] + 1]), fill_cache=False):
            yield k[n:], v

    def consensus_entries(self) -> Iterator[tuple[bytes, bytes]]:
        n = len(P_CONSENSUS)
        for k, v in self._scan(P_CONSENSUS, bytes([P_CONSENSUS[0] + 1])):
            yield k[n:], v

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every record, raw, in key order (backups: `node/store/backup.py`)."""
        return self._scan(b"", b"\xff" * 9, fill_cache=False)

    def write_raw(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Write raw records in one synced batch (restoring a backup into a new store)."""
        self._write(records, sync=True)

    def _decode(self, fn: Any, raw: bytes, what: str) -> Any:
        try:
            return fn(raw)
        except Exception as exc:  # any decode failure of stored bytes is corruption
            raise StorageCorruptError(f"{self.path}: stored {what} does not decode: {exc}") from exc


class StoreReader:
    """Adapter giving the contracts' StateReader view (get / scan) over the stored state."""

    def __init__(self, store: BlockStore) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.state_get(key)

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._store.state_scan(start, end)


class BlockReader(StoreReader):
    """A StoreReader for the execution of one block, while the stored state cannot change (the
    executor writes the block's state after execution): each key is read from LevelDB once. The
    transactions of a block read the same org, user and config records again and again (in the
    benchmark mix 8 reads per transaction, 3.3 distinct keys)."""

    def __init__(self, store: BlockStore) -> None:
        super().__init__(store)
        self._read: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        read = self._read
        if key in read:
            return read[key]
        value = read[key] = self._store.state_get(key)
        return value


def _roots_record(meta: Meta, root: Ref | None) -> bytes:
    if root_hash(root) != meta.state_root:
        raise StorageError("the state map's root is not the meta record's state root")
    return codec.encode_trusted([meta.state_root, meta.results_root, -1 if root is None else root[1]])


def _map_puts(changes: Changes) -> list[tuple[bytes, bytes | None]]:
    """The block's new map nodes, and one record listing the (position, version) it made stale."""
    version = _h(changes.version)
    puts: list[tuple[bytes, bytes | None]] = [(P_MAP + version + pos, data) for pos, data in changes.nodes]
    if changes.stale:
        puts.append((P_STALE + version, codec.encode_trusted([[pos, v] for pos, v in changes.stale])))
    return puts


def _unlisted_keys(receipts: Sequence[Receipt], writes: Sequence[tuple[bytes, bytes | None]]) -> list[bytes]:
    """The written keys no accepted receipt lists, without replay markers (kept beside the block)."""
    listed = {k.encode("utf-8") for r in receipts if r.accepted for k in r.writes}
    return [k for k, _ in writes if k not in listed and not k.startswith(TX_MARKER_PREFIX)]


def _io_error(path: Path, exc: BaseException) -> StorageError:
    text = str(exc)
    lowered = text.lower()
    if "lock" in lowered and (
        "temporarily unavailable" in lowered or "already held" in lowered or "resource" in lowered
    ):
        return StorageLockedError(f"data directory {path} is in use by another process (LevelDB lock held)")
    if "read-only" in lowered or "permission denied" in lowered or f"errno {errno.EROFS}" in lowered:
        return StorageUnavailableError(f"data directory {path} is not writable: {text}")
    if "no space" in lowered:
        return StorageUnavailableError(f"disk full under {path}: {text}")
    if "does not exist" in lowered:
        return StorageUnavailableError(f"data directory {path} does not exist")
    return StorageUnavailableError(f"cannot use data directory {path}: {text}")
