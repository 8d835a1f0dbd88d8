"""Signed API requests: the message a request signature covers and the headers that carry it.

One definition, used by the node to verify (`node/api/auth.py`) and by every client to sign
(`client_sdk/auth.py`, the CLI, the load generator, the console); docs/api.md describes it.

Scheme 2 (issue 18.1: a request is bound to the node it was made for):

- The client signs, with its ed25519 key in the `api-request` domain on the chain id
  (`wire.crypto.sign_bytes`), the canonical encoding of
  `[2, chain_id, node_id, METHOD, path_and_query, sha256(body), timestamp_ms, nonce, pubkey]`:
  - `chain_id` and `node_id` are the request's audience: the one node (of genesis) it is meant
    for. A node refuses a request whose audience is another node (401 `wrong_audience`), so a
    request captured on its way to one node cannot be replayed to another (each node keeps its
    own nonce cache). The chain id is also in the signing domain's prefix; naming it in the
    message makes the audience read whole.
  - `path_and_query` is the request target exactly as sent on the wire (percent-encoding
    included, `?query` when there is one); the body hash covers the exact body bytes (empty for
    GET); `timestamp_ms` is the client's Unix time in ms and `nonce` 16 random bytes.
- It sends `X-Orgledger-Key` (pubkey hex), `X-Orgledger-Audience` (the node id),
  `X-Orgledger-Time` (decimal ms), `X-Orgledger-Nonce` (hex) and `X-Orgledger-Signature` (hex).
  The audience header only lets the node name the refusal; the signature is checked against the
  node's own id whatever the header says.
- A client learns a node's id from its genesis (the node it means to talk to) or once from the
  public `GET /v1/status` (`node_id`, `chain_id`); the SDK does the latter when not told.

Tokens from `POST /v1/auth/token` (a signed request) are bound the same way: they name the node
that issued them, and only that node accepts them (`node/api/auth.py`).
"""

from __future__ import annotations

from wire import codec

SCHEME_VERSION = 2
H_KEY, H_AUDIENCE, H_TIME, H_NONCE, H_SIG = (
    "x-orgledger-key",
    "x-orgledger-audience",
    "x-orgledger-time",
    "x-orgledger-nonce",
    "x-orgledger-signature",
)
NONCE_BYTES = 16
NONCE_MIN, NONCE_MAX = 8, 32
AUDIENCE_MAX = 64  # node ids are at most 64 characters (wire/genesis.py)


def request_message(
    chain_id: str,
    node_id: str,
    method: str,
    target: str,
    body_hash: bytes,
    timestamp_ms: int,
    nonce: bytes,
    pubkey: bytes,
) -> bytes:
    """The bytes an API request signature covers (before the domain and chain id prefix): the
    request for node `node_id` of chain `chain_id`."""
    return codec.encode_trusted(
        [SCHEME_VERSION, chain_id, node_id, method.upper(), target, body_hash, timestamp_ms, nonce, pubkey]
    )
