"""HTTPS on the node's API server (`node/api/server.py` with node.toml's [api] TLS), over real
sockets: the SDK reads it verifying the network CA; a plaintext request gets no HTTP answer;
with `tls_client_certs = "required"` a client without a certificate of the CA is refused and
one with `client_cert=` is served, and "optional" serves both; the connection limits still
answer over TLS."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from client_sdk.tls import tls_context
from node import tls
from node.api.app import create_app
from node.api.server import ApiServer, ServerLimits, api_server
from node.config import TlsFiles


def _app() -> object:
    router = APIRouter()

    @router.get("/fast")
    async def fast() -> dict[str, bool]:
        return {"ok": True}

    return create_app([router], height=lambda: 0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    tls.write_ca(root / "ca", "chain")
    tls.write_ca(root / "other", "other")
    tls.issue_node_files(root / "ca", root / "server", "n1", ["127.0.0.1"])
    tls.issue_node_files(root / "ca", root / "client", "n2", ["127.0.0.1"])
    tls.issue_node_files(root / "other", root / "stranger", "n2", ["127.0.0.1"])
    return root


@contextlib.contextmanager
def serving(
    pki: Path, client_certs: str, limits: ServerLimits | None = None
) -> Iterator[tuple[int, ApiServer]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    files = TlsFiles(
        cert=pki / "server" / "node.crt",
        key=pki / "server" / "node.key",
        ca=pki / "server" / "ca.crt",
        client_certs=client_certs,  # type: ignore[arg-type]
    )
    server = api_server(
        _app(), host="127.0.0.1", port=port, limits=limits or ServerLimits(), log_level="error", tls=files
    )
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


def _get(port: int, pki: Path, cert: str | None = None) -> int:
    client_cert = None if cert is None else (pki / cert / "node.crt", pki / cert / "node.key")
    ctx = tls_context(f"https://127.0.0.1:{port}", pki / "ca" / "ca.crt", client_cert)
    assert ctx is not None
    return httpx.get(f"https://127.0.0.1:{port}/fast", verify=ctx, timeout=5).status_code


def test_https_verified_against_the_ca_and_no_plaintext(pki: Path) -> None:
    with serving(pki, "none") as (port, _):
        assert _get(port, pki) == 200
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.settimeout(2)
            sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            with contextlib.suppress(TimeoutError, ConnectionError):
                assert not sock.recv(100).startswith(b"HTTP/")
        other = tls_context(f"https://127.0.0.1:{port}", pki / "other" / "ca.crt")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/fast", verify=other, timeout=5)  # type: ignore[arg-type]


def test_required_client_certificates(pki: Path) -> None:
    with serving(pki, "required") as (port, _):
        assert _get(port, pki, "client") == 200
        for cert in (None, "stranger"):
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                _get(port, pki, cert)


def test_optional_client_certificates(pki: Path) -> None:
    with serving(pki, "optional") as (port, _):
        assert _get(port, pki, "client") == 200
        assert _get(port, pki) == 200
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            _get(port, pki, "stranger")  # a certificate, when sent, must be the CA's


def test_connection_limits_answer_over_tls(pki: Path) -> None:
    with serving(pki, "none", ServerLimits(max_connections_per_client=1)) as (port, server):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(pki / "ca" / "ca.crt"))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            deadline = time.monotonic() + 5
            while server.guard.total < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            with httpx.Client(verify=ctx, timeout=5) as http:
                answer = http.get(f"https://127.0.0.1:{port}/fast")
            assert answer.status_code == 429 and answer.json()["error"]["code"] == "client_connection_limit"
