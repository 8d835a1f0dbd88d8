"""`AsyncLedgerClient`: the asyncio client (aiohttp), with the surface of `LedgerClient` (every
method awaited; lists and events are async iterators). Same logic (`client_sdk.core`,
`client_sdk.readcore`), same verification, same exceptions; rules in client_sdk/client.py and
docs/sdk.md. Its reads are `client_sdk.aio_reads`.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from client_sdk import core, readcore
from client_sdk.aio_reads import AsyncReadMethods
from client_sdk.auth import STATUS_PATH, RequestSigner, node_of_status
from client_sdk.clientbase import (
    EVENTS_READ_TIMEOUT_S,
    RECONNECT_FIRST_S,
    RECONNECT_MAX_S,
    KeyLike,
)
from client_sdk.errors import ApiError, LedgerError, NotFoundError, TransportError, UnknownEpochError
from client_sdk.events import EventCursor, SseParser, final_error, kinds_of
from client_sdk.models import Committed, Event
from client_sdk.proofs import VerifiedTx, make_bundle, proof_from_json
from client_sdk.tls import certificate_error, certificate_failure
from client_sdk.tx import Payload, PayloadTransform
from wire.genesis import Genesis
from wire.types import Block, BlockHeader, CommitCertificate, SignedTransaction

T = TypeVar("T")


class AsyncLedgerClient(AsyncReadMethods):
    """An asyncio client of one node (aiohttp). Use `async with AsyncLedgerClient(...) as client`.

    `bearer` replaces request signing with a token from `POST /v1/auth/token`; `verify_reads`,
    `verify_events`, `ca_file` and `client_cert` as for `LedgerClient`."""

    def __init__(
        self,
        url: str,
        genesis: Genesis | str | Path,
        *,
        key: KeyLike | None = None,
        node_id: str | None = None,
        bearer: str | None = None,
        timeout_s: float = 10.0,
        submit_timeout_s: float = 30.0,
        read_your_writes: bool = True,
        verify_reads: bool = True,
        verify_events: bool = True,
        transforms: Sequence[PayloadTransform] = (),
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
        self._signer_headers = (
            RequestSigner(self.key, self.genesis.chain_id, self.node_id)
            if self.key is not None and bearer is None
            else None
        )
        self._bearer = bearer
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncLedgerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(ssl=self.tls if self.tls is not None else True),
            )
        return self._session

    def _headers(self, call: core.Call) -> dict[str, str]:
        headers: dict[str, str] = {}
        if call.content_type:
            headers["content-type"] = call.content_type
        if self._bearer is not None:
            headers["authorization"] = f"Bearer {self._bearer}"
        elif self._signer_headers is not None:
            headers.update(self._signer_headers.headers(call.method, call.target, call.body or b""))
        return headers

    # ------------------------------------------------------------------ the driver
    async def _learn_node(self) -> None:
        """The node's id, the audience of signed requests: once, from the public GET /v1/status."""
        signer = self._signer_headers
        if signer is None or signer.node_id is not None:
            return
        async with self._http().get(URL(self.url + STATUS_PATH, encoded=True)) as resp:
            if resp.status != 200:
                raise aiohttp.ClientResponseError(
                    resp.request_info, (), status=resp.status, message="cannot learn the node id"
                )
            try:
                doc = json.loads(await resp.read())
            except ValueError:
                doc = None
        self._signer_headers = signer.for_node(node_of_status(doc, self.genesis.chain_id, self.url))
        self.node_id = self._signer_headers.node_id

    async def _send(self, call: core.Call) -> core.Reply:
        try:
            await self._learn_node()
            async with self._http().request(
                call.method,
                URL(self.url + call.target, encoded=True),
                data=call.body,
                headers=self._headers(call),
            ) as resp:
                body = await resp.read()
                status, retry_after = resp.status, resp.headers.get("retry-after")
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = certificate_failure(exc)
            if failure is not None:  # not retried: it will not verify the next time either
                raise certificate_error(self.url, failure) from exc
            return core.Reply(0, error=f"{type(exc).__name__}: {exc}")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            self._saw(doc.get("height"))
        return core.Reply(status, doc, core.parse_retry_after(retry_after))

    async def run(self, flow: core.Flow[T]) -> T:
        """Drive a `client_sdk.core` flow (see `LedgerClient.run`)."""
        reply: core.Reply | None = None
        while True:
            try:
                step = flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(step, core.Sleep):
                await asyncio.sleep(step.seconds)
                reply = None
            else:
                reply = await self._send(step)

    async def _get(self, path: str, *, min_height: int | None = None, **params: Any) -> dict[str, Any]:
        call = core.Call("GET", path, core.params_of(min_height=self._min_height(min_height), **params))
        return await self.run(core.request(call, deadline=self._deadline()))

    async def _with_epochs(self, check: Callable[[], T]) -> T:
        """Run a verification; on a header of an epoch not verified yet, learn the epochs, retry once."""
        try:
            return check()
        except UnknownEpochError:
            self._learn_epochs(await self._get("/v1/validators", min_height=0))
            return check()

    # ------------------------------------------------------------------ identity and status
    async def status(self) -> dict[str, Any]:
        return await self.run(core.request(core.Call("GET", "/v1/status"), deadline=self._deadline()))

    async def whoami(self) -> dict[str, Any]:
        doc = await self._get("/v1/auth/whoami", min_height=0)
        self._org_id = str(doc.get("org_id", "")) or None
        return doc

    async def org_id(self) -> str:
        if self._org_id is None:
            await self.whoami()
        assert self._org_id is not None
        return self._org_id

    async def token(self, ttl_s: int = 300) -> str:
        call = core.Call(
            "POST", "/v1/auth/token", body=b'{"ttl_s": %d}' % ttl_s, content_type="application/json"
        )
        doc = await self.run(core.request(call, deadline=self._deadline(), read=False))
        return str(doc["token"])

    # ------------------------------------------------------------------ transactions
    async def sign(
        self,
        payload: Payload | Mapping[str, Any],
        *,
        tx_type: str | None = None,
        org_id: str | None = None,
        key: KeyLike | None = None,
        approvers: Sequence[KeyLike] = (),
        nonce: int | None = None,
    ) -> SignedTransaction:
        if org_id is None:
            if key is None:
                org_id = await self.org_id()
            else:
                doc = await self._get(f"/v1/users/{self._signer(key).public.hex()}", min_height=0)
                org_id = str(doc["item"]["org_id"])
        return self._sign(payload, org_id, tx_type=tx_type, key=key, approvers=approvers, nonce=nonce)

    async def submit(
        self,
        tx: SignedTransaction | Payload | Mapping[str, Any],
        *,
        tx_type: str | None = None,
        org_id: str | None = None,
        key: KeyLike | None = None,
        approvers: Sequence[KeyLike] = (),
        timeout_s: float | None = None,
        wait_receipt: bool = True,
    ) -> Committed:
        if not isinstance(tx, SignedTransaction):
            tx = await self.sign(tx, tx_type=tx_type, org_id=org_id, key=key, approvers=approvers)
        return self._committed(
            await self.run(core.submit_flow(tx, self._submit_options(timeout_s, wait_receipt)))
        )

    async def submit_many(
        self,
        txs: Iterable[SignedTransaction],
        *,
        timeout_s: float | None = None,
        wait_receipt: bool = True,
        return_exceptions: bool = False,
    ) -> list[Committed | LedgerError]:
        """Submit concurrently; results in the order given."""
        opts = self._submit_options(timeout_s, wait_receipt)

        async def one(tx: SignedTransaction) -> Committed:
            return self._committed(await self.run(core.submit_flow(tx, opts)))

        results = await asyncio.gather(*(one(tx) for tx in txs), return_exceptions=True)
        out: list[Committed | LedgerError] = []
        for r in results:
            if isinstance(r, BaseException):
                if not return_exceptions or not isinstance(r, LedgerError):
                    raise r
                out.append(r)
            else:
                out.append(r)
        return out

    async def wait(
        self, tx_id: bytes | str, *, timeout_s: float | None = None, wait_receipt: bool = True
    ) -> Committed:
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        return self._committed(
            await self.run(core.wait_flow(tid, self._submit_options(timeout_s, wait_receipt)))
        )

    async def post(self, tx: SignedTransaction) -> dict[str, Any]:
        call = core.Call("POST", "/v1/tx", body=tx.encode(), content_type="application/octet-stream")
        return await self.run(core.request(call, deadline=self._deadline(), read=False))

    async def proof(
        self, tx_id: bytes | str, *, wait_receipt: bool = False, timeout_s: float | None = None
    ) -> VerifiedTx:
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        deadline = self._deadline(timeout_s)
        while True:
            doc = await self._get(f"/v1/proofs/tx/{tid.hex()}", min_height=0)
            verified = await self._with_epochs(partial(self._check_proof, doc, tid))
            if verified.receipt is not None or not wait_receipt or time.monotonic() > deadline:
                return verified
            await asyncio.sleep(0.1)

    async def bundle(self, tx_id: bytes | str, *, timeout_s: float | None = None) -> bytes:
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        deadline = self._deadline(timeout_s)
        while True:
            doc = await self._get(f"/v1/proofs/tx/{tid.hex()}", min_height=0)
            await self._with_epochs(partial(self._check_proof, doc, tid))
            proof = proof_from_json(doc)
            if proof.receipt is not None or time.monotonic() > deadline:
                return make_bundle(proof, self.genesis, self.anchor)
            await asyncio.sleep(0.1)

    async def header(self, height: int) -> tuple[BlockHeader, CommitCertificate]:
        doc = await self._get(f"/v1/blocks/{height}/header", min_height=0)
        return await self._with_epochs(lambda: self._verify_header(doc, height))

    async def block(self, height: int) -> tuple[Block, CommitCertificate]:
        doc = await self._get(f"/v1/blocks/{height}", min_height=0)
        return await self._with_epochs(lambda: self._verify_block(doc, height))

    # ------------------------------------------------------------------ network membership
    async def validators(self) -> dict[str, Any]:
        """See `LedgerClient.validators` (the epochs are verified from the genesis)."""
        doc = await self._get("/v1/validators", min_height=0)
        self._learn_epochs(doc)
        return doc

    async def proposals(self, *, status: str | None = None) -> list[dict[str, Any]]:
        doc = await self._get("/v1/governance/proposals", min_height=0, status=status)
        return list(doc["items"])

    async def proposal(self, proposal_id: str) -> dict[str, Any] | None:
        try:
            return dict((await self._get(f"/v1/governance/proposals/{proposal_id}", min_height=0))["item"])
        except NotFoundError:
            return None

    # ------------------------------------------------------------------ events
    async def events(
        self,
        *,
        after_height: int | None = None,
        kinds: Iterable[str] | None = None,
        timeout_s: float | None = None,
        reconnect: bool = True,
    ) -> AsyncIterator[Event]:
        """Committed blocks and new alerts in your scope (see `LedgerClient.events`)."""
        cursor = EventCursor(
            after_height,
            self.genesis if self.verify_events else None,
            kinds_of(kinds),
            anchor_ref=self._anchor,
        )
        end = None if timeout_s is None else time.monotonic() + timeout_s
        backoff = core.Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        while end is None or time.monotonic() < end:
            try:
                async for event in self._stream(cursor, end):
                    backoff = core.Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
                    yield event
                if end is not None and time.monotonic() >= end:
                    return
            except ApiError as exc:
                if final_error(exc) or not reconnect:
                    raise
            except TransportError:
                if not reconnect:
                    raise
            except UnknownEpochError:
                self._learn_epochs(await self._get("/v1/validators", min_height=0))
                continue  # resume from the cursor with the new epochs
            wait = backoff.wait()
            if end is not None:
                wait = min(wait, max(0.0, end - time.monotonic()))
            await asyncio.sleep(wait)

    aevents = events  # the name the guide uses for the async stream

    async def _checked_event(self, event: Event) -> Event:
        """A block event noted; an alert event verified (see client_sdk/sync_events.py)."""
        if event.kind == "block":
            self._block_event(event)
            return event
        if self.verify_events and self._reads.verifier is not None:
            return await self.run(readcore.alert_event_flow(self._reads, event, deadline=self._deadline()))
        return event

    async def _stream(self, cursor: EventCursor, end: float | None) -> AsyncIterator[Event]:
        call = core.Call("GET", "/v1/events", core.params_of(**cursor.params()))
        read_timeout = EVENTS_READ_TIMEOUT_S
        if end is not None:
            read_timeout = max(0.05, min(read_timeout, end - time.monotonic()))
        timeout = aiohttp.ClientTimeout(total=None, connect=self.timeout_s, sock_read=read_timeout)
        parser, decoder = SseParser(), codecs.getincrementaldecoder("utf-8")("replace")
        try:
            await self._learn_node()
            headers = {"accept": "text/event-stream", **self._headers(call)}
            async with self._http().get(
                URL(self.url + call.target, encoded=True), headers=headers, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    body = await resp.read()
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = None
                    raise core.error_of(call, core.Reply(resp.status, doc))
                async for chunk in resp.content.iter_any():
                    for msg in parser.feed(decoder.decode(chunk)):
                        event = cursor.accept(msg)
                        if event is not None:
                            yield await self._checked_event(event)
                    if end is not None and time.monotonic() >= end:
                        return
        except (TimeoutError, aiohttp.ServerTimeoutError):
            if end is not None and time.monotonic() >= end:
                return
            raise TransportError("the event stream went quiet (no keep-alive)") from None
        except aiohttp.ClientError as exc:
            failure = certificate_failure(exc)
            if failure is not None:
                raise certificate_error(self.url, failure) from exc
            raise TransportError(f"event stream: {type(exc).__name__}: {exc}") from exc


__all__ = ["AsyncLedgerClient"]
