"""The one exception tree of the `network` package.

Two kinds of failure, kept apart (h11 style):

- Local: the caller broke the contract (unknown peer id, bad configuration, network not running).
  These raise.
- Remote: a peer did something wrong or went away (bad handshake, oversize frame, unknown frame
  kind, disconnect). These never raise into the caller's code from a background task: the frame
  or connection is dropped, counted in `PeerNetwork.stats()` and logged. They surface as
  exceptions only through `PeerNetwork.request`, whose caller is waiting for that peer.

Every error carries a stable `code`. Foreign exceptions (aiohttp, OSError, ssl, asyncio
timeouts) are translated at the boundary with `raise ... from exc`.
"""

from __future__ import annotations

from wire.errors import CodedError


class NetworkError(CodedError):
    """Base of every error raised by the network package."""

    code = "network_error"


class ConfigError(NetworkError):
    """A NetworkConfig, PeerSpec or FaultConfig that is inconsistent (local error)."""

    code = "bad_config"


class NotRunning(NetworkError):
    """The PeerNetwork was not started, or has been stopped (local error)."""

    code = "not_running"


class UnknownPeer(NetworkError):
    """A peer id that is not in the configured peer set (local error)."""

    code = "unknown_peer"


class FrameTooLarge(NetworkError):
    """A payload larger than `frame_bytes_max` (local error when sending a request)."""

    code = "too_large"


class PeerUnavailable(NetworkError):
    """The peer has no authenticated link now, or its send queue is full."""

    code = "not_connected"


class PeerDisconnected(PeerUnavailable):
    """The link closed while a request to the peer was outstanding."""

    code = "disconnected"


class RequestTimeout(NetworkError):
    """No response to a request within its timeout."""

    code = "timeout"


class TooManyRequests(NetworkError):
    """`inflight_requests_max` requests to this peer are already outstanding."""

    code = "too_many_requests"


class RemoteError(NetworkError):
    """The peer answered a request with an error (code: `no_handler`, `busy`, `handler_error`,
    `response_too_large`)."""

    code = "remote_error"


class HandshakeError(NetworkError):
    """A handshake that failed; `code` is the reason counted in `handshake_failures.<code>`."""

    code = "handshake_failed"


class ProtocolError(NetworkError):
    """A peer broke the framing protocol after the handshake; the link is closed."""

    code = "protocol_error"
