"""The auditor: verify a whole chain from genesis without trusting whoever serves it.

What is checked, block by block from height 1 (docs/audit.md has the full list):

- availability: the source delivers every block (with its certificate and receipts) up to the
  height it claims.
- decode: the block and its certificate decode strictly (canonical bytes).
- headers: chain id, height, `prev_block_hash` = hash of the previous header (genesis hash for
  block 1), timestamps strictly increasing (block 1 after genesis time), `validators_hash` = the
  set in force, proposer = view mod n, `tx_root` = RFC 6962 root of the transactions, block
  limits (count, bytes, no repeated entry or transaction id).
- certificates: a quorum of valid `commit` signatures of the set in force over this block's hash.
- tx_validity / tx_signatures: every transaction decodes, names this chain, fits the size limit,
  passes the contracts' stateless check, and its signature and approvals verify. These run in a
  `ProcessPoolExecutor` (one batch of a few hundred transactions per task) while the main process
  replays.
- replay: every block through `node.executor.run_block` (the node's own definition of executing a
  block) over an in-memory state starting from `contracts.genesis_state(genesis)`; that
  re-derives every receipt, and receipts encode permissions and rule verdicts.
- state_roots / results_roots: the header of block h carries the roots after block h - exec_lag;
  the replayed roots must equal them. The roots of the last exec_lag blocks are not yet carried by
  any header and are reported as unconfirmed.
- receipts: receipts served (by the node, or stored in the archive) equal the replayed ones.
- proofs (node only): the node's `/v1/proofs/tx/{id}` for one transaction per block (or every
  one, or none) verifies with `client_sdk.proofs` and matches the audited block and replay.
- state (node only): the node's live state, as (key, SHA-256 of value), equals the replayed state
  at the same height, and its state root is the replayed one.

The genesis always comes from the caller, never from the source. The first failure stops the
audit and is reported with its height, check and reason.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from sortedcontainers import SortedList

from client_sdk.errors import VerificationError
from client_sdk.proofs import tx_id_of, verify_proof_response
from contracts import TxRejected, check_tx, genesis_state
from node.executor import run_block
from node.export import ArchiveReader, NodeReader, SourceError, ordered_prefetch, signed_reader
from wire.certificate import ValidatorSet, verify_certificate
from wire.crypto import sha256
from wire.errors import CertificateError, DecodeError
from wire.genesis import Genesis
from wire.merkle import EMPTY_ROOT, merkle_root
from wire.statehash import StateHash
from wire.types import Block, BlockHeader, CommitCertificate, Receipt, SignedTransaction, results_root

CHECKS = (
    "availability",
    "decode",
    "headers",
    "certificates",
    "tx_validity",
    "tx_signatures",
    "replay",
    "state_roots",
    "results_roots",
    "receipts",
    "proofs",
    "state",
)
SIG_BATCH = 256
PROOF_MODES = ("sample", "all", "none")


# ------------------------------------------------------------------------------------ failures
@dataclass(frozen=True, slots=True)
class Failure:
    height: int
    check: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"height": self.height, "check": self.check, "reason": self.reason}


class AuditFailed(Exception):
    def __init__(self, height: int, check: str, reason: str) -> None:
        super().__init__(f"height {height}: {check}: {reason}")
        self.failure = Failure(height, check, reason)


class AuditIncomplete(Exception):
    """The audit could not run to the end (source unreachable or unreadable): no verdict."""


# ------------------------------------------------------------------------------------ pure checks
@dataclass(frozen=True, slots=True)
class ChainTip:
    height: int
    block_hash: bytes
    timestamp_ms: int


def decode_block(
    height: int, block_bytes: bytes, certificate_bytes: bytes
) -> tuple[Block, CommitCertificate]:
    try:
        block = Block.decode(block_bytes)
    except DecodeError as exc:
        raise AuditFailed(height, "decode", f"block does not decode: {exc.message}") from exc
    try:
        cert = CommitCertificate.decode(certificate_bytes)
    except DecodeError as exc:
        raise AuditFailed(height, "decode", f"certificate does not decode: {exc.message}") from exc
    return block, cert


def check_header(
    block: Block, height: int, tip: ChainTip, genesis: Genesis, validators: ValidatorSet
) -> None:
    """Header link and limits of block `height` following `tip` (raises AuditFailed 'headers')."""
    h = block.header
    p = genesis.consensus

    def bad(reason: str) -> AuditFailed:
        return AuditFailed(height, "headers", reason)

    if h.chain_id != genesis.chain_id:
        raise bad(f"chain id {h.chain_id!r}, expected {genesis.chain_id!r}")
    if h.height != height or tip.height != height - 1:
        raise bad(f"header says height {h.height}, expected {height}")
    if h.prev_block_hash != tip.block_hash:
        raise bad(f"prev_block_hash is not the hash of block {tip.height}")
    if h.timestamp_ms <= tip.timestamp_ms:
        raise bad(f"timestamp {h.timestamp_ms} is not after block {tip.height}'s {tip.timestamp_ms}")
    if h.validators_hash != validators.hash:
        raise bad("validators_hash is not the hash of the validator set in force")
    if h.proposer != h.view % validators.n:
        raise bad(f"proposer {h.proposer} is not the primary of view {h.view}")
    if merkle_root(block.txs) != h.tx_root:
        raise bad("tx_root is not the Merkle root of the block's transactions")
    if len(block.txs) > p.max_block_txs or sum(len(t) for t in block.txs) > p.max_block_bytes:
        raise bad("the block exceeds the size limits")
    if len(set(block.txs)) != len(block.txs):
        raise bad("a transaction appears twice in the block")


def check_certificate(
    cert: CommitCertificate, block: Block, height: int, validators: ValidatorSet, chain_id: str
) -> None:
    try:
        verify_certificate(cert, validators, chain_id, height=height, block_hash=block.hash)
    except CertificateError as exc:
        raise AuditFailed(height, "certificates", exc.message) from exc


def check_roots(header: BlockHeader, roots: tuple[bytes, bytes], lag: int) -> None:
    """Header h carries the roots after block h - lag (genesis roots for h <= lag)."""
    at = max(0, header.height - lag)
    where = "genesis" if at == 0 else f"block {at}"
    if header.prev_state_root != roots[0]:
        raise AuditFailed(
            at or header.height,
            "state_roots",
            f"replaying {where} gives state root {roots[0].hex()[:16]}…, block {header.height} carries "
            f"{header.prev_state_root.hex()[:16]}…",
        )
    if header.prev_results_root != roots[1]:
        raise AuditFailed(
            at or header.height,
            "results_roots",
            f"replaying {where} gives results root {roots[1].hex()[:16]}…, block {header.height} carries "
            f"{header.prev_results_root.hex()[:16]}…",
        )


@dataclass(frozen=True, slots=True)
class TxBatchResult:
    checked: int
    bad: tuple[tuple[int, int, str, str], ...]  # (height, index, check, reason), sorted
    cpu_s: float


def check_tx_batch(
    chain_id: str, max_tx_bytes: int, items: Sequence[tuple[int, int, bytes]]
) -> TxBatchResult:
    """Stateless validity and signatures of (height, index, raw) entries; runs in a worker process."""
    started = time.process_time()
    bad: list[tuple[int, int, str, str]] = []
    for height, index, raw in items:
        if len(raw) > max_tx_bytes + 1024:
            bad.append((height, index, "tx_validity", f"transaction {index} exceeds the size limit"))
            continue
        try:
            tx = SignedTransaction.decode(raw)
        except DecodeError as exc:
            bad.append((height, index, "tx_validity", f"transaction {index} does not decode: {exc.message}"))
            continue
        if tx.body.chain_id != chain_id:
            bad.append(
                (height, index, "tx_validity", f"transaction {index} names chain {tx.body.chain_id!r}")
            )
            continue
        try:
            check_tx(tx)
        except TxRejected as exc:
            bad.append((height, index, "tx_validity", f"transaction {index} is invalid ({exc.code}): {exc}"))
            continue
        if not tx.signature_ok():
            bad.append((height, index, "tx_signatures", f"transaction {index}'s signature does not verify"))
    return TxBatchResult(len(items), tuple(sorted(bad)), time.process_time() - started)


class MemoryState:
    """The replayed ledger state: a dict with its keys kept sorted (a contracts StateReader).

    The sorted keys are a `sortedcontainers.SortedList`: O(log n) inserts, where a plain list's
    insort moves half the keys each time and made replay slow down as the state grew."""

    def __init__(self, entries: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._data: dict[bytes, bytes] = dict(entries)
        self._keys: SortedList = SortedList(self._data)

    def set(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            if self._data.pop(key, None) is not None:
                self._keys.remove(key)
            return
        if key not in self._data:
            self._keys.add(key)
        self._data[key] = value

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        for k in self._keys.irange(start, end, inclusive=(True, False)):
            yield k, self._data[k]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for k in self._keys:
            yield k, self._data[k]

    def __len__(self) -> int:
        return len(self._keys)


class Replayer:
    """Replays blocks from genesis exactly as the node's executor does; keeps recent roots."""

    def __init__(self, genesis: Genesis) -> None:
        self.chain_id = genesis.chain_id
        self.lag = genesis.consensus.exec_lag
        entries = genesis_state(genesis)
        self.state = MemoryState(entries)
        self.state_hash = StateHash()
        for k, v in entries:
            self.state_hash.add(k, v)
        self.height = 0
        self.roots: dict[int, tuple[bytes, bytes]] = {0: (self.state_hash.root(), EMPTY_ROOT)}

    def roots_for_header(self, height: int) -> tuple[bytes, bytes]:
        return self.roots[max(0, height - self.lag)]

    def apply(self, block: Block) -> tuple[Receipt, ...]:
        height = block.header.height
        if height != self.height + 1:
            raise ValueError(f"replay of block {height} after {self.height}")
        result = run_block(self.state, self.chain_id, block)
        for key, value in result.writes:
            self.state_hash.update(key, self.state.get(key), value)
        for key, value in result.writes:
            self.state.set(key, value)
        self.height = height
        self.roots[height] = (self.state_hash.root(), results_root(result.receipts))
        self.roots.pop(height - self.lag - 1, None)
        return result.receipts


