"""The auditor's loop: blocks from a source, checked, replayed and compared in height order.

Rules:

- Blocks are checked in height order and the first failure stops the audit. Transaction checks
  (`check_tx_batch`) run in batches of `SIG_BATCH` in a pool of worker processes while the main
  process replays; a failure in a batch below the height where the main loop stopped wins, so
  the reported height is always the first.
- The pool is forked before the audit starts any thread (see `_start_pool`); `workers=0` runs
  the checks inline.
- The validator set in force at every height is derived from the replay itself (the ledger's
  `valset/epoch/` records after block h - 1: `wire.epochs`), never from the source; every
  certificate is checked against the set of its own height, so an audit from genesis passes
  across every epoch and a certificate signed by a removed or rotated-out key fails.
- A node's proof of a transaction in block h is checked once blocks h..h + exec_lag are
  verified. At the end, the node's live state is compared with the replay; if the node moved
  on meanwhile, the new blocks are audited and the comparison retried (three times).
- A state snapshot the source claims after block h (an archive's) must equal the replayed state
  after block h, entry by entry ('snapshots').
- `Run` also replays one segment of auditor/segments.py: from a `Start` (block s and a replay
  from the claimed state at s) to its `end`; the roots carried by the headers s+1 .. s+lag-1
  are then the caller's to check (the previous segment computed them), and header s+lag checks
  the claimed state's roots.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

from auditor.checks import (
    ChainTip,
    TxBatchResult,
    check_certificate,
    check_header,
    check_roots,
    check_tx_batch,
    decode_block,
)
from auditor.errors import AuditFailed, AuditIncomplete, SourceError
from auditor.replay import Replayer
from auditor.report import AuditReport
from auditor.sources import Source, SourceBlock
from client_sdk.errors import VerificationError
from client_sdk.proofs import TrustAnchor, tx_id_of, verify_proof_response
from contracts.nodes import iter_epochs
from wire import statemap
from wire.certificate import ValidatorSet
from wire.crypto import sha256
from wire.epochs import ValidatorEpoch, validators_at
from wire.genesis import Genesis
from wire.types import Block

SIG_BATCH = 256


class Auditor:
    def __init__(self, genesis: Genesis, *, workers: int | None = None, progress: bool = False) -> None:
        self.genesis = genesis
        self.validators = genesis.validators  # the genesis set; later ones come from the replay
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.progress = progress

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
        run = Run(self, report, pool)
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


@dataclass(frozen=True, slots=True)
class Start:
    """Where a segment starts: block s (its tip) and a replay from the claimed state after it."""

    tip: ChainTip
    replayer: Replayer
    end: int  # the segment's last height


class Run:
    """One audit in progress: the tip, the replay, the signature batches in flight."""

    def __init__(
        self,
        auditor: Auditor,
        report: AuditReport,
        pool: ProcessPoolExecutor | None,
        start: Start | None = None,
    ) -> None:
        self.a, self.report, self.pool = auditor, report, pool
        g = auditor.genesis
        self.tip = ChainTip(0, g.hash, g.genesis_time_ms)
        self.replayer = Replayer(g)
        self.lag = g.consensus.exec_lag
        self.epochs: list[ValidatorEpoch] = [ValidatorEpoch(1, g.validators)]
        self.end: int | None = None  # the last height to verify (None: the source's height)
        self.roots_from = 0  # headers below this height carry roots this run does not know
        if start is not None:
            self.tip, self.replayer, self.end = start.tip, start.replayer, start.end
            self.roots_from = start.tip.height + self.lag
            if any(True for _ in iter_epochs(self.replayer.state)):
                self._learn_epochs()
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
        end = self.report.source_height if self.end is None else self.end
        if self.tip.height < end:
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
        validators = validators_at(self.epochs, h)
        block, cert = decode_block(h, sb.block_bytes, sb.certificate_bytes)
        rep.passed("availability")
        rep.passed("decode")
        check_header(block, h, self.tip, g, validators, validators_at(self.epochs, h + 1))
        rep.passed("headers")
        check_certificate(cert, block, h, validators, g.chain_id)
        rep.passed("certificates")
        self._queue_txs(h, block.txs)
        if h >= self.roots_from:
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
        if self.replayer.wrote_epochs:
            self._learn_epochs()
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
        if sb.state is not None:
            self._check_snapshot(h, sb.state)
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

    def _check_snapshot(self, h: int, claimed: Sequence[tuple[bytes, bytes]]) -> None:
        mine = self.replayer.state
        if len(claimed) != len(mine) or any(mine.get(k) != v for k, v in claimed):
            diff = next((k for k, v in claimed if mine.get(k) != v), None)
            what = (
                f"differs at {_key(diff)}"
                if diff is not None
                else f"has {len(claimed)} entries, not {len(mine)}"
            )
            raise AuditFailed(h, "snapshots", f"the source's state after block {h} {what} from the replay")
        self.report.passed("snapshots")

    def _learn_epochs(self) -> None:
        """The epochs the replayed state holds, consecutive equal sets merged."""
        epochs: list[ValidatorEpoch] = []
        for start, keys, _ in iter_epochs(self.replayer.state):
            if not epochs or epochs[-1].validators.pubkeys != keys:
                epochs.append(ValidatorEpoch(start, ValidatorSet(keys)))
        self.epochs = epochs
        self.report.epochs = len(epochs)

    def anchor(self) -> TrustAnchor:
        return TrustAnchor.from_genesis(self.a.genesis, tuple(self.epochs))

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
            v = verify_proof_response(doc, self.a.genesis, tx_id, anchor=self.anchor())
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

    def flush_tx_checks(self) -> None:
        """Check every queued transaction now and count it (raises nothing: see `sig_failure`)."""
        self._submit()
        self._collect(block=True)

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
                    and page.get("state_root") != statemap.root_hash(self.replayer.map.root).hex()
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
