"""The handshake: who gets a link, who is refused, and that refused keys never get a frame read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace

import pytest

from network import PeerId, PeerSpec, handshake
from network.errors import HandshakeError
from network.framing import message
from tests.support.netkit import CHAIN_ID, GENESIS_HASH, Cluster, RawWs, eventually, only_lower_dials, run
from wire import codec
from wire.crypto import Domain, SigningKey, verify


def me(
    node_id: str, key: SigningKey, chain_id: str = CHAIN_ID, genesis: bytes = GENESIS_HASH
) -> handshake.Identity:
    return handshake.Identity(node_id=node_id, signer=key.signer(), chain_id=chain_id, genesis_hash=genesis)


async def raw_dial(port: int, ident: handshake.Identity, expected: PeerSpec) -> tuple[RawWs, str]:
    """Run the dialer's side over a raw socket; the outcome code ("ok" or the refusal)."""
    ws = await RawWs.connect(port)
    try:
        await handshake.dial(ws, ident, expected)
        await handshake.read_result(ws)
    except HandshakeError as exc:
        with contextlib.suppress(TimeoutError):
            await ws.closed_within(2)  # answers the listener's close
        return ws, exc.code
    return ws, "ok"


@pytest.mark.parametrize("dialer", [0, 1])
def test_handshake_links_in_either_direction(dialer: int) -> None:
    async def body() -> None:
        c = Cluster(2)
        c.make(0, dial=lambda me_, peer: me_ == f"n{dialer}")
        c.make(1, dial=lambda me_, peer: me_ == f"n{dialer}")
        await c.start(0)
        await c.start(1)
        try:
            assert await c[0].net.wait_connected(timeout_s=5)
            assert await c[1].net.wait_connected(timeout_s=5)
            assert c[0].net.send(PeerId("n1"), b"from n0")
            assert c[1].net.send(PeerId("n0"), b"from n1")
            await c[0].recorder.wait_for(1)
            await c[1].recorder.wait_for(1)
            assert c[1].recorder.got == [("n0", b"from n0")]
            assert c[0].recorder.got == [("n1", b"from n1")]
            dialer_stats = c[dialer].net.stats()
            assert dialer_stats["dials"] == 1 and dialer_stats["links_opened"] == 1
            assert c[1 - dialer].net.stats().get("dials", 0) == 0
        finally:
            await c.stop_all()

    run(body())


def test_unknown_key_is_refused_and_its_frames_never_processed() -> None:
    async def body() -> None:
        c = Cluster(2)
        c.make(1)
        await c.start(1)
        try:
            intruder = me("n0", SigningKey.generate())  # claims a real id with a foreign key
            ws, outcome = await raw_dial(c[1].port, intruder, c[1].spec)
            assert outcome == "peer_refused.unknown_key"
            ws.abort()
            # An intruder who does not wait for the answer and pushes frames anyway:
            ws = await RawWs.connect(c[1].port)
            await ws.send(codec.encode(["hello", 1, CHAIN_ID, GENESIS_HASH, "x", b"k" * 32, b"n" * 32, "n1"]))
            for _ in range(20):
                ws.send_frame(message(b"consensus message"))
            await ws.closed_within(5)  # the listener hangs up
            ws.abort()
            await asyncio.sleep(0.05)
            stats = c[1].net.stats()
            assert stats["handshake_failures.unknown_key"] == 2
            assert c[1].recorder.got == []
            assert "frames_in" not in stats
            assert c[1].net.connected_peers() == []
        finally:
            await c.stop_all()

    run(body())


@pytest.mark.parametrize(
    ("chain_id", "genesis", "reason"),
    [("other-chain", GENESIS_HASH, "wrong_chain"), (CHAIN_ID, b"\x01" * 32, "wrong_genesis")],
)
def test_wrong_chain_or_genesis_is_refused(chain_id: str, genesis: bytes, reason: str) -> None:
    async def body() -> None:
        c = Cluster(2, reconnect_base_s=0.05, reconnect_max_s=0.1)
        c.make(0, dial=only_lower_dials, chain_id=chain_id, genesis_hash=genesis)
        c.make(1, dial=only_lower_dials)
        await c.start(0)
        await c.start(1)
        try:
            await eventually(lambda: c[1].net.stats().get(f"handshake_failures.{reason}", 0) >= 2)
            assert c[0].net.stats()[f"handshake_failures.peer_refused.{reason}"] >= 2
            assert c[0].net.connected_peers() == [] and c[1].net.connected_peers() == []
        finally:
            await c.stop_all()

    run(body())


@dataclass
class ForgedSigner:
    """Claims one public key and signs with another."""

    public: bytes
    real: SigningKey

    def sign(self, domain: Domain, chain_id: str, payload: bytes) -> bytes:
        return self.real.sign(domain, chain_id, payload)


