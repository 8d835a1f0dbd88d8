"""The clients' logic without IO ("sans-IO"): one definition of submitting, waiting, verifying and
retrying, driven by `LedgerClient` (httpx) and `AsyncLedgerClient` (aiohttp) alike; the read
flows (records, pages, histories, orgs, users, tx, alert events) are `client_sdk.readcore`.

A flow is a generator that yields `Call` (an HTTP request to make) or `Sleep` (a pause) and is
sent back a `Reply` for each `Call`; its return value is the result. The drivers only move bytes
and sleep, so both clients behave identically and the retry rules live in one place.

Rules:

- Retried within the deadline (same request, fresh signature): connection failures, 503 (and
  502, 504), 429 after its Retry-After. Reads also retry 409 `height_not_reached`. Anything else
  is final and raised as its `ApiError` subclass.
- Submitting sends the same signed bytes every time (the node applies a transaction at most once).
  A POST that never got an answer within the deadline raises CommitTimeoutError: it may have
  reached the node, so the outcome is unknown.
- Waiting polls `/v1/tx/{id}` (re-posting the bytes now and then, in case the node lost it from
  its mempool) until the node says committed or rejected, then fetches `/v1/proofs/tx/{id}` and
  verifies it against the client's genesis: the block's certificate (quorum of the genesis
  validator set) and the transaction's inclusion proof. With `wait_receipt` it waits for the
  receipt proof too (the results root of block h is certified in block h + exec_lag), so the
  accepted/rejected outcome itself is verified. The node's own claims decide nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from client_sdk.errors import (
    ApiError,
    CommitTimeoutError,
    HeightNotReachedError,
    LedgerError,
    NotFoundError,
    RateLimitedError,
    TransportError,
    TxRejectedError,
    UnavailableError,
    UnknownEpochError,
    VerificationError,
    api_error,
)
from client_sdk.models import Committed
from client_sdk.proofs import AnchorRef, TrustAnchor, VerifiedTx, verify_proof_response
from wire.genesis import Genesis
from wire.types import SignedTransaction

T = TypeVar("T")
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.05, 2.0
POLL_FIRST_S, POLL_MAX_S = 0.02, 0.25
REPOST_EVERY_S = 3.0


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str  # percent-encoded path, without the query
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str | None = None

    @property
    def target(self) -> str:
        """The request target as sent (what a request signature covers)."""
        if not self.params:
            return self.path
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.params)
        return f"{self.path}?{query}"


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Reply:
    status: int  # 0: no answer (transport failure, described in `error`)
    doc: Any = None  # the JSON answer, or None when there was none or it was not JSON
    retry_after_s: float | None = None
    error: str = ""


Flow = Generator[Call | Sleep, Reply | None, T]


def params_of(**kw: Any) -> tuple[tuple[str, str], ...]:
    """Query parameters, None left out, booleans as true/false."""
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        out.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return tuple(out)


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_of(call: Call, reply: Reply) -> LedgerError:
    """The exception a reply stands for (never for a 2xx with a JSON object)."""
    if reply.status == 0:
        return TransportError(f"{call.method} {call.path}: {reply.error or 'no answer'}")
    doc = reply.doc
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        height = doc.get("height") if type(doc.get("height")) is int else None
        return api_error(
            reply.status,
            str(err.get("code", "error")),
            str(err.get("message", "")),
            height=height,
            retry_after_s=reply.retry_after_s,
        )
    if 200 <= reply.status < 300:
        return api_error(502, "bad_response", f"{call.path} answered something other than a JSON object")
    return api_error(
        reply.status, "http_error", f"{call.path} answered {reply.status}", retry_after_s=reply.retry_after_s
    )


def retryable(exc: LedgerError, *, read: bool) -> bool:
    if isinstance(exc, TransportError | RateLimitedError | UnavailableError):
        return True
    return read and isinstance(exc, HeightNotReachedError)


class Backoff:
    """Exponential back-off with jitter; a Retry-After from the node wins."""

    def __init__(self, first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S) -> None:
        self.next_s, self.max_s = first_s, max_s

    def wait(self, exc: LedgerError | None = None) -> float:
        hinted = exc.retry_after_s if isinstance(exc, ApiError) else None
        base = self.next_s
        self.next_s = min(self.next_s * 2, self.max_s)
        if hinted is not None:
            return hinted
        return base * (0.5 + random.random() / 2)


def request(call: Call, *, deadline: float, read: bool = True) -> Flow[dict[str, Any]]:
    """One request, retried as the module rules say until `deadline` (time.monotonic())."""
    backoff = Backoff()
    while True:
        reply = yield call
        assert reply is not None
        if 200 <= reply.status < 300 and isinstance(reply.doc, dict):
            return reply.doc
        exc = error_of(call, reply)
        if not retryable(exc, read=read):
            raise exc
        wait = backoff.wait(exc)
        if time.monotonic() + wait > deadline:
            raise exc
        yield Sleep(wait)


# ------------------------------------------------------------------------------------ submit
@dataclass(frozen=True, slots=True)
class SubmitOptions:
    genesis: Genesis
    timeout_s: float = 30.0
    wait_receipt: bool = True
    anchor: AnchorRef | None = None  # the client's verified epochs (refreshed here when needed)


def submit_flow(tx: SignedTransaction, opts: SubmitOptions) -> Flow[Committed]:
    """Post the signed bytes (retrying), then wait for a verified commit."""
    deadline = time.monotonic() + opts.timeout_s
    raw = tx.encode()
    post = Call("POST", "/v1/tx", body=raw, content_type="application/octet-stream")
    try:
        yield from request(post, deadline=deadline, read=False)
    except (TransportError, RateLimitedError, UnavailableError) as exc:
        raise CommitTimeoutError(
            f"transaction {tx.tx_id.hex()[:16]}… could not be handed to the node in time ({exc}); "
            "it may still commit: submit the same transaction again or wait for it",
            tx.tx_id,
        ) from exc
    return (yield from wait_flow(tx.tx_id, opts, raw=raw, deadline=deadline))


def wait_flow(
    tx_id: bytes, opts: SubmitOptions, *, raw: bytes | None = None, deadline: float | None = None
) -> Flow[Committed]:
    """Wait until `tx_id` is committed and verified (re-posting `raw` now and then when given)."""
    if deadline is None:
        deadline = time.monotonic() + opts.timeout_s
    hexid = tx_id.hex()
    poll = Backoff(POLL_FIRST_S, POLL_MAX_S)
    last_post = time.monotonic()
    last_error: LedgerError | None = None
    status_call = Call("GET", f"/v1/tx/{hexid}")
    while True:
        reply = yield status_call
        assert reply is not None
        if 200 <= reply.status < 300 and isinstance(reply.doc, dict):
            if reply.doc.get("status") in ("committed", "rejected"):
                break
        else:
            exc = error_of(status_call, reply)
            if not (retryable(exc, read=True) or isinstance(exc, NotFoundError)):
                raise exc
            last_error = exc
            stale = time.monotonic() - last_post >= REPOST_EVERY_S
            if isinstance(exc, NotFoundError) and raw is not None and stale:
                last_post = time.monotonic()
                yield Call("POST", "/v1/tx", body=raw, content_type="application/octet-stream")
        wait = poll.wait(last_error if isinstance(last_error, RateLimitedError) else None)
        if time.monotonic() + wait > deadline:
            why = f" (last answer: {last_error})" if last_error is not None else ""
            raise CommitTimeoutError(
                f"transaction {hexid[:16]}… not seen committed in time{why}; the outcome is unknown", tx_id
            )
        yield Sleep(wait)
    return (yield from proof_flow(tx_id, opts, deadline=deadline))


def proof_flow(tx_id: bytes, opts: SubmitOptions, *, deadline: float) -> Flow[Committed]:
    """Fetch and verify the proof of a committed transaction (and its receipt, if asked)."""
    call = Call("GET", f"/v1/proofs/tx/{tx_id.hex()}")
    poll = Backoff(POLL_FIRST_S, POLL_MAX_S)
    while True:
        try:
            doc = yield from request(call, deadline=deadline)
        except (TransportError, RateLimitedError, UnavailableError, NotFoundError) as exc:
            raise CommitTimeoutError(
                f"transaction {tx_id.hex()[:16]}… is said to be committed but its proof could not be "
                f"fetched in time: {exc}",
                tx_id,
            ) from exc
        verified = yield from verify_with_epochs(doc, opts, tx_id, deadline=deadline)
        if verified.receipt is not None or not opts.wait_receipt:
            return committed_of(verified, doc)
        wait = poll.wait()
        if time.monotonic() + wait > deadline:
            raise CommitTimeoutError(
                f"transaction {tx_id.hex()[:16]}… is committed in block {verified.block_height} "
                "(certificate verified) but its receipt is not provable yet (it needs block "
                f"{verified.block_height + opts.genesis.consensus.exec_lag})",
                tx_id,
            )
        yield Sleep(wait)


def verify_with_epochs(
    doc: dict[str, Any], opts: SubmitOptions, tx_id: bytes, *, deadline: float
) -> Flow[VerifiedTx]:
    """Verify a proof; when it is of an epoch the client has not verified yet, fetch the epochs
    (`/v1/validators`), verify them from genesis and check again, once."""
    ref = opts.anchor or AnchorRef(TrustAnchor.from_genesis(opts.genesis))
    try:
        return verify_proof_response(doc, opts.genesis, tx_id, anchor=ref.anchor)
    except UnknownEpochError:
        vdoc = yield from request(Call("GET", "/v1/validators"), deadline=deadline)
        ref.anchor = ref.anchor.from_validators_doc(vdoc)
        return verify_proof_response(doc, opts.genesis, tx_id, anchor=ref.anchor)


def committed_of(verified: VerifiedTx, doc: dict[str, Any]) -> Committed:
    """The result of a verified proof; raises TxRejectedError for a rejected transaction."""
    if verified.receipt is not None:
        receipt, proven = verified.receipt.to_json(), True
    else:
        raw = doc.get("receipt")
        if not isinstance(raw, dict) or raw.get("tx_id") != verified.tx_id.hex():
            raise VerificationError("the node sent no receipt for this transaction")
        receipt, proven = raw, False
    if receipt.get("status") != "ACCEPTED":
        raise TxRejectedError(receipt, verified.block_height)
    return Committed(
        tx_id=verified.tx_id,
        height=verified.block_height,
        index=verified.index,
        receipt=receipt,
        header=verified.header,
        certificate=verified.certificate,
        receipt_verified=proven,
        proof=verified,
    )


__all__ = [
    "Backoff",
    "Call",
    "Flow",
    "Reply",
    "Sleep",
    "SubmitOptions",
    "committed_of",
    "error_of",
    "params_of",
    "proof_flow",
    "request",
    "retryable",
    "submit_flow",
    "wait_flow",
]
