"""Configuration is checked up front; mistakes are local errors that raise."""

from __future__ import annotations

from dataclasses import replace

import pytest

from network import ConfigError, NetworkConfig, PeerId, PeerNetwork, PeerSpec
from network.config import check_peers
from wire.crypto import SigningKey
from wire.genesis import NodeSpec

KEY = SigningKey.generate()


def spec(peer_id: str, key: bytes | None = None) -> PeerSpec:
    return PeerSpec(
        peer_id=PeerId(peer_id), pubkey=key or SigningKey.generate().public, host="127.0.0.1", port=1
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frame_bytes_max": 0},
        {"send_queue_frames_max": -1},
        {"frame_bytes_max": 2048, "send_queue_bytes_max": 1024},
        {"frame_bytes_max": 2048, "recv_queue_bytes_max": 1024},
        {"heartbeat_s": 0},
        {"reconnect_base_s": 5.0, "reconnect_max_s": 1.0},
        {"listen_port": 70000},
        {"node_id": ""},
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        NetworkConfig(**{"node_id": "n0", **kwargs})  # type: ignore[arg-type]


def test_peer_set_checks() -> None:
    config = NetworkConfig(node_id="n0")
    me = spec("n0", KEY.public)
    others = [spec("n1"), spec("n2")]
    assert check_peers(config, KEY.public, [me, *others]) == others  # ourselves are skipped
    with pytest.raises(ConfigError, match="twice"):
        check_peers(config, KEY.public, [*others, spec("n1")])
    with pytest.raises(ConfigError, match="twice"):
        check_peers(config, KEY.public, [*others, spec("n3", others[0].pubkey)])
    with pytest.raises(ConfigError, match="together"):
        check_peers(config, KEY.public, [spec("n0")])  # our id with another key
    with pytest.raises(ConfigError, match="together"):
        check_peers(config, KEY.public, [spec("n9", KEY.public)])  # our key under another id
    with pytest.raises(ConfigError):
        spec("n1", b"short")


def test_peer_spec_from_a_genesis_node() -> None:
    node = NodeSpec(
        node_id="cn-1",
        org_id="cn",
        role="validator",
        pubkey=KEY.public,
        host="10.0.0.1",
        p2p_port=7000,
        api_port=8000,
    )
    p = PeerSpec.from_node(node)
    assert (p.peer_id, p.pubkey, p.host, p.port, p.dial) == ("cn-1", KEY.public, "10.0.0.1", 7000, True)
    assert PeerSpec.from_node(node, host="127.0.0.1", port=9999, dial=False) == replace(
        p, host="127.0.0.1", port=9999, dial=False
    )


def test_network_constructor_validates_peers() -> None:
    with pytest.raises(ConfigError):
        PeerNetwork(NetworkConfig(node_id="n0"), KEY, [spec("n0")], "chain", b"\0" * 32, None, None)


def test_the_default_frame_holds_the_largest_consensus_message() -> None:
    from consensus.messages import MAX_MESSAGE_BYTES

    cfg = NetworkConfig(node_id="n0")
    assert cfg.frame_bytes_max >= MAX_MESSAGE_BYTES + 1  # the frame's kind byte, then the message


def test_what_unauthenticated_connections_can_make_the_node_buffer_stays_bounded() -> None:
    cfg = NetworkConfig(node_id="n0")
    assert cfg.pending_handshakes_max * (cfg.frame_bytes_max + 16) <= 130 * 1024 * 1024
