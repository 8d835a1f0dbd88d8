"""Online backup and restore of the block store: its records at one consistent instant.

Rules:

- A backup is taken from a store snapshot (`BlockStore.snapshot()`), so blocks keep committing
  while it is read and what it holds is one instant: every record but the consensus records
  (`K`: in-flight votes, meaningless to a restored node, which catches up by certificates).
- The records go out as one stream, `store.kv`: for each record, big-endian u32 key length, key,
  u32 value length, value, in key order. Its size and SHA-256 are known before it is sent (two
  passes over the same snapshot), so an archive can name them up front.
- The manifest says what the backup is, from what the store's own records say: the meta record
  (height, block hash, state root, results root), the roots record of that height and its
  certificate, whatever format the store keeps them in. Nothing here recomputes a root.
- `restore_store` writes a stream into a new, empty LevelDB directory (it refuses a directory that
  holds anything), checks the stream's hash and that its meta record is the manifest's, and leaves
  the marker `RESTORED_MARKER`: the node's next start then checks the whole store
  (`verify_on_start = "full"` semantics, `node/store/__init__.py`) and removes it only on success.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from node.errors import StorageCorruptError, StorageUnavailableError
from node.store.storage import META, P_CONSENSUS, BlockStore

FORMAT = 1
KV_NAME = "store.kv"
MANIFEST_NAME = "manifest.json"
RESTORED_MARKER = "RESTORED"
CHUNK = 1 << 20
BATCH_BYTES = 8 << 20


class BackupError(StorageUnavailableError):
    """A backup or restore cannot proceed; the message says why."""

    code = "backup_error"


@dataclass(frozen=True, slots=True)
class KvStats:
    records: int
    size: int
    sha256: str


def _records(snap: BlockStore) -> Iterator[tuple[bytes, bytes]]:
    for key, value in snap.raw_items():
        if not key.startswith(P_CONSENSUS):
            yield key, value


def _frame(key: bytes, value: bytes) -> bytes:
    return len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value


def kv_stats(snap: BlockStore) -> KvStats:
    """The size and hash of the snapshot's record stream (the first pass)."""
    digest, size, n = hashlib.sha256(), 0, 0
    for key, value in _records(snap):
        frame = _frame(key, value)
        digest.update(frame)
        size += len(frame)
        n += 1
    return KvStats(records=n, size=size, sha256=digest.hexdigest())


def kv_chunks(snap: BlockStore) -> Iterator[bytes]:
    """The snapshot's record stream in chunks of about CHUNK bytes (the second pass)."""
    buf: list[bytes] = []
    size = 0
    for key, value in _records(snap):
        frame = _frame(key, value)
        buf.append(frame)
        size += len(frame)
        if size >= CHUNK:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def manifest(
    snap: BlockStore, *, chain_id: str, genesis_hash: bytes, node_id: str, kv: KvStats
) -> dict[str, Any]:
    """What the backup is, as the store's meta, roots and certificate records say."""
    meta = snap.meta()
    if meta is None:
        raise BackupError("the store holds no block yet; nothing to back up")
    roots = snap.roots(meta.height)
    cert = snap.certificate_bytes(meta.height)
    return {
        "format": FORMAT,
        "chain_id": chain_id,
        "genesis_hash": genesis_hash.hex(),
        "node_id": node_id,
        "created_ms": int(time.time() * 1000),
        "height": meta.height,
        "block_hash": meta.block_hash.hex(),
        "state_root": meta.state_root.hex(),
        "results_root": meta.results_root.hex(),
        "roots": None if roots is None else [r.hex() for r in roots],
        "certificate": None if cert is None else cert.hex(),
        "store": {"file": KV_NAME, "records": kv.records, "bytes": kv.size, "sha256": kv.sha256},
    }


def read_kv(stream: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """The records of a `store.kv` stream; StorageCorruptError on a torn or malformed one."""

    def exact(n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise StorageCorruptError(f"{KV_NAME} ends inside a record")
        return data

    while True:
        head = stream.read(4)
        if not head:
            return
        if len(head) != 4:
            raise StorageCorruptError(f"{KV_NAME} ends inside a record")
        key = exact(int.from_bytes(head, "big"))
        value = exact(int.from_bytes(exact(4), "big"))
        yield key, value


def restore_store(data_dir: Path, kv_file: Path, man: dict[str, Any], *, compress: bool = False) -> int:
    """Write the records of `kv_file` into a new store at `data_dir`; the number of records.
    `compress`: the node's `[store] compression` (how LevelDB writes the restored tables)."""
    data_dir = Path(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty; restore only into an empty data directory")
    expected = man["store"]
    digest = hashlib.sha256()
    with open(kv_file, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected["sha256"]:
        raise StorageCorruptError(f"{kv_file} does not match the manifest's SHA-256; the backup is damaged")
    genesis_hash = bytes.fromhex(man["genesis_hash"])
    n = 0
    meta_record: list[bytes] = []
    with BlockStore.open(data_dir, genesis_hash, compress=compress) as store, open(kv_file, "rb") as f:
        for batch in _batches(read_kv(f), meta_record):
            store.write_raw(batch)
            n += len(batch)
        if len(meta_record) != 1:
            raise StorageCorruptError(f"{KV_NAME} holds no meta record")
        store.write_raw([(META, meta_record[0])])  # last: a torn restore never looks complete
        meta = store.meta()
    if meta is None or meta.height != man["height"] or meta.block_hash.hex() != man["block_hash"]:
        raise StorageCorruptError("the restored meta record is not the manifest's")
    (data_dir / RESTORED_MARKER).write_text(json.dumps(man, indent=2) + "\n", encoding="utf-8")
    return n + 1


def _batches(
    records: Iterable[tuple[bytes, bytes]], meta_record: list[bytes]
) -> Iterator[list[tuple[bytes, bytes]]]:
    batch: list[tuple[bytes, bytes]] = []
    size = 0
    for key, value in records:
        if key == META:
            meta_record.append(value)  # kept for last
            continue
        batch.append((key, value))
        size += len(key) + len(value)
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    yield batch
