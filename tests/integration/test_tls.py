"""A network with TLS (issue 18.9), as real processes on loopback: `network init --tls` (through
tests/support/cluster.py), started by `orgledger dev up --tls`, commits transactions over mutual
TLS; the SDK and the CLI read and submit over HTTPS verifying the network CA; another CA is
refused; plaintext HTTP to the API and plaintext, anonymous or foreign-CA clients of the p2p
port get no service (and a certificate of the network CA does: the control)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client_sdk import AsyncLedgerClient, CertificateError, LedgerClient
from node import tls
from tests.support.cluster import ORGS, Cluster

pytestmark = pytest.mark.integration
UPGRADE = (
    b"GET /orgledger/p2p/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _orgledger(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("tls"), validators=4, observers=0, proxies=False, tls=True)
    up = _orgledger("dev", "up", "--tls", "--dir", str(c.net), timeout=150)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert up.stdout.count("https://127.0.0.1:") == 4, up.stdout
        yield c
    finally:
        _orgledger("dev", "down", "--dir", str(c.net), timeout=60)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("other-ca")
    tls.write_ca(directory, "other")
    tls.issue_node_files(directory, directory / "stranger", "v3", ["127.0.0.1"])
    return directory


def test_dev_load_commits_over_mutual_tls_and_every_node_agrees(cluster: Cluster) -> None:
    done = _orgledger("dev", "load", "--dir", str(cluster.net), "--txs", "60", "--timeout", "120")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "committed=60" in done.stdout and "agree=true" in done.stdout, done.stdout
    heights = {n: cluster.height(n) for n in cluster.names}
    assert min(heights.values()) > 0, heights


def test_the_sdk_submits_and_reads_over_https_verifying_the_network_ca(cluster: Cluster) -> None:
    assert cluster.ca is not None
    genesis = cluster.net / "genesis.json"
    with LedgerClient(cluster.url("v1"), genesis, key=cluster.root_admin, ca_file=cluster.ca) as client:
        done = client.submit(cluster.transactions(1)[0], timeout_s=60)
        assert done.height > 0 and len(done.certificate.signatures) >= 3
        assert client.whoami()["org_id"] == ORGS[0][0]
        header, _ = client.header(done.height)
        assert header.height == done.height

    async def read() -> dict[str, object]:
        async with AsyncLedgerClient(
            cluster.url("v2"), genesis, key=cluster.root_admin, ca_file=cluster.ca
        ) as c:
            return await c.whoami()

    assert asyncio.run(read())["org_id"] == ORGS[0][0]


def test_the_cli_submits_over_https_with_the_ca_found_beside_genesis(cluster: Cluster) -> None:
    key = cluster.net / "keys" / "admins" / f"{ORGS[-1][0]}.key"
    payload = json.dumps(
        {"person_key": "cd" * 32, "key_version": 1, "id_check_ok": True, "birth_date": "1990-05-01"}
    )
    done = _orgledger(
        "tx", "submit", "--node", cluster.url("v3"), "--genesis", str(cluster.net / "genesis.json"),
        "--key", str(key), "--type", "archive.create", "--payload", payload, "--timeout", "60",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "committed at height" in done.stdout


def test_a_client_trusting_another_ca_is_refused_at_once(cluster: Cluster, other_ca: Path) -> None:
    started = time.monotonic()
    with (
        pytest.raises(CertificateError, match="does not verify"),
        LedgerClient(
            cluster.url("v0"), cluster.genesis, key=cluster.root_admin, ca_file=other_ca / "ca.crt"
        ) as client,
    ):
        client.whoami()
    assert time.monotonic() - started < 5, "a certificate failure is not retried"

    async def async_read() -> None:
        async with AsyncLedgerClient(
            cluster.url("v0"), cluster.genesis, key=cluster.root_admin, ca_file=other_ca / "ca.crt"
        ) as client:
            await client.whoami()

    with pytest.raises(CertificateError, match="does not verify"):
        asyncio.run(async_read())
    done = _orgledger(
        "api", "get", "/v1/auth/whoami", "--node", cluster.url("v0"), "--genesis", str(cluster.net / "genesis.json"),
        "--key", str(cluster.net / "keys" / "admins" / f"{ORGS[0][0]}.key"), "--ca", str(other_ca / "ca.crt"),
    )  # fmt: skip
    assert done.returncode == 1 and "does not verify" in done.stderr, done.stderr
    # and with no CA at all, the system's CAs do not vouch for the network's certificate
    with pytest.raises(httpx.ConnectError):
        httpx.get(cluster.url("v0") + "/healthz")


def test_a_console_token_is_fetched_over_verified_tls(cluster: Cluster, other_ca: Path) -> None:
    """`api token` speaks HTTPS like `api get`: the network CA beside the genesis by default,
    and a node whose certificate another CA signed is refused at once."""
    args = (
        "api", "token", "--node", cluster.url("v0"), "--genesis", str(cluster.net / "genesis.json"),
        "--key", str(cluster.net / "keys" / "admins" / f"{ORGS[0][0]}.key"), "--quiet",
    )  # fmt: skip
    done = _orgledger(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and "\n" not in done.stdout.strip()
    refused = _orgledger(*args, "--ca", str(other_ca / "ca.crt"))
    assert refused.returncode == 1 and "does not verify" in refused.stderr, refused.stderr


def _exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send `data`, return what comes back before the other side closes or goes quiet (2 s)."""
    sock.settimeout(2.0)
    got = b""
    try:
        sock.sendall(data)
        while chunk := sock.recv(4096):
            got += chunk
    except (TimeoutError, ConnectionError, ssl.SSLError):
        pass
    return got


