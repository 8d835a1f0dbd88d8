"""Framing limits, bounded queues with counted drops, and request/response on a live link."""

from __future__ import annotations

import asyncio
import time

import pytest

from network import (
    FrameTooLarge,
    PeerDisconnected,
    PeerId,
    PeerNetwork,
    PeerUnavailable,
    RemoteError,
    RequestTimeout,
    TooManyRequests,
    UnknownPeer,
    handshake,
)
from network.framing import message, request
from tests.support.netkit import (
    CHAIN_ID,
    GENESIS_HASH,
    Cluster,
    RawWs,
    eventually,
    only_lower_dials,
    run,
)

N0, N1 = PeerId("n0"), PeerId("n1")


async def pair(c: Cluster, **config: object) -> tuple[PeerNetwork, PeerNetwork]:
    """n0 dials n1; both started and linked."""
    a = c.make(0, dial=only_lower_dials, **config)
    b = c.make(1, dial=only_lower_dials, **config)
    await c.start(0)
    await c.start(1)
    assert await a.wait_connected(timeout_s=5) and await b.wait_connected(timeout_s=5)
    return a, b


async def authenticated_raw(c: Cluster, dialer: int, listener: int) -> RawWs:
    ws = await RawWs.connect(c[listener].port)
    ident = handshake.Identity(
        node_id=c[dialer].node_id, signer=c[dialer].key.signer(), chain_id=CHAIN_ID, genesis_hash=GENESIS_HASH
    )
    await handshake.dial(ws, ident, c[listener].spec)
    await handshake.read_result(ws)
    return ws


def test_oversize_frame_is_refused_from_its_declared_length_and_the_link_closed() -> None:
    async def body() -> None:
        c = Cluster(2, frame_bytes_max=1024, send_queue_bytes_max=4096, recv_queue_bytes_max=4096)
        c.make(1)
        await c.start(1)
        try:
            ws = await authenticated_raw(c, 0, 1)
            await eventually(lambda: c[1].net.connected_peers() == ["n0"])
            # Declares 1 GiB and sends 10 bytes: the listener must hang up without waiting for
            # (or buffering) the rest, so the limit is checked on the declared length.
            ws.send_frame(b"\x01" + b"x" * 9, declared_len=1 << 30)
            started = time.monotonic()
            assert await ws.closed_within(3) == 1009  # MESSAGE_TOO_BIG
            assert time.monotonic() - started < 1.0
            await eventually(lambda: c[1].net.connected_peers() == [])
            stats = c[1].net.stats()
            assert stats["drops.too_large"] == 1
            assert stats["links_closed.too_large"] == 1
            assert c[1].recorder.got == []
            ws.abort()
        finally:
            await c.stop_all()

    run(body())


@pytest.mark.parametrize(
    ("frame", "opcode", "reason"),
    [(b"\x07junk", 2, "unknown_kind"), (b"\x02\x00\x01", 2, "malformed"), (b"hello", 1, "text_frame")],
)
def test_protocol_violation_closes_the_link(frame: bytes, opcode: int, reason: str) -> None:
    async def body() -> None:
        c = Cluster(2)
        c.make(1)
        await c.start(1)
        try:
            ws = await authenticated_raw(c, 0, 1)
            ws.send_frame(message(b"fine"))
            ws.send_frame(frame, opcode=opcode)
            await ws.closed_within(3)
            await eventually(lambda: c[1].net.stats().get(f"links_closed.{reason}", 0) == 1)
            assert c[1].recorder.payloads() == [b"fine"]
            ws.abort()
        finally:
            await c.stop_all()

    run(body())


