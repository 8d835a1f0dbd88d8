"""Signed API requests: the message a request signature covers and the headers that carry it.

One definition, used by the node to verify (`node/api/auth.py`) and by every client to sign
(`client_sdk/auth.py`, the console); docs/api.md describes it:

- The client signs, with its ed25519 key in the `api-request` domain on the chain id
  (`wire.crypto.sign_bytes`), the canonical encoding of
  `[1, METHOD, path_and_query, sha256(body), timestamp_ms, nonce, pubkey]`, where
  `path_and_query` is the request target exactly as sent on the wire (percent-encoding
  included, `?query` when there is one), the body hash covers the exact body bytes (empty for
  GET), `timestamp_ms` is the client's Unix time in ms and `nonce` 16 random bytes.
- It sends `X-Orgledger-Key` (pubkey hex), `X-Orgledger-Time` (decimal ms),
  `X-Orgledger-Nonce` (hex) and `X-Orgledger-Signature` (hex).
"""

from __future__ import annotations

from wire import codec

SCHEME_VERSION = 1
H_KEY, H_TIME, H_NONCE, H_SIG = (
    "x-orgledger-key",
    "x-orgledger-time",
    "x-orgledger-nonce",
    "x-orgledger-signature",
)
NONCE_BYTES = 16
NONCE_MIN, NONCE_MAX = 8, 32


def request_message(
    method: str, target: str, body_hash: bytes, timestamp_ms: int, nonce: bytes, pubkey: bytes
) -> bytes:
    """The bytes an API request signature covers (before the domain and chain id prefix)."""
    return codec.encode_trusted(
        [SCHEME_VERSION, method.upper(), target, body_hash, timestamp_ms, nonce, pubkey]
    )
