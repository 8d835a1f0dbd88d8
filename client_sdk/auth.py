"""Signed API requests: how a client proves which registered key is asking (docs/api.md).

The scheme (one definition, used by the node to verify and by every client to sign):

- The client signs, with its ed25519 user key in the `api-request` domain on the chain id
  (`wire.crypto.sign_bytes`), the canonical encoding of
  `[1, METHOD, path_and_query, sha256(body), timestamp_ms, nonce, pubkey]`, where
  `path_and_query` is the request target exactly as sent on the wire (percent-encoding
  included, `?query` when there is one), the body hash covers the exact body bytes (empty for
  GET), `timestamp_ms` is the client's Unix time in ms and `nonce` 16 random bytes.
- It sends `X-Orgledger-Key` (pubkey hex), `X-Orgledger-Time` (decimal ms),
  `X-Orgledger-Nonce` (hex) and `X-Orgledger-Signature` (hex).
- Or, with a token from `POST /v1/auth/token` (a signed request): `Authorization: Bearer <token>`.

`RequestSigner.headers(...)` makes the headers for any HTTP library; `LedgerAuth` plugs into
httpx and signs every request it sends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator

import httpx

from wire import codec
from wire.crypto import Domain, Signer, SigningKey, sha256

SCHEME_VERSION = 1
H_KEY, H_TIME, H_NONCE, H_SIG = (
    "x-orgledger-key",
    "x-orgledger-time",
    "x-orgledger-nonce",
    "x-orgledger-signature",
)
NONCE_BYTES = 16


def request_message(
    method: str, target: str, body_hash: bytes, timestamp_ms: int, nonce: bytes, pubkey: bytes
) -> bytes:
    """The bytes an API request signature covers (before the domain and chain id prefix)."""
    return codec.encode_trusted(
        [SCHEME_VERSION, method.upper(), target, body_hash, timestamp_ms, nonce, pubkey]
    )


class RequestSigner:
    """Signs API requests with one user (or node) key for one chain."""

    def __init__(self, key: SigningKey | Signer, chain_id: str) -> None:
        self._signer = key.signer() if isinstance(key, SigningKey) else key
        self.chain_id = chain_id
        self.public = self._signer.public

    def headers(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        now_ms: int | None = None,
        nonce: bytes | None = None,
    ) -> dict[str, str]:
        """Headers for one request to `target` (path and query as sent, e.g. `/v1/alerts?colour=RED`)."""
        ts = int(time.time() * 1000) if now_ms is None else now_ms
        n = os.urandom(NONCE_BYTES) if nonce is None else nonce
        msg = request_message(method, target, sha256(body), ts, n, self.public)
        sig = self._signer.sign(Domain.API_REQUEST, self.chain_id, msg)
        return {H_KEY: self.public.hex(), H_TIME: str(ts), H_NONCE: n.hex(), H_SIG: sig.hex()}


def target_of(url: httpx.URL) -> str:
    """The request target httpx puts on the wire (path and query, percent-encoded)."""
    return url.raw_path.decode("ascii")


class LedgerAuth(httpx.Auth):
    """httpx authentication: signs each request (a new nonce and timestamp every time)."""

    requires_request_body = True

    def __init__(self, signer: RequestSigner) -> None:
        self.signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.signer.headers(request.method, target_of(request.url), request.content))
        yield request


class BearerAuth(httpx.Auth):
    """httpx authentication with a token from `POST /v1/auth/token`."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request
