"""The content-addressed blob store of encrypted materials (scans, PDFs) and blob transfer between
nodes (the routes are `node/privacy/blob_routes.py`).

Rules (docs/privacy.md):

- Files live under `<data_dir>/blobs/<h[0:2]>/<h[2:4]>/<h>` where h = SHA-256 of the bytes (the
  SDK encrypts before uploading: the node only ever holds ciphertext). A `<h>.meta` JSON beside
  each names who uploaded it (org, user, key, time). Writes go to `blobs/tmp/`, are fsynced and
  renamed into place: a blob is there whole or not at all, and survives restarts. The store is
  inside the data directory, so a copy of that directory (stopped node) is a backup of it.
- Size bound `[privacy] blob_max_bytes` (default 20 MiB); 413 `too_large` above it.
- Every read re-hashes the file; a file whose hash is wrong is moved aside (`.corrupt`) and never
  served (the SDK checks the hash again). A node that lacks a blob, or holds a damaged one, asks
  its peers (`blob_get` in chunks of 4 MiB) and keeps the copy after checking its hash.
- `BlobPeers.replicate` asks up to `blob_replicas` peers (default 2) to fetch a new blob
  (`blob_have`) and answers how many confirmed, so a blob the caller was told is on 2 nodes
  survives the loss of one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import keys as state_keys
from node.errors import BlobCorruptError
from node.store.storage import BlockStore
from wire import codec
from wire.errors import DecodeError
from wire.families import prefix_end
from wire.hexid import is_hex_id

log = logging.getLogger("orgledger.blobs")

BLOB_MAX_DEFAULT = 20 * 1024 * 1024
CHUNK = 4 * 1024 * 1024
REPLICAS_DEFAULT = 2
REPLICATE_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class BlobMeta:
    size: int
    uploads: tuple[dict[str, Any], ...]  # [{org_id, user_id, pubkey, at_ms}]

    def orgs(self) -> set[str]:
        return {str(u.get("org_id")) for u in self.uploads}


class BlobStore:
    def __init__(self, root: Path, max_bytes: int = BLOB_MAX_DEFAULT) -> None:
        self.root = root
        self.max_bytes = max_bytes
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        for stale in (root / "tmp").iterdir():  # half-written uploads of a crash
            stale.unlink(missing_ok=True)

    def path(self, h: str) -> Path:
        return self.root / h[:2] / h[2:4] / h

    def has(self, h: str) -> bool:
        return self.path(h).is_file()

    def size(self, h: str) -> int | None:
        try:
            return self.path(h).stat().st_size
        except OSError:
            return None

    def read(self, h: str) -> bytes:
        """The blob's bytes, re-hashed; FileNotFoundError, or BlobCorruptError (file moved aside)."""
        path = self.path(h)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != h:
            aside = path.with_name(f"{h}.corrupt-{int(time.time() * 1000)}")
            os.replace(path, aside)
            log.error("blob %s does not match its hash; moved to %s", h, aside)
            raise BlobCorruptError(h)
        return data

    def chunk(self, h: str, offset: int, length: int) -> tuple[int, bytes]:
        path = self.path(h)
        with open(path, "rb") as f:
            total = os.fstat(f.fileno()).st_size
            f.seek(offset)
            return total, f.read(max(0, min(length, CHUNK)))

    def meta(self, h: str) -> BlobMeta | None:
        try:
            doc = json.loads(self.path(h).with_name(h + ".meta").read_text())
            return BlobMeta(int(doc["size"]), tuple(doc["uploads"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, data: bytes, h: str | None = None, upload: dict[str, Any] | None = None) -> str:
        """Store `data` (checked against `h` when given); record who uploaded it. Returns the hash."""
        if len(data) > self.max_bytes:
            raise ValueError(f"{len(data)} bytes exceed the blob limit of {self.max_bytes}")
        digest = hashlib.sha256(data).hexdigest()
        if h is not None and digest != h:
            raise ValueError("the bytes do not hash to the given SHA-256")
        path = self.path(digest)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.root / "tmp" / f"{digest}.{os.getpid()}.{time.monotonic_ns()}"
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        if upload is not None:
            self._add_upload(digest, len(data), upload)
        return digest

    def _add_upload(self, h: str, size: int, upload: dict[str, Any]) -> None:
        meta = self.meta(h)
        uploads = list(meta.uploads) if meta else []
        if any(u.get("org_id") == upload.get("org_id") for u in uploads):
            return
        uploads.append(upload)
        target = self.path(h).with_name(h + ".meta")
        tmp = self.root / "tmp" / f"{h}.meta.{time.monotonic_ns()}"
        tmp.write_text(json.dumps({"size": size, "uploads": uploads}, sort_keys=True))
        os.replace(tmp, target)

    def stats(self) -> tuple[int, int]:
        """(blobs, bytes) on disk."""
        count = size = 0
        for p in self.root.glob("??/??/*"):
            if is_hex_id(p.name):
                count += 1
                size += p.stat().st_size
        return count, size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------- replication
class BlobPeers:
    """Blob transfer between nodes over the authenticated peer links."""

    def __init__(
        self,
        store: BlobStore,
        request: Callable[[str, bytes, float], Any],
        peers: Callable[[], list[str]],
        replicas: int = REPLICAS_DEFAULT,
    ) -> None:
        self.store = store
        self._request = request  # (peer id, bytes, timeout) -> awaitable bytes
        self._peers = peers
        self.replicas = replicas
        self._fetching: dict[str, asyncio.Future[bool]] = {}

    # ------------------------------------------------------------------ serving peers
    async def on_request(self, peer: str, req: list[Any]) -> bytes:
        kind = req[0]
        try:
            if kind == "blob_get":
                _, h, offset, length = req
                if not isinstance(h, str) or not is_hex_id(h) or type(offset) is not int or offset < 0:
                    raise ValueError
                if not self.store.has(h):
                    return codec.encode_trusted(["missing"])
                if offset == 0:  # never hand out a damaged copy: check it whole first
                    try:
                        await asyncio.to_thread(self.store.read, h)
                    except (FileNotFoundError, BlobCorruptError):
                        return codec.encode_trusted(["missing"])
                total, data = await asyncio.to_thread(self.store.chunk, h, offset, int(length))
                meta = self.store.meta(h)
                meta_json = json.dumps({"size": meta.size, "uploads": list(meta.uploads)}) if meta else ""
                return codec.encode_trusted(["blob", total, data, meta_json])
            if kind == "blob_have":
                _, h, size = req
                if not isinstance(h, str) or not is_hex_id(h) or type(size) is not int:
                    raise ValueError
                if size > self.store.max_bytes:
                    return codec.encode_trusted(["ok", False])
                have = self.store.has(h) or await self.fetch(h, [peer])
                return codec.encode_trusted(["ok", have])
        except (ValueError, TypeError, OSError):
            pass
        return codec.encode_trusted(["error", "bad_request"])

    # ------------------------------------------------------------------ asking peers
    async def fetch(self, h: str, peers: list[str] | None = None) -> bool:
        """Get a blob this node lacks from `peers` (default: every connected peer). True if stored.
        Concurrent requests for one blob share one transfer."""
        task = self._fetching.get(h)
        if task is None:
            task = asyncio.ensure_future(self._fetch_any(h, peers))
            self._fetching[h] = task
            task.add_done_callback(lambda _t: self._fetching.pop(h, None))
        return await asyncio.shield(task)

    async def _fetch_any(self, h: str, peers: list[str] | None) -> bool:
        for peer in peers if peers is not None else self._peers():
            if await self._fetch_from(peer, h):
                return True
        return False

    async def _fetch_from(self, peer: str, h: str) -> bool:
        parts: list[bytes] = []
        got, total, meta_json = 0, None, ""
        try:
            while total is None or got < total:
                raw = await self._request(peer, codec.encode_trusted(["blob_get", h, got, CHUNK]), 30.0)
                doc = codec.decode(raw)
                if not isinstance(doc, list) or not doc or doc[0] != "blob" or len(doc) != 4:
                    return False
                size, data = doc[1], doc[2]
                if type(size) is not int or not isinstance(data, bytes) or size > self.store.max_bytes:
                    return False
                if total is None:
                    total, meta_json = size, str(doc[3])
                if not data and got < total:
                    return False
                parts.append(data)
                got += len(data)
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            log.info("blob %s from %s failed: %s", h[:16], peer, exc)
            return False
        blob = b"".join(parts)
        if hashlib.sha256(blob).hexdigest() != h:
            log.warning("peer %s sent a blob that does not hash to %s", peer, h[:16])
            return False
        await asyncio.to_thread(self.store.write, blob, h)
        if meta_json:
            try:
                meta = json.loads(meta_json)
                for upload in meta.get("uploads", []):
                    await asyncio.to_thread(self.store._add_upload, h, len(blob), dict(upload))
            except (ValueError, AttributeError, TypeError):
                pass
        return True

    async def replicate(self, h: str, size: int) -> int:
        """Ask up to `replicas` peers to hold the blob; the number of peers that confirm."""
        peers = self._peers()
        if not peers or self.replicas <= 0:
            return 0
        start = int(h[:8], 16) % len(peers)
        chosen = (peers[start:] + peers[:start])[: self.replicas]

        async def ask(peer: str) -> bool:
            try:
                raw = await self._request(
                    peer, codec.encode_trusted(["blob_have", h, size]), REPLICATE_TIMEOUT_S
                )
                doc = codec.decode(raw)
                return isinstance(doc, list) and doc == ["ok", True]
            except (Exception, DecodeError) as exc:
                log.info("blob %s: peer %s did not take it: %s", h[:16], peer, exc)
                return False

        results = await asyncio.gather(*(ask(p) for p in chosen))
        return sum(1 for r in results if r)


def refs_orgs(store: BlockStore, h: str) -> set[str]:
    """Orgs of the ledger records that name blob `h`."""
    start = state_keys.blob_ref(h).encode()
    out = set()
    for _, raw in store.state_scan(start, prefix_end(start)):
        try:
            doc = codec.decode(raw)
        except DecodeError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("org_id"), str):
            out.add(doc["org_id"])
    return out