def test_a_too_large_frame_from_a_peer_closes_the_link_and_the_dialer_reconnects() -> None:
    async def body() -> None:
        c = Cluster(2, reconnect_base_s=0.05, reconnect_max_s=0.2)
        a = c.make(0, dial=only_lower_dials, frame_bytes_max=4096)
        b = c.make(1, dial=only_lower_dials, frame_bytes_max=1024, recv_queue_bytes_max=1 << 20)
        await c.start(0)
        await c.start(1)
        try:
            assert await a.wait_connected(timeout_s=5)
            assert b.send(N0, b"y" * 2000) is False  # over b's own limit: refused locally
            assert b.stats()["drops.too_large"] == 1
            assert a.send(N1, b"x" * 2000)  # within a's limit, over b's
            await eventually(lambda: b.stats().get("links_closed.too_large", 0) == 1)
            await eventually(lambda: a.stats().get("links_opened", 0) == 2)  # redialed
            assert await a.wait_connected(timeout_s=5)
            assert a.send(N1, b"small")
            await c[1].recorder.wait_for(1)
            assert c[1].recorder.payloads() == [b"small"]
        finally:
            await c.stop_all()

    run(body())


def test_send_queue_is_bounded_in_frames_and_bytes_and_drops_are_counted() -> None:
    async def body() -> None:
        c = Cluster(2, send_queue_frames_max=10, frame_bytes_max=1000, send_queue_bytes_max=1000)
        a, _ = await pair(c)
        try:
            # send() never yields, so the writer cannot drain while we fill the queue.
            results = [a.send(N1, bytes([i])) for i in range(25)]
            assert results == [True] * 10 + [False] * 15
            assert a.stats()["drops.send_queue_full"] == 15
            assert a.stats(N1)["drops.send_queue_full"] == 15
            assert a.stats(N1)["send_queue_frames"] == 10
            await c[1].recorder.wait_for(10)
            assert c[1].recorder.payloads() == [bytes([i]) for i in range(10)]
            # The byte bound: two 400-byte frames fit in 1000 bytes, a third does not.
            assert [a.send(N1, b"z" * 400) for _ in range(3)] == [True, True, False]
            assert a.stats()["drops.send_queue_full"] == 16
        finally:
            await c.stop_all()

    run(body())


def test_send_to_a_disconnected_peer_is_a_counted_drop_and_unknown_peer_raises() -> None:
    async def body() -> None:
        c = Cluster(3)
        a = c.make(0, dial=lambda me, peer: False)
        await c.start(0)
        try:
            assert a.send(N1, b"x") is False
            assert a.broadcast(b"x") == 0
            assert a.stats()["drops.not_connected"] == 3
            with pytest.raises(UnknownPeer):
                a.send(PeerId("nobody"), b"x")
            with pytest.raises(PeerUnavailable):
                await a.request(N1, b"x", 1.0)
        finally:
            await c.stop_all()

    run(body())


def test_receive_queue_is_bounded_and_delivery_is_in_order() -> None:
    async def body() -> None:
        c = Cluster(2, recv_queue_frames_max=5)
        a, b = await pair(c)
        release = asyncio.Event()
        delivered: list[int] = []

        async def slow(peer: PeerId, data: bytes) -> None:
            await release.wait()
            delivered.append(int(data))

        b._on_message = slow  # the handler blocks until released
        try:
            for i in range(50):
                assert a.send(N1, str(i).encode())
            await eventually(lambda: b.stats().get("frames_in", 0) == 50)
            assert b.stats(N0)["recv_queue_frames"] <= 5
            dropped = b.stats()["drops.recv_queue_full"]
            assert dropped >= 44
            release.set()
            await eventually(lambda: len(delivered) == 50 - dropped)
            assert delivered == sorted(delivered) and delivered[0] == 0
        finally:
            await c.stop_all()

    run(body())


