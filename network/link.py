"""One authenticated websocket link to one peer: its send queue, its reader, its requests.

Rules:

- Nothing here blocks the caller: `enqueue` puts into a bounded FrameQueue or returns False.
- One writer task drains the send queue; a single write that takes longer than `send_timeout_s`
  (a peer that stopped reading) closes the link.
- The reader hands MESSAGE payloads to `deliver` (the peer's bounded receive queue), resolves
  RESPONSE/ERROR frames against the outstanding requests, and runs REQUEST frames through the
  request handler in at most `inbound_handlers_max` concurrent tasks (else answers `busy`).
- A protocol violation (text frame, unknown kind, oversize) closes the link; so does aiohttp's
  heartbeat when no pong comes back, which is how half-open connections are found.
- When the link ends, outstanding requests fail with PeerDisconnected and frames still queued
  are counted as `drops.link_closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType

from network import framing
from network.config import NetworkConfig, PeerId
from network.errors import (
    PeerDisconnected,
    PeerUnavailable,
    ProtocolError,
    RemoteError,
    RequestTimeout,
    TooManyRequests,
)
from network.ws import CLOSE_TIMEOUT_S, WebSocket

log = logging.getLogger("orgledger.network")

RequestHandler = Callable[[PeerId, bytes], Awaitable[bytes]]


class Stats:
    """Counters, overall and per peer. Keys are flat: `frames_in`, `drops.<reason>`, ..."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.per_peer: dict[str, Counter[str]] = {}

    def count(self, key: str, peer: str | None = None, n: int = 1) -> None:
        self.total[key] += n
        if peer is not None:
            self.per_peer.setdefault(peer, Counter())[key] += n


