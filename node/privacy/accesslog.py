"""The access log: every read of personal data through this node, in hash-chained segment files whose
heads the node anchors on the ledger (`access.anchor`), so nobody can edit it afterwards unseen.

Format (docs/privacy.md):

- Directory `<data_dir>/accesslog/`: closed segments `00000001.jsonl`, `00000002.jsonl`, ... and the
  open one `current.jsonl`. One JSON object per line, canonical (sorted keys, no blanks, ASCII).
- Every line has `seq` (consecutive from 1 over the node's whole log), `prev` (the previous line's
  `h`; 64 zeros for the very first line, and for the first line after a restart), and
  `h = SHA-256("orgledger/access-log" 0x00 || canonical line without h)`. Editing, inserting,
  removing or reordering a line breaks the chain from there on; re-hashing the rest of the chain
  changes the segment's head, which the ledger holds.
- A segment is closed (renamed, fsynced) when it reaches `segment_bytes` or `interval_s` after its
  first line, never when empty; a stopped node's open segment stays open (fsynced) and the next
  start continues it. The node then anchors it: segment number, first and last seq,
  `prev_head`, `head_hash` (the last line's `h`) and `file_hash` (SHA-256 of the file).
- Crash: a torn last line of `current.jsonl` is cut at start; lines written but not yet fsynced
  may be lost with the machine (not with the process: every line is flushed to the OS).
- A node whose local log no longer matches its anchors (disk lost, restored from an old backup)
  moves the directory aside (`accesslog.orphaned-<ms>`, kept for investigation) and starts a new
  chain after the last anchored segment; its first anchor says `restart`, which the ledger counts.

`verify_log` checks segments against each other and against anchors; it is what
`orgledger audit access` runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("orgledger.accesslog")

ZERO = "0" * 64
DOMAIN = b"orgledger/access-log\x00"
CURRENT = "current.jsonl"
SEGMENT_BYTES_DEFAULT = 16 * 1024 * 1024
INTERVAL_S_DEFAULT = 900.0


class AccessLogError(Exception):
    """The log on disk is unusable or does not verify; the message says where."""


def canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def line_hash(entry: Mapping[str, Any]) -> str:
    """The chain hash of a line: over its canonical form without `h`."""
    body = {k: v for k, v in entry.items() if k != "h"}
    return hashlib.sha256(DOMAIN + canonical(body)).hexdigest()


def segment_name(number: int) -> str:
    return f"{number:08d}.jsonl"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What an anchor of a closed segment states."""

    number: int
    first_seq: int
    last_seq: int
    lines: int
    prev_head: str
    head_hash: str
    file_hash: str
    closed_at_ms: int

    @property
    def restart(self) -> bool:
        return self.prev_head == ZERO and self.number > 1

    def anchor_payload(self, node_id: str) -> dict[str, Any]:
        return {
            "node_id": node_id,
            "segment": self.number,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "prev_head": self.prev_head,
            "head_hash": self.head_hash,
            "file_hash": self.file_hash,
            "closed_at_ms": self.closed_at_ms,
            "restart": self.restart,
        }


