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

The line format, hashing and verification are `wire/accesslog.py`'s; this module is the writer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wire.accesslog import (
    CURRENT,
    ZERO,
    AccessLogError,
    SegmentInfo,
    canonical,
    line_hash,
    parse_lines,
    segment_info,
    segment_name,
)

log = logging.getLogger("orgledger.accesslog")

SEGMENT_BYTES_DEFAULT = 16 * 1024 * 1024
INTERVAL_S_DEFAULT = 900.0


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
