"""The events endpoint's hub and stream (node/api/eventhub.py, node/api/events.py) over a real chain and a stand-in node:
catch-up from the store then live heights in order, alerts before their block, a subscriber that
falls behind is dropped with a final `too_slow` event (and nothing blocks the committer), scoping
by the caller's subtree, and the stream ends when the node stops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from node.api import eventhub
from node.api import events as eventsapi
from node.api.auth import Caller
from node.api.eventhub import EventHub, HeightEvents, build_events
from node.api.events import _stream
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain


class StandIn:
    def __init__(self, store: BlockStore, height: int) -> None:
        self.store, self.h, self.ok = store, height, True
        self.chain = self  # stands in for the API context too (store, chain)
        self.commit_listeners: list[Any] = []

    def height(self) -> int:
        return self.h

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.ok, {}

    def commit(self, height: int) -> None:
        self.h = height
        for listener in self.commit_listeners:
            listener(type("Committed", (), {"height": height})())


def caller(org: str = "cn", roles: frozenset[str] = frozenset({"node"})) -> Caller:
    return Caller(b"\x01" * 32, "node" if "node" in roles else "user", "t", org, roles, "signature", "cn")


def parse(chunks: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in "".join(chunks).split("\n\n"):
        lines = [x for x in block.split("\n") if x and not x.startswith(":")]
        if not lines:
            continue
        event = next(x[7:] for x in lines if x.startswith("event: "))
        data = json.loads(next(x[6:] for x in lines if x.startswith("data: ")))
        out.append((event, data))
    return out


async def take(
    gen: AsyncIterator[str], n_blocks: int, timeout_s: float = 10
) -> list[tuple[str, dict[str, Any]]]:
    chunks: list[str] = []

    async def run() -> None:
        async for chunk in gen:
            chunks.append(chunk)
            events = parse(chunks)
            if sum(1 for e, _ in events if e == "block") >= n_blocks or any(e == "error" for e, _ in events):
                return

    await asyncio.wait_for(run(), timeout_s)
    return parse(chunks)


@pytest.fixture
def store(sdk_chain: BuiltChain) -> Any:
    with BlockStore.open(sdk_chain.data_dir, sdk_chain.genesis.hash) as s:
        yield s


def test_catch_up_then_live_heights_in_order_until_the_node_stops(store: BlockStore) -> None:
    node = StandIn(store, 3)

    async def main() -> list[tuple[str, dict[str, Any]]]:
        hub = EventHub(node.store, node.height)
        node.commit_listeners.append(hub.on_commit)
        gen = _stream(node, hub, caller(), 0, frozenset({"block", "alert"}))  # type: ignore[arg-type]
        first = await take(gen, 3)
        node.commit(5)
        second = await take(gen, 2)
        node.ok = False
        last = await take(gen, 1)
        return first + second + last

    events = asyncio.run(main())
    assert [d["height"] for e, d in events if e == "block"] == [1, 2, 3, 4, 5]
    assert events[-1][0] == "error" and events[-1][1]["code"] == "node_stopping"
    block = build_events(store, 2).block
    assert next(d for e, d in events if e == "block" and d["height"] == 2) == block
    assert block["tx_count"] == 3 and len(block["header_bytes"]) > 100


def test_a_subscriber_that_falls_behind_is_dropped_with_too_slow(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eventhub, "QUEUE_MAX", 2)
    monkeypatch.setattr(eventsapi, "QUEUE_MAX", 2)
    node = StandIn(store, 1)

    async def main() -> list[tuple[str, dict[str, Any]]]:
        hub = EventHub(node.store, node.height)
        node.commit_listeners.append(hub.on_commit)
        gen = _stream(node, hub, caller(), None, frozenset({"block"}))  # type: ignore[arg-type]
        opening = await gen.__anext__()  # subscribed at height 1, nothing read since
        assert opening.startswith(":")
        node.commit(6)  # five heights arrive while the subscriber reads nothing
        for _ in range(50):
            await asyncio.sleep(0.02)
            if not hub.subs:
                break
        assert not hub.subs  # dropped: the hub no longer works for it
        return await take(gen, 10)

    events = asyncio.run(main())
    assert [d["height"] for e, d in events if e == "block"] == [2, 3]
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "too_slow" and events[-1][1]["resume_after_height"] == 3


def test_alerts_follow_the_callers_subtree(store: BlockStore) -> None:
    ev = build_events(store, 2)
    ev = HeightEvents(
        height=2,
        block=ev.block,
        alerts=(
            ("cn.gs.lz.cg.b001", {"alert_id": "a1", "height": 2}),
            ("cn.gs.lz.cg.b002", {"alert_id": "a2", "height": 2}),
            ("cn.sn.xa", {"alert_id": "a3", "height": 2}),
        ),
    )
    both = frozenset({"block", "alert"})

    def ids(c: Caller, kinds: frozenset[str] = both) -> list[str]:
        return [d.get("alert_id", "block") for _, d in parse([eventsapi._render(ev, c, kinds)])]

    assert ids(caller("cn.gs.lz.cg.b001", frozenset({"operator"}))) == ["a1", "block"]
    assert ids(caller("cn.gs.lz.cg", frozenset({"auditor"}))) == ["a1", "a2", "block"]
    assert ids(caller("cn", frozenset({"admin"}))) == ["a1", "a2", "a3", "block"]
    assert ids(caller("cn.gs.lz.cg.b001", frozenset())) == ["block"]  # no read role: blocks only
    assert ids(caller("cn", frozenset({"admin"})), frozenset({"alert"})) == ["a1", "a2", "a3"]
