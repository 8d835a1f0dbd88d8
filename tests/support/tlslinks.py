"""What the TLS link tests share (tests/unit/network/test_p2p_tls.py, contexts built by hand, and
tests/unit/node/test_tls_links.py, the contexts node.toml's TLS builds): the reconnect settings
under which a refused dial is retried quickly, the count of failed dials, and the check that two
nodes link and the link carries a message and a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from network import PeerId, PeerNetwork
from tests.support.netkit import Cluster, only_lower_dials

FAST_RETRY: dict[str, Any] = {
    "reconnect_base_s": 0.05,
    "reconnect_max_s": 0.3,
    "handshake_timeout_s": 1.0,
    "connect_timeout_s": 1.0,
}


def dial_failures(net: PeerNetwork) -> int:
    """Every failed dial of `net`, whatever the reason (`dial_failures.<reason>` counters)."""
    return sum(v for k, v in net.stats().items() if k.startswith("dial_failures."))


async def assert_link_carries(
    c: Cluster, message: bytes, first: Mapping[str, Any], second: Mapping[str, Any]
) -> None:
    """Nodes 0 and 1 of `c`, made with the settings `first` and `second` (their TLS contexts), link;
    `message` reaches node 1 and a request to it is answered (its bytes reversed). Stops `c`."""

    async def echo(peer: PeerId, data: bytes) -> bytes:
        return data[::-1]

    a = c.make(0, dial=only_lower_dials, **first)
    c.make(1, dial=only_lower_dials, on_request=echo, **second)
    await c.start(0)
    await c.start(1)
    try:
        assert await a.wait_connected(timeout_s=5)
        assert a.send(PeerId("n1"), message)
        await c[1].recorder.wait_for(1)
        assert c[1].recorder.payloads() == [message]
        assert await a.request(PeerId("n1"), b"abc", 2.0) == b"cba"
    finally:
        await c.stop_all()
