"""The mutually authenticated handshake that opens every peer link.

Four messages, each one binary websocket message of canonical msgpack (`wire.codec`), at most
`HANDSHAKE_BYTES_MAX` bytes, checked before decoding:

    dialer   -> listener  HELLO     ["hello", 1, chain_id, genesis_hash, dialer_id, dialer_pubkey,
                                     dialer_nonce, listener_id]
    listener -> dialer    CHALLENGE ["challenge", 1, listener_id, listener_pubkey, listener_nonce,
                                     listener_sig]
    dialer   -> listener  AUTH      ["auth", 1, dialer_sig]
    listener -> dialer    RESULT    ["result", 1, "ok" | reason]

Either side may send RESULT with a refusal reason instead of its next message, then close.

What is signed: both signatures are ed25519 in `Domain.HANDSHAKE` on the chain id (so
`wire.crypto.sign_bytes` prefixes the domain and the chain id) over the transcript

    codec.encode(["orgledger-p2p/1", role, genesis_hash, dialer_id, dialer_pubkey, dialer_nonce,
                  listener_id, listener_pubkey, listener_nonce])

with role "listener" or "dialer". Hence:

- replay: each side's nonce is 32 fresh random bytes, and each signature covers both, so a
  recorded signature is useless on any other connection;
- reflection: the role is signed, so a listener's signature can never pass as a dialer's;
- identity: each signature covers both claimed keys and ids, and is verified with the key the
  *local* configuration holds for the claimed id (a key not in the peer set is refused before
  anything is signed for it; a key that belongs to another id is `key_mismatch`);
- chain: a different chain id or genesis hash is refused in HELLO and could not verify anyway.

The listener only learns the dialer's identity after AUTH verifies; no application frame is read
before RESULT "ok". This module does no IO of its own: it talks through a `Channel`.

Limit: the handshake authenticates the connection's two ends at its start; it is not bound to
the TLS channel and frames after it carry no MAC of their own. Without TLS, an active
man-in-the-middle that relays a handshake can afterwards drop, read or alter frames (consensus
messages are signed end to end, so an altered one fails verification in the node, not here).
With TLS and certificate verification in the client context, that is not possible.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from network.config import PeerSpec
from network.errors import HandshakeError
from wire import codec
from wire.crypto import HASH_SIZE, PUBKEY_SIZE, SIGNATURE_SIZE, Domain, Signer, verify
from wire.errors import DecodeError

VERSION = 1
PROTOCOL = "orgledger-p2p/1"
NONCE_BYTES = 32
HANDSHAKE_BYTES_MAX = 4096
OK = "ok"
_LIMITS = codec.Limits(
    max_bytes=HANDSHAKE_BYTES_MAX, max_str_len=256, max_bin_len=128, max_array_len=16, max_map_len=1
)
# Refusal reasons a peer may send; anything else is counted as "other", so a hostile listener
# cannot grow our counters with made-up reasons.
REASONS = frozenset(
    {
        "bad_signature",
        "bad_version",
        "duplicate",
        "key_mismatch",
        "malformed",
        "self",
        "shutting_down",
        "tiebreak",
        "too_large",
        "unknown_key",
        "wrong_chain",
        "wrong_genesis",
        "wrong_peer",
    }
)


class Channel(Protocol):
    """One message at a time, in order. `recv` raises HandshakeError when the peer closed
    (`closed`) or sent something that is not one binary message within the limit."""

    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who we are on which chain."""

    node_id: str
    signer: Signer
    chain_id: str
    genesis_hash: bytes


def transcript(
    role: str,
    genesis_hash: bytes,
    dialer_id: str,
    dialer_pubkey: bytes,
    dialer_nonce: bytes,
    listener_id: str,
    listener_pubkey: bytes,
    listener_nonce: bytes,
) -> bytes:
    """The bytes each side signs (role is "dialer" or "listener")."""
    return codec.encode(
        [
            PROTOCOL,
            role,
            genesis_hash,
            dialer_id,
            dialer_pubkey,
            dialer_nonce,
            listener_id,
            listener_pubkey,
            listener_nonce,
        ]
    )


def encode_result(reason: str) -> bytes:
    return codec.encode(["result", VERSION, reason])


def _parse(data: bytes, expected: str, arity: int) -> list[Any]:
    """Decode one handshake message of tag `expected`; a RESULT in its place is a refusal."""
    if len(data) > HANDSHAKE_BYTES_MAX:
        raise HandshakeError("handshake message over the limit", code="too_large")
    try:
        msg = codec.decode(data, _LIMITS)
    except DecodeError as exc:
        raise HandshakeError(f"undecodable handshake message: {exc.message}", code="malformed") from exc
    if not isinstance(msg, list) or len(msg) < 2 or not isinstance(msg[0], str):
        raise HandshakeError("a handshake message is [tag, version, ...]", code="malformed")
    if msg[1] != VERSION:
        raise HandshakeError(f"handshake version {msg[1]!r} is not {VERSION}", code="bad_version")
    if msg[0] == "result" and expected != "result":
        reason = msg[2] if len(msg) == 3 and isinstance(msg[2], str) else ""
        raise HandshakeError(f"peer refused: {reason}", code=refusal_code(reason))
    if msg[0] != expected or len(msg) != arity:
        raise HandshakeError(f"expected {expected}, got {msg[0]!r}", code="malformed")
    return msg


