"""Configuration of the peer network: who we are, who the peers are, and every limit.

Rules:

- Every limit has a default and a unit in its name (`_s` seconds, `_bytes`, `_frames`).
- `frame_bytes_max` bounds one application payload; its default holds the largest consensus
  message (`consensus.messages.MAX_MESSAGE_BYTES`). The websocket layer (aiohttp `max_msg_size`)
  is set just above it (payload + frame header), so an oversize message is refused from its
  declared length, before its body is buffered.
- Queues are bounded in frames and in bytes; each byte bound must hold at least one largest frame.
- TLS is on when `server_ssl` / `client_ssl` are given: the server then only accepts TLS and the
  dialer only dials `wss://`. Certificate checking is whatever the client context says.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NewType

from network.errors import ConfigError
from network.faults import FaultConfig
from wire.crypto import PUBKEY_SIZE
from wire.genesis import NodeSpec

PeerId = NewType("PeerId", str)

MIB = 1024 * 1024
P2P_PATH = "/orgledger/p2p/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerSpec:
    """A node we may talk to: its genesis node id and key, and where to dial it."""

    peer_id: PeerId
    pubkey: bytes
    host: str
    port: int
    dial: bool = True

    def __post_init__(self) -> None:
        if not self.peer_id:
            raise ConfigError("a peer id must not be empty")
        if len(self.pubkey) != PUBKEY_SIZE:
            raise ConfigError(f"peer {self.peer_id}: a public key is {PUBKEY_SIZE} bytes")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"peer {self.peer_id}: port {self.port} out of range")

    @classmethod
    def from_node(
        cls, node: NodeSpec, *, dial: bool = True, host: str | None = None, port: int | None = None
    ) -> PeerSpec:
        """A peer from its genesis entry; `host`/`port` override the address (e.g. a fault proxy)."""
        return cls(
            peer_id=PeerId(node.node_id),
            pubkey=node.pubkey,
            host=node.host if host is None else host,
            port=node.p2p_port if port is None else port,
            dial=dial,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkConfig:
    """Everything the PeerNetwork needs besides keys and peers. All sizes and times are limits."""

    node_id: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    # a consensus message may be up to 64 MiB (consensus.messages.MAX_MESSAGE_BYTES; a NEW-VIEW holds
    # q VIEW-CHANGEs, each with the blocks above its stable checkpoint), plus the frame's kind byte:
    # at 16 MiB a NEW-VIEW over a window of full blocks was dropped at every send, and no view
    # change could ever complete
    frame_bytes_max: int = 64 * MIB + 1024
    send_queue_frames_max: int = 1024
    send_queue_bytes_max: int = 96 * MIB
    recv_queue_frames_max: int = 1024
    recv_queue_bytes_max: int = 96 * MIB
    inflight_requests_max: int = 16
    inbound_handlers_max: int = 8
    # connections not yet authenticated, each may hold one frame: 2 x 64 MiB bounds what an
    # unknown client can make the node buffer (8 x 16 MiB before frames grew); a refused dialer
    # retries after its backoff
    pending_handshakes_max: int = 2
    handshake_timeout_s: float = 5.0
    connect_timeout_s: float = 5.0
    heartbeat_s: float = 5.0
    send_timeout_s: float = 10.0
    request_handler_timeout_s: float = 30.0
    reconnect_base_s: float = 0.1
    reconnect_max_s: float = 10.0
    server_ssl: ssl.SSLContext | None = None
    client_ssl: ssl.SSLContext | None = None
    faults: FaultConfig | None = None

    def __post_init__(self) -> None:
        if not self.node_id:
            raise ConfigError("node_id must not be empty")
        if not 0 <= self.listen_port <= 65535:
            raise ConfigError(f"listen_port {self.listen_port} out of range")
        positive_ints = (
            "frame_bytes_max",
            "send_queue_frames_max",
            "send_queue_bytes_max",
            "recv_queue_frames_max",
            "recv_queue_bytes_max",
            "inflight_requests_max",
            "inbound_handlers_max",
            "pending_handshakes_max",
        )
        for name in positive_ints:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.frame_bytes_max > 1024 * MIB:
            raise ConfigError("frame_bytes_max must not exceed 1 GiB")
        for name in ("send_queue_bytes_max", "recv_queue_bytes_max"):
            if getattr(self, name) < self.frame_bytes_max:
                raise ConfigError(f"{name} must hold at least one frame of frame_bytes_max bytes")
        positive_times = (
            "handshake_timeout_s",
            "connect_timeout_s",
            "heartbeat_s",
            "send_timeout_s",
            "request_handler_timeout_s",
            "reconnect_base_s",
            "reconnect_max_s",
        )
        for name in positive_times:
            if not 0.0 < getattr(self, name) <= 3600.0:
                raise ConfigError(f"{name} must be within (0, 3600] seconds")
        if self.reconnect_max_s < self.reconnect_base_s:
            raise ConfigError("reconnect_max_s must be at least reconnect_base_s")


def check_peers(config: NetworkConfig, own_pubkey: bytes, peers: Sequence[PeerSpec]) -> list[PeerSpec]:
    """The peer set without ourselves; refuses duplicate ids or keys and a key that is ours
    under another id (or our id with another key)."""
    ids: set[str] = set()
    keys: set[bytes] = set()
    out: list[PeerSpec] = []
    for p in peers:
        if p.peer_id in ids:
            raise ConfigError(f"peer id {p.peer_id} appears twice")
        if p.pubkey in keys:
            raise ConfigError(f"the key of peer {p.peer_id} is used twice")
        ids.add(p.peer_id)
        keys.add(p.pubkey)
        is_self_id = p.peer_id == config.node_id
        is_self_key = p.pubkey == own_pubkey
        if is_self_id != is_self_key:
            raise ConfigError(f"peer {p.peer_id}: our node id and our key must go together")
        if not is_self_id:
            out.append(p)
    return out
