"""The websocket seen by the rest of the package: the subset of aiohttp's server and client
websocket objects that links and handshakes use, and helpers that translate aiohttp's failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Protocol

import aiohttp
from aiohttp import WSMsgType

from network import handshake
from network.errors import HandshakeError

CLOSE_TIMEOUT_S = 2.0


class WebSocket(Protocol):
    """What a link needs of aiohttp's server and client websocket objects."""

    @property
    def closed(self) -> bool: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...

    def exception(self) -> BaseException | None: ...


class WsChannel:
    """The handshake's view of a websocket: one binary message at a time, size-checked."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send_bytes(data)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise HandshakeError("connection lost during the handshake", code="closed") from exc

    async def recv(self) -> bytes:
        msg = await self._ws.receive()
        if msg.type == WSMsgType.BINARY:
            data: bytes = msg.data
            if len(data) > handshake.HANDSHAKE_BYTES_MAX:
                raise HandshakeError("handshake message over the limit", code="too_large")
            return data
        if msg.type == WSMsgType.TEXT:
            raise HandshakeError("text frame during the handshake", code="malformed")
        if msg.type == WSMsgType.ERROR:
            too_big = getattr(msg.data, "code", None) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            raise HandshakeError(
                "websocket error during the handshake", code="too_large" if too_big else "malformed"
            )
        raise HandshakeError("connection closed during the handshake", code="closed")


def dial_failure_reason(exc: BaseException) -> str:
    """The counter suffix for a failed dial (`dial_failures.<reason>`)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, (ssl.SSLError, aiohttp.ClientSSLError)):
        return "tls"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return "refused"
    return "unreachable"


async def close_quietly(ws: WebSocket) -> None:
    """Close, bounded in time; the peer may already be gone."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await ws.close()