def test_request_response_and_its_failures() -> None:
    async def body() -> None:
        gate = asyncio.Event()

        async def handler(peer: PeerId, data: bytes) -> bytes:
            if data == b"slow":
                await gate.wait()
            if data == b"boom":
                raise ValueError("handler bug")
            return b"re:" + data + b" from " + peer.encode()

        c = Cluster(2, inflight_requests_max=2, frame_bytes_max=1024, request_handler_timeout_s=5.0)
        c.make(0, dial=only_lower_dials)
        c.make(1, dial=only_lower_dials, on_request=handler)
        await c.start(0)
        await c.start(1)
        a, b = c[0].net, c[1].net
        try:
            assert await a.wait_connected(timeout_s=5)
            # Concurrent requests are matched to their responses by id.
            answers = await asyncio.gather(*(a.request(N1, str(i).encode(), 2.0) for i in range(2)))
            assert answers == [b"re:0 from n0", b"re:1 from n0"]
            with pytest.raises(RequestTimeout):
                await a.request(N1, b"slow", 0.1)
            gate.set()  # the late answer arrives and is counted, not delivered
            await eventually(lambda: a.stats().get("drops.unsolicited_response", 0) == 1)
            gate.clear()
            with pytest.raises(RemoteError) as err:
                await a.request(N1, b"boom", 2.0)
            assert err.value.code == "handler_error"
            with pytest.raises(RemoteError) as err:
                await b.request(N0, b"x", 2.0)  # n0 has no request handler
            assert err.value.code == "no_handler"
            with pytest.raises(FrameTooLarge):
                await a.request(N1, b"x" * 1025, 1.0)
            slow = [asyncio.create_task(a.request(N1, b"slow", 5.0)) for _ in range(2)]
            await asyncio.sleep(0.05)
            with pytest.raises(TooManyRequests):
                await a.request(N1, b"x", 1.0)
            await c.stop(1)  # the peer goes away with requests outstanding
            for t in slow:
                with pytest.raises(PeerDisconnected):
                    await t
            stats = a.stats()
            assert stats["requests_out"] == 6 and stats["requests_timed_out"] == 1
        finally:
            await c.stop_all()

    run(body())


def test_inbound_handlers_are_bounded() -> None:
    async def body() -> None:
        gate = asyncio.Event()

        async def handler(peer: PeerId, data: bytes) -> bytes:
            await gate.wait()
            return data

        c = Cluster(2, inbound_handlers_max=1)
        c.make(0, dial=only_lower_dials)
        c.make(1, dial=only_lower_dials, on_request=handler)
        await c.start(0)
        await c.start(1)
        a = c[0].net
        try:
            assert await a.wait_connected(timeout_s=5)
            first = asyncio.create_task(a.request(N1, b"1", 5.0))
            await asyncio.sleep(0.05)
            with pytest.raises(RemoteError) as err:
                await a.request(N1, b"2", 5.0)
            assert err.value.code == "busy"
            gate.set()
            assert await first == b"1"
            assert c[1].net.stats()["drops.busy"] == 1
        finally:
            await c.stop_all()

    run(body())


def test_frames_of_a_raw_request_are_answered_in_order() -> None:
    """A request sent through a raw socket gets a RESPONSE frame with the same id."""

    async def body() -> None:
        async def echo(peer: PeerId, data: bytes) -> bytes:
            return data

        c = Cluster(2)
        c.make(1, on_request=echo)
        await c.start(1)
        try:
            ws = await authenticated_raw(c, 0, 1)
            ws.send_frame(request(41, b"a"))
            ws.send_frame(request(42, b"b"))
            got = set()
            while len(got) < 2:
                opcode, payload = await asyncio.wait_for(ws.recv_frame(), 3)
                if opcode == 2:
                    got.add(payload)
            assert got == {b"\x03" + (41).to_bytes(8, "big") + b"a", b"\x03" + (42).to_bytes(8, "big") + b"b"}
            ws.abort()
        finally:
            await c.stop_all()

    run(body())


def test_a_new_view_sized_message_is_delivered_with_the_default_limits() -> None:
    """A NEW-VIEW carries q VIEW-CHANGEs, each with the blocks above its stable checkpoint: 17 MB
    in a network that restarted on a long chain. At the old 16 MiB frame limit it was dropped at
    every send and no view change could complete (the network stopped committing)."""

    async def body() -> None:
        c = Cluster(2)
        a, _ = await pair(c)
        try:
            big = bytes(range(256)) * (20 * 1024 * 1024 // 256)  # 20 MiB
            assert a.send(N1, big)
            await eventually(lambda: c[1].recorder.got == [(N0, big)], timeout_s=30)
            assert a.stats().get("drops.too_large", 0) == 0
        finally:
            await c.stop_all()

    run(body())
