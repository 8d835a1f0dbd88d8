"""Where the auditor reads a chain from: a node's read API or an exported archive.

Rules: a source only delivers bytes (`SourceBlock`s in height order, and the node's state
digests); it checks nothing but that it claims the caller's chain (`open`). A block it cannot
deliver comes back as a `SourceBlock` with its `error` set, for the auditor to report; a node
that cannot be reached at all is `AuditIncomplete`. A node source prefetches a few blocks ahead
(`auditor.archive.ordered_prefetch`) and, by `proofs`, fetches the node's proof of one transaction
per block, of every one, or none. An archive also delivers the state snapshots it holds
(`SourceBlock.state`), as claims to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from auditor.archive import ArchiveReader, NodeReader, ordered_prefetch
from auditor.errors import AuditFailed, AuditIncomplete, SourceError
from client_sdk.proofs import tx_id_of
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.types import Block

PROOF_MODES = ("sample", "all", "none")


@dataclass(slots=True)
class SourceBlock:
    height: int
    block_bytes: bytes = b""
    certificate_bytes: bytes = b""
    receipts: tuple[bytes, ...] | None = None  # what the source serves; None = not offered
    proofs: tuple[tuple[int, Any], ...] = ()  # (tx index, the proof JSON or a SourceError)
    error: SourceError | None = None
    state: tuple[tuple[bytes, bytes], ...] | None = None  # a claimed snapshot after this block


class Source(Protocol):
    kind: str
    description: str

    def open(self, genesis: Genesis) -> int:
        """Check the source claims our chain (AuditFailed at height 0 if not); return its height."""
        ...

    def blocks(self, start: int, stop: int) -> Iterator[SourceBlock]: ...

    def state_pages(self) -> Iterator[dict[str, Any]] | None: ...


class NodeSource:
    def __init__(self, reader: NodeReader, *, proofs: str = "sample", window: int = 8) -> None:
        if proofs not in PROOF_MODES:
            raise ValueError(f"proofs must be one of {PROOF_MODES}")
        self.reader, self.proofs, self.window = reader, proofs, window
        self.kind, self.description = "node", reader.url

    def open(self, genesis: Genesis) -> int:
        try:
            status = self.reader.status()
        except SourceError as exc:
            raise AuditIncomplete(f"cannot reach {self.reader.url}: {exc}") from exc
        if status.get("genesis_hash") != genesis.hash.hex():
            raise AuditFailed(0, "headers", "the node says it serves another chain (genesis hash differs)")
        height = status.get("height")
        if type(height) is not int or height < 0:
            raise AuditFailed(0, "headers", "the node's status has no valid height")
        return height

    def _fetch(self, height: int) -> SourceBlock:
        out = SourceBlock(height)
        try:
            out.block_bytes, out.certificate_bytes = self.reader.block(height)
            out.receipts = tuple(self.reader.receipts(height))
        except SourceError as exc:
            out.error = exc
            return out
        if self.proofs == "none":
            return out
        try:
            txs = Block.decode(out.block_bytes).txs
        except DecodeError:
            return out  # the auditor reports the block itself
        indexes = range(len(txs)) if self.proofs == "all" else ([height % len(txs)] if txs else [])
        proofs: list[tuple[int, Any]] = []
        for i in indexes:
            try:
                proofs.append((i, self.reader.tx_proof(tx_id_of(txs[i]))))
            except SourceError as exc:
                proofs.append((i, exc))
        out.proofs = tuple(proofs)
        return out

    def blocks(self, start: int, stop: int) -> Iterator[SourceBlock]:
        return ordered_prefetch(self._fetch, range(start, stop + 1), window=self.window)

    def state_pages(self) -> Iterator[dict[str, Any]]:
        after: bytes | None = None
        while True:
            page = self.reader.state_digests(after)
            yield page
            nxt = page.get("next_after")
            if nxt is None:
                return
            after = bytes.fromhex(str(nxt))


class ArchiveSource:
    def __init__(self, archive: ArchiveReader) -> None:
        self.archive = archive
        self.kind, self.description = "archive", str(archive.path)

    def open(self, genesis: Genesis) -> int:
        if self.archive.header.genesis_hash != genesis.hash:
            raise AuditFailed(0, "headers", "the archive is of another chain (genesis hash differs)")
        return self.archive.header.height

    def blocks(self, start: int, stop: int) -> Iterator[SourceBlock]:
        """The blocks of the archive from `start` on, to its end record and checksum (it is read
        once; the frames below `start` are read past, not decoded)."""
        try:
            for item in self.archive.blocks(skip_below=start):
                yield SourceBlock(
                    item.height,
                    block_bytes=item.block_bytes,
                    certificate_bytes=item.certificate_bytes,
                    receipts=item.receipts,
                    state=item.state,
                )
        except SourceError as exc:
            yield SourceBlock(exc.height or start, error=exc)

    def state_pages(self) -> None:
        return None