# ------------------------------------------------------------------------------------ sources
@dataclass(slots=True)
class SourceBlock:
    height: int
    block_bytes: bytes = b""
    certificate_bytes: bytes = b""
    receipts: tuple[bytes, ...] | None = None  # what the source serves; None = not offered
    proofs: tuple[tuple[int, Any], ...] = ()  # (tx index, the proof JSON or a SourceError)
    error: SourceError | None = None


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
        """Every block of the archive (it is read once, to its end record and checksum)."""
        try:
            for item in self.archive.blocks():
                yield SourceBlock(
                    item.height,
                    block_bytes=item.block_bytes,
                    certificate_bytes=item.certificate_bytes,
                    receipts=item.receipts,
                )
        except SourceError as exc:
            yield SourceBlock(exc.height or start, error=exc)

    def state_pages(self) -> None:
        return None


# ------------------------------------------------------------------------------------ the report
@dataclass
class AuditReport:
    source: str
    kind: str
    chain_id: str
    genesis_hash: str
    source_height: int = 0
    verified_height: int = 0
    roots_confirmed_height: int = 0
    blocks: int = 0
    txs: int = 0
    accepted: int = 0
    rejected: int = 0
    checks: dict[str, dict[str, int]] = field(
        default_factory=lambda: {c: {"passed": 0, "failed": 0} for c in CHECKS}
    )
    skipped: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    incomplete: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    workers: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None and self.incomplete is None

    def passed(self, check: str, n: int = 1) -> None:
        self.checks[check]["passed"] += n

    def to_json(self) -> dict[str, Any]:
        total = self.timings.get("total_s", 0.0)
        return {
            "ok": self.ok,
            "source": self.source,
            "kind": self.kind,
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "source_height": self.source_height,
            "verified_height": self.verified_height,
            "roots_confirmed_height": self.roots_confirmed_height,
            "blocks": self.blocks,
            "txs": self.txs,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "checks": self.checks,
            "skipped": self.skipped,
            "failure": None if self.failure is None else self.failure.to_json(),
            "incomplete": self.incomplete,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "tx_per_s": round(self.txs / total, 1) if total > 0 else None,
            "workers": self.workers,
        }