def test_a_key_other_than_the_claimed_one_is_refused() -> None:
    async def body() -> None:
        c = Cluster(3)
        c.make(1)
        await c.start(1)
        try:
            # n2's real key, but claiming to be n0.
            _, outcome = await raw_dial(c[1].port, me("n0", c[2].key), c[1].spec)
            assert outcome == "peer_refused.key_mismatch"
            # n0's public key, but signatures made with another key.
            forged = handshake.Identity(
                node_id="n0",
                signer=ForgedSigner(c[0].key.public, SigningKey.generate()),  # type: ignore[arg-type]
                chain_id=CHAIN_ID,
                genesis_hash=GENESIS_HASH,
            )
            _, outcome = await raw_dial(c[1].port, forged, c[1].spec)
            assert outcome == "peer_refused.bad_signature"
            stats = c[1].net.stats()
            assert stats["handshake_failures.key_mismatch"] == 1
            assert stats["handshake_failures.bad_signature"] == 1
            assert c[1].net.connected_peers() == []
        finally:
            await c.stop_all()

    run(body())


def test_dialer_refuses_a_listener_that_is_not_who_it_dialed() -> None:
    async def body() -> None:
        c = Cluster(3, reconnect_base_s=0.05, reconnect_max_s=0.1)
        # n0 believes n1 lives at n2's port: n2 refuses to be taken for n1.
        wrong_addr = [replace(s, port=c[2].port) if s.peer_id == "n1" else s for s in c.specs()]
        c.make(0, peers=[replace(s, dial=s.peer_id == "n1") for s in wrong_addr])
        # n0 has a wrong key for n2: n2 answers with its real key, which n0 refuses.
        impostor = SigningKey.generate()
        wrong_key = [replace(s, pubkey=impostor.public) if s.peer_id == "n2" else s for s in c.specs()]
        c.make(1, peers=[replace(s, dial=s.peer_id == "n2") for s in wrong_key])
        c.make(2, dial=lambda a, b: False)
        for i in range(3):
            await c.start(i)
        try:
            await eventually(
                lambda: c[0].net.stats().get("handshake_failures.peer_refused.wrong_peer", 0) >= 1
            )
            await eventually(lambda: c[1].net.stats().get("handshake_failures.key_mismatch", 0) >= 1)
            assert c[2].net.stats()["handshake_failures.wrong_peer"] >= 1
            assert c[2].net.stats()["handshake_failures.peer_refused.key_mismatch"] >= 1
            assert all(n.net.connected_peers() == [] for n in c.nodes)
        finally:
            await c.stop_all()

    run(body())


def test_duplicate_connection_from_the_same_key_is_refused_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body() -> None:
        c = Cluster(2)
        c.make(0, dial=only_lower_dials)
        c.make(1, dial=only_lower_dials)
        await c.start(0)
        await c.start(1)
        try:
            assert await c[1].net.wait_connected(timeout_s=5)
            ws, outcome = await raw_dial(c[1].port, me("n0", c[0].key), c[1].spec)
            ws.abort()
            assert outcome == "peer_refused.duplicate"
            stats = c[1].net.stats()
            assert stats["handshake_failures.duplicate"] == 1
            assert stats["links_opened"] == 1
            assert c[1].net.connected_peers() == ["n0"]
            assert c[0].net.send(PeerId("n1"), b"still here")
            await c[1].recorder.wait_for(1)
        finally:
            await c.stop_all()

    with caplog.at_level(logging.WARNING, logger="orgledger.network"):
        run(body())
    assert any("already connected" in r.getMessage() for r in caplog.records)


def test_simultaneous_dial_resolves_to_one_link() -> None:
    async def body() -> None:
        c = Cluster(4)
        for i in range(4):
            c.make(i)  # everyone dials everyone
        await asyncio.gather(*(c.start(i) for i in range(4)))
        try:
            for n in c.nodes:
                assert await n.net.wait_connected(timeout_s=5)

            def live_links(s: dict[str, int]) -> int:
                return s["links_opened"] - sum(v for k, v in s.items() if k.startswith("links_closed."))

            # Losing links close; exactly one per pair stays.
            await eventually(lambda: all(live_links(n.net.stats()) == 3 for n in c.nodes))
            await asyncio.sleep(0.2)
            for n in c.nodes:
                s = n.net.stats()
                assert len(n.net.connected_peers()) == 3
                assert live_links(s) == 3, s
                assert set(k for k in s if k.startswith("links_closed.")) <= {
                    "links_closed.replaced",
                    "links_closed.peer_closed",
                }
            # Both ends agree on the link: a message round trip on every pair.
            for a in c.nodes:
                for b in c.nodes:
                    if a is not b:
                        assert a.net.send(PeerId(b.node_id), a.node_id.encode())
            for n in c.nodes:
                await n.recorder.wait_for(3)
                assert sorted(p for p, _ in n.recorder.got) == sorted(
                    m.node_id for m in c.nodes if m is not n
                )
        finally:
            await c.stop_all()

    run(body())


# -- the protocol itself, without sockets ---------------------------------------------------------


