"""Reading a node's chain over HTTP, and the export archive (write and read).

Rules:

- Every HTTP request of the export and the auditor goes through `NodeReader._get`: the one
  place to add a signed-request header when the read API requires authentication.
- The node is not trusted by anything here: the reader only fetches bytes; the auditor verifies.
  A node that fails to serve a height it claims to have is reported at that height.
- Archive format (docs/audit.md): a sequence of frames, each a 4-byte big-endian length and one
  canonical msgpack value (`wire.codec`). Frame 1 is the header map (format, version, chain id,
  genesis hash, the genesis document, the exported height, source, creation time); then one
  `["block", height, block_bytes, certificate_bytes, [receipt_bytes...]]` per height from 1; the
  last frame is `["end", height, blocks, sha256]` (SHA-256 of every byte before it, as
  written, before compression), so a truncated or damaged file is detected. A name ending in
  `.gz` is gzip-compressed. Written to a temporary name and renamed when complete.
- Version 2 adds state snapshots: the header lists their heights (`snapshots`, increasing), and
  right after the block frame of each such height come `["state", height, [[key, value], ...],
  last]` frames (keys strictly increasing across them, the last one with `last` true) holding
  the whole state after that block. A snapshot is a claim the auditor checks like everything
  else (against the replay, or against the certified root when it starts a segment there:
  auditor/segments.py). Version 1 (no snapshots) is still read and still written when there
  are none.
- Memory is bounded: blocks are streamed one at a time in both directions; the fetch window
  keeps at most `window` blocks in flight.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from auditor.errors import SourceError
from client_sdk.tls import certificate_error, certificate_failure, tls_context
from wire import codec
from wire.crypto import sha256
from wire.errors import DecodeError, GenesisError
from wire.genesis import Genesis

ARCHIVE_FORMAT = "orgledger/archive"
ARCHIVE_VERSION = 2  # the newest; 1 (no snapshots) is written when there are none
STATE_FRAME_ENTRIES = 20_000
_BLOCK_FRAME, _STATE_FRAME = b"\x95\xa5block", b"\x94\xa5state"  # how their encodings begin
MAX_FRAME_BYTES = 64 * 1024 * 1024
_FRAME_LIMITS = codec.Limits(max_bytes=MAX_FRAME_BYTES, max_bin_len=32 * 1024 * 1024)

T = TypeVar("T")
R = TypeVar("R")


# ------------------------------------------------------------------------------------ HTTP
class NodeReader:
    """Fetches what a node serves. Trusts nothing; only moves bytes."""

    RETRIES = 3

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
        auth: httpx.Auth | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        # `client` lets tests put an in-process app (starlette's TestClient) behind the same code;
        # `auth` signs every request (the read API wants a root-org auditor, admin or node key);
        # `tls` verifies an https node against the network CA (client_sdk.tls)
        self._http = (
            client
            if client is not None
            else httpx.Client(
                base_url=self.url, timeout=timeout_s, auth=auth, verify=tls if tls is not None else True
            )
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NodeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON object: the one function through which the auditor and export use HTTP.

        Request signing (the read API's authentication) belongs here, as a header on this request.
        Connection failures and 5xx answers are retried; 4xx answers are not.
        """
        delay = 0.2
        for attempt in range(self.RETRIES + 1):
            try:
                resp = self._http.get(path, params=params)
            except httpx.HTTPError as exc:
                failure = certificate_failure(exc)
                if failure is not None:  # not retried: it will not verify the next time either
                    raise SourceError(str(certificate_error(self.url, failure, "--ca"))) from exc
                if attempt == self.RETRIES:
                    raise SourceError(f"GET {self.url}{path}: {exc or type(exc).__name__}") from exc
            else:
                if resp.status_code < 500 or attempt == self.RETRIES:
                    break
            time.sleep(delay)
            delay *= 2
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if resp.status_code >= 400 or not isinstance(doc, dict):
            err = doc.get("error", {}) if isinstance(doc, dict) else {}
            err = err if isinstance(err, dict) else {}
            code, message = err.get("code", "bad_response"), str(err.get("message", ""))[:300]
            raise SourceError(
                f"GET {path}: HTTP {resp.status_code} {code}" + (f" ({message})" if message else ""),
                status=resp.status_code,
            )
        return doc

    def status(self) -> dict[str, Any]:
        return self._get("/v1/status")

    def height(self) -> int:
        value = self.status().get("height")
        if type(value) is not int or value < 0:
            raise SourceError("the node's status has no height")
        return value

    def block(self, height: int) -> tuple[bytes, bytes]:
        try:
            doc = self._get(f"/v1/blocks/{height}")
            return bytes.fromhex(doc["block_bytes"]), bytes.fromhex(doc["certificate_bytes"])
        except SourceError as exc:
            raise SourceError(f"block {height}: {exc}", height=height, status=exc.status) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"block {height}: malformed answer", height=height) from exc

    def receipts(self, height: int) -> list[bytes]:
        try:
            doc = self._get(f"/v1/blocks/{height}/receipts")
            return [bytes.fromhex(r["receipt_bytes"]) for r in doc["receipts"]]
        except SourceError as exc:
            raise SourceError(f"receipts of block {height}: {exc}", height=height, status=exc.status) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"receipts of block {height}: malformed answer", height=height) from exc

    def tx_proof(self, tx_id: bytes) -> dict[str, Any]:
        return self._get(f"/v1/proofs/tx/{tx_id.hex()}")

    def state_digests(self, after: bytes | None, limit: int = 5000) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after.hex()
        return self._get("/v1/proofs/state-digests", params)