def refusal_code(reason: str) -> str:
    return "peer_refused." + (reason if reason in REASONS else "other")


def _bytes(value: object, size: int, code: str = "malformed") -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise HandshakeError("handshake field is not bytes of the right size", code=code)
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise HandshakeError("handshake field is not a string", code="malformed")
    return value


async def dial(ch: Channel, me: Identity, expected: PeerSpec) -> None:
    """Authenticate the listener as `expected` and ourselves to it. Returns when AUTH is sent;
    the caller then reads the listener's RESULT with `read_result`."""
    nonce_d = secrets.token_bytes(NONCE_BYTES)
    hello = ["hello", VERSION, me.chain_id, me.genesis_hash, me.node_id, me.signer.public, nonce_d]
    await ch.send(codec.encode([*hello, expected.peer_id]))
    msg = _parse(await ch.recv(), "challenge", 6)
    listener_id = _text(msg[2])
    listener_pub = _bytes(msg[3], PUBKEY_SIZE)
    nonce_l = _bytes(msg[4], NONCE_BYTES)
    sig_l = _bytes(msg[5], SIGNATURE_SIZE)
    if listener_id != expected.peer_id:
        raise HandshakeError(f"dialed {expected.peer_id}, reached {listener_id!r}", code="wrong_peer")
    if listener_pub != expected.pubkey:
        raise HandshakeError(f"{listener_id} presented a key that is not its own", code="key_mismatch")
    parts = (me.genesis_hash, me.node_id, me.signer.public, nonce_d, listener_id, listener_pub, nonce_l)
    if not verify(Domain.HANDSHAKE, me.chain_id, listener_pub, transcript("listener", *parts), sig_l):
        raise HandshakeError(f"{listener_id}: handshake signature does not verify", code="bad_signature")
    sig_d = me.signer.sign(Domain.HANDSHAKE, me.chain_id, transcript("dialer", *parts))
    await ch.send(codec.encode(["auth", VERSION, sig_d]))


async def read_result(ch: Channel) -> None:
    """Wait for the listener's RESULT; raises HandshakeError `peer_refused.<reason>` unless ok."""
    msg = _parse(await ch.recv(), "result", 3)
    reason = _text(msg[2])
    if reason != OK:
        raise HandshakeError(f"peer refused: {reason}", code=refusal_code(reason))


async def accept(ch: Channel, me: Identity, peers_by_key: Mapping[bytes, PeerSpec]) -> PeerSpec:
    """Authenticate a dialer; returns its PeerSpec once its AUTH signature verifies.
    The caller decides whether to admit it and sends RESULT (`encode_result`)."""
    msg = _parse(await ch.recv(), "hello", 8)
    chain_id = _text(msg[2])
    genesis_hash = _bytes(msg[3], HASH_SIZE)
    dialer_id = _text(msg[4])
    dialer_pub = _bytes(msg[5], PUBKEY_SIZE)
    nonce_d = _bytes(msg[6], NONCE_BYTES)
    listener_id = _text(msg[7])
    if chain_id != me.chain_id:
        raise HandshakeError(f"chain id {chain_id!r} is not ours", code="wrong_chain")
    if genesis_hash != me.genesis_hash:
        raise HandshakeError("genesis hash is not ours", code="wrong_genesis")
    if listener_id != me.node_id:
        raise HandshakeError(f"the dialer wants {listener_id!r}, we are {me.node_id}", code="wrong_peer")
    if dialer_pub == me.signer.public:
        raise HandshakeError("a connection from our own key", code="self")
    spec = peers_by_key.get(dialer_pub)
    if spec is None:
        raise HandshakeError(f"key {dialer_pub.hex()[:16]}.. is not in the peer set", code="unknown_key")
    if spec.peer_id != dialer_id:
        raise HandshakeError(f"{dialer_id!r} presented the key of {spec.peer_id}", code="key_mismatch")
    nonce_l = secrets.token_bytes(NONCE_BYTES)
    parts = (me.genesis_hash, dialer_id, dialer_pub, nonce_d, me.node_id, me.signer.public, nonce_l)
    sig_l = me.signer.sign(Domain.HANDSHAKE, me.chain_id, transcript("listener", *parts))
    await ch.send(codec.encode(["challenge", VERSION, me.node_id, me.signer.public, nonce_l, sig_l]))
    auth = _parse(await ch.recv(), "auth", 3)
    sig_d = _bytes(auth[2], SIGNATURE_SIZE, code="bad_signature")
    if not verify(Domain.HANDSHAKE, me.chain_id, dialer_pub, transcript("dialer", *parts), sig_d):
        raise HandshakeError(f"{dialer_id}: handshake signature does not verify", code="bad_signature")
    return spec
