"""Full verification of an archive by segments replayed in parallel processes.

Rules:

- The range 1..H is cut at snapshot heights the archive holds (`plan`): segment k replays
  blocks s+1 .. e in its own process (fork, before any thread), from the state the archive
  claims after block s, with every check of the sequential audit (`engine.Run`, inline: the
  process is the unit of parallelism). Segment 1 starts at genesis.
- A segment lasts at least max(exec_lag, 1) blocks (it certifies its start with them);
  `snapshot_heights` is where a writer puts snapshots `plan` can use (auditor/export.py).
- Nothing the archive claims is trusted. Before replaying, a segment checks the headers and
  certificates of blocks s+1 .. s+lag against the validator sets the claimed state holds, those
  sets against block s (its `next_validators_hash`, which the previous segment verified), and the
  claimed state's map root and the results root of block s's receipts against the roots header
  s+lag carries: only a state the certified root proves is replayed on ('snapshots' at s
  otherwise, after replaying blocks s+1 .. s+lag-1 for the counts the sequential audit would
  report, which the parent uses only if the previous segment's replay equals the snapshot).
  Header s+lag is then checked against the replay as usual; the roots the headers s+1 .. s+lag
  carry are of heights the previous segment replayed, and are checked here, in the parent, from
  the roots it returns. The previous segment also compares its replayed state after block s with
  the snapshot, as the sequential audit does with every snapshot.
- The verdict is the sequential one: segments are taken in height order, the first failure
  (a segment's, or a root between two of them) decides, and only the segments up to it are
  counted; a segment whose process dies makes the audit incomplete.
- Results and progress come back over one bounded queue; the parent only merges.
"""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditor.archive import ArchiveReader
from auditor.checks import ChainTip, check_certificate, check_header, check_roots, decode_block
from auditor.engine import Auditor, Run, Start
from auditor.errors import AuditFailed, AuditIncomplete, SourceError
from auditor.replay import Replayer
from auditor.report import AuditReport
from auditor.sources import ArchiveSource, SourceBlock
from wire.epochs import validators_at
from wire.genesis import Genesis
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader

QUEUE_MAX = 1024


