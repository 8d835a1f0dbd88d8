"""The access log: chained lines, closed segments, anchors; any edit, insertion, removal or
reorder is found; torn lines after a crash; a lost local log restarts a new chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditor.access import read_from_node
from auditor.errors import AuditIncomplete
from node.privacy.accesslog import AccessLog
from wire.accesslog import ZERO, segment_info, segment_name, verify_log


def write(log: AccessLog, n: int, tag: str = "r") -> None:
    for i in range(n):
        log.append(
            {"outcome": "read", "what": "archive", "ids": [f"{tag}{i}"], "caller": {"org_id": "cn.p1"}}
        )


def anchors_of(log: AccessLog) -> dict[int, dict[str, Any]]:
    return {n: log.info(n).anchor_payload(log.node_id) for n in log.closed_segments()}


def read_all(log: AccessLog) -> tuple[dict[int, bytes], bytes]:
    segs = {n: (log.dir / segment_name(n)).read_bytes() for n in log.closed_segments()}
    return segs, log.segment_bytes_of(None)


@pytest.fixture
def log(tmp_path: Path) -> AccessLog:
    lg = AccessLog(tmp_path / "accesslog", "v0")
    write(lg, 3, "a")
    assert lg.close_segment() == 1
    write(lg, 2, "b")
    assert lg.close_segment() == 2
    write(lg, 1, "c")
    return lg


def test_segments_chain_and_verify_against_their_anchors(log: AccessLog) -> None:
    anchors = anchors_of(log)
    assert anchors[1]["prev_head"] == ZERO and anchors[2]["prev_head"] == anchors[1]["head_hash"]
    assert (anchors[2]["first_seq"], anchors[2]["last_seq"]) == (4, 5)
    assert log.close_segment() == 3 and log.close_segment() is None  # never an empty segment
    segs, current = read_all(log)
    report = verify_log(segs, current, anchors_of(log))
    assert report.ok, report.problems
    assert [line["seq"] for line in report.lines] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("kind", ["edit", "edit-and-rehash", "delete", "insert", "swap", "reformat"])
def test_any_change_to_an_anchored_segment_is_found(log: AccessLog, kind: str) -> None:
    anchors = anchors_of(log)
    segs, current = read_all(log)
    lines = segs[1].decode().splitlines()
    docs = [json.loads(line) for line in lines]
    if kind == "edit":
        lines[1] = lines[1].replace('"a1"', '"zz"')
    elif kind == "edit-and-rehash":  # a careful forger recomputes the whole chain
        from wire.accesslog import canonical, line_hash

        docs[1]["ids"] = ["zz"]
        prev = ZERO
        for d in docs:
            d["prev"] = prev
            d["h"] = line_hash(d)
            prev = d["h"]
        lines = [canonical(d).decode() for d in docs]
    elif kind == "delete":
        del lines[1]
    elif kind == "insert":
        lines.insert(1, lines[1])
    elif kind == "swap":
        lines[0], lines[1] = lines[1], lines[0]
    else:
        lines[0] = json.dumps(docs[0], indent=1).replace("\n", "")
    segs[1] = ("\n".join(lines) + "\n").encode()
    report = verify_log(segs, current, anchors)
    assert not report.ok and report.problems[0].startswith("segment 1")


def test_a_removed_segment_or_a_tampered_open_segment_is_found(log: AccessLog) -> None:
    anchors = anchors_of(log)
    segs, current = read_all(log)
    assert not verify_log({2: segs[2]}, current, anchors).ok  # segment 1 anchored but missing
    edited = current.replace(b'"c0"', b'"cX"')
    report = verify_log(segs, edited, anchors)
    assert not report.ok and "open segment" in report.problems[0]
    assert verify_log(segs, current, {}).unanchored == [1, 2]


def test_a_copy_older_than_the_ledger_warns_of_newer_segments_but_a_gap_still_fails(log: AccessLog) -> None:
    """Regression: a log copied from a running node, then checked against anchors read later,
    failed when a segment closed and was anchored in between."""
    anchors = anchors_of(log)
    segs, current = read_all(log)
    only_first = {1: segs[1]}
    assert not verify_log(only_first, current, anchors).ok  # the live node must serve segment 2
    report = verify_log(only_first, b"", anchors, copy=True)
    assert report.ok and report.newer == [2] and "anchored after this copy" in report.warnings[-1]
    assert not verify_log({2: segs[2]}, current, anchors, copy=True).ok  # segment 1 missing: a gap


def test_a_torn_last_line_is_cut_and_the_chain_goes_on(tmp_path: Path) -> None:
    lg = AccessLog(tmp_path / "al", "v0")
    write(lg, 2)
    lg.close()
    with open(tmp_path / "al" / "current.jsonl", "ab") as f:
        f.write(b'{"outcome":"read","se')
    again = AccessLog(tmp_path / "al", "v0")
    write(again, 1, "x")
    assert again.close_segment() == 1
    info = again.info(1)
    assert (info.first_seq, info.last_seq) == (1, 3)


def test_a_lost_local_log_restarts_after_the_last_anchor(tmp_path: Path, log: AccessLog) -> None:
    head = {"segment": 2, "last_seq": 5, "head_hash": log.info(2).head_hash}
    assert log.reconcile(head) is False  # it matches
    wrong = {**head, "head_hash": "ab" * 32}
    assert log.reconcile(wrong) is True
    assert list(tmp_path.glob("accesslog.orphaned-*"))  # kept for investigation
    write(log, 2, "new")
    assert log.close_segment() == 3
    info = log.info(3)
    assert (info.first_seq, info.prev_head, info.restart) == (6, ZERO, True)
    payload = info.anchor_payload("v0")
    assert payload["restart"] is True
    report = verify_log({3: (log.dir / segment_name(3)).read_bytes()}, None, {3: {**payload}})
    assert report.ok and report.warnings


def test_a_fresh_log_with_segments_but_no_anchor_head_is_kept_when_it_starts_at_one(log: AccessLog) -> None:
    assert log.reconcile(None) is False
    data = (log.dir / segment_name(1)).read_bytes()
    assert segment_info(1, data, 0).prev_head == ZERO


def test_reading_a_live_log_repeats_until_no_segment_closed_meanwhile() -> None:
    """A segment that closes between the listing and the read of the open segment would leave
    its lines in neither; the reader notices the listing changed and reads again."""
    state = {"listings": 0, "closed": [1]}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/access-log/segments":
            state["listings"] += 1
            if state["listings"] == 2:  # segment 2 closes during the first read
                state["closed"] = [1, 2]
            return httpx.Response(200, json={"node_id": "v0", "segments": list(state["closed"])})
        if path.endswith("/current"):
            return httpx.Response(200, content=b"")
        return httpx.Response(200, content=f"segment {path.rsplit('/', 1)[-1]}".encode())

    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://node") as http:
        node_id, segments, current = read_from_node(http)
    assert node_id == "v0" and sorted(segments) == [1, 2] and current == b""
    assert state["listings"] == 4

    def always_closing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/access-log/segments":
            state["listings"] += 1
            return httpx.Response(200, json={"node_id": "v0", "segments": list(range(state["listings"]))})
        return httpx.Response(200, content=b"")

    with (
        httpx.Client(transport=httpx.MockTransport(always_closing), base_url="http://node") as http,
        pytest.raises(AuditIncomplete, match="kept closing"),
    ):
        read_from_node(http, attempts=3)
