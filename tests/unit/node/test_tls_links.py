"""Peer links with node.toml's TLS (node/tls.py `p2p_contexts`) over real loopback sockets: both
ends present certificates of the network CA and link (the ed25519 handshake on top); a peer
whose certificate another CA signed, one with no certificate, and a plaintext one are refused
before a single application frame, whichever side dials."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import pytest

from node import tls
from node.config import TlsFiles
from tests.support.netkit import Cluster, eventually, run
from tests.support.tlslinks import FAST_RETRY, assert_link_carries, dial_failures


@pytest.fixture
def cas(tmp_path: Path) -> tuple[Path, Path]:
    tls.write_ca(tmp_path / "ca", "chain")
    tls.write_ca(tmp_path / "other", "other-chain")
    return tmp_path / "ca", tmp_path / "other"


def contexts(ca_dir: Path, out: Path, node: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts of `node` as the node builds them, with a certificate of the CA
    in `ca_dir`."""
    files = tls.issue_node_files(ca_dir, out / node, node, ["127.0.0.1"])
    return tls.p2p_contexts(TlsFiles(cert=files.cert, key=files.key, ca=files.ca))


def stranger_contexts(
    cert_ca: Path, trusted_ca: Path, out: Path, node: str
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Contexts with a certificate of `cert_ca` that trust `trusted_ca` (the node itself refuses
    such a configuration, so they are built by hand: a stranger's)."""
    files = tls.issue_node_files(cert_ca, out / node, node, ["127.0.0.1"])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert, files.key)
    server.load_verify_locations(cafile=str(trusted_ca))
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_cert_chain(files.cert, files.key)
    client.load_verify_locations(cafile=str(trusted_ca))
    return server, client


def test_nodes_of_one_ca_link_by_mutual_tls(cas: tuple[Path, Path], tmp_path: Path) -> None:
    ca, _ = cas
    s0, c0 = contexts(ca, tmp_path, "n0")
    s1, c1 = contexts(ca, tmp_path, "n1")
    first, second = {"server_ssl": s0, "client_ssl": c0}, {"server_ssl": s1, "client_ssl": c1}
    run(assert_link_carries(Cluster(2), b"over mutual tls", first, second))


@pytest.mark.parametrize("stranger_dials", [True, False])
def test_a_peer_with_a_certificate_of_another_ca_is_refused(
    cas: tuple[Path, Path], tmp_path: Path, stranger_dials: bool
) -> None:
    """n0 has the right ed25519 key but a certificate another CA signed (and trusts our CA):
    no link either way, nothing delivered."""
    ca, other = cas
    s0, c0 = stranger_contexts(other, ca / tls.CA_CERT, tmp_path, "n0")
    s1, c1 = contexts(ca, tmp_path, "n1")

    async def body() -> None:
        c = Cluster(2, **FAST_RETRY)
        dials = {"n0": stranger_dials, "n1": not stranger_dials}
        stranger = c.make(
            0, peers=[replace(s, dial=dials["n0"]) for s in c.specs()], server_ssl=s0, client_ssl=c0
        )
        honest = c.make(
            1, peers=[replace(s, dial=dials["n1"]) for s in c.specs()], server_ssl=s1, client_ssl=c1
        )
        await c.start(0)
        await c.start(1)
        try:
            dialer = stranger if stranger_dials else honest
            await eventually(lambda: dial_failures(dialer) >= 2, timeout_s=10)
            assert honest.connected_peers() == [] and stranger.connected_peers() == []
            assert "frames_in" not in honest.stats() and "frames_in" not in stranger.stats()
            if not stranger_dials:  # the honest dialer rejected the listener's certificate itself
                assert honest.stats()["dial_failures.tls"] == dial_failures(honest)
        finally:
            await c.stop_all()

    run(body())


def test_a_dialer_without_a_certificate_or_without_tls_is_refused(
    cas: tuple[Path, Path], tmp_path: Path
) -> None:
    ca, _ = cas
    s1, c1 = contexts(ca, tmp_path, "n1")
    no_cert = tls.client_context(ca / tls.CA_CERT)  # trusts the CA, presents nothing

    async def body() -> None:
        c = Cluster(3, **FAST_RETRY)
        peers = [replace(s, dial=s.peer_id == "n1") for s in c.specs()]
        anonymous = c.make(0, peers=peers, client_ssl=no_cert)
        plain = c.make(2, peers=peers)
        listener = c.make(1, dial=lambda me, peer: False, server_ssl=s1, client_ssl=c1)
        for i in range(3):
            await c.start(i)
        try:
            await eventually(
                lambda: dial_failures(anonymous) >= 2 and dial_failures(plain) >= 2, timeout_s=10
            )
            assert listener.connected_peers() == []
            assert "frames_in" not in listener.stats()
        finally:
            await c.stop_all()

    run(body())
