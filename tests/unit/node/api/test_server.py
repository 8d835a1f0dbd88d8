"""Connections are bounded (issue 18.5, RELIABILITY S5), over real sockets to the node's own API
server (`node/api/server.py`, uvicorn in a thread): an idle connection, slow headers, a slow
body and an idle keep-alive connection are each closed after their deadline (uvicorn's defaults
held them forever), a slow answer is not cut, and the per-client and per-node connection limits
answer at once with their reason codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

from fastapi import APIRouter, Request

from node.api.app import create_app
from node.api.body import read_body
from node.api.server import ApiServer, ServerLimits, api_server

FAST = ServerLimits(idle_timeout_s=0.5, header_timeout_s=0.5, body_timeout_s=0.8)


def _app() -> object:
    router = APIRouter()

    @router.get("/fast")
    async def fast() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(1.5)
        return {"ok": True}

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await read_body(request, 10_000))}

    return create_app([router], height=lambda: 0)


@contextlib.contextmanager
def serving(limits: ServerLimits) -> Iterator[tuple[int, ApiServer]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = api_server(_app(), host="127.0.0.1", port=port, limits=limits, log_level="error")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(0.05)
    return sock


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def _seconds_until_closed(sock: socket.socket, trickle: bytes = b"", limit_s: float = 5.0) -> float:
    """Seconds until the server closes `sock`, sending `trickle` every 0.1 s meanwhile."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if trickle:
            try:
                sock.sendall(trickle)
            except ConnectionError:
                return time.monotonic() - started
        if _closed(sock):
            return time.monotonic() - started
        time.sleep(0.05)
    return float("inf")


def test_an_idle_connection_is_closed() -> None:
    with serving(FAST) as (port, server), _connect(port) as sock:
        took = _seconds_until_closed(sock)
        assert 0.4 < took < 2.0, took
        assert server.guard.closed.get("idle_timeout") == 1


def test_slow_headers_are_cut_however_they_trickle() -> None:
    with serving(FAST) as (port, server), _connect(port) as sock:
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n")
        took = _seconds_until_closed(sock, trickle=b"X-Slow: 1\r\n")
        assert 0.4 < took < 2.0, took
        assert server.guard.closed.get("header_timeout") == 1


def test_a_slow_body_is_cut() -> None:
    with serving(FAST) as (port, server), _connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        took = _seconds_until_closed(sock, trickle=b"x")
        assert 0.7 < took < 2.5, took
        assert server.guard.closed.get("body_timeout") == 1


def test_an_idle_keep_alive_connection_is_closed_and_a_slow_answer_is_not_cut() -> None:
    with serving(FAST) as (port, server), _connect(port) as sock:
        sock.settimeout(5)
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")  # 1.5 s: longer than every deadline
        status, _, doc = _answer(sock)
        assert (status, doc) == (200, {"ok": True})
        sock.settimeout(0.05)
        took = _seconds_until_closed(sock)
        assert 0.3 < took < 2.0, took
        deadline = time.monotonic() + 2
        while server.guard.total and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.guard.total == 0 and server.guard.closed.get("idle_timeout") == 1


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, object]]:
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_connection_limits_per_client_and_per_node() -> None:
    with serving(ServerLimits(max_connections_per_client=5, idle_timeout_s=30)) as (port, server):
        held = [_connect(port) for _ in range(5)]
        with _connect(port) as extra:
            status, headers, doc = _answer(extra)
        assert (status, doc["error"]["code"]) == (429, "client_connection_limit")  # type: ignore[index]
        assert headers["retry-after"] == "1" and headers["connection"] == "close"
        held.pop().close()
        time.sleep(0.2)
        with _connect(port) as again:  # a place came back
            again.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(again)[0] == 200
        for sock in held:
            sock.close()
    with serving(ServerLimits(max_connections=4, idle_timeout_s=30)) as (port, server):
        held = [_connect(port) for _ in range(4)]
        with _connect(port) as extra:
            status, _, doc = _answer(extra)
        assert (status, doc["error"]["code"]) == (503, "too_many_connections")  # type: ignore[index]
        assert server.guard.refused == {"too_many_connections": 1}
        for sock in held:
            sock.close()


def test_a_request_head_over_the_limit_gets_431_and_a_close() -> None:
    with serving(ServerLimits(max_header_bytes=2048)) as (port, server):
        with _connect(port) as sock:  # in one piece
            sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000 + b"\r\n")
            status, headers, doc = _answer(sock)
            assert (status, doc["error"]["code"]) == (431, "header_too_large")  # type: ignore[index]
            assert headers["connection"] == "close"
            assert _seconds_until_closed(sock, limit_s=2) < 2
        with _connect(port) as sock:  # whole, ended and in one read: it was served before
            sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n")
            status, _, doc = _answer(sock)
            assert (status, doc["error"]["code"]) == (431, "header_too_large")  # type: ignore[index]
        with _connect(port) as sock:  # trickled in small pieces
            sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n")
            for _ in range(40):
                sock.sendall(b"X-Part: " + b"b" * 90 + b"\r\n")
            assert _answer(sock)[0] == 431
        with _connect(port) as sock:  # under the limit: served, twice on one connection
            for _ in range(2):
                sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"c" * 1500 + b"\r\n\r\n")
                assert _answer(sock)[:1] == (200,)
        assert server.guard.closed.get("header_too_large") == 3


def test_pipelined_requests_are_answered_in_order() -> None:
    with serving(FAST) as (port, _), _connect(port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        data = b""
        while data.count(b'{"ok":true}') < 2:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert data.count(b"HTTP/1.1 200 OK") == 2