def ordered_prefetch(fn: Callable[[T], R], items: Iterable[T], *, window: int = 8) -> Iterator[R]:
    """`map(fn, items)` run by `window` threads, results in order, at most `window` in flight."""
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=window) as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


# ------------------------------------------------------------------------------------ archive
@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveHeader:
    chain_id: str
    genesis_hash: bytes
    genesis: dict[str, Any]
    height: int
    source: str
    created_ms: int
    snapshots: tuple[int, ...] = ()


Entries = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveBlock:
    height: int
    block_bytes: bytes
    certificate_bytes: bytes
    receipts: tuple[bytes, ...]
    state: Entries | None = None  # the whole state after this block (a snapshot height), by key


def _open(path: Path, mode: str, *, compressed: bool) -> IO[bytes]:
    if compressed:
        return gzip.open(path, mode + "b", compresslevel=6)  # type: ignore[return-value]
    return open(path, mode + "b")


class ArchiveWriter:
    """Writes an archive frame by frame to `<path>.partial`, renamed to `path` by `finish()`."""

    def __init__(
        self, path: Path, genesis: Genesis, *, height: int, source: str, snapshots: Iterable[int] = ()
    ) -> None:
        self.path = path
        self.snapshots = tuple(snapshots)
        if list(self.snapshots) != sorted(set(self.snapshots)) or not all(
            1 <= s <= height for s in self.snapshots
        ):
            raise ValueError("snapshot heights must be increasing, within 1..height")
        self._tmp = path.with_name(path.name + ".partial")
        self._fh = _open(self._tmp, "w", compressed=path.name.endswith(".gz"))
        self._digest = hashlib.sha256()
        self._count = 0
        self._last = 0
        header: dict[str, Any] = {
            "format": ARCHIVE_FORMAT,
            "version": 1,
            "chain_id": genesis.chain_id,
            "genesis_hash": genesis.hash,
            "genesis": genesis.to_json(),
            "height": height,
            "source": source,
            "created_ms": int(time.time() * 1000),
        }
        if self.snapshots:
            header.update(version=ARCHIVE_VERSION, snapshots=list(self.snapshots))
        self._frame(header)

    def _frame(self, value: Any) -> None:
        data = codec.encode(value)
        for part in (len(data).to_bytes(4, "big"), data):
            self._fh.write(part)
            self._digest.update(part)

    def add(self, block: ArchiveBlock) -> None:
        if block.height != self._last + 1:
            raise ValueError(f"archive blocks must be consecutive: {block.height} after {self._last}")
        if (block.state is not None) != (block.height in self.snapshots):
            raise ValueError(f"block {block.height}: a state goes with exactly the snapshot heights")
        self._frame(["block", block.height, block.block_bytes, block.certificate_bytes, list(block.receipts)])
        if block.state is not None:
            entries = block.state
            for i in range(0, max(1, len(entries)), STATE_FRAME_ENTRIES):
                chunk = [[k, v] for k, v in entries[i : i + STATE_FRAME_ENTRIES]]
                self._frame(["state", block.height, chunk, i + STATE_FRAME_ENTRIES >= len(entries)])
        self._last = block.height
        self._count += 1

    def finish(self) -> None:
        self._frame(["end", self._last, self._count, self._digest.digest()])
        self._fh.flush()
        self._fh.close()
        with open(self._tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


class ArchiveReader:
    """Reads an archive strictly: canonical frames, consecutive heights, and the end frame."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._digest = hashlib.sha256()
        try:
            self._fh = _open(path, "r", compressed=path.name.endswith(".gz"))
        except OSError as exc:
            raise SourceError(f"cannot read archive {path}: {exc.strerror}") from exc
        doc = self._frame()
        if not isinstance(doc, dict) or doc.get("format") != ARCHIVE_FORMAT:
            raise SourceError(f"{path} is not an orgledger archive")
        if doc.get("version") not in (1, ARCHIVE_VERSION):
            raise SourceError(f"{path}: unsupported archive version {doc.get('version')!r}")
        try:
            snapshots = tuple(_typed(h, int) for h in _typed(doc.get("snapshots", []), list))
            self.header = ArchiveHeader(
                chain_id=_typed(doc["chain_id"], str),
                genesis_hash=_typed(doc["genesis_hash"], bytes),
                genesis=_typed(doc["genesis"], dict),
                height=_typed(doc["height"], int),
                source=_typed(doc["source"], str),
                created_ms=_typed(doc["created_ms"], int),
                snapshots=snapshots,
            )
        except (KeyError, TypeError) as exc:
            raise SourceError(f"{path}: malformed archive header ({exc})") from exc
        if sha256(codec.encode(self.header.genesis)) != self.header.genesis_hash:
            raise SourceError(f"{path}: the archived genesis does not match its genesis hash")
        if list(snapshots) != sorted(set(snapshots)) or not all(
            1 <= h <= self.header.height for h in snapshots
        ):
            raise SourceError(f"{path}: malformed snapshot heights in the archive header")

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def genesis(self) -> Genesis:
        try:
            return Genesis.from_json(self.header.genesis)
        except GenesisError as exc:
            raise SourceError(f"{self.path}: the archived genesis is invalid: {exc}") from exc

    def _frame(self, height: int | None = None, *, decode: bool = True) -> Any:
        """The next frame, decoded (or its raw bytes, hashed all the same, when not `decode`)."""
        try:
            size_raw = self._fh.read(4)
            if len(size_raw) < 4:
                raise SourceError(f"{self.path}: truncated (no end record)", height=height)
            size = int.from_bytes(size_raw, "big")
            if size > MAX_FRAME_BYTES:
                raise SourceError(f"{self.path}: a record of {size} bytes is too large", height=height)
            data = self._fh.read(size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise SourceError(f"{self.path}: unreadable: {exc}", height=height) from exc
        if len(data) < size:
            raise SourceError(f"{self.path}: truncated", height=height)
        self._covered = self._digest.digest()  # the digest of everything before this frame
        self._digest.update(size_raw)
        self._digest.update(data)
        return self._decode(data, height) if decode else data

    def _decode(self, data: bytes, height: int | None) -> Any:
        try:
            return codec.decode(data, _FRAME_LIMITS)
        except DecodeError as exc:
            raise SourceError(f"{self.path}: a record does not decode: {exc.message}", height=height) from exc

    def blocks(self, skip_below: int = 1) -> Iterator[ArchiveBlock]:
        """The blocks in height order; those below `skip_below` (and their states) are read past
        without decoding them, recognised by their first bytes (a parallel segment's prefix, which
        the segment before it reads and checks)."""
        expected, skipping = 1, skip_below > 1
        while True:
            if skipping:
                raw = self._frame(expected, decode=False)
                if raw.startswith(_BLOCK_FRAME) and expected < skip_below:
                    expected += 1
                    continue
                if raw.startswith(_STATE_FRAME):
                    continue
                skipping = False  # from block `skip_below` (or anything unexpected) on, as usual
                doc = self._decode(raw, expected)
            else:
                doc = self._frame(expected)
            if isinstance(doc, list) and len(doc) == 4 and doc[0] == "end":
                if doc[1] != expected - 1 or doc[2] != expected - 1 or doc[1] != self.header.height:
                    raise SourceError(
                        f"{self.path}: the end record says {doc[1]!r} blocks, "
                        f"the archive holds {expected - 1} of {self.header.height}",
                        height=expected,
                    )
                if doc[3] != self._covered:
                    raise SourceError(
                        f"{self.path}: the checksum in the end record does not match: the file was damaged",
                        height=expected - 1,
                    )
                if self._fh.read(1):
                    raise SourceError(f"{self.path}: data after the end record", height=expected)
                return
            if not (
                isinstance(doc, list)
                and len(doc) == 5
                and doc[0] == "block"
                and type(doc[2]) is bytes
                and type(doc[3]) is bytes
                and isinstance(doc[4], list)
                and all(type(r) is bytes for r in doc[4])
            ):
                raise SourceError(f"{self.path}: malformed record at height {expected}", height=expected)
            if doc[1] != expected:
                raise SourceError(
                    f"{self.path}: record for height {doc[1]!r} where {expected} was expected",
                    height=expected,
                )
            yield ArchiveBlock(
                height=expected,
                block_bytes=doc[2],
                certificate_bytes=doc[3],
                receipts=tuple(doc[4]),
                state=self._state(expected) if expected in self.header.snapshots else None,
            )
            expected += 1

    def _state(self, height: int) -> Entries:
        """The state frames after block `height`: whole, keys strictly increasing."""
        out: list[tuple[bytes, bytes]] = []
        while True:
            doc = self._frame(height)
            if not (
                isinstance(doc, list)
                and len(doc) == 4
                and doc[0] == "state"
                and doc[1] == height
                and isinstance(doc[2], list)
                and type(doc[3]) is bool
            ):
                raise SourceError(f"{self.path}: no whole state record after block {height}", height=height)
            for entry in doc[2]:
                if not (
                    isinstance(entry, list)
                    and len(entry) == 2
                    and type(entry[0]) is bytes
                    and type(entry[1]) is bytes
                    and (not out or out[-1][0] < entry[0])
                ):
                    raise SourceError(f"{self.path}: malformed state entry at height {height}", height=height)
                out.append((entry[0], entry[1]))
            if doc[3]:
                return tuple(out)


def _typed(value: Any, kind: type[T]) -> T:
    if type(value) is not kind:
        raise TypeError(f"expected {kind.__name__}")
    return value


def signed_reader(
    url: str, genesis: Genesis, key_file: Path | None, ca_file: Path | None = None
) -> NodeReader:
    """A reader whose requests are signed with `key_file`, or by default with the root org's admin key
    of a local dev network (`keys/admins/<root>.key` next to genesis.json), when one is there; an
    https node is verified against `ca_file` (the network CA) when given."""
    from client_sdk.auth import LedgerAuth, RequestSigner
    from client_sdk.errors import LedgerError
    from wire.files import load_signing_key

    try:
        tls = tls_context(url, ca_file)
    except LedgerError as exc:
        raise SourceError(str(exc)) from None
    if key_file is None:
        candidate = Path(".devnet") / "keys" / "admins" / f"{genesis.root_org}.key"
        key_file = candidate if candidate.exists() else None
    if key_file is None:
        return NodeReader(url, tls=tls)
    return NodeReader(
        url, auth=LedgerAuth(RequestSigner(load_signing_key(key_file), genesis.chain_id)), tls=tls
    )