def snapshot_heights(height: int, parts: int, lag: int) -> list[int]:
    """The heights after which a snapshot cuts 1..height into `parts` segments of equal length,
    those `plan` can start a segment at only: at least max(lag, 1) blocks on either side."""
    least = max(lag, 1)
    return sorted({height * k // parts for k in range(1, parts)} & set(range(least, height - least + 1)))


def plan(height: int, snapshots: tuple[int, ...], workers: int, lag: int) -> list[tuple[int, int]]:
    """Segments (s, e) covering 1..height, cut at the snapshot heights nearest to even cuts; every
    segment holds at least max(lag, 1) blocks (its first lag blocks certify its start)."""
    least = max(lag, 1)
    cuts: list[int] = []
    for k in range(1, workers):
        ideal = height * k // workers
        usable = [s for s in snapshots if s >= (cuts[-1] if cuts else 0) + least and height - s >= least]
        if not usable:
            break
        best = min(usable, key=lambda s: abs(s - ideal))
        if not cuts or best > cuts[-1]:
            cuts.append(best)
    bounds = [0, *cuts, height]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


@dataclasses.dataclass
class SegmentResult:
    index: int
    report: AuditReport
    roots: dict[int, tuple[bytes, bytes]] = dataclasses.field(default_factory=dict)  # the last replayed ones
    # s+1 .. s+lag whose header and certificate passed: the header and its number of transactions
    headers: dict[int, tuple[bytes, int]] = dataclasses.field(default_factory=dict)
    # the counts before each of blocks s+1 .. s+lag: what the sequential audit would report had
    # the roots its header carries failed (the parent finds that out)
    before: dict[int, AuditReport] = dataclasses.field(default_factory=dict)
    start_hash: bytes = b""  # block s as this segment read it
    end_hash: bytes = b""  # block e as this segment verified it


class _QueueBar:
    """What `Run` updates as a progress bar: counts blocks back to the parent."""

    def __init__(self, q: Any, index: int) -> None:
        self.q, self.index, self.n = q, index, 0

    def update(self, n: int) -> None:
        self.n += n
        if self.n >= 4:
            self.q.put(("progress", self.index, self.n))
            self.n = 0


def audit_segments(
    path: Path, genesis: Genesis, *, workers: int, progress: bool = False
) -> AuditReport | None:
    """The audit of the archive at `path` in up to `workers` segments; None when the archive holds no
    snapshot to cut at (the caller audits it sequentially)."""
    from tqdm import tqdm

    started = time.monotonic()
    with ArchiveReader(path) as archive:
        top, snapshots = archive.header.height, archive.header.snapshots
        if archive.header.genesis_hash != genesis.hash:
            return None  # the sequential audit reports it
    segments = plan(top, snapshots, workers, genesis.consensus.exec_lag)
    if len(segments) < 2:
        return None
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue(QUEUE_MAX)
    procs = [
        ctx.Process(target=_child, args=(path, genesis, i, s, e, e == top, q), daemon=True)
        for i, (s, e) in enumerate(segments)
    ]
    for p in procs:  # forked before the progress bar starts its thread
        p.start()
    results: dict[int, SegmentResult] = {}
    try:
        with tqdm(total=top, unit="block", desc="audit", disable=not progress) as bar:
            while len(results) < len(procs):
                try:
                    msg = q.get(timeout=1.0)
                except queue.Empty:
                    for i, p in enumerate(procs):
                        # a process that exits 0 has put its result first (it is on its way)
                        if i not in results and p.exitcode not in (None, 0):
                            results[i] = _died(path, genesis, i, p.exitcode)
                    continue
                if msg[0] == "progress":
                    bar.update(msg[2])
                else:
                    results[msg[1].index] = msg[1]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    report = merge(path, genesis, segments, [results[i] for i in range(len(procs))])
    # the longest segment's CPU seconds: the wall time on idle cores, whatever the load
    report.timings["critical_cpu_s"] = max(r.report.timings.get("cpu_s", 0.0) for r in results.values())
    report.workers = workers
    report.timings["total_s"] = time.monotonic() - started
    return report


def _died(path: Path, genesis: Genesis, index: int, code: int) -> SegmentResult:
    r = _blank(path, genesis)
    r.incomplete = f"the process of segment {index + 1} ended (exit code {code}) without a result"
    return SegmentResult(index, r)


def _blank(path: Path, genesis: Genesis) -> AuditReport:
    return AuditReport(
        source=str(path), kind="archive", chain_id=genesis.chain_id, genesis_hash=genesis.hash.hex()
    )


# ------------------------------------------------------------------------------------ one segment
def _child(path: Path, genesis: Genesis, index: int, s: int, e: int, last: bool, q: Any) -> None:
    bar = _QueueBar(q, index)
    result = run_segment(path, genesis, index, s, e, last=last, bar=bar)
    if bar.n:
        q.put(("progress", index, bar.n))
    q.put(("result", result))


def run_segment(
    path: Path, genesis: Genesis, index: int, s: int, e: int, *, last: bool, bar: Any = None
) -> SegmentResult:
    """Verify blocks s+1 .. e of the archive (see the module rules); never raises."""
    cpu0 = time.process_time()
    report = _blank(path, genesis)
    out = SegmentResult(index, report)
    try:
        with ArchiveReader(path) as archive:
            report.source_height = archive.header.height
            items = _window(ArchiveSource(archive).blocks(max(1, s), e), s, e, last)
            start, base = _start(genesis, s, e, items, out) if s > 0 else (None, None)
            run = Run(Auditor(genesis, workers=0), report, None, start)
            run.bar, run.end = bar, e
            try:
                run.blocks(items if base is None else _prepass(run, genesis, base, items, out))
            except AuditFailed as exc:
                run.failed(exc)
            else:
                run.finish()
            finally:
                report.timings.update(run.t)
            out.roots = dict(run.replayer.roots)
            out.end_hash = run.tip.block_hash
    except AuditFailed as exc:
        report.failure = exc.failure
    except (AuditIncomplete, SourceError) as exc:
        report.incomplete = str(exc)
    report.timings["cpu_s"] = time.process_time() - cpu0
    return out


def _window(items: Iterator[SourceBlock], s: int, e: int, last: bool) -> Iterator[SourceBlock]:
    """Blocks s .. e of the source (and, for the last segment, what follows: its end record)."""
    try:
        for sb in items:
            if sb.height < s and sb.error is None:
                continue
            yield sb
            if sb.height >= e and not last:
                return
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _start(
    genesis: Genesis, s: int, e: int, items: Iterator[SourceBlock], out: SegmentResult
) -> tuple[Start, BlockHeader]:
    """Block s and a replay from the state the archive claims after it (not yet checked)."""
    t0 = time.monotonic()
    base = next(items, None)
    if base is None or base.error is not None or base.height != s:
        # the segment before this one reports what is wrong at or below s
        raise AuditIncomplete(f"segment from {s}: the archive could not deliver block {s}")
    if base.state is None:
        raise AuditIncomplete(f"segment from {s}: the archive holds no state after block {s}")
    try:
        header = Block.header_of(base.block_bytes)
    except Exception as exc:  # reported at s by the segment before this one
        raise AuditIncomplete(f"segment from {s}: block {s} does not decode: {exc}") from exc
    out.start_hash = header.hash
    results = merkle_root(list(base.receipts or ()))
    replayer = Replayer.at(genesis, s, base.state, results)
    out.report.timings["snapshot_s"] = time.monotonic() - t0
    return Start(ChainTip(s, header.hash, header.timestamp_ms), replayer, e), header


def _prepass(
    run: Run, genesis: Genesis, base: BlockHeader, items: Iterator[SourceBlock], out: SegmentResult
) -> Iterator[SourceBlock]:
    """Check blocks s+1 .. s+lag's headers and certificates and the claimed state's roots against
    header s+lag, then hand every block to the run (which checks those blocks again, fully)."""
    lag, g, s = run.lag, genesis, base.height
    head: list[SourceBlock] = []
    for sb in items:
        head.append(sb)
        if len(head) >= lag or sb.error is not None:
            break
    tip, checked = run.tip, True
    try:
        if base.next_validators_hash != validators_at(run.epochs, s + 1).hash:
            raise AuditFailed(
                s,
                "snapshots",
                f"the source's state after block {s} names a validator set block {s} does not",
            )
        for sb in head:
            if sb.error is not None:
                checked = False
                break
            h = sb.height
            block, cert = decode_block(h, sb.block_bytes, sb.certificate_bytes)
            check_header(block, h, tip, g, validators_at(run.epochs, h), validators_at(run.epochs, h + 1))
            check_certificate(cert, block, h, validators_at(run.epochs, h), g.chain_id)
            out.headers[h] = (block.header.encode(), len(block.txs))
            tip = ChainTip(h, block.hash, block.header.timestamp_ms)
    except AuditFailed as exc:
        if exc.failure.check == "snapshots":
            raise
        checked = False  # the run finds the same failure at the same block
    pending: AuditFailed | None = None
    if checked and len(head) == lag and lag > 0:
        carried = BlockHeader.decode(out.headers[s + lag][0])
        mine = run.replayer.roots[s]
        if (carried.prev_state_root, carried.prev_results_root) != mine:
            pending = AuditFailed(
                s,
                "snapshots",
                f"the source's state after block {s} has state root {mine[0].hex()[:16]}… and results "
                f"root {mine[1].hex()[:16]}…; block {s + lag} certifies {carried.prev_state_root.hex()[:16]}… "
                f"and {carried.prev_results_root.hex()[:16]}…",
            )
    for sb in head:
        run.flush_tx_checks()  # the transactions queued so far are counted in what `before` keeps
        out.before[sb.height] = dataclasses.replace(out.report, checks=copy.deepcopy(out.report.checks))
        if pending is not None and sb.height == s + lag:
            # blocks s+1 .. s+lag-1 were replayed for their counts only: they are used if the
            # previous segment's replay equals the snapshot, and then the header is what is wrong
            raise pending
        yield sb
    yield from items


# ------------------------------------------------------------------------------------ the verdict
def merge(
    path: Path, genesis: Genesis, segments: list[tuple[int, int]], results: list[SegmentResult]
) -> AuditReport:
    """One report from the segments' in height order, as the sequential audit would have made it."""
    lag = genesis.consensus.exec_lag
    report = _blank(path, genesis)
    report.segments = len(segments)
    for k, r in enumerate(results):
        part = r.report
        report.source_height = max(report.source_height, part.source_height)
        if k > 0 and not _boundary(report, results[k - 1], r, segments[k][0], lag):
            break
        _add(report, part)
        if part.failure is not None or part.incomplete is not None:
            report.failure, report.incomplete = part.failure, part.incomplete
            break
    if report.failure is not None:
        report.checks[report.failure.check]["failed"] += 1
    elif report.incomplete is None:
        report.skipped["state"] = "the archive holds no state"
        report.skipped["proofs"] = "an archive holds no proofs (they are derived from its blocks)"
    return report


def _boundary(report: AuditReport, before: SegmentResult, after: SegmentResult, s: int, lag: int) -> bool:
    """The roots headers s+1 .. s+lag carry against the segment before's; False on a failure.

    Header s+lag is checked here too, though the later segment checked it against the snapshot:
    when they differ, the sequential audit reports the header against the replay, and so does
    this. It is counted once, by the later segment."""
    if after.start_hash and before.end_hash != after.start_hash:
        report.incomplete = f"block {s} read differently by two segments: the archive changed while read"
        return False
    for h in range(s + 1, s + lag + 1):
        seen = after.headers.get(h)
        roots = before.roots.get(h - lag)
        if seen is None or roots is None or h not in after.before:
            return True  # the later segment failed at or before h: its failure decides
        try:
            check_roots(BlockHeader.decode(seen[0]), roots, lag)
        except AuditFailed as exc:
            # as the sequential audit stops: blocks s+1 .. h-1 done, block h's header checked
            _add(report, after.before[h])
            for check in ("availability", "decode", "headers", "certificates"):
                report.passed(check)
            report.passed("tx_validity", seen[1])
            report.passed("tx_signatures", seen[1])
            report.failure = exc.failure
            return False
        if lag < h < s + lag:
            report.passed("state_roots")
            report.passed("results_roots")
            report.roots_confirmed_height = max(report.roots_confirmed_height, h - lag)
    return True


def _add(total: AuditReport, part: AuditReport) -> None:
    for name in ("blocks", "txs", "accepted", "rejected"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for check, counts in part.checks.items():
        total.checks[check]["passed"] += counts["passed"]
    if part.blocks:
        total.verified_height = part.verified_height
        total.roots_confirmed_height = max(total.roots_confirmed_height, part.roots_confirmed_height)
        total.epochs = part.epochs
    for key, value in part.timings.items():
        total.timings[key] = total.timings.get(key, 0.0) + value
