"""`LedgerClient`: the synchronous client (httpx). `client_sdk.aio.AsyncLedgerClient` has the same
surface with `await`. Guide and examples: docs/sdk.md.

Rules:

- `submit` returns only when the transaction is committed and its block's commit certificate and
  its inclusion proof (and, by default, its receipt's proof) verify against the validator set of
  the genesis the client holds; a contracts rejection raises TxRejectedError with the rule and
  reason; no verified answer in time raises CommitTimeoutError (outcome unknown: submitting the
  same signed transaction again is safe, it is applied at most once). The logic is `client_sdk.core`.
- Payloads are validated against the node's schema before anything is signed (`client_sdk.tx`).
- Every read is signed with the client's key (`client_sdk.auth`). With `read_your_writes` (the
  default) reads carry `min_height` = the highest height this client has seen (its own commits
  and answers), so a client never reads older state than it already saw or wrote.
- Lists are iterators over the read API's cursor pages; `page()` returns one page.
- `events()` follows committed blocks and new alerts, reconnecting and resuming after failures.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from client_sdk import core
from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.errors import (
    ApiError,
    LedgerError,
    NotFoundError,
    TransportError,
    VerificationError,
)
from client_sdk.events import EventCursor, SseParser, final_error, kinds_of
from client_sdk.models import Committed, Event, History, Page, Record
from client_sdk.proofs import VerifiedTx, make_bundle, proof_from_json, verify_proof_response
from client_sdk.tx import Payload, PayloadTransform, build_tx, sign_tx
from client_sdk.verify import verify_block, verify_header
from wire.crypto import Signer, SigningKey, load_signing_key
from wire.genesis import Genesis
from wire.types import Block, BlockHeader, CommitCertificate, SignedTransaction

T = TypeVar("T")
EVENTS_READ_TIMEOUT_S = 45.0  # the server sends a keep-alive comment every 15 s
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.2, 5.0

KeyLike = SigningKey | Signer | str | Path


def load_genesis(genesis: Genesis | str | Path) -> Genesis:
    return genesis if isinstance(genesis, Genesis) else Genesis.load(Path(genesis))


def load_key(key: KeyLike | None) -> SigningKey | Signer | None:
    if key is None or isinstance(key, SigningKey | Signer):
        return key
    return load_signing_key(Path(key))


class ClientBase:
    """What both clients share: configuration, the session height, signing."""

    def __init__(
        self,
        url: str,
        genesis: Genesis | str | Path,
        *,
        key: KeyLike | None = None,
        timeout_s: float = 10.0,
        submit_timeout_s: float = 30.0,
        read_your_writes: bool = True,
        verify_events: bool = True,
        transforms: Sequence[PayloadTransform] = (),
    ) -> None:
        self.url = url.rstrip("/")
        self.genesis = load_genesis(genesis)
        self.key = load_key(key)
        self.timeout_s = timeout_s
        self.submit_timeout_s = submit_timeout_s
        self.read_your_writes = read_your_writes
        self.verify_events = verify_events
        self.transforms = list(transforms)
        self.seen_height = 0  # the highest height this client saw committed or answered
        self._org_id: str | None = None

    # ------------------------------------------------------------------ helpers
    def _saw(self, height: Any) -> None:
        if type(height) is int and height > self.seen_height:
            self.seen_height = height

    def _min_height(self, given: int | None) -> int | None:
        if given is not None:
            return given
        if not self.read_your_writes or self.seen_height == 0:
            return None
        return self.seen_height

    def _deadline(self, timeout_s: float | None = None) -> float:
        return time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)

    def _signer(self, key: KeyLike | None) -> SigningKey | Signer:
        chosen = load_key(key) if key is not None else self.key
        if chosen is None:
            raise LedgerError("no key: give the client a key, or pass key= to sign")
        return chosen

    def _sign(
        self,
        payload: Payload | Mapping[str, Any],
        org_id: str,
        *,
        tx_type: str | None,
        key: KeyLike | None,
        approvers: Sequence[KeyLike],
        nonce: int | None,
    ) -> SignedTransaction:
        return sign_tx(
            payload,
            chain_id=self.genesis.chain_id,
            org_id=org_id,
            key=self._signer(key),
            tx_type=tx_type,
            approvers=[self._signer(a) for a in approvers],
            nonce=nonce,
            transforms=self.transforms,
            max_tx_bytes=self.genesis.consensus.max_tx_bytes,
        )

    def _submit_options(self, timeout_s: float | None, wait_receipt: bool) -> core.SubmitOptions:
        return core.SubmitOptions(
            genesis=self.genesis,
            timeout_s=self.submit_timeout_s if timeout_s is None else timeout_s,
            wait_receipt=wait_receipt,
        )

    def _verify_header(self, doc: dict[str, Any], height: int) -> tuple[BlockHeader, CommitCertificate]:
        try:
            header_bytes, cert_bytes = (
                bytes.fromhex(doc["header_bytes"]),
                bytes.fromhex(doc["certificate_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"header {height}: the node sent no header or certificate bytes") from exc
        g = self.genesis
        return verify_header(header_bytes, cert_bytes, g.validators, g.chain_id, height)

    def _verify_block(self, doc: dict[str, Any], height: int) -> tuple[Block, CommitCertificate]:
        try:
            block_bytes, cert_bytes = (
                bytes.fromhex(doc["block_bytes"]),
                bytes.fromhex(doc["certificate_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"block {height}: the node sent no block or certificate bytes") from exc
        g = self.genesis
        return verify_block(block_bytes, cert_bytes, g.validators, g.chain_id, height)

    @staticmethod
    def _list_params(
        *,
        org_id: str | None,
        subtree: bool | None,
        status: str | None,
        type: str | None,
        person_key: str | None,
        colour: str | None,
        date_from: str | None,
        date_to: str | None,
    ) -> dict[str, Any]:
        return {
            "org_id": org_id,
            "subtree": subtree,
            "status": status,
            "type": type,
            "person_key": person_key,
            "colour": colour,
            "date_from": date_from,
            "date_to": date_to,
        }


class LedgerClient(ClientBase):
    """A synchronous client of one node.

    `genesis` is the network's genesis (a `Genesis` or the path of genesis.json): everything the
    node serves is verified against its validator set. `key` (a key, or the path of a key file)
    signs requests and, by default, transactions. `auth` replaces request signing (e.g.
    `client_sdk.auth.BearerAuth(token)`)."""

    def __init__(
        self,
        url: str,
        genesis: Genesis | str | Path,
        *,
        key: KeyLike | None = None,
        auth: httpx.Auth | None = None,
        timeout_s: float = 10.0,
        submit_timeout_s: float = 30.0,
        read_your_writes: bool = True,
        verify_events: bool = True,
        transforms: Sequence[PayloadTransform] = (),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            genesis,
            key=key,
            timeout_s=timeout_s,
            submit_timeout_s=submit_timeout_s,
            read_your_writes=read_your_writes,
            verify_events=verify_events,
            transforms=transforms,
        )
        if auth is None and self.key is not None:
            auth = LedgerAuth(RequestSigner(self.key, self.genesis.chain_id))
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, auth=auth, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LedgerClient:
        return self

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

    # ------------------------------------------------------------------ transactions
    def sign(
        self,
        payload: Payload | Mapping[str, Any],
        *,
        tx_type: str | None = None,
        org_id: str | None = None,
        key: KeyLike | None = None,
        approvers: Sequence[KeyLike] = (),
        nonce: int | None = None,
    ) -> SignedTransaction:
        """Validate `payload` (a builder, or a dict with `tx_type`) and sign it. The transaction acts
        for `org_id`, by default the signing key's own org (the client's, from whoami)."""
        if org_id is None:
            org_id = self.org_id if key is None else self._org_of(self._signer(key))
        return self._sign(payload, org_id, tx_type=tx_type, key=key, approvers=approvers, nonce=nonce)

    def _org_of(self, key: SigningKey | Signer) -> str:
        doc = self._get(f"/v1/users/{key.public.hex()}", min_height=0)
        return str(doc["item"]["org_id"])

    def submit(
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
        """Submit and wait for a verified commit (see the module rules). `tx` is a signed
        transaction, or a payload that `sign` turns into one first."""
        if not isinstance(tx, SignedTransaction):
            tx = self.sign(tx, tx_type=tx_type, org_id=org_id, key=key, approvers=approvers)
        done = self.run(core.submit_flow(tx, self._submit_options(timeout_s, wait_receipt)))
        self._saw(done.height)
        return done

    def submit_many(
        self,
        txs: Iterable[SignedTransaction],
        *,
        timeout_s: float | None = None,
        wait_receipt: bool = True,
        return_exceptions: bool = False,
    ) -> list[Committed | LedgerError]:
        """Post every transaction first, then wait for each: they commit together, in few blocks.
        With `return_exceptions` a failure takes its place in the list instead of being raised."""
        txs = list(txs)
        opts = self._submit_options(timeout_s, wait_receipt)
        deadline = time.monotonic() + opts.timeout_s
        posted: list[LedgerError | None] = []
        for tx in txs:
            post = core.Call("POST", "/v1/tx", body=tx.encode(), content_type="application/octet-stream")
            try:
                self.run(core.request(post, deadline=deadline, read=False))
                posted.append(None)
            except LedgerError as exc:
                if not return_exceptions and not core.retryable(exc, read=False):
                    raise
                posted.append(exc)
        out: list[Committed | LedgerError] = []
        for tx, failed in zip(txs, posted, strict=True):
            try:
                if failed is not None and not core.retryable(failed, read=False):
                    raise failed
                done = self.run(core.wait_flow(tx.tx_id, opts, raw=tx.encode(), deadline=deadline))
                self._saw(done.height)
                out.append(done)
            except LedgerError as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out

    def wait(
        self, tx_id: bytes | str, *, timeout_s: float | None = None, wait_receipt: bool = True
    ) -> Committed:
        """Wait for a transaction submitted earlier (e.g. after a CommitTimeoutError)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        done = self.run(core.wait_flow(tid, self._submit_options(timeout_s, wait_receipt)))
        self._saw(done.height)
        return done

    def post(self, tx: SignedTransaction) -> dict[str, Any]:
        """Hand a signed transaction to the node once (no waiting): its answer."""
        call = core.Call("POST", "/v1/tx", body=tx.encode(), content_type="application/octet-stream")
        return self.run(core.request(call, deadline=self._deadline(), read=False))

    def tx(self, tx_id: bytes | str) -> dict[str, Any] | None:
        """The node's answer about a transaction (pending/committed/rejected), None if unknown."""
        hexid = tx_id if isinstance(tx_id, str) else tx_id.hex()
        try:
            return self._get(f"/v1/tx/{hexid}", min_height=0)
        except NotFoundError:
            return None

    def proof(
        self, tx_id: bytes | str, *, wait_receipt: bool = False, timeout_s: float | None = None
    ) -> VerifiedTx:
        """The transaction's proof, verified against the genesis (with its receipt's when
        `wait_receipt`, waiting for it until the timeout)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        deadline = self._deadline(timeout_s)
        while True:
            doc = self._get(f"/v1/proofs/tx/{tid.hex()}", min_height=0)
            verified = verify_proof_response(doc, self.genesis, tid)
            if verified.receipt is not None or not wait_receipt or time.monotonic() > deadline:
                return verified
            time.sleep(0.1)

    def bundle(self, tx_id: bytes | str, *, timeout_s: float | None = None) -> bytes:
        """A proof bundle of the transaction and its receipt (`orgledger audit check-proof` and
        `client_sdk.proofs.check_bundle` verify it offline)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        deadline = self._deadline(timeout_s)
        while True:
            doc = self._get(f"/v1/proofs/tx/{tid.hex()}", min_height=0)
            verify_proof_response(doc, self.genesis, tid)
            proof = proof_from_json(doc)
            if proof.receipt is not None or time.monotonic() > deadline:
                return make_bundle(proof, self.genesis)
            time.sleep(0.1)

    def header(self, height: int) -> tuple[BlockHeader, CommitCertificate]:
        """A block's header and certificate, verified (any authenticated caller)."""
        return self._verify_header(self._get(f"/v1/blocks/{height}/header", min_height=0), height)

    def block(self, height: int) -> tuple[Block, CommitCertificate]:
        """A whole block, verified (root-org admins and auditors, node keys)."""
        return self._verify_block(self._get(f"/v1/blocks/{height}", min_height=0), height)

    # ------------------------------------------------------------------ records
    def record(self, family: str, record_id: str, *, min_height: int | None = None) -> Record | None:
        """One record by id from the ledger state; None when absent or outside your subtree."""
        try:
            return core.record_of(self._get(core.record_path(family, record_id), min_height=min_height))
        except NotFoundError:
            return None

    def archive(self, person_key: str, **kw: Any) -> Record | None:
        return self.record("archive", person_key, **kw)

    def alert(self, alert_id: str, **kw: Any) -> Record | None:
        return self.record("alert", alert_id, **kw)

    def page(
        self,
        family: str,
        *,
        cursor: str | None = None,
        limit: int = 50,
        min_height: int | None = None,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        type: str | None = None,
        person_key: str | None = None,
        colour: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Page:
        """One page of a record family (`archive`, `material`, `pipeline`, `transfer`, `meeting`,
        `decision`, `alert`), filtered as docs/api.md says."""
        params = self._list_params(
            org_id=org_id,
            subtree=subtree,
            status=status,
            type=type,
            person_key=person_key,
            colour=colour,
            date_from=date_from,
            date_to=date_to,
        )
        return self._page(f"/v1/{core.family_path(family)}", True, cursor, limit, min_height, params)

    def _page(
        self,
        path: str,
        records: bool,
        cursor: str | None,
        limit: int,
        min_height: int | None,
        params: dict[str, Any],
    ) -> Page:
        flow = core.page_flow(
            path,
            records=records,
            deadline=self._deadline(),
            cursor=cursor,
            limit=limit,
            min_height=self._min_height(min_height),
            **params,
        )
        return self.run(flow)

    def _iterate(
        self, path: str, records: bool, limit: int, min_height: int | None, params: dict[str, Any]
    ) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            page = self._page(path, records, cursor, limit, min_height, params)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def records(
        self,
        family: str,
        *,
        limit: int = 200,
        min_height: int | None = None,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        type: str | None = None,
        person_key: str | None = None,
        colour: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Iterator[Record]:
        """Every record of a family matching the filters, page after page (`limit` per page)."""
        params = self._list_params(
            org_id=org_id,
            subtree=subtree,
            status=status,
            type=type,
            person_key=person_key,
            colour=colour,
            date_from=date_from,
            date_to=date_to,
        )
        return self._iterate(f"/v1/{core.family_path(family)}", True, limit, min_height, params)

    def alerts(
        self,
        *,
        colour: str | None = None,
        rule_id: str | None = None,
        status: str | None = None,
        org_id: str | None = None,
        subtree: bool | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        limit: int = 200,
        min_height: int | None = None,
    ) -> Iterator[Record]:
        """Alerts of your subtree: by colour (RED/YELLOW/BLUE), rule id, status, org, raised date."""
        return self.records(
            "alert",
            colour=colour,
            type=rule_id,
            status=status,
            org_id=org_id,
            subtree=subtree,
            date_from=date_from,
            date_to=date_to,
            limit=limit,
            min_height=min_height,
        )

    def children(
        self, child: str, parent_id: str, *, limit: int = 200, min_height: int | None = None
    ) -> Iterator[Record]:
        """A record's versions, a pipeline's steps or a transfer's transfer-in records:
        `child` is archive_version, material_version, meeting_version, decision_version,
        pipeline_step or transfer_in."""
        return self._iterate(core.children_path(child, parent_id), True, limit, min_height, {})

    def member_history(self, person_key: str, *, min_height: int | None = None) -> History:
        """Everything about one person your subtree may see (at most 2000 items, `truncated`)."""
        return core.history_of(
            self._get(f"/v1/members/{core.seg(person_key)}/history", min_height=min_height)
        )

    # ------------------------------------------------------------------ orgs and users
    def orgs(
        self,
        *,
        root: str | None = None,
        subtree: bool = True,
        limit: int = 200,
        min_height: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The org tree under `root` (default: your org)."""
        return self._iterate("/v1/orgs", False, limit, min_height, {"root": root, "subtree": subtree})

    def org(self, org_id: str, *, min_height: int | None = None) -> dict[str, Any] | None:
        try:
            return dict(self._get(f"/v1/orgs/{core.seg(org_id)}", min_height=min_height)["item"])
        except NotFoundError:
            return None

    def users(
        self,
        *,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        role: str | None = None,
        limit: int = 200,
        min_height: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Users (keys) of your subtree, filtered by org, status and role."""
        params = {"org_id": org_id, "subtree": subtree, "status": status, "role": role}
        return self._iterate("/v1/users", False, limit, min_height, params)

    def user(self, pubkey: str | bytes, *, min_height: int | None = None) -> dict[str, Any] | None:
        hexkey = pubkey if isinstance(pubkey, str) else pubkey.hex()
        try:
            return dict(self._get(f"/v1/users/{hexkey}", min_height=min_height)["item"])
        except NotFoundError:
            return None

    # ------------------------------------------------------------------ events
    def events(
        self,
        *,
        after_height: int | None = None,
        kinds: Iterable[str] | None = None,
        timeout_s: float | None = None,
        reconnect: bool = True,
    ) -> Iterator[Event]:
        """Committed blocks and new alerts in your scope, as they happen (`GET /v1/events`).

        From `after_height` (default: from now), in order, each once, reconnecting and resuming
        after a failure or a dropped stream. Stops after `timeout_s` seconds when given; otherwise
        runs until the caller stops iterating. Block events are verified against the genesis."""
        cursor = EventCursor(after_height, self.genesis if self.verify_events else None, kinds_of(kinds))
        end = None if timeout_s is None else time.monotonic() + timeout_s
        backoff = core.Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        while end is None or time.monotonic() < end:
            try:
                for event in self._stream(cursor, end):
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
            wait = backoff.wait()
            if end is not None:
                wait = min(wait, max(0.0, end - time.monotonic()))
            time.sleep(wait)

    def _stream(self, cursor: EventCursor, end: float | None) -> Iterator[Event]:
        call = core.Call("GET", "/v1/events", core.params_of(**cursor.params()))
        read_timeout = EVENTS_READ_TIMEOUT_S
        if end is not None:
            read_timeout = max(0.05, min(read_timeout, end - time.monotonic()))
        timeout = httpx.Timeout(self.timeout_s, read=read_timeout)
        parser = SseParser()
        try:
            with self._http.stream(
                "GET", self.url + call.target, headers={"accept": "text/event-stream"}, timeout=timeout
            ) as resp:
                if resp.status_code != 200:
                    resp.read()
                    try:
                        doc = resp.json()
                    except ValueError:
                        doc = None
                    raise core.error_of(call, core.Reply(resp.status_code, doc))
                for chunk in resp.iter_text():
                    for msg in parser.feed(chunk):
                        event = cursor.accept(msg)
                        if event is not None:
                            self._saw(event.height if event.kind == "block" else None)
                            yield event
                    if end is not None and time.monotonic() >= end:
                        return
        except httpx.ReadTimeout:
            if end is not None and time.monotonic() >= end:
                return
            raise TransportError("the event stream went quiet (no keep-alive)") from None
        except httpx.HTTPError as exc:
            raise TransportError(f"event stream: {type(exc).__name__}: {exc}") from exc


__all__ = ["Committed", "LedgerClient", "build_tx"]
