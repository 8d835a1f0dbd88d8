"""Signing API requests for any HTTP library (`RequestSigner`) and for httpx (`LedgerAuth`,
`BearerAuth`). The scheme itself (what is signed, which headers carry it) is `wire/reqsign.py`;
docs/api.md describes it. A token from `POST /v1/auth/token` (a signed request) goes in
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator

import httpx

from wire.crypto import Domain, Signer, SigningKey, sha256
from wire.reqsign import H_KEY, H_NONCE, H_SIG, H_TIME, NONCE_BYTES, request_message


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
