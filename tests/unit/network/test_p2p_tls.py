"""TLS by configuration: a working link, plaintext and untrusted certificates refused, and a
corrupted byte stream rejected by TLS (RELIABILITY N14) instead of delivered."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

from network import PeerId
from tests.support.faultproxy import Corrupt, FaultProxy, Pass
from tests.support.netkit import Cluster, eventually, run, self_signed_cert
from tests.support.tlslinks import FAST_RETRY, assert_link_carries, dial_failures

N1 = PeerId("n1")


def contexts(tmp: Path, trusted: list[Path] | None = None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed_cert(tmp, "node")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    for ca in trusted if trusted is not None else [cert]:
        client.load_verify_locations(cafile=str(ca))
    return server, client


def test_tls_link_carries_messages_and_requests(tmp_path: Path) -> None:
    server_ctx, client_ctx = contexts(tmp_path)
    tls = {"server_ssl": server_ctx, "client_ssl": client_ctx}
    run(assert_link_carries(Cluster(2), b"over tls", tls, tls))


def test_plaintext_and_untrusted_dialers_are_refused(tmp_path: Path) -> None:
    server_ctx, _ = contexts(tmp_path)
    other_cert, _ = self_signed_cert(tmp_path, "stranger")
    (tmp_path / "other").mkdir()
    _, untrusting = contexts(tmp_path / "other", trusted=[other_cert])

    async def body() -> None:
        c = Cluster(3, **FAST_RETRY)
        # n0 dials in plaintext, n2 with TLS that does not trust n1's certificate.
        plain = c.make(0, peers=[replace(s, dial=s.peer_id == "n1") for s in c.specs()])
        untrusted = c.make(
            2, peers=[replace(s, dial=s.peer_id == "n1") for s in c.specs()], client_ssl=untrusting
        )
        c.make(1, dial=lambda me, peer: False, server_ssl=server_ctx)
        for i in range(3):
            await c.start(i)
        try:
            await eventually(lambda: dial_failures(plain) >= 2 and dial_failures(untrusted) >= 2)
            assert untrusted.stats()["dial_failures.tls"] == dial_failures(untrusted)
            assert c[1].net.connected_peers() == []
            assert "frames_in" not in c[1].net.stats()
        finally:
            await c.stop_all()

    run(body())


def test_corrupted_tls_stream_is_rejected_and_the_link_recovers(tmp_path: Path) -> None:
    server_ctx, client_ctx = contexts(tmp_path)

    async def body() -> None:
        c = Cluster(2, server_ssl=server_ctx, client_ssl=client_ctx, **FAST_RETRY)
        proxy = FaultProxy("127.0.0.1", c[1].port, seed=11)
        await proxy.start()
        peers = [replace(s, port=proxy.port, dial=True) if s.peer_id == "n1" else s for s in c.specs()]
        a = c.make(0, peers=peers)
        c.make(1, dial=lambda me, peer: False)
        await c.start(0)
        await c.start(1)
        try:
            assert await a.wait_connected(timeout_s=5)
            sent = {f"message {i}".encode() for i in range(20)}
            proxy.set_mode(Corrupt(1.0, direction="forward"))
            for m in sorted(sent):
                a.send(N1, m)
            await eventually(lambda: a.connected_peers() == [], timeout_s=5)
            assert proxy.counters["corrupted_chunks"] >= 1
            # Nothing altered got through: whatever arrived is exactly what was sent.
            assert set(c[1].recorder.payloads()) <= sent
            proxy.set_mode(Pass())
            assert await a.wait_connected(timeout_s=5)
            assert a.send(N1, b"clean again")
            await eventually(lambda: b"clean again" in c[1].recorder.payloads())
        finally:
            await c.stop_all()
            await proxy.stop()

    run(body())