# ------------------------------------------------------------------------------------ the auditor
class Auditor:
    def __init__(self, genesis: Genesis, *, workers: int | None = None, progress: bool = False) -> None:
        self.genesis = genesis
        self.validators = genesis.validators  # the set in force at every height until set changes land
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.progress = progress

    def validators_at(self, height: int) -> ValidatorSet:
        return self.validators

    def run(self, source: Source) -> AuditReport:
        g = self.genesis
        report = AuditReport(
            source=source.description, kind=source.kind, chain_id=g.chain_id, genesis_hash=g.hash.hex()
        )
        report.workers = self.workers
        started = time.monotonic()
        pool = _start_pool(self.workers)
        try:
            self._run(source, report, pool)
        except AuditFailed as exc:
            report.failure = exc.failure
        except AuditIncomplete as exc:
            report.incomplete = str(exc)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if report.failure is not None:
            report.checks[report.failure.check]["failed"] += 1
        report.timings["total_s"] = time.monotonic() - started
        return report

    def _run(self, source: Source, report: AuditReport, pool: ProcessPoolExecutor | None) -> None:
        from tqdm import tqdm

        top = source.open(self.genesis)
        report.source_height = top
        run = _Run(self, report, pool)
        with tqdm(total=top, unit="block", desc="audit", disable=not self.progress) as bar:
            run.bar = bar
            try:
                run.blocks(source.blocks(1, top))
                for _ in range(3):
                    pages = source.state_pages()
                    if pages is None:
                        report.skipped["state"] = f"the {source.kind} holds no state"
                        break
                    moved = run.compare_state(pages)
                    if moved is None:
                        break
                    bar.total = moved
                    report.source_height = moved
                    run.blocks(source.blocks(run.tip.height + 1, moved))
                else:
                    report.skipped["state"] = "the node kept advancing while its state was read"
            except AuditFailed as exc:
                run.failed(exc)
            else:
                run.finish()
            finally:
                report.timings.update(run.t)
        if source.kind == "archive":
            report.skipped["proofs"] = "an archive holds no proofs (they are derived from its blocks)"
        elif getattr(source, "proofs", "") == "none":
            report.skipped["proofs"] = "not requested (--proofs none)"


