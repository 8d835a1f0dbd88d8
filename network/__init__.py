"""Peer transport between nodes: aiohttp websockets, a mutually authenticated handshake, framing
with length limits, bounded queues, request/response, reconnects, optional TLS.

The contract: this package moves opaque byte strings between authenticated peers. It never
decodes an application payload, knows nothing of validators, views or blocks, and imports only
`wire` of the project. What a payload means, and which peer is which validator index, is the
node's business.

Public API (everything else is internal):

    PeerNetwork(config: NetworkConfig, identity: wire.crypto.SigningKey, peers: Sequence[PeerSpec],
                chain_id: str, genesis_hash: bytes,
                on_message: Callable[[PeerId, bytes], Awaitable[None]] | None,
                on_request: Callable[[PeerId, bytes], Awaitable[bytes]] | None)
        async start(*, sock: socket.socket | None = None) -> None
            listen on config.listen_host:listen_port (or on an already bound socket), start dialing
        async stop() -> None                      close all links; idempotent
        send(peer: PeerId, data: bytes) -> bool   non-blocking enqueue; False + a counted drop when
                                                  not connected, the queue is full, or too large
        broadcast(data: bytes) -> int             send to every peer; how many accepted it
        async request(peer: PeerId, data: bytes, timeout_s: float) -> bytes
            RPC over the same link (correlation ids); raises PeerUnavailable, PeerDisconnected,
            RequestTimeout, TooManyRequests, RemoteError, FrameTooLarge, NotRunning, UnknownPeer
        connected_peers() -> list[PeerId]         sorted ids with a live authenticated link
        peer_ids() -> list[PeerId]                the configured peer set (without ourselves)
        unlinked() -> dict[str, str]              why each peer without a link has none (the
                                                  handshake refusals and dial failures counted)
        set_peers(peers: Sequence[PeerSpec]) -> None   replace the peer set (the ledger changed it):
                                                  links of peers that left or changed key close
        stats(peer: PeerId | None = None) -> dict[str, int]   counters, see PeerNetwork.stats
        async wait_connected(peers: Iterable[PeerId] | None = None, timeout_s: float = 10.0) -> bool
        listen_port: int                          the bound port (after start)
        faults: FaultyTransport | None            the test fault injector, when configured

    NetworkConfig(node_id=..., **limits)          every limit with its default, see config.py
    PeerSpec(peer_id, pubkey, host, port, dial=True); PeerSpec.from_node(NodeSpec, dial=, host=, port=)
    PeerId = NewType("PeerId", str)               the node id
    FaultConfig(seed, default=FaultRule(), per_peer={}, reorder_hold_s=0.05), FaultRule(drop,
        duplicate, reorder): test-only frame faults on send()/broadcast()

Callbacks: `on_message(peer, payload)` is awaited for one message at a time per peer, in arrival
order, from a bounded queue (overflow is dropped and counted; an exception is logged and
counted, never propagated). `on_request(peer, payload)` runs concurrently up to
`inbound_handlers_max` per peer, bounded by `request_handler_timeout_s`; its return value is the
response. Peers are passed in full (a PeerSpec for ourselves is allowed and skipped), and any key
not among them is refused at the handshake before a single application frame is read.

Errors: one tree under `network.errors.NetworkError` (see that module for local vs remote).
The handshake protocol and what it signs are documented in `network.handshake`.
"""

from network.config import P2P_PATH, NetworkConfig, PeerId, PeerSpec
from network.errors import (
    ConfigError,
    FrameTooLarge,
    HandshakeError,
    NetworkError,
    NotRunning,
    PeerDisconnected,
    PeerUnavailable,
    ProtocolError,
    RemoteError,
    RequestTimeout,
    TooManyRequests,
    UnknownPeer,
)
from network.faults import FaultConfig, FaultRule, FaultyTransport
from network.link import RequestHandler
from network.peer_network import MessageHandler, PeerNetwork

__all__ = [
    "P2P_PATH",
    "ConfigError",
    "FaultConfig",
    "FaultRule",
    "FaultyTransport",
    "FrameTooLarge",
    "HandshakeError",
    "MessageHandler",
    "NetworkConfig",
    "NetworkError",
    "NotRunning",
    "PeerDisconnected",
    "PeerId",
    "PeerNetwork",
    "PeerSpec",
    "PeerUnavailable",
    "ProtocolError",
    "RemoteError",
    "RequestHandler",
    "RequestTimeout",
    "TooManyRequests",
    "UnknownPeer",
]
