"""A userspace TCP fault proxy for process-level tests (RELIABILITY 3.4, tier P).

One `FaultProxy` per directed peer link: the dialer connects to the proxy's port, the proxy
connects to the real listener, and bytes are pumped both ways. "forward" is dialer -> listener,
"backward" is listener -> dialer. The mode can be switched at any time and applies at once to
open connections and to new ones:

    Pass()                            forward bytes untouched
    Delay(delay_s, jitter_s, dir)     deliver each chunk after delay + U(0, jitter); order kept
    Blackhole(dir)                    hold bytes (nothing is delivered, reading stops once the
                                      buffer is full so the sender's window closes); on a switch
                                      back to Pass the held bytes flow again, like a healed
                                      partition with TCP retransmits
    Reset()                           abort every open connection with a TCP RST, and reset new
                                      ones as soon as they are accepted
    SlowDrip(bytes_per_s, dir)        deliver at most bytes_per_s, in small pieces
    Corrupt(probability, dir)         flip one random bit in a chunk with this probability

Determinism: jitter and corruption draw from a `random.Random(seed)` per proxy. Timing on a
real network stack is not deterministic, so only the *sequence of decisions* is.

Limits: at most `CHUNK_BYTES * QUEUE_CHUNKS` bytes buffered per direction per connection; every
connection is closed by `stop()`. A one-way blackhole of a websocket link stops its heartbeat
pongs too, so the link dies both ways after the heartbeat timeout: TCP carries both directions.

`FaultProxy` runs on the caller's event loop. `ProxyHarness` runs proxies on a private loop in a
daemon thread, with blocking thread-safe methods, for tests that drive subprocesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Direction = Literal["forward", "backward", "both"]
CHUNK_BYTES = 16 * 1024
QUEUE_CHUNKS = 64
_EOF = b""


@dataclass(frozen=True, slots=True)
class Pass:
    pass


@dataclass(frozen=True, slots=True)
class Delay:
    delay_s: float
    jitter_s: float = 0.0
    direction: Direction = "both"


@dataclass(frozen=True, slots=True)
class Blackhole:
    direction: Direction = "both"


@dataclass(frozen=True, slots=True)
class Reset:
    pass


@dataclass(frozen=True, slots=True)
class SlowDrip:
    bytes_per_s: int
    direction: Direction = "both"


@dataclass(frozen=True, slots=True)
class Corrupt:
    probability: float = 1.0
    direction: Direction = "both"


Mode = Pass | Delay | Blackhole | Reset | SlowDrip | Corrupt


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with an RST: SO_LINGER on, zero seconds."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Pump:
    """One direction of one connection: a reader task filling a bounded queue and a writer task
    delivering from it according to the proxy's current mode for this direction."""

    def __init__(
        self,
        proxy: FaultProxy,
        direction: Literal["forward", "backward"],
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
    ) -> None:
        self.proxy = proxy
        self.direction = direction
        self.src = src
        self.dst = dst
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self.last_due = 0.0

    async def read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await self.src.read(CHUNK_BYTES)
            mode = self.proxy.mode(self.direction)
            now = loop.time()
            due = now
            if data and isinstance(mode, Corrupt) and self.proxy.rng.random() < mode.probability:
                data = self.proxy.corrupt(data)
            if isinstance(mode, Delay):
                due = now + mode.delay_s + self.proxy.rng.uniform(0.0, mode.jitter_s)
            self.last_due = max(due, self.last_due)
            await self.queue.put((self.last_due, data))
            if not data:
                return

    async def write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await self.queue.get()
            while isinstance(self.proxy.mode(self.direction), Blackhole):
                await self.proxy.wait_mode_change()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if not data:
                if self.dst.can_write_eof():
                    self.dst.write_eof()
                return
            mode = self.proxy.mode(self.direction)
            if isinstance(mode, SlowDrip):
                piece = max(1, mode.bytes_per_s // 50)
                for i in range(0, len(data), piece):
                    self.dst.write(data[i : i + piece])
                    await self.dst.drain()
                    await asyncio.sleep(len(data[i : i + piece]) / mode.bytes_per_s)
            else:
                self.dst.write(data)
                await self.dst.drain()
            self.proxy.counters[f"bytes_{self.direction}"] += len(data)


class FaultProxy:
    """A TCP proxy from (listen_host, listen_port) to (target_host, target_port) with faults."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        seed: int = 0,
        name: str = "",
    ) -> None:
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.name = name or f"proxy->{target_host}:{target_port}"
        self.rng = random.Random(seed)
        self.counters: Counter[str] = Counter()
        self._modes: dict[str, Mode] = {"forward": Pass(), "backward": Pass()}
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- control -------------------------------------------------------------------------------

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, *self.listen)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for client, upstream in list(self._conns):
            client.transport.abort()
            if upstream is not None:
                upstream.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def set_mode(self, mode: Mode) -> None:
        """Apply `mode` to its direction(s); the other direction passes."""
        if isinstance(mode, Pass | Reset):
            self.set_modes(forward=mode, backward=mode)
            return
        both = mode.direction == "both"
        self.set_modes(
            forward=mode if both or mode.direction == "forward" else Pass(),
            backward=mode if both or mode.direction == "backward" else Pass(),
        )

    def set_modes(self, *, forward: Mode, backward: Mode) -> None:
        self._modes = {"forward": forward, "backward": backward}
        self._changed.set()
        self._changed = asyncio.Event()
        if isinstance(forward, Reset) or isinstance(backward, Reset):
            for client, upstream in list(self._conns):
                self._reset(client, upstream)

    def mode(self, direction: str) -> Mode:
        return self._modes[direction]

    async def wait_mode_change(self) -> None:
        await self._changed.wait()

    def corrupt(self, data: bytes) -> bytes:
        i = self.rng.randrange(len(data))
        buf = bytearray(data)
        buf[i] ^= 1 << self.rng.randrange(8)
        self.counters["corrupted_chunks"] += 1
        return bytes(buf)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    # -- connections ---------------------------------------------------------------------------

    def _reset(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter | None) -> None:
        self.counters["resets"] += 1
        _abort(client)
        if upstream is not None:
            _abort(upstream)

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.counters["accepted"] += 1
        entry: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None] = (c_writer, None)
        try:
            if isinstance(self._modes["forward"], Reset):
                self._reset(c_writer, None)
                return
            try:
                u_reader, u_writer = await asyncio.open_connection(*self.target)
            except OSError:
                self.counters["upstream_refused"] += 1
                _abort(c_writer)
                return
            entry = (c_writer, u_writer)
            self._conns.add(entry)
            pumps = [
                _Pump(self, "forward", c_reader, u_writer),
                _Pump(self, "backward", u_reader, c_writer),
            ]
            loops = [asyncio.create_task(f()) for p in pumps for f in (p.read_loop, p.write_loop)]
            try:
                # Done when both writers delivered EOF, or at the first error (a reset).
                for fut in asyncio.as_completed(loops):
                    await fut
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                for t in loops:
                    t.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
                u_writer.transport.abort()
        except asyncio.CancelledError:
            # stop() cancels us. End normally: asyncio's callback for client_connected_cb calls
            # task.exception(), which raises on a cancelled task in Python 3.11.
            pass
        finally:
            self._conns.discard(entry)
            c_writer.transport.abort()
            self._tasks.discard(task)


class ProxyHarness:
    """FaultProxies on a private event loop in a daemon thread; methods are blocking and
    thread-safe, for tests that are not async themselves (e.g. they manage subprocesses)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._thread.start()
        self._proxies: dict[str, FaultProxy] = {}

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout_s)

    def add(self, name: str, target_host: str, target_port: int, *, seed: int = 0) -> int:
        """Start a proxy to the target; returns the port to dial instead of the target."""

        async def make() -> int:
            proxy = FaultProxy(target_host, target_port, seed=seed, name=name)
            self._proxies[name] = proxy
            return await proxy.start()

        return self._call(make())

    def set_mode(self, name: str, mode: Mode) -> None:
        async def apply() -> None:
            self._proxies[name].set_mode(mode)

        self._call(apply())

    def set_modes(self, name: str, *, forward: Mode, backward: Mode) -> None:
        async def apply() -> None:
            self._proxies[name].set_modes(forward=forward, backward=backward)

        self._call(apply())

    def counters(self, name: str) -> dict[str, int]:
        async def read() -> dict[str, int]:
            return dict(self._proxies[name].counters)

        return self._call(read())

    def close(self) -> None:
        async def stop_all() -> None:
            for proxy in self._proxies.values():
                await proxy.stop()

        if self._loop.is_running():
            with contextlib.suppress(Exception):
                self._call(stop_all())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
        self._loop.close()

    def __enter__(self) -> ProxyHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
