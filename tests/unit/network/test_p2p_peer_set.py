"""The peer set follows the ledger (issue 17): `set_peers` links a new node, closes the link of a
node that left (`removed`) or changed its key (`rekeyed`), and from then on the handshake refuses
the old key."""

from __future__ import annotations

from dataclasses import replace

from network import PeerId, PeerNetwork
from tests.support.netkit import Cluster, eventually, run
from wire.crypto import SigningKey

N0, N1, N2 = PeerId("n0"), PeerId("n1"), PeerId("n2")


def test_a_node_added_to_the_set_is_linked_and_a_removed_one_is_closed() -> None:
    async def body() -> None:
        c = Cluster(3)
        first = c.specs()[:2]
        a = c.make(0, peers=first)
        b = c.make(1, peers=first)
        await c.start(0)
        await c.start(1)
        try:
            assert await a.wait_connected(timeout_s=5)
            c.make(2)
            await c.start(2)
            a.set_peers(c.specs())  # n2 was added by the ledger
            b.set_peers(c.specs())
            await eventually(lambda: a.connected_peers() == [N1, N2])
            a.set_peers(c.specs()[:2])  # n2 was removed
            await eventually(lambda: a.connected_peers() == [N1])
            assert a.peer_ids() == [N1]
            await eventually(lambda: a.stats().get("links_closed.removed", 0) >= 1)
        finally:
            await c.stop_all()

    run(body())


def test_a_rotated_out_key_has_its_link_closed_and_is_refused() -> None:
    async def body() -> None:
        c = Cluster(2)
        a: PeerNetwork = c.make(0)
        c.make(1)
        await c.start(0)
        await c.start(1)
        try:
            assert await a.wait_connected(timeout_s=5)
            new = SigningKey.generate()
            rotated = [c[0].spec, replace(c[1].spec, pubkey=new.public)]
            a.set_peers(rotated)  # the ledger rotated n1's key: its old key may not link
            await eventually(lambda: a.connected_peers() == [])
            await eventually(lambda: a.stats().get("links_closed.rekeyed", 0) == 1)
            # n1 keeps dialing with its old key: refused
            await eventually(lambda: a.stats().get("handshake_failures.unknown_key", 0) > 0, timeout_s=8)
            assert a.connected_peers() == []
        finally:
            await c.stop_all()

    run(body())
