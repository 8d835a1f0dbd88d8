"""The fault proxy's modes, on real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.faultproxy import (
    Blackhole,
    Corrupt,
    Delay,
    FaultProxy,
    Pass,
    ProxyHarness,
    Reset,
    SlowDrip,
)
from tests.support.netkit import run

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Wiring:
    proxy: FaultProxy
    client: Streams
    server: Streams


@asynccontextmanager
async def wired(seed: int = 0) -> AsyncIterator[Wiring]:
    """An upstream server, a proxy to it, and one client connection through the proxy."""
    accepted: asyncio.Queue[Streams] = asyncio.Queue()

    async def on_accept(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    server = await asyncio.start_server(on_accept, "127.0.0.1", 0)
    proxy = FaultProxy("127.0.0.1", server.sockets[0].getsockname()[1], seed=seed)
    await proxy.start()
    client = await asyncio.open_connection("127.0.0.1", proxy.port)
    upstream = await asyncio.wait_for(accepted.get(), 5)
    try:
        yield Wiring(proxy, client, upstream)
    finally:
        client[1].transport.abort()
        upstream[1].transport.abort()
        await proxy.stop()
        server.close()


async def silent(reader: asyncio.StreamReader, wait_s: float = 0.2) -> bool:
    """True when nothing arrives within wait_s."""
    try:
        await asyncio.wait_for(reader.read(1), wait_s)
    except TimeoutError:
        return True
    return False


def arun(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    run(fn(), timeout_s=20)


def test_pass_forwards_both_ways() -> None:
    async def body() -> None:
        async with wired() as w:
            w.client[1].write(b"ping")
            assert await w.server[0].readexactly(4) == b"ping"
            w.server[1].write(b"pong")
            assert await w.client[0].readexactly(4) == b"pong"
            assert w.proxy.counters["bytes_forward"] == 4
            assert w.proxy.counters["bytes_backward"] == 4

    arun(body)


def test_delay_with_jitter_delays_and_keeps_order() -> None:
    async def body() -> None:
        async with wired(seed=3) as w:
            w.proxy.set_mode(Delay(0.15, jitter_s=0.05))
            start = time.monotonic()
            w.client[1].write(b"x")
            await w.server[0].readexactly(1)
            assert time.monotonic() - start >= 0.14
            chunks = [bytes([i]) * 10 for i in range(30)]
            for c in chunks:
                w.client[1].write(c)
                await w.client[1].drain()
                await asyncio.sleep(0.002)
            assert await w.server[0].readexactly(300) == b"".join(chunks)

    arun(body)


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_blackhole_holds_bytes_until_healed(direction: str) -> None:
    async def body() -> None:
        async with wired() as w:
            w.proxy.set_mode(Blackhole(direction))  # type: ignore[arg-type]
            w.client[1].write(b"to-server")
            w.server[1].write(b"to-client")
            fwd_cut = direction in ("forward", "both")
            back_cut = direction in ("backward", "both")
            if fwd_cut:
                assert await silent(w.server[0])
            else:
                assert await w.server[0].readexactly(9) == b"to-server"
            if back_cut:
                assert await silent(w.client[0])
            else:
                assert await w.client[0].readexactly(9) == b"to-client"
            w.proxy.set_mode(Pass())
            if fwd_cut:
                assert await asyncio.wait_for(w.server[0].readexactly(9), 2) == b"to-server"
            if back_cut:
                assert await asyncio.wait_for(w.client[0].readexactly(9), 2) == b"to-client"

    arun(body)


def test_reset_aborts_open_and_new_connections() -> None:
    async def body() -> None:
        async with wired() as w:
            w.proxy.set_mode(Reset())
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(w.client[0].read(10), 2)
            r, wr = await asyncio.open_connection("127.0.0.1", w.proxy.port)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(r.read(10), 2)
            wr.transport.abort()
            assert w.proxy.counters["resets"] >= 2
            w.proxy.set_mode(Pass())
            r, wr = await asyncio.open_connection("127.0.0.1", w.proxy.port)
            wr.write(b"ok")
            assert await silent(r, 0.1)  # connected and not reset
            wr.transport.abort()

    arun(body)


def test_slow_drip_limits_bandwidth() -> None:
    async def body() -> None:
        async with wired() as w:
            w.proxy.set_mode(SlowDrip(4000, direction="forward"))
            data = bytes(range(256)) * 8  # 2048 bytes: about half a second at 4000 B/s
            start = time.monotonic()
            w.client[1].write(data)
            assert await w.server[0].readexactly(len(data)) == data
            assert time.monotonic() - start >= 0.4
            start = time.monotonic()
            w.server[1].write(data)  # the other direction is not throttled
            await w.client[0].readexactly(len(data))
            assert time.monotonic() - start < 0.3

    arun(body)


def test_corruption_flips_one_bit_deterministically() -> None:
    async def once(seed: int) -> bytes:
        async with wired(seed=seed) as w:
            w.proxy.set_mode(Corrupt(1.0, direction="forward"))
            w.client[1].write(b"A" * 64)
            got = await w.server[0].readexactly(64)
            assert w.proxy.counters["corrupted_chunks"] == 1
            return got

    async def body() -> None:
        first, again, other = await once(5), await once(5), await once(6)
        diff = [a ^ b for a, b in zip(first, b"A" * 64, strict=True) if a != b]
        assert len(diff) == 1 and bin(diff[0]).count("1") == 1
        assert first == again
        assert other != first

    arun(body)


def test_upstream_down_resets_the_client() -> None:
    async def body() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()  # nothing listens there
        proxy = FaultProxy("127.0.0.1", port)
        await proxy.start()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(r.read(1), 2)
            w.transport.abort()
            assert proxy.counters["upstream_refused"] == 1
        finally:
            await proxy.stop()

    arun(body)


def test_harness_switches_modes_from_another_thread() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(0.1)
            while not stop.is_set():
                try:
                    data = conn.recv(1024)
                except TimeoutError:
                    continue
                if not data:
                    return
                conn.sendall(data)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    with ProxyHarness() as harness:
        port = harness.add("a->b", "127.0.0.1", server.getsockname()[1], seed=1)
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            c.sendall(b"one")
            assert c.recv(3) == b"one"
            harness.set_mode("a->b", Blackhole("both"))
            c.sendall(b"two")
            c.settimeout(0.2)
            with pytest.raises(TimeoutError):
                c.recv(3)
            harness.set_mode("a->b", Pass())
            c.settimeout(2)
            assert c.recv(3) == b"two"
        assert harness.counters("a->b")["accepted"] == 1
    stop.set()
    t.join(2)
    server.close()