def parse_lines(data: bytes, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    raws = data.split(b"\n")
    if raws and raws[-1] == b"":
        raws.pop()
    for n, raw in enumerate(raws, start=1):
        try:
            doc = json.loads(raw)
        except ValueError:
            raise AccessLogError(f"{where} line {n} is not JSON") from None
        if not isinstance(doc, dict):
            raise AccessLogError(f"{where} line {n} is not an object")
        out.append(doc)
    return out


def chain_problem(lines: Sequence[Mapping[str, Any]], prev: str | None, first_seq: int | None) -> str | None:
    """None when every line hashes right, links to the one before (to `prev` for the first, when
    given) and seqs are consecutive (from `first_seq`, when given); else what is wrong where."""
    for n, entry in enumerate(lines, start=1):
        if entry.get("h") != line_hash(entry):
            return f"line {n} (seq {entry.get('seq')}) does not hash to its h: it was edited"
        if prev is not None and entry.get("prev") != prev:
            return f"line {n} (seq {entry.get('seq')}) does not continue the chain: a line was removed, inserted or edited"
        seq = entry.get("seq")
        if first_seq is not None and seq != first_seq + n - 1:
            return f"line {n} has seq {seq}, expected {first_seq + n - 1}"
        prev = str(entry.get("h"))
    return None


def segment_info(number: int, data: bytes, closed_at_ms: int) -> SegmentInfo:
    lines = parse_lines(data, segment_name(number))
    if not lines:
        raise AccessLogError(f"segment {number} is empty")
    problem = chain_problem(lines, None, int(lines[0].get("seq", 0)))
    if problem is not None:
        raise AccessLogError(f"segment {number}: {problem}")
    return SegmentInfo(
        number=number,
        first_seq=int(lines[0]["seq"]),
        last_seq=int(lines[-1]["seq"]),
        lines=len(lines),
        prev_head=str(lines[0]["prev"]),
        head_hash=str(lines[-1]["h"]),
        file_hash=hashlib.sha256(data).hexdigest(),
        closed_at_ms=closed_at_ms,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AccessLog:
    """The node's writer. `append` is thread-safe; `close_segment` and `reconcile` are called by
    the anchoring loop."""

    def __init__(
        self,
        directory: Path,
        node_id: str,
        *,
        segment_bytes: int = SEGMENT_BYTES_DEFAULT,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.dir = directory
        self.node_id = node_id
        self.segment_bytes = segment_bytes
        self.clock_ms = clock_ms
        self._lock = threading.Lock()
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except (AccessLogError, ValueError, KeyError, TypeError) as exc:
            aside = self._move_aside(f"it does not parse ({exc})")
            log.error("access log: started a new log; the old one is in %s", aside)
            self._open()

    def _move_aside(self, why: str) -> Path:
        aside = self.dir.with_name(f"{self.dir.name}.orphaned-{self.clock_ms()}")
        os.replace(self.dir, aside)
        self.dir.mkdir(parents=True)
        log.error("access log: moved %s to %s: %s", self.dir, aside, why)
        return aside

    # ------------------------------------------------------------------ start-up
    def _open(self) -> None:
        closed = self.closed_segments()
        self.next_segment = (closed[-1] + 1) if closed else 1
        self.seq, self.prev = 0, ZERO
        self.opened_ms = self.clock_ms()  # when the open segment got its first line
        if closed:
            lines = parse_lines((self.dir / segment_name(closed[-1])).read_bytes(), segment_name(closed[-1]))
            if lines:
                self.seq, self.prev = int(lines[-1]["seq"]), str(lines[-1]["h"])
        path = self.dir / CURRENT
        if path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):  # a torn last line from a crash
                data = data[: data.rfind(b"\n") + 1]
                with open(path, "r+b") as f:
                    f.truncate(len(data))
                log.warning("access log: cut a torn last line of %s", path)
            lines = parse_lines(data, CURRENT)
            if lines:
                self.seq, self.prev = int(lines[-1]["seq"]), str(lines[-1]["h"])
                first_ms = lines[0].get("at_ms")
                self.opened_ms = first_ms if isinstance(first_ms, int) else self.clock_ms()
        self._file = open(path, "ab")  # noqa: SIM115 - kept open for appends
        self.current_lines = self._count(path)

    @staticmethod
    def _count(path: Path) -> int:
        with open(path, "rb") as f:
            return sum(1 for _ in f)

    def closed_segments(self) -> list[int]:
        out = []
        for p in self.dir.glob("*.jsonl"):
            stem = p.name.removesuffix(".jsonl")
            if stem.isdigit() and len(stem) == 8:
                out.append(int(stem))
        return sorted(out)

    def reconcile(self, head: Mapping[str, Any] | None) -> bool:
        """Check the local log against the ledger's last anchor of this node; when it cannot be
        the log those anchors came from, move it aside and start a new chain after them. True
        when a restart happened."""
        with self._lock:
            closed = self.closed_segments()
            if head is None:
                ok = not closed or closed[0] == 1
                if ok and closed:
                    first = parse_lines((self.dir / segment_name(1)).read_bytes(), segment_name(1))
                    ok = bool(first) and first[0].get("prev") == ZERO and first[0].get("seq") == 1
                after_segment, after_seq = 0, 0
            else:
                after_segment, after_seq = int(head["segment"]), int(head["last_seq"])
                path = self.dir / segment_name(after_segment)
                ok = (
                    path.exists()
                    and segment_info(after_segment, path.read_bytes(), 0).head_hash == head["head_hash"]
                )
            if ok:
                return False
            self._file.close()
            if closed or self.current_lines:
                self._move_aside(
                    f"it does not match the anchors on the ledger; a new chain starts after segment "
                    f"{after_segment} (the next anchor says restart)"
                )
            self._file = open(self.dir / CURRENT, "ab")  # noqa: SIM115
            self.next_segment, self.seq, self.prev = after_segment + 1, after_seq, ZERO
            self.current_lines, self.opened_ms = 0, self.clock_ms()
            return True

    # ------------------------------------------------------------------ writing
    def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            line = dict(entry)
            line["node"] = self.node_id
            line["seq"] = self.seq + 1
            line["prev"] = self.prev
            line.pop("h", None)
            line["h"] = line_hash(line)
            if self.current_lines == 0:
                self.opened_ms = self.clock_ms()
            self._file.write(canonical(line) + b"\n")
            self._file.flush()
            self.seq, self.prev = line["seq"], line["h"]
            self.current_lines += 1
            return line

    def sync(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())

    def due(self, interval_s: float) -> bool:
        """The open segment should be closed now (not empty, and old or large enough)."""
        if self.current_lines == 0:
            return False
        return (
            self._file.tell() >= self.segment_bytes or self.clock_ms() - self.opened_ms >= interval_s * 1000
        )

    def close_segment(self) -> int | None:
        """Close the open segment (if it has lines); its number."""
        with self._lock:
            if self.current_lines == 0:
                return None
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            number = self.next_segment
            os.replace(self.dir / CURRENT, self.dir / segment_name(number))
            _fsync_dir(self.dir)
            self.next_segment += 1
            self._file = open(self.dir / CURRENT, "ab")  # noqa: SIM115
            self.current_lines, self.opened_ms = 0, self.clock_ms()
            return number

    def info(self, number: int) -> SegmentInfo:
        path = self.dir / segment_name(number)
        return segment_info(number, path.read_bytes(), int(path.stat().st_mtime * 1000))

    def segment_bytes_of(self, number: int | None) -> bytes:
        """A closed segment's bytes, or the open one's (None)."""
        with self._lock:
            if number is None:
                self._file.flush()
                return (self.dir / CURRENT).read_bytes()
        return (self.dir / segment_name(number)).read_bytes()

    def close(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


# ------------------------------------------------------------------------------ verification
@dataclass(slots=True)
class LogReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    anchored: list[int] = field(default_factory=list)
    unanchored: list[int] = field(default_factory=list)
    newer: list[int] = field(default_factory=list)  # anchored after a copy was taken

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)


def verify_log(
    segments: Mapping[int, bytes],
    current: bytes | None,
    anchors: Mapping[int, Mapping[str, Any]],
    *,
    copy: bool = False,
) -> LogReport:
    """Verify a node's log: each segment's chain, the links between segments, each segment
    against its anchor (file hash, head, seqs), and that every anchored segment is present.

    `copy`: the log is a copy taken earlier than the anchors were read, so segments anchored
    after its newest closed segment are listed in `newer` with a warning instead of failing."""
    report = LogReport()
    prev: str | None = None
    seq: int | None = None
    last_number: int | None = None
    for number in sorted(segments):
        data = segments[number]
        where = f"segment {number}"
        try:
            lines = parse_lines(data, where)
        except AccessLogError as exc:
            report.fail(str(exc))
            continue
        anchor = anchors.get(number)
        restart = bool(anchor and anchor.get("restart"))
        linked = last_number is not None and number == last_number + 1 and not restart
        problem = chain_problem(
            lines, prev if linked else None, seq + 1 if linked and seq is not None else None
        )
        if problem is not None:
            report.fail(f"{where}: {problem}")
        if lines and anchor is None:
            report.unanchored.append(number)
        if anchor is not None and lines:
            digest = hashlib.sha256(data).hexdigest()
            if digest != anchor.get("file_hash"):
                report.fail(
                    f"{where}: the file's SHA-256 is not the anchored one (anchored at height {anchor.get('height')})"
                )
            if lines[-1].get("h") != anchor.get("head_hash") or lines[0].get("prev") != anchor.get(
                "prev_head"
            ):
                report.fail(f"{where}: its chain head is not the anchored one")
            if (lines[0].get("seq"), lines[-1].get("seq")) != (
                anchor.get("first_seq"),
                anchor.get("last_seq"),
            ):
                report.fail(f"{where}: its lines are not the anchored seq range")
            if restart:
                report.warnings.append(
                    f"{where}: the node restarted its log here (its earlier unanchored lines are lost)"
                )
            report.anchored.append(number)
        report.lines.extend(lines)
        if lines:
            prev, seq = str(lines[-1].get("h")), int(lines[-1].get("seq", 0))
        last_number = number
    newest = max(segments, default=0)
    for number in sorted(set(anchors) - set(segments)):
        if copy and number > newest:
            report.newer.append(number)
        else:
            report.fail(f"segment {number} is anchored on the ledger but missing from the log")
    if report.newer:
        report.warnings.append(
            f"segment(s) {', '.join(map(str, report.newer))} were anchored after this copy was taken"
            " (they are not in it; check a newer copy to cover them)"
        )
    if current:
        try:
            lines = parse_lines(current, "the open segment")
        except AccessLogError as exc:
            report.fail(str(exc))
            lines = []
        problem = chain_problem(lines, prev, seq + 1 if seq is not None else None)
        if problem is not None:
            report.fail(f"the open segment: {problem}")
        if lines:
            report.warnings.append(f"the open segment ({len(lines)} lines) is not anchored yet")
        report.lines.extend(lines)
    return report
