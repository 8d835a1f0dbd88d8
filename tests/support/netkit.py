"""Helpers for tests that run PeerNetworks on 127.0.0.1: keys, pre-bound ephemeral ports, a
message recorder, and a bounded `run`.

Ports are bound before any network starts (`bound_socket`) and handed to `PeerNetwork.start`,
so there is no window in which another socket can take them. A restarted node binds the same
port again with SO_REUSEADDR.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from network import HandshakeError, NetworkConfig, PeerId, PeerNetwork, PeerSpec
from wire.crypto import SigningKey, sha256

T = TypeVar("T")
CHAIN_ID = "test-chain"
GENESIS_HASH = sha256(b"test genesis")
HOST = "127.0.0.1"


def run(coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
    """Run a test coroutine with a hard time limit."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(bounded())


def bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


async def eventually(cond: Callable[[], bool], timeout_s: float = 5.0, step_s: float = 0.01) -> None:
    """Wait until `cond()` holds; fail the test after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(step_s)


class Recorder:
    """An `on_message` callback that records (peer, payload) and lets a test wait for a count."""

    def __init__(self) -> None:
        self.got: list[tuple[PeerId, bytes]] = []
        self._changed = asyncio.Event()

    async def __call__(self, peer: PeerId, data: bytes) -> None:
        self.got.append((peer, data))
        self._changed.set()

    def payloads(self, peer: str | None = None) -> list[bytes]:
        return [d for p, d in self.got if peer is None or p == peer]

    async def wait_for(self, n: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.got) < n:
                self._changed.clear()
                await self._changed.wait()


@dataclass
class Node:
    node_id: str
    key: SigningKey
    sock: socket.socket
    port: int
    net: PeerNetwork | None = None
    recorder: Recorder = field(default_factory=Recorder)

    @property
    def spec(self) -> PeerSpec:
        return PeerSpec(peer_id=PeerId(self.node_id), pubkey=self.key.public, host=HOST, port=self.port)


class Cluster:
    """n nodes "n0".."n{n-1}", each with a key and a pre-bound port."""

    def __init__(self, n: int, **config: Any) -> None:
        self.config = config
        self.nodes: list[Node] = []
        for i in range(n):
            sock = bound_socket()
            self.nodes.append(Node(f"n{i}", SigningKey.generate(), sock, sock.getsockname()[1]))

    def __getitem__(self, i: int) -> Node:
        return self.nodes[i]

    def specs(self, dial: Callable[[str, str], bool] | None = None, me: str = "") -> list[PeerSpec]:
        out = []
        for n in self.nodes:
            spec = n.spec
            if dial is not None and n.node_id != me:
                spec = replace(spec, dial=dial(me, n.node_id))
            out.append(spec)
        return out

    def make(
        self,
        i: int,
        *,
        dial: Callable[[str, str], bool] | None = None,
        on_request: Callable[[PeerId, bytes], Awaitable[bytes]] | None = None,
        peers: list[PeerSpec] | None = None,
        chain_id: str = CHAIN_ID,
        genesis_hash: bytes = GENESIS_HASH,
        **config: Any,
    ) -> PeerNetwork:
        node = self.nodes[i]
        node.recorder = Recorder()
        cfg = NetworkConfig(node_id=node.node_id, **{**self.config, **config})
        node.net = PeerNetwork(
            cfg,
            node.key,
            peers if peers is not None else self.specs(dial, node.node_id),
            chain_id,
            genesis_hash,
            node.recorder,
            on_request,
        )
        return node.net

    async def start(self, i: int) -> PeerNetwork:
        node = self.nodes[i]
        assert node.net is not None
        if node.sock.fileno() == -1:  # closed by a previous stop: bind the same port again
            node.sock = bound_socket(node.port)
        await node.net.start(sock=node.sock)
        return node.net

    async def stop(self, i: int) -> None:
        node = self.nodes[i]
        if node.net is not None:
            await node.net.stop()
        node.sock.close()

    async def stop_all(self) -> None:
        for i in range(len(self.nodes)):
            await self.stop(i)


def only_lower_dials(me: str, peer: str) -> bool:
    """A dial rule without simultaneous dials: the smaller id dials the larger."""
    return me < peer


class RawWs:
    """A minimal websocket client over a raw TCP stream, so tests can send what a well-behaved
    client never would (frames with a huge declared length, text, junk). Implements the
    handshake's Channel, so `network.handshake.dial` can authenticate through it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, path: str = "/orgledger/p2p/1") -> RawWs:
        reader, writer = await asyncio.open_connection(HOST, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionRefusedError(head.split(b"\r\n", 1)[0].decode())
        return cls(reader, writer)

    def send_frame(self, payload: bytes, *, opcode: int = 2, declared_len: int | None = None) -> None:
        n = len(payload) if declared_len is None else declared_len
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + body)

    async def recv_frame(self) -> tuple[int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack(">Q", await self.reader.readexactly(8))
        return b0 & 0x0F, await self.reader.readexactly(n)

    async def send(self, data: bytes) -> None:
        self.send_frame(data)
        await self.writer.drain()

    async def recv(self) -> bytes:
        while True:
            try:
                opcode, payload = await self.recv_frame()
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise HandshakeError("closed", code="closed") from exc
            if opcode == 2:
                return payload
            if opcode == 8:
                self.send_frame(payload[:2], opcode=8)  # answer the close, as a live peer would
                raise HandshakeError("closed", code="closed")
            if opcode == 9:  # ping: answer, as a live peer would
                self.send_frame(payload, opcode=10)

    async def closed_within(self, timeout_s: float) -> int | None:
        """Read until the server closes; the close code, or None at EOF without a close frame."""
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    opcode, payload = await self.recv_frame()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return None
                if opcode == 8:
                    self.send_frame(payload[:2], opcode=8)
                    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005

    def abort(self) -> None:
        self.writer.transport.abort()


def self_signed_cert(directory: Path, name: str = "node") -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (cert, key), made with the
    `cryptography` package (a dependency of orgledger since node/tls.py), else with the
    `openssl` CLI; neither: skip. A network's real CA and node certificates: node/tls.py."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    try:
        _cert_with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor the openssl CLI is available")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip
    return cert, key


def _cert_with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pkey = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(pkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False)
        .sign(pkey, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pkey.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
