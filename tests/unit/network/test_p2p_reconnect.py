"""Reconnects with back-off, half-open links found by heartbeats, and resets, through the fault proxy."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from network import NetworkConfig, PeerId, PeerNetwork
from tests.support.faultproxy import Blackhole, FaultProxy, Pass, Reset
from tests.support.netkit import CHAIN_ID, GENESIS_HASH, Cluster, eventually, only_lower_dials, run
from wire.crypto import SigningKey

N0, N1 = PeerId("n0"), PeerId("n1")
FAST = {
    "reconnect_base_s": 0.05,
    "reconnect_max_s": 0.4,
    "heartbeat_s": 0.3,
    "handshake_timeout_s": 0.5,
    "connect_timeout_s": 0.5,
}


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    net = PeerNetwork(
        NetworkConfig(node_id="n0", reconnect_base_s=0.1, reconnect_max_s=2.0),
        SigningKey.generate(),
        [],
        CHAIN_ID,
        GENESIS_HASH,
        None,
        None,
    )
    for attempt in range(1, 40):
        nominal = min(2.0, 0.1 * 2 ** (attempt - 1))
        for _ in range(20):
            delay = net._backoff_s(attempt)
            assert nominal * 0.5 <= delay < nominal


def test_reconnect_after_the_peer_restarts_with_backoff() -> None:
    async def body() -> None:
        c = Cluster(2, **FAST)
        a = c.make(0, dial=only_lower_dials)
        c.make(1, dial=only_lower_dials)
        await c.start(0)
        await c.start(1)
        try:
            assert await a.wait_connected(timeout_s=5)
            await c.stop(1)
            await eventually(lambda: a.connected_peers() == [])
            dials_before = a.stats()["dials"]
            await asyncio.sleep(1.2)
            dials = a.stats()["dials"] - dials_before
            # Back-off 0.05, 0.1, 0.2, 0.4, 0.4, ... (times 0.5..1): a handful, not hundreds.
            assert 3 <= dials <= 12, dials
            assert a.stats()["dial_failures.unreachable"] >= 3
            # The peer comes back on the same port with the same key.
            c.make(1, dial=only_lower_dials)
            await c.start(1)
            assert await a.wait_connected(timeout_s=3)
            assert a.send(N1, b"welcome back")
            await c[1].recorder.wait_for(1)
            assert a.stats()["reconnects"] >= 3
            assert a.stats()["links_opened"] == 2
        finally:
            await c.stop_all()

    run(body())


async def proxied_pair(c: Cluster) -> tuple[PeerNetwork, PeerNetwork, FaultProxy]:
    """n0 dials n1 through a fault proxy; n1 does not dial."""
    proxy = FaultProxy("127.0.0.1", c[1].port)
    await proxy.start()
    peers = [replace(s, port=proxy.port) if s.peer_id == "n1" else s for s in c.specs()]
    a = c.make(0, peers=[replace(s, dial=s.peer_id == "n1") for s in peers])
    b = c.make(1, dial=lambda me, peer: False)
    await c.start(0)
    await c.start(1)
    assert await a.wait_connected(timeout_s=5)
    return a, b, proxy


def test_heartbeat_detects_a_half_open_link_and_the_link_recovers() -> None:
    async def body() -> None:
        c = Cluster(2, **FAST)
        a, b, proxy = await proxied_pair(c)
        try:
            proxy.set_mode(Blackhole("both"))  # the link is up but nothing gets through
            await eventually(lambda: a.connected_peers() == [] and b.connected_peers() == [], timeout_s=3)
            assert a.stats()["links_closed.heartbeat_timeout"] == 1
            assert b.stats()["links_closed.heartbeat_timeout"] == 1
            # Redials reach the proxy but get no answer: they time out, and no link forms.
            await eventually(lambda: a.stats().get("dial_failures.timeout", 0) >= 1, timeout_s=3)
            assert a.connected_peers() == []
            proxy.set_mode(Pass())
            assert await a.wait_connected(timeout_s=3)
            assert a.send(N1, b"after the partition")
            await c[1].recorder.wait_for(1)
            assert c[1].recorder.payloads() == [b"after the partition"]
        finally:
            await c.stop_all()
            await proxy.stop()

    run(body())


def test_connection_resets_are_survived_without_leaking_connections() -> None:
    async def body() -> None:
        c = Cluster(2, **FAST)
        a, b, proxy = await proxied_pair(c)
        try:
            proxy.set_mode(Reset())
            await eventually(lambda: a.connected_peers() == [] and b.connected_peers() == [], timeout_s=3)
            await asyncio.sleep(0.5)
            assert proxy.counters["resets"] >= 2  # the open link and at least one redial
            assert proxy.open_connections == 0
            proxy.set_mode(Pass())
            assert await a.wait_connected(timeout_s=3)
            await eventually(lambda: b.connected_peers() == [N0])
            assert proxy.open_connections == 1
            assert b.send(N0, b"hello again")
            await c[0].recorder.wait_for(1)
        finally:
            await c.stop_all()
            await proxy.stop()

    run(body())


def test_stop_is_prompt_and_idempotent_with_links_dials_and_requests_in_flight() -> None:
    async def body() -> None:
        async def never(peer: PeerId, data: bytes) -> bytes:
            await asyncio.Event().wait()
            return b""

        c = Cluster(3, **FAST)
        c.make(0)
        c.make(1, on_request=never)
        c.make(2)
        await c.start(0)
        await c.start(1)  # n2 never starts: n0 and n1 keep dialing it
        a = c[0].net
        assert await a.wait_connected([N1], timeout_s=5)
        pending = asyncio.create_task(a.request(N1, b"x", 30.0))
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await c.stop(1)
        await c.stop(0)
        await a.stop()
        assert loop.time() - started < 3.0
        assert pending.done()

    run(body())
