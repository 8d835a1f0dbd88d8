"""The access-log format both sides share: the node writes it (`node/privacy/accesslog.py`), the
auditor verifies it (`auditor/access.py`).

Format (docs/privacy.md):

- Segments `00000001.jsonl`, `00000002.jsonl`, ... (closed) and `current.jsonl` (open). One JSON
  object per line, canonical (sorted keys, no blanks, ASCII).
- Every line has `seq` (consecutive from 1 over the node's whole log), `prev` (the previous line's
  `h`; 64 zeros for the very first line, and for the first line after a restart), and
  `h = SHA-256("orgledger/access-log" 0x00 || canonical line without h)`. Editing, inserting,
  removing or reordering a line breaks the chain from there on; re-hashing the rest of the chain
  changes the segment's head, which the ledger holds.
- An anchor of a closed segment (`access.anchor`) states its number, first and last seq,
  `prev_head`, `head_hash` (the last line's `h`), `file_hash` (SHA-256 of the file) and whether
  the node restarted its chain there.

`verify_log` checks segments against each other and against anchors; it is what
`orgledger audit access` runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wire.errors import WireError

ZERO = "0" * 64
DOMAIN = b"orgledger/access-log\x00"
CURRENT = "current.jsonl"


class AccessLogError(WireError):
    """A log that is unusable or does not verify; the message says where."""

    code = "bad_access_log"


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
