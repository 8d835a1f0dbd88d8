"""The API's HTTP server: uvicorn with httptools (a compiled HTTP parser) and bounded connections
(issue 18.5, RELIABILITY S5).

Rules:

- `api_server(app, host=, port=, limits=)` is the one way the node serves its API (the
  composition root calls it); uvicorn's own signal handling is off (the node owns SIGTERM).
- Every connection is in one phase, and each phase has a deadline (`ServerLimits`, from
  node.toml's `[api]`):
  - idle: connected, or between two requests, with no request byte received: closed after
    `idle_timeout_s` (uvicorn holds a fresh silent connection forever otherwise);
  - headers: from the first byte of a request to the end of its headers: closed after
    `header_timeout_s` however slowly the bytes keep coming (slowloris);
  - body: from the end of the headers to the end of the body: closed after `body_timeout_s`
    (the route reading it then sees the client gone, `node/api/body.py`);
  - answering: the request is in, the app works or streams (the event stream lives here for
    hours): no deadline of ours.
  A request head is at most `max_header_bytes`, beyond: 431 `header_too_large` and close. It is
  measured twice, each for a case the other misses: the request line and headers as the parser
  hands them over (a whole head in one read), and the bytes received while a head is incomplete
  (the parser buffers a header it has not finished, however long).
- At most `max_connections` connections per node and `max_connections_per_client` per client
  address: one over either limit is answered at once (503 `too_many_connections`, 429
  `client_connection_limit`, with `Retry-After`, in the one error format; statuses from
  `node/api/errors.py`) and closed, before anything is read.
- HTTPS when node.toml's `[api]` names a certificate and key (`tls`): uvicorn then speaks only
  TLS on the port (a plaintext request gets no HTTP answer), asks for client certificates per
  `tls_client_certs` and checks them against `tls_ca_file`. A connection is counted once TLS is up
  (asyncio hands the protocol a connection after the handshake; a handshake in progress is
  bounded by asyncio's own 60 s handshake timeout, not by these limits).
- Each server has its own `ConnectionGuard` (counts and limits); nothing is module-global.
  Deadlines are checked every TICK_S on the event loop, per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from node.api.errors import ApiError, headers_of, status_of
from node.config import ApiSettings, TlsFiles
from node.tls import check_tls_files

log = logging.getLogger("orgledger.api")

TICK_S = 0.25
CLIENT_CERTS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_REASONS = {429: "Too Many Requests", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_connections: int = 1024
    max_connections_per_client: int = 128
    idle_timeout_s: float = 10.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = 16 * 1024

    @classmethod
    def from_config(cls, api: ApiSettings) -> ServerLimits:
        """The limits node.toml's `[api]` sets."""
        return cls(
            max_connections=api.max_connections,
            max_connections_per_client=api.max_connections_per_client,
            idle_timeout_s=api.idle_timeout_s,
            header_timeout_s=api.header_timeout_s,
            body_timeout_s=api.body_timeout_s,
            max_header_bytes=api.max_header_bytes,
        )


@dataclass(eq=False)
class ConnectionGuard:
    """One server's connection counts and what it refused or closed (by reason)."""

    limits: ServerLimits
    total: int = 0
    per_client: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)

    def admit(self, client: str) -> str | None:
        """Count a new connection from `client`; the refusal's reason code when over a limit."""
        if self.total >= self.limits.max_connections:
            code = "too_many_connections"
        elif self.per_client.get(client, 0) >= self.limits.max_connections_per_client:
            code = "client_connection_limit"
        else:
            self.total += 1
            self.per_client[client] = self.per_client.get(client, 0) + 1
            return None
        self.refused[code] = self.refused.get(code, 0) + 1
        return code

    def release(self, client: str) -> None:
        self.total -= 1
        left = self.per_client.get(client, 1) - 1
        if left > 0:
            self.per_client[client] = left
        else:
            self.per_client.pop(client, None)


