"""The SDK's event stream against a fake node: Server-Sent Events parsing, resuming after a dropped
connection and after a `too_slow` error without losing or repeating an event, verification of
block events against the genesis, and final errors raised rather than retried. (The fake's
alerts are not on its chain, so these clients do not verify reads; alert events are verified
against a real node in test_reads.py.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from client_sdk import AsyncLedgerClient, AuthenticationError, LedgerClient, VerificationError
from client_sdk.events import SseParser
from tests.support.auditchain import BuiltChain
from tests.support.fakenode import FakeNode


def block_event(chain: BuiltChain, h: int, **over: Any) -> str:
    block, cert = chain.blocks[h - 1]
    doc = {
        "height": h,
        "hash": block.hash.hex(),
        "time_ms": block.header.timestamp_ms,
        "tx_count": len(block.txs),
        "accepted": len(block.txs),
        "rejected": 0,
        "header_bytes": block.header.encode().hex(),
        "certificate_bytes": cert.encode().hex(),
        **over,
    }
    return f"event: block\nid: {h}\ndata: {json.dumps(doc)}\n\n"


def alert_event(h: int, aid: str, colour: str = "RED") -> str:
    doc = {"height": h, "alert_id": aid, "rule_id": "DUP-01", "colour": colour, "org_id": "cn"}
    return f"event: alert\ndata: {json.dumps(doc)}\n\n"


def error_event(code: str, status: int = 503) -> str:
    return f"event: error\ndata: {json.dumps({'status': status, 'code': code})}\n\n"


def test_the_parser_handles_any_chunking_and_line_ending() -> None:
    text = ': hello\r\nevent: alert\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: block\nid: 7\ndata: x\n\n'
    for size in (1, 2, 5, len(text)):
        parser = SseParser()
        msgs = []
        for i in range(0, len(text), size):
            msgs += parser.feed(text[i : i + size])
        assert [(m.event, m.data, m.id) for m in msgs] == [("alert", '{"a":\n1}', None), ("block", "x", "7")]


def script_resume(node: FakeNode, chain: BuiltChain) -> None:
    node.events = [
        [": open\n\n", alert_event(1, "a1"), block_event(chain, 1), alert_event(2, "a2", "YELLOW")],
        [
            alert_event(2, "a2", "YELLOW"),
            alert_event(2, "a3", "BLUE"),
            block_event(chain, 2),
            error_event("too_slow"),
        ],
        [alert_event(3, "a4"), block_event(chain, 3)],
    ]


EXPECTED = [
    ("alert", 1, "a1"),
    ("block", 1, None),
    ("alert", 2, "a2"),
    ("alert", 2, "a3"),
    ("block", 2, None),
    ("alert", 3, "a4"),
    ("block", 3, None),
]


def test_events_resume_after_a_drop_each_event_once_in_order(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake
    script_resume(node, sdk_chain)
    got = []
    # the fake's alerts are not on its chain: alert verification is tested in test_reads.py
    with LedgerClient(url, sdk_chain.genesis, verify_reads=False) as client:
        for ev in client.events(after_height=0, timeout_s=10):
            got.append((ev.kind, ev.height, ev.alert_id))
            if ev.kind == "block":
                assert ev.header is not None and ev.header.height == ev.height
            if len(got) == len(EXPECTED):
                break
    assert got == EXPECTED
    assert [p.get("after_height") for p in node.event_params] == ["0", "1", "2"]


def test_alerts_only_and_the_async_client(fake: tuple[FakeNode, str], sdk_chain: BuiltChain) -> None:
    node, url = fake
    script_resume(node, sdk_chain)

    async def main() -> list[tuple[str, int, str | None]]:
        out = []
        async with AsyncLedgerClient(url, sdk_chain.genesis, verify_reads=False) as client:
            async for ev in client.aevents(after_height=0, kinds=["alert"], timeout_s=10):
                out.append((ev.kind, ev.height, ev.alert_id))
                if len(out) == 4:
                    break
        return out

    assert asyncio.run(main()) == [e for e in EXPECTED if e[0] == "alert"]


def test_a_forged_block_event_is_refused(fake: tuple[FakeNode, str], sdk_chain: BuiltChain) -> None:
    node, url = fake
    other_cert = sdk_chain.blocks[0][1].encode().hex()
    node.events = [[block_event(sdk_chain, 2, certificate_bytes=other_cert)]]
    with (
        LedgerClient(url, sdk_chain.genesis) as client,
        pytest.raises(VerificationError, match="block event 2"),
    ):
        list(client.events(after_height=1, timeout_s=5))


def test_a_revoked_key_ends_the_stream_with_an_error(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake
    node.events = [[block_event(sdk_chain, 1), error_event("key_revoked", 401)]]
    got = []
    with LedgerClient(url, sdk_chain.genesis) as client, pytest.raises(AuthenticationError):
        for ev in client.events(after_height=0, timeout_s=5):
            got.append(ev.height)
    assert got == [1]


def test_a_stream_that_cannot_open_is_retried_until_the_timeout(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake  # no scripted stream: every connection answers 503
    with LedgerClient(url, sdk_chain.genesis) as client:
        assert list(client.events(after_height=0, timeout_s=1.0)) == []
    assert len(node.event_params) >= 2
