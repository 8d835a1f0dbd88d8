"""Signing API requests for any HTTP library (`RequestSigner`) and for httpx (`LedgerAuth`,
`BearerAuth`). The scheme itself (what is signed, which headers carry it) is `wire/reqsign.py`;
docs/api.md describes it. A token from `POST /v1/auth/token` (a signed request) goes in
`Authorization: Bearer <token>`.

Rules:

- Every signed request names its audience, the node it is for (chain id and node id): a node
  refuses a request made for another (`wrong_audience`). `RequestSigner(key, chain_id, node_id)`
  signs for `node_id` unless `headers(..., node_id=...)` names another.
- `node_in_genesis(genesis, url)` names the genesis node listening at a URL's host and port (the
  clients use it first). `LedgerAuth` learns the audience itself when nobody says: once per node
  address (scheme, host, port) it asks the public `GET /v1/status` for the node's `node_id` and
  checks the node's `chain_id` is the signer's. That answer is not authenticated: over a network
  you do not trust, give the node id (from your genesis) instead of learning it.
- Tokens are bound to the node that issued them, like signed requests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncGenerator, Generator
from urllib.parse import urlsplit

import httpx

from client_sdk.errors import LedgerError
from wire.crypto import Domain, Signer, SigningKey, sha256
from wire.genesis import Genesis
from wire.reqsign import H_AUDIENCE, H_KEY, H_NONCE, H_SIG, H_TIME, NONCE_BYTES, request_message

STATUS_PATH = "/v1/status"


class RequestSigner:
    """Signs API requests with one user (or node) key for one chain (and, by default, one node)."""

    def __init__(self, key: SigningKey | Signer, chain_id: str, node_id: str | None = None) -> None:
        self._signer = key.signer() if isinstance(key, SigningKey) else key
        self.chain_id = chain_id
        self.node_id = node_id
        self.public = self._signer.public

    def for_node(self, node_id: str) -> RequestSigner:
        """The same key and chain, signing for `node_id`."""
        return RequestSigner(self._signer, self.chain_id, node_id)

    def headers(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        node_id: str | None = None,
        now_ms: int | None = None,
        nonce: bytes | None = None,
    ) -> dict[str, str]:
        """Headers for one request to `target` (path and query as sent, e.g. `/v1/alerts?colour=RED`)
        of node `node_id` (default: the signer's node)."""
        audience = node_id if node_id is not None else self.node_id
        if audience is None:
            raise LedgerError(
                "a signed request names the node it is for: give RequestSigner(node_id=...) or "
                "headers(node_id=...) (the node_id of GET /v1/status)"
            )
        ts = int(time.time() * 1000) if now_ms is None else now_ms
        n = os.urandom(NONCE_BYTES) if nonce is None else nonce
        msg = request_message(self.chain_id, audience, method, target, sha256(body), ts, n, self.public)
        sig = self._signer.sign(Domain.API_REQUEST, self.chain_id, msg)
        return {
            H_KEY: self.public.hex(),
            H_AUDIENCE: audience,
            H_TIME: str(ts),
            H_NONCE: n.hex(),
            H_SIG: sig.hex(),
        }


def target_of(url: httpx.URL) -> str:
    """The request target httpx puts on the wire (path and query, percent-encoded)."""
    return url.raw_path.decode("ascii")


def node_in_genesis(genesis: Genesis, url: str) -> str | None:
    """The id of the genesis node whose API listens at `url`'s host and port (None if none does)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    found = [n.node_id for n in genesis.nodes if n.host == host and n.api_port == port]
    return found[0] if len(found) == 1 else None


def node_of_status(doc: object, chain_id: str, where: str) -> str:
    """The node id a `GET /v1/status` answer names, checked against the chain the client signs for."""
    if not isinstance(doc, dict) or not isinstance(doc.get("node_id"), str) or not doc["node_id"]:
        raise LedgerError(f"{where}: the status answer names no node_id")
    if doc.get("chain_id") != chain_id:
        raise LedgerError(f"{where}: the node is on chain {doc.get('chain_id')!r}, not {chain_id!r}")
    return str(doc["node_id"])


class LedgerAuth(httpx.Auth):
    """httpx authentication: signs each request (a new nonce and timestamp every time) for the node
    it goes to: `node_id`, else the signer's, else learned once per node address from its
    `GET /v1/status`."""

    def __init__(self, signer: RequestSigner, node_id: str | None = None) -> None:
        self.signer = signer
        self.node_id = node_id if node_id is not None else signer.node_id
        self._learned: dict[tuple[bytes, bytes, int | None], str] = {}

    @staticmethod
    def _origin(url: httpx.URL) -> tuple[bytes, bytes, int | None]:
        return url.raw_scheme, url.raw_host, url.port

    def _audience(self, url: httpx.URL) -> str | None:
        return self.node_id if self.node_id is not None else self._learned.get(self._origin(url))

    def _probe(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request("GET", request.url.copy_with(raw_path=STATUS_PATH.encode()))

    def _learn(self, request: httpx.Request, response: httpx.Response) -> str:
        where = f"{request.url.scheme}://{request.url.netloc.decode('ascii', 'replace')}"
        if response.status_code != 200:  # a transport-level failure to the SDK's flows: retried
            raise httpx.HTTPStatusError(
                f"{where}: GET {STATUS_PATH} answered {response.status_code}; cannot learn the node id",
                request=response.request,
                response=response,
            )
        try:
            doc = json.loads(response.content)
        except ValueError:
            doc = None
        node_id = node_of_status(doc, self.signer.chain_id, where)
        self._learned[self._origin(request.url)] = node_id
        return node_id

    def _sign(self, request: httpx.Request, audience: str) -> httpx.Request:
        request.headers.update(
            self.signer.headers(request.method, target_of(request.url), request.content, node_id=audience)
        )
        return request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        audience = self._audience(request.url)
        if audience is None:
            response = yield self._probe(request)
            response.read()
            audience = self._learn(request, response)
        yield self._sign(request, audience)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        audience = self._audience(request.url)
        if audience is None:
            response = yield self._probe(request)
            await response.aread()
            audience = self._learn(request, response)
        yield self._sign(request, audience)


class BearerAuth(httpx.Auth):
    """httpx authentication with a token from `POST /v1/auth/token` (valid on the node that issued it)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request