class Link:
    def __init__(
        self,
        *,
        peer_id: PeerId,
        ws: WebSocket,
        outbound: bool,
        remote: str,
        config: NetworkConfig,
        stats: Stats,
        deliver: Callable[[bytes], None],
        on_request: RequestHandler | None,
    ) -> None:
        self.peer_id = peer_id
        self.outbound = outbound
        self.remote = remote
        self._ws = ws
        self._config = config
        self._stats = stats
        self._deliver = deliver
        self._on_request = on_request
        self._queue = framing.FrameQueue(config.send_queue_frames_max, config.send_queue_bytes_max)
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._next_request_id = 1
        self._handlers: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.close_reason: str | None = None
        self.opened_at = asyncio.get_running_loop().time()

    # -- sending -------------------------------------------------------------------------------

    def enqueue(self, frame: bytes) -> bool:
        if self._queue.put(frame):
            return True
        reason = "link_closed" if self._stop.is_set() else "send_queue_full"
        self._stats.count(f"drops.{reason}", self.peer_id)
        return False

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    async def request(self, payload: bytes, timeout_s: float) -> bytes:
        if self._stop.is_set():
            raise PeerUnavailable(f"the link to {self.peer_id} is closing")
        if len(self._pending) >= self._config.inflight_requests_max:
            raise TooManyRequests(f"{len(self._pending)} requests to {self.peer_id} outstanding")
        request_id = self._next_request_id
        self._next_request_id += 1
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            if not self.enqueue(framing.request(request_id, payload)):
                raise PeerUnavailable(f"send queue to {self.peer_id} is full", code="send_queue_full")
            self._stats.count("requests_out", self.peer_id)
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError as exc:
            self._stats.count("requests_timed_out", self.peer_id)
            raise RequestTimeout(f"no response from {self.peer_id} within {timeout_s} s") from exc
        finally:
            self._pending.pop(request_id, None)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """Ask the link to end (from any task); `run` returns soon after."""
        if self.close_reason is None:
            self.close_reason = reason
        self._stop.set()

    async def run(self) -> str:
        """Serve the link until it ends; returns the reason it ended."""
        reader = asyncio.create_task(self._read_loop(), name=f"p2p-read-{self.peer_id}")
        writer = asyncio.create_task(self._write_loop(), name=f"p2p-write-{self.peer_id}")
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({reader, writer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for loop_task in (reader, writer):
                if loop_task.done() and not loop_task.cancelled() and loop_task.exception() is not None:
                    log.error("p2p %s: link task failed", self.peer_id, exc_info=loop_task.exception())
                    self.close("internal_error")
        finally:
            self._stop.set()
            tasks = [reader, writer, stopper, *self._handlers]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._finish()
            await self._close_ws()
        return self.close_reason or "closed"

    def _finish(self) -> None:
        dropped = self._queue.close()
        if dropped:
            self._stats.count("drops.link_closed", self.peer_id, dropped)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(PeerDisconnected(f"link to {self.peer_id} closed"))
        self._pending.clear()

    async def _close_ws(self) -> None:
        code = WSCloseCode.MESSAGE_TOO_BIG if self.close_reason == "too_large" else WSCloseCode.GOING_AWAY
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._ws.close(code=code, message=(self.close_reason or "").encode()[:100])

    # -- the two loops -------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None:
                return
            try:
                async with asyncio.timeout(self._config.send_timeout_s):
                    await self._ws.send_bytes(frame)
            except TimeoutError:
                self.close("send_timeout")
                return
            except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
                log.debug("p2p %s: send failed: %r", self.peer_id, exc)
                self.close("send_failed")
                return
            self._stats.count("frames_out", self.peer_id)
            self._stats.count("bytes_out", self.peer_id, len(frame))

    async def _read_loop(self) -> None:
        while True:
            msg = await self._ws.receive()
            if msg.type == WSMsgType.BINARY:
                data: bytes = msg.data
                self._stats.count("frames_in", self.peer_id)
                self._stats.count("bytes_in", self.peer_id, len(data))
                try:
                    self._handle(framing.parse(data, self._config.frame_bytes_max))
                except ProtocolError as exc:
                    self._violation(exc.code, exc.message)
                    return
            elif msg.type == WSMsgType.TEXT:
                self._violation("text_frame", "a text frame")
                return
            elif msg.type == WSMsgType.ERROR:
                self.close(self._error_reason(msg.data))
                return
            else:  # CLOSE, CLOSING, CLOSED
                self.close("peer_closed")
                return

    def _violation(self, reason: str, detail: str) -> None:
        self._stats.count(f"drops.{reason}", self.peer_id)
        log.warning("p2p %s (%s): %s; closing the link", self.peer_id, self.remote, detail)
        self.close(reason)

    def _error_reason(self, data: Any) -> str:
        exc = data if isinstance(data, BaseException) else self._ws.exception()
        if isinstance(exc, aiohttp.WebSocketError) and exc.code == WSCloseCode.MESSAGE_TOO_BIG:
            self._stats.count("drops.too_large", self.peer_id)
            log.warning("p2p %s (%s): oversize frame; closing the link", self.peer_id, self.remote)
            return "too_large"
        if isinstance(exc, (aiohttp.ServerTimeoutError, TimeoutError)):
            return "heartbeat_timeout"
        log.debug("p2p %s: websocket error %r", self.peer_id, exc)
        return "ws_error"

    # -- frames --------------------------------------------------------------------------------

    def _handle(self, frame: framing.Frame) -> None:
        match frame.kind:
            case framing.Kind.MESSAGE:
                self._deliver(frame.payload)
            case framing.Kind.REQUEST:
                self._start_handler(frame.request_id, frame.payload)
            case framing.Kind.RESPONSE | framing.Kind.ERROR:
                future = self._pending.get(frame.request_id)
                if future is None or future.done():
                    self._stats.count("drops.unsolicited_response", self.peer_id)
                elif frame.kind == framing.Kind.RESPONSE:
                    future.set_result(frame.payload)
                else:
                    reason = frame.payload.decode("ascii", "replace")
                    future.set_exception(RemoteError(f"{self.peer_id} answered {reason}", code=reason))

    def _start_handler(self, request_id: int, payload: bytes) -> None:
        self._stats.count("requests_in", self.peer_id)
        if self._on_request is None:
            self.enqueue(framing.error(request_id, "no_handler"))
            return
        if len(self._handlers) >= self._config.inbound_handlers_max:
            self._stats.count("drops.busy", self.peer_id)
            self.enqueue(framing.error(request_id, "busy"))
            return
        task = asyncio.create_task(self._serve(self._on_request, request_id, payload))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _serve(self, handler: RequestHandler, request_id: int, payload: bytes) -> None:
        try:
            async with asyncio.timeout(self._config.request_handler_timeout_s):
                answer = await handler(self.peer_id, payload)
        except Exception:
            log.exception("p2p: the handler of a request from %s failed", self.peer_id)
            self._stats.count("handler_errors", self.peer_id)
            self.enqueue(framing.error(request_id, "handler_error"))
            return
        if len(answer) > self._config.frame_bytes_max:
            self._stats.count("drops.response_too_large", self.peer_id)
            self.enqueue(framing.error(request_id, "response_too_large"))
            return
        self.enqueue(framing.response(request_id, answer))