def _start_pool(workers: int) -> ProcessPoolExecutor | None:
    """Worker processes for transaction checks, forked now, before the audit starts any thread.

    Fork (not spawn or forkserver) because it costs milliseconds instead of ~0.4 s of imports and
    needs no `if __name__ == "__main__"` guard in the caller's script. The workers are started
    eagerly here, while the CLI is still single-threaded (the prefetch threads and the progress
    bar come later), and only run pure checks (decoding, `contracts.check_tx`, ed25519).
    """
    if workers <= 0:
        return None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    for f in [pool.submit(check_tx_batch, "", 0, []) for _ in range(workers)]:
        f.result()
    return pool


class _Run:
    """One audit in progress: the tip, the replay, the signature batches in flight."""

    def __init__(self, auditor: Auditor, report: AuditReport, pool: ProcessPoolExecutor | None) -> None:
        self.a, self.report, self.pool = auditor, report, pool
        g = auditor.genesis
        self.tip = ChainTip(0, g.hash, g.genesis_time_ms)
        self.replayer = Replayer(g)
        self.lag = g.consensus.exec_lag
        self.batch: list[tuple[int, int, bytes]] = []
        self.jobs: deque[tuple[int, Future[TxBatchResult]]] = deque()
        self.sig_failure: AuditFailed | None = None
        self.pending_proofs: deque[tuple[int, Block, tuple[tuple[int, Any], ...], list[bytes]]] = deque()
        self.bar: Any = None
        self.t = dict.fromkeys(
            ("fetch_s", "verify_s", "replay_s", "tx_checks_cpu_s", "tx_checks_wait_s", "state_s"), 0.0
        )

    # -------------------------------------------------------------- blocks
    def blocks(self, items: Iterator[SourceBlock]) -> None:
        try:
            while True:
                t0 = time.monotonic()
                try:
                    sb = next(items)
                except StopIteration:
                    break
                except SourceError as exc:
                    raise AuditIncomplete(str(exc)) from exc
                self.t["fetch_s"] += time.monotonic() - t0
                self.block(sb)
                self._collect(block=False)
                if self.sig_failure is not None:
                    raise self.sig_failure
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # stop the prefetch threads
        if self.tip.height < self.report.source_height:
            raise AuditFailed(
                self.tip.height + 1,
                "availability",
                f"the source ended at height {self.tip.height} but claims {self.report.source_height}",
            )

    def block(self, sb: SourceBlock) -> None:
        h, g, rep = sb.height, self.a.genesis, self.report
        if sb.error is not None:
            if sb.error.status is None and self.report.kind == "node":
                raise AuditIncomplete(f"lost the node at height {h}: {sb.error}")
            raise AuditFailed(h, "availability", f"the {rep.kind} could not deliver block {h}: {sb.error}")
        t0 = time.monotonic()
        validators = self.a.validators_at(h)
        block, cert = decode_block(h, sb.block_bytes, sb.certificate_bytes)
        rep.passed("availability")
        rep.passed("decode")
        check_header(block, h, self.tip, g, validators)
        rep.passed("headers")
        check_certificate(cert, block, h, validators, g.chain_id)
        rep.passed("certificates")
        self._queue_txs(h, block.txs)
        check_roots(block.header, self.replayer.roots_for_header(h), self.lag)
        if h > self.lag:
            rep.passed("state_roots")
            rep.passed("results_roots")
            rep.roots_confirmed_height = h - self.lag
        t1 = time.monotonic()
        self.t["verify_s"] += t1 - t0
        try:
            receipts = self.replayer.apply(block)
        except Exception as exc:  # a certified block that breaks execution is a finding, not a crash
            raise AuditFailed(h, "replay", f"executing the block raised {type(exc).__name__}: {exc}") from exc
        self.t["replay_s"] += time.monotonic() - t1
        rep.passed("replay")
        ids = [r.tx_id for r in receipts]
        if len(set(ids)) != len(ids):
            raise AuditFailed(h, "headers", "a transaction id appears twice in the block")
        encoded = [r.encode() for r in receipts]
        if sb.receipts is not None:
            if len(sb.receipts) != len(encoded):
                raise AuditFailed(
                    h, "receipts", f"{len(sb.receipts)} receipts served for {len(encoded)} transactions"
                )
            for i, (served, mine) in enumerate(zip(sb.receipts, encoded, strict=True)):
                if served != mine:
                    raise AuditFailed(h, "receipts", f"receipt {i} served differs from the replayed receipt")
            rep.passed("receipts")
        if sb.proofs:
            self.pending_proofs.append((h, block, sb.proofs, encoded))
        for r in receipts:
            if r.accepted:
                rep.accepted += 1
            else:
                rep.rejected += 1
        rep.blocks += 1
        rep.txs += len(block.txs)
        self.tip = ChainTip(h, block.hash, block.header.timestamp_ms)
        rep.verified_height = h
        # a proof of block h also serves blocks up to h + lag: check it once those are verified
        self._check_proofs(upto=h - self.lag)
        if self.bar is not None:
            self.bar.update(1)

    def _check_proofs(self, upto: int | None = None) -> None:
        while self.pending_proofs and (upto is None or self.pending_proofs[0][0] <= upto):
            h, block, proofs, receipts = self.pending_proofs.popleft()
            for index, doc in proofs:
                self._check_proof(h, block, index, doc, receipts)

    def _check_proof(self, h: int, block: Block, index: int, doc: Any, receipts: list[bytes]) -> None:
        if isinstance(doc, SourceError):
            raise AuditFailed(
                h, "proofs", f"the node could not serve the proof of transaction {index}: {doc}"
            )
        tx_id = tx_id_of(block.txs[index])
        try:
            v = verify_proof_response(doc, self.a.genesis, tx_id)
        except VerificationError as exc:
            raise AuditFailed(
                h, "proofs", f"the proof of transaction {index} does not verify: {exc}"
            ) from exc
        if v.block_height == h:
            if v.index != index or v.header.encode() != block.header.encode():
                raise AuditFailed(h, "proofs", f"the proof of transaction {index} is of another position")
            if v.receipt is not None and v.receipt.encode() != receipts[index]:
                raise AuditFailed(h, "proofs", f"the proven receipt {index} differs from the replayed one")
        elif v.block_height > h:
            raise AuditFailed(h, "proofs", f"the proof places transaction {index} in a later block")
        self.report.passed("proofs")

    # -------------------------------------------------------------- transaction checks in the pool
    def _queue_txs(self, height: int, txs: Sequence[bytes]) -> None:
        self.batch.extend((height, i, raw) for i, raw in enumerate(txs))
        if len(self.batch) >= SIG_BATCH:
            self._submit()

    def _submit(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        g = self.a.genesis
        if self.pool is None:
            done: Future[TxBatchResult] = Future()
            done.set_result(check_tx_batch(g.chain_id, g.consensus.max_tx_bytes, batch))
            self.jobs.append((batch[0][0], done))
        else:
            fut = self.pool.submit(check_tx_batch, g.chain_id, g.consensus.max_tx_bytes, batch)
            self.jobs.append((batch[0][0], fut))
        # back-pressure: never more than a few batches per worker in flight
        while len(self.jobs) > 3 * max(1, self.a.workers):
            self._collect(block=True, limit=1)

    def _collect(self, *, block: bool, limit: int | None = None) -> None:
        n = 0
        while self.jobs and (block or self.jobs[0][1].done()) and (limit is None or n < limit):
            t0 = time.monotonic()
            result = self.jobs.popleft()[1].result()
            self.t["tx_checks_wait_s"] += time.monotonic() - t0
            self.t["tx_checks_cpu_s"] += result.cpu_s
            n += 1
            bad = {(b[0], b[1]) for b in result.bad}
            sig_bad = sum(1 for b in result.bad if b[2] == "tx_signatures")
            self.report.passed("tx_validity", result.checked - (len(bad) - sig_bad))
            self.report.passed("tx_signatures", result.checked - len(bad))
            if result.bad and self.sig_failure is None:
                height, _index, check, reason = result.bad[0]
                self.sig_failure = AuditFailed(height, check, reason)

    def failed(self, exc: AuditFailed) -> None:
        """A check failed at some height: a transaction check below it, still in flight, wins."""
        self._submit()
        self._collect(block=True)
        first = exc
        if self.sig_failure is not None and self.sig_failure.failure.height < first.failure.height:
            first = self.sig_failure
        raise first

    def finish(self) -> None:
        self._check_proofs()
        self._submit()
        self._collect(block=True)
        if self.sig_failure is not None:
            raise self.sig_failure

    # -------------------------------------------------------------- state
    def compare_state(self, pages: Iterator[dict[str, Any]]) -> int | None:
        """Compare the node's state with the replay; the node's new height if it moved, else None."""
        t0 = time.monotonic()
        height = self.tip.height
        mine = self.replayer.state.items()
        compared = 0
        try:
            for page in pages:
                at = page.get("height")
                if type(at) is not int:
                    raise AuditFailed(height, "state", "malformed state page")
                if at != height:
                    return at if at > height else self._state_fail(height, f"the node went back to {at}")
                for entry in page.get("entries", []):
                    key, digest = bytes.fromhex(entry[0]), bytes.fromhex(entry[1])
                    ref = next(mine, None)
                    if ref is None or ref[0] > key:
                        self._state_fail(
                            height, f"the node holds a state entry {_key(key)} the replay has not"
                        )
                    elif ref[0] < key:
                        self._state_fail(height, f"the node lacks the state entry {_key(ref[0])}")
                    elif sha256(ref[1]) != digest:
                        self._state_fail(height, f"the node's value of {_key(key)} differs from the replay")
                    compared += 1
                if (
                    page.get("next_after") is None
                    and page.get("state_root") != self.replayer.state_hash.root().hex()
                ):
                    self._state_fail(height, "the node's state root differs from the replayed one")
        except SourceError as exc:
            if exc.status is None:
                raise AuditIncomplete(f"lost the node while reading its state: {exc}") from exc
            raise AuditFailed(height, "state", f"the node could not serve its state: {exc}") from exc
        except (TypeError, ValueError, IndexError) as exc:
            raise AuditFailed(height, "state", f"malformed state page: {exc}") from exc
        extra = next(mine, None)
        if extra is not None:
            self._state_fail(height, f"the node lacks the state entry {_key(extra[0])}")
        self.report.passed("state", compared)
        self.t["state_s"] += time.monotonic() - t0
        return None

    def _state_fail(self, height: int, reason: str) -> NoReturn:
        raise AuditFailed(height, "state", f"state at height {height}: {reason}")


def _key(key: bytes) -> str:
    try:
        return repr(key.decode("utf-8"))
    except UnicodeDecodeError:
        return key.hex()


# ------------------------------------------------------------------------------------ entry points
def audit_node(
    url: str,
    genesis: Genesis,
    *,
    proofs: str = "sample",
    workers: int | None = None,
    progress: bool = False,
    key_file: Path | None = None,
) -> AuditReport:
    with signed_reader(url, genesis, key_file) as reader:
        return Auditor(genesis, workers=workers, progress=progress).run(NodeSource(reader, proofs=proofs))


def audit_archive(
    path: Any, genesis: Genesis, *, workers: int | None = None, progress: bool = False
) -> AuditReport:
    try:
        archive = ArchiveReader(path)
    except SourceError as exc:
        report = AuditReport(
            source=str(path), kind="archive", chain_id=genesis.chain_id, genesis_hash=genesis.hash.hex()
        )
        report.incomplete = str(exc)
        return report
    with archive:
        return Auditor(genesis, workers=workers, progress=progress).run(ArchiveSource(archive))


# ------------------------------------------------------------------------------------ proof bundles
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INCOMPLETE = 4


def prove_tx(reader: NodeReader, genesis: Genesis, tx_id: bytes, *, wait_s: float = 30.0) -> bytes:
    """Fetch, verify and bundle the proof of `tx_id`; wait up to `wait_s` for its receipt root.

    Raises SourceError (the node could not answer) or VerificationError (what it served is
    wrong, or the receipt is still not provable when the wait ends).
    """
    from client_sdk.proofs import check_bundle, make_bundle, proof_from_json

    deadline = time.monotonic() + wait_s
    while True:
        doc = reader.tx_proof(tx_id)
        verify_proof_response(doc, genesis, tx_id)
        proof = proof_from_json(doc)
        if proof.receipt is not None:
            break
        if time.monotonic() >= deadline:
            raise VerificationError(
                f"the receipt is not provable yet: it needs block {proof.available_at_height}, "
                f"the node is at {doc.get('height')} (blocks are made only when there are transactions)"
            )
        time.sleep(0.5)
    data = make_bundle(proof, genesis)
    check_bundle(data, genesis=genesis)
    return data
