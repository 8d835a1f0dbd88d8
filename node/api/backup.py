"""`GET /v1/admin/backup`: an online backup of the node, streamed as a tar while the node runs.

Rules:

- Only the node's own key (the operator on the node's host holds `node.key`: the key the ledger
  has in force for this node, `nodekey/<pubkey>`, so a rotated-out key no longer may) or an admin
  of the root org may take one (403 `forbidden` for everyone else); one backup at a time (429 `busy`).
- The archive, in this order: `store.kv` (every store record but the consensus records, from one
  store snapshot: `node/store/backup.py`), the files under the directories the composition root
  names (`blobs/`, never their `tmp/`; `accesslog/`, whose open segment is cut at its last whole
  line), and last `manifest.json`: format, chain, node, the certified height with its block hash,
  state root, results root, roots record and certificate as the store records them, and the size
  and SHA-256 of every member, so `orgledger node backup` verifies what it received.
- Blob files never change once written and closed access-log segments never change; the open
  segment only grows. A file that disappears while the archive is written ends the backup with
  an error line in the log (the client sees a torn archive and says so).
- The tar is produced on a worker thread into a bounded queue, so a slow reader holds the
  snapshot longer but never buffers the whole store in memory; a client that goes away stops it.
"""

# No `from __future__ import annotations` in route modules: FastAPI resolves each parameter's
# annotation at runtime, and `Depends(ctx.authn)` names a local of `build_router`.

import asyncio
import hashlib
import io
import json
import logging
import queue
import tarfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS
from node.errors import BusyError
from node.store.backup import KV_NAME, MANIFEST_NAME, kv_chunks, kv_stats, manifest

#: what the backup route answers besides its tar stream (OpenAPI)
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **{code: READ_ERRORS[code] for code in (400, 401, 403, 503)},
    429: {**READ_ERRORS[429], "description": "rate limited, or a backup is already running (busy)"},
}

log = logging.getLogger("orgledger.backup")

QUEUE_CHUNKS = 16
PUT_TIMEOUT_S = 1.0
IDLE_ABORT_S = 600.0  # a reader that takes nothing for this long is gone


class _Stopped(Exception):
    pass


class _QueueWriter(io.RawIOBase):
    """The tar's output: chunks into a bounded queue, until the reader stops it."""

    def __init__(self, q: queue.Queue[bytes | BaseException | None], stop: threading.Event) -> None:
        self.q, self.stop = q, stop

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        waited = 0.0
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                self.q.put(chunk, timeout=PUT_TIMEOUT_S)
                return len(chunk)
            except queue.Full:
                waited += PUT_TIMEOUT_S
                if waited > IDLE_ABORT_S:
                    raise _Stopped from None


class _Reader(io.RawIOBase):
    """A file over an iterator of chunks that hashes what passes (tarfile reads `size` bytes)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buf, self.digest = chunks, b"", hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            nxt = next(self.chunks, None)
            if nxt is None:
                break
            self.buf += nxt
        out, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
        self.digest.update(out)
        return out


def _file_chunks(path: Path, size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        left = size
        while left > 0:
            data = f.read(min(left, 1 << 20))
            if not data:
                raise OSError(f"{path} shrank while it was backed up")
            left -= len(data)
            yield data


def _files(dirs: Sequence[tuple[str, Path]]) -> list[tuple[str, Path, int]]:
    """(archive name, path, size to copy) of every file to back up, sizes as of now."""
    out: list[tuple[str, Path, int]] = []
    for name, root in dirs:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if not path.is_file() or path.is_symlink() or (name == "blobs" and rel.parts[0] == "tmp"):
                continue
            size = path.stat().st_size
            if name == "accesslog" and path.name == "current.jsonl":
                with open(path, "rb") as f:
                    size = f.read(size).rfind(b"\n") + 1  # whole lines only
            out.append((f"{name}/{rel.as_posix()}", path, size))
    return out


def _add(tar: tarfile.TarFile, name: str, size: int, chunks: Iterator[bytes]) -> str:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o600
    reader = _Reader(chunks)
    tar.addfile(info, reader)
    return reader.digest.hexdigest()


def build_router(ctx: ApiContext, *, dirs: Sequence[tuple[str, Path]]) -> APIRouter:
    """`dirs`: (archive name, directory) of the node's files to back up beside the store."""
    router = APIRouter()
    own_id = f"node:{ctx.node_id}"  # how the authenticator names this node's key in force
    running = threading.Lock()

    def produce(q: queue.Queue[bytes | BaseException | None], stop: threading.Event) -> None:
        try:
            with ctx.store.snapshot() as snap:
                kv = kv_stats(snap)
                man = manifest(
                    snap,
                    chain_id=ctx.genesis.chain_id,
                    genesis_hash=ctx.genesis.hash,
                    node_id=ctx.node_id,
                    kv=kv,
                )
                members: dict[str, dict[str, Any]] = {}
                with tarfile.open(fileobj=_QueueWriter(q, stop), mode="w|") as tar:
                    digest = _add(tar, KV_NAME, kv.size, kv_chunks(snap))
                    members[KV_NAME] = {"bytes": kv.size, "sha256": digest}
                    for name, path, size in _files(dirs):
                        members[name] = {
                            "bytes": size,
                            "sha256": _add(tar, name, size, _file_chunks(path, size)),
                        }
                    man["files"] = members
                    body = (json.dumps(man, indent=2) + "\n").encode()
                    _add(tar, MANIFEST_NAME, len(body), iter([body]))
            log.info(
                "backup at height %d sent: %d files",
                man["height"],
                len(members),
                extra={"height": man["height"]},
            )
            q.put(None)
        except _Stopped:
            log.warning("backup abandoned by its reader")
        except BaseException as exc:
            log.error("backup failed: %s", exc)
            q.put(exc)
        finally:
            running.release()

    @router.get(
        "/v1/admin/backup",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/x-tar": {}}}, **ADMIN_ERRORS},
        summary="An online backup of this node (a tar stream)",
    )
    async def backup(caller: Annotated[Caller, Depends(ctx.authn)]) -> StreamingResponse:
        root_admin = "admin" in caller.roles and caller.org_id == caller.root_org
        if (caller.kind, caller.user_id) != ("node", own_id) and not root_admin:
            raise ApiError("forbidden", "a backup needs this node's key or an admin of the root org")
        if not running.acquire(blocking=False):
            raise BusyError("a backup is already running on this node; retry when it ends")
        q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        stop = threading.Event()
        threading.Thread(target=produce, args=(q, stop), name="backup", daemon=True).start()

        async def stream() -> AsyncIterator[bytes]:
            try:
                while True:
                    item = await asyncio.to_thread(q.get)
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        return  # the archive stays torn: the client sees no manifest
                    yield item
            finally:
                stop.set()

        return StreamingResponse(
            stream(),
            media_type="application/x-tar",
            headers={"Content-Disposition": f'attachment; filename="{ctx.node_id}-backup.tar"'},
        )

    return router