def test_plaintext_http_to_the_api_gets_no_service(cluster: Cluster) -> None:
    port = cluster.genesis.node("v1").api_port
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        answer = _exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert not answer.startswith(b"HTTP/"), answer[:80]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
    assert cluster.status("v1") is not None  # still serving HTTPS


def _p2p_answer(port: int, context: ssl.SSLContext | None) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        if context is None:
            return _exchange(raw, UPGRADE)
        try:
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        except (ssl.SSLError, ConnectionError, TimeoutError):
            return b""
        with sock:
            return _exchange(sock, UPGRADE)


def test_the_p2p_port_serves_only_holders_of_a_network_certificate(cluster: Cluster, other_ca: Path) -> None:
    assert cluster.ca is not None
    port = cluster.genesis.node("v0").p2p_port
    own = cluster.net / "nodes" / "v3" / "tls"

    def client(cert_dir: Path | None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(cluster.ca))
        if cert_dir is not None:
            ctx.load_cert_chain(cert_dir / "node.crt", cert_dir / "node.key")
        return ctx

    # the control: a client with a certificate of the network CA gets to the websocket upgrade
    assert _p2p_answer(port, client(own)).startswith(b"HTTP/1.1 101"), "the control must pass"
    assert not _p2p_answer(port, None).startswith(b"HTTP/")  # plaintext
    assert not _p2p_answer(port, client(None)).startswith(b"HTTP/")  # TLS without a certificate
    assert not _p2p_answer(port, client(other_ca / "stranger")).startswith(b"HTTP/")  # another CA's
    assert cluster.status("v0") is not None


def test_the_https_example_of_docs_sdk_md_runs(cluster: Cluster) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text(encoding="utf-8")
    block = re.search(r"\*\*HTTPS\.\*\*.*?^```py\n(.*?)^```", text, flags=re.S | re.M)
    assert block is not None, "docs/sdk.md lost its HTTPS example"
    code = (
        block[1]
        .replace(".devnet-tls", str(cluster.net))
        .replace("https://127.0.0.1:28005", cluster.url("v0"))
    )
    namespace: dict[str, object] = {"LedgerClient": LedgerClient}
    exec(compile(code, "docs/sdk.md HTTPS example", "exec"), namespace)
    secure = namespace["secure"]
    assert isinstance(secure, LedgerClient)
    with secure:
        assert secure.whoami()["org_id"] == ORGS[0][0]


def test_audit_verify_and_backup_work_over_https(cluster: Cluster, tmp_path: Path) -> None:
    genesis = str(cluster.net / "genesis.json")
    key = str(cluster.net / "keys" / "admins" / f"{ORGS[0][0]}.key")
    audit = _orgledger(
        "audit", "verify", "--node", cluster.url("v1"), "--genesis", genesis, "--key", key, "--no-progress"
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # the node's own node.toml gives the https URL and its copy of the CA
    backup = _orgledger("node", "backup", "--config", str(cluster.config("v2")), "--out", str(tmp_path / "b"))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert "all checked" in backup.stdout