def refusal_bytes(code: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer refusing a connection (the one error format), then close."""
    exc = ApiError(code, message, retry_after_s=1.0)
    status = status_of(exc)
    body = json.dumps({"error": {"code": code, "message": message}, "height": None}).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "content-type: application/json"]
    head += [f"{k.lower()}: {v}" for k, v in headers_of(exc, status).items()]
    head += [f"content-length: {len(body)}", "connection: close", "", ""]
    return "\r\n".join(head).encode("ascii") + body


def guarded_protocol(guard: ConnectionGuard) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the limits and deadlines of `guard`.

    Where the connection is, from the parser's callbacks: `_parsing` is "headers" from a
    request's first byte (`on_message_begin`) to the end of its headers, then "body" to the end of
    its body, then None; `_answering` counts the requests fully read and not answered yet.
    Neither parsing nor answering is idle."""
    limits = guard.limits

    class GuardedProtocol(HttpToolsProtocol):
        _client_key = ""
        _counted = False
        _parsing: str | None = None
        _answering = 0
        _header_bytes = 0  # received while the head is incomplete
        _head_bytes = 0  # of the request line and headers the parser handed over
        _head_too_large = False
        _idle_since = 0.0
        _phase_since = 0.0
        _ticker: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            self._client_key = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            refused = guard.admit(self._client_key)
            if refused is not None:
                transport.write(refusal_bytes(refused, "too many connections; retry shortly"))
                transport.close()
                return
            self._counted = True
            super().connection_made(transport)
            self._idle_since = self.loop.time()
            self._ticker = self.loop.call_later(TICK_S, self._tick)

        def connection_lost(self, exc: Exception | None) -> None:
            if not self._counted:
                return
            self._counted = False
            guard.release(self._client_key)
            if self._ticker is not None:
                self._ticker.cancel()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._parsing == "headers":  # counted after the parser (a head begun here reset it)
                self._header_bytes += len(data)
                if self._header_bytes > limits.max_header_bytes:
                    self._refuse_headers()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._parsing, self._phase_since = "headers", self.loop.time()
            self._header_bytes = self._head_bytes = 0

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
            super().on_header(name, value)

        def _count_head(self, n: int) -> None:
            self._head_bytes += n
            if self._head_bytes > limits.max_header_bytes:
                self._head_too_large = True
                raise ValueError("request head too large")  # the parser stops: send_400_response

        def send_400_response(self, msg: str) -> None:
            if self._head_too_large:
                self._refuse_headers()
            else:
                super().send_400_response(msg)

        def on_headers_complete(self) -> None:
            self._parsing, self._phase_since = "body", self.loop.time()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._parsing = None
            self._answering += 1
            super().on_message_complete()

        def on_response_complete(self) -> None:
            self._answering = max(0, self._answering - 1)
            self._idle_since = self.loop.time()
            super().on_response_complete()

        def _refuse_headers(self) -> None:
            """Headers over `max_header_bytes`: 431 in the one error format, then close."""
            guard.closed["header_too_large"] = guard.closed.get("header_too_large", 0) + 1
            self._parsing = None
            if not self.transport.is_closing():
                message = f"request headers exceed {limits.max_header_bytes} bytes"
                self.transport.write(refusal_bytes("header_too_large", message))
                self.transport.close()

        def _tick(self) -> None:
            self._ticker = None
            if self.transport.is_closing():
                return
            self._follow_timeout(self.loop.time())
            if not self.transport.is_closing():
                self._ticker = self.loop.call_later(TICK_S, self._tick)

        def _follow_timeout(self, now: float) -> None:
            if self._parsing == "headers":
                if now - self._phase_since > limits.header_timeout_s:
                    self._close("header_timeout")
            elif self._parsing == "body":
                if now - self._phase_since > limits.body_timeout_s:
                    self._close("body_timeout")
            elif self._answering == 0 and now - self._idle_since > limits.idle_timeout_s:
                self._close("idle_timeout")

        def _close(self, reason: str) -> None:
            guard.closed[reason] = guard.closed.get(reason, 0) + 1
            log.debug("closing an API connection from %s: %s", self._client_key, reason)
            self.transport.close()

    return GuardedProtocol


class ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling (the node owns SIGTERM), with its guard."""

    guard: ConnectionGuard

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def api_server(
    app: Any,
    *,
    host: str,
    port: int,
    limits: ServerLimits,
    log_level: str = "warning",
    tls: TlsFiles | None = None,
) -> ApiServer:
    """The node's API server for `app` on host:port under `limits`; HTTPS only when `tls` is
    given (its files checked first: a TlsError names what is wrong)."""
    guard = ConnectionGuard(limits)
    https: dict[str, Any] = {}
    if tls is not None:
        check_tls_files(tls)
        https = {
            "ssl_certfile": str(tls.cert),
            "ssl_keyfile": str(tls.key),
            "ssl_ca_certs": None if tls.ca is None else str(tls.ca),
            "ssl_cert_reqs": CLIENT_CERTS[tls.client_certs],
        }
    server = ApiServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            **https,
            http=guarded_protocol(guard),
            log_level=log_level,
            log_config=None,  # uvicorn's records go to the node's own handler (text or JSON)
            lifespan="off",
            access_log=False,
            timeout_keep_alive=max(1, int(limits.idle_timeout_s)),
        )
    )
    server.guard = guard
    return server
