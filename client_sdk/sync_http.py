"""`SyncDriver`: the synchronous client's HTTP side (httpx): the connection, driving the
`client_sdk.core` flows, identity and status. The base of the method groups that make up
`client_sdk.client.LedgerClient` (`sync_submit`, `sync_reads`, `sync_events`).

Rules:

- Every request is signed with the client's key (`client_sdk.auth`) unless `auth` replaces it,
  for the node at `url` (`node_id`, else learned once from its `GET /v1/status`).
- `run` is the only place that performs a flow's calls and sleeps; every answer's `height` moves
  the session height (`ClientBase._saw`). A transport failure becomes a `core.Reply` with status 0,
  which the flow turns into a retry or a `TransportError`; a TLS certificate that does not
  verify raises `CertificateError` at once (`client_sdk.tls`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from client_sdk import core
from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.clientbase import ClientBase, KeyLike
from client_sdk.errors import UnknownEpochError
from client_sdk.tls import certificate_error, certificate_failure
from client_sdk.tx import PayloadTransform
from wire.genesis import Genesis

T = TypeVar("T")


class SyncDriver(ClientBase):
    """The httpx connection and flow driver of `LedgerClient` (its constructor is this one)."""

    def __init__(
        self,
        url: str,
        genesis: Genesis | str | Path,
        *,
        key: KeyLike | None = None,
        node_id: str | None = None,
        auth: httpx.Auth | None = None,
        timeout_s: float = 10.0,
        submit_timeout_s: float = 30.0,
        read_your_writes: bool = True,
        verify_reads: bool = True,
        verify_events: bool = True,
        transforms: Sequence[PayloadTransform] = (),
        transport: httpx.BaseTransport | None = None,
        ca_file: str | Path | None = None,
        client_cert: tuple[str | Path, str | Path] | None = None,
    ) -> None:
        super().__init__(
            url,
            genesis,
            key=key,
            node_id=node_id,
            timeout_s=timeout_s,
            submit_timeout_s=submit_timeout_s,
            read_your_writes=read_your_writes,
            verify_reads=verify_reads,
            verify_events=verify_events,
            transforms=transforms,
            ca_file=ca_file,
            client_cert=client_cert,
        )
        if auth is None and self.key is not None:
            auth = LedgerAuth(RequestSigner(self.key, self.genesis.chain_id, self.node_id))
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            auth=auth,
            transport=transport,
            verify=self.tls if self.tls is not None else True,
        )

    def close(self) -> None:
        self._http.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the driver
    def _send(self, call: core.Call, timeout_s: float | None = None) -> core.Reply:
        headers = {"content-type": call.content_type} if call.content_type else None
        try:
            resp = self._http.request(
                call.method,
                self.url + call.target,
                content=call.body,
                headers=headers,
                timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            failure = certificate_failure(exc)
            if failure is not None:  # not retried: it will not verify the next time either
                raise certificate_error(self.url, failure) from exc
            return core.Reply(0, error=f"{type(exc).__name__}: {exc}")
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            self._saw(doc.get("height"))
        return core.Reply(resp.status_code, doc, core.parse_retry_after(resp.headers.get("retry-after")))

    def run(self, flow: core.Flow[T]) -> T:
        """Drive a `client_sdk.core` flow: make its calls, sleep its sleeps, return its result."""
        reply: core.Reply | None = None
        while True:
            try:
                step = flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(step, core.Sleep):
                time.sleep(step.seconds)
                reply = None
            else:
                reply = self._send(step)

    def _get(self, path: str, *, min_height: int | None = None, **params: Any) -> dict[str, Any]:
        call = core.Call("GET", path, core.params_of(min_height=self._min_height(min_height), **params))
        return self.run(core.request(call, deadline=self._deadline()))

    def _with_epochs(self, check: Callable[[], T]) -> T:
        """Run a verification; on a header of an epoch not verified yet, learn the epochs, retry once."""
        try:
            return check()
        except UnknownEpochError:
            self._learn_epochs(self._get("/v1/validators", min_height=0))
            return check()

    # ------------------------------------------------------------------ identity and status
    def status(self) -> dict[str, Any]:
        """The node's status (public)."""
        return self.run(core.request(core.Call("GET", "/v1/status"), deadline=self._deadline()))

    def whoami(self) -> dict[str, Any]:
        """The caller as the node sees it: key, org, roles, what it may read."""
        doc = self._get("/v1/auth/whoami", min_height=0)
        self._org_id = str(doc.get("org_id", "")) or None
        return doc

    @property
    def org_id(self) -> str:
        """The org the client's key belongs to (asked once, from /v1/auth/whoami)."""
        if self._org_id is None:
            self.whoami()
        assert self._org_id is not None
        return self._org_id

    def token(self, ttl_s: int = 300) -> str:
        """A bearer token for this node (docs/api.md); `client_sdk.auth.BearerAuth(token)` uses it."""
        call = core.Call(
            "POST", "/v1/auth/token", body=b'{"ttl_s": %d}' % ttl_s, content_type="application/json"
        )
        doc = self.run(core.request(call, deadline=self._deadline(), read=False))
        return str(doc["token"])