class Pipe:
    """Two in-memory channels joined back to back; `log` records what each side sent."""

    def __init__(self) -> None:
        self.a_to_b: asyncio.Queue[bytes] = asyncio.Queue()
        self.b_to_a: asyncio.Queue[bytes] = asyncio.Queue()
        self.log: list[tuple[str, bytes]] = []

    def end(self, side: str) -> End:
        return End(self, side)


@dataclass
class End:
    pipe: Pipe
    side: str

    async def send(self, data: bytes) -> None:
        self.pipe.log.append((self.side, data))
        await (self.pipe.a_to_b if self.side == "a" else self.pipe.b_to_a).put(data)

    async def recv(self) -> bytes:
        return await (self.pipe.b_to_a if self.side == "a" else self.pipe.a_to_b).get()


def test_recorded_handshake_cannot_be_replayed_or_reflected() -> None:
    ka, kb = SigningKey.generate(), SigningKey.generate()
    a_spec = PeerSpec(peer_id=PeerId("a"), pubkey=ka.public, host="h", port=1)
    b_spec = PeerSpec(peer_id=PeerId("b"), pubkey=kb.public, host="h", port=2)

    async def session(pipe: Pipe) -> PeerSpec:
        accepted, _ = await asyncio.gather(
            handshake.accept(pipe.end("b"), me("b", kb), {ka.public: a_spec}),
            handshake.dial(pipe.end("a"), me("a", ka), b_spec),
        )
        return accepted

    async def replay(recorded: list[tuple[str, bytes]]) -> None:
        """Play the dialer's recorded messages to a fresh listener."""
        pipe = Pipe()
        dialer_msgs = [m for side, m in recorded if side == "a"]
        listener = asyncio.create_task(handshake.accept(pipe.end("b"), me("b", kb), {ka.public: a_spec}))
        for m in dialer_msgs:
            await pipe.end("a").send(m)
        with pytest.raises(HandshakeError) as err:
            await listener
        assert err.value.code == "bad_signature"

    async def body() -> None:
        pipe = Pipe()
        assert await session(pipe) == a_spec
        await replay(pipe.log)

    run(body())

    # Reflection: a listener's signature is never a valid dialer signature for the same transcript.
    parts = (GENESIS_HASH, "a", ka.public, b"\x01" * 32, "b", kb.public, b"\x02" * 32)
    sig = kb.sign(Domain.HANDSHAKE, CHAIN_ID, handshake.transcript("listener", *parts))
    assert verify(Domain.HANDSHAKE, CHAIN_ID, kb.public, handshake.transcript("listener", *parts), sig)
    assert not verify(Domain.HANDSHAKE, CHAIN_ID, kb.public, handshake.transcript("dialer", *parts), sig)
    assert not verify(Domain.HANDSHAKE, "other", kb.public, handshake.transcript("listener", *parts), sig)


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (b"\xc1", "malformed"),
        (codec.encode(["hello", 2, CHAIN_ID]), "bad_version"),
        (codec.encode(["auth", 1, b"x"]), "malformed"),
        (codec.encode({"hello": 1}), "malformed"),
        (b"\x92" + b"\xa5hello" + b"\x01", "malformed"),  # truncated
        (b"x" * (handshake.HANDSHAKE_BYTES_MAX + 1), "too_large"),
    ],
)
def test_malformed_hello_is_refused(first: bytes, code: str) -> None:
    kb = SigningKey.generate()

    async def body() -> None:
        pipe = Pipe()
        await pipe.end("a").send(first)
        with pytest.raises(HandshakeError) as err:
            await handshake.accept(pipe.end("b"), me("b", kb), {})
        assert err.value.code == code

    run(body())


def test_handshake_timeout_is_counted() -> None:
    async def body() -> None:
        c = Cluster(2, handshake_timeout_s=0.2)
        c.make(1)
        await c.start(1)
        try:
            ws = await RawWs.connect(c[1].port)  # upgrade, then say nothing
            await ws.closed_within(3)  # the listener hangs up
            await eventually(lambda: c[1].net.stats().get("handshake_failures.timeout", 0) == 1)
            ws.abort()
        finally:
            await c.stop_all()

    run(body())


def test_a_node_not_in_the_peers_set_yet_says_why_it_has_no_link() -> None:
    """n0 (added after genesis, say) dials n1, whose peer set has another key for n0."""

    async def body() -> None:
        c = Cluster(2)
        c.make(0, dial=only_lower_dials)
        c.make(1, peers=[replace(c[0].spec, pubkey=SigningKey.generate().public), c[1].spec])
        await c.start(1)
        await c.start(0)
        try:
            await eventually(lambda: "peer_refused.unknown_key" in c[0].net.unlinked().get("n1", ""))
            assert c[0].net.unlinked()["n1"].startswith("has no link (peer_refused.unknown_key x")
            assert c[0].net.connected_peers() == []
        finally:
            await c.stop_all()

    run(body())
