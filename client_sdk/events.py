"""The event stream's client side: parsing Server-Sent Events, verifying block events, and
resuming after a reconnect without losing or repeating anything (`GET /v1/events`, docs/sdk.md).

Rules:

- The server sends, per committed block h, first the new alerts of h the caller may see (`event:
  alert`), then the block itself (`event: block`, `id: h`): the block event closes height h.
- `EventCursor` remembers the last closed height. A reconnect asks for `after_height` = that
  height, so the alerts of a height whose block event was not seen yet come again; the cursor
  drops the ones already delivered (by alert id). Each event reaches the caller once, in order.
- An `error` event ends a stream: `too_slow` (the subscriber fell behind its queue and was
  dropped), `node_stopping`, `key_revoked` ...; the client reconnects and resumes, except after
  an authentication or permission error, which is raised.
- With the genesis given, every block event's header and commit certificate are verified against
  the genesis validator set (a node cannot invent blocks in the stream); a failure raises
  VerificationError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from client_sdk.errors import ApiError, UnknownEpochError, VerificationError, api_error
from client_sdk.models import Event
from client_sdk.proofs import AnchorRef, TrustAnchor
from wire.certificate import verify_certificate
from wire.crypto import sha256
from wire.errors import CertificateError, DecodeError
from wire.genesis import Genesis
from wire.types import BlockHeader, CommitCertificate

FINAL_ERRORS = {
    "auth_required",
    "bad_auth_header",
    "bad_signature",
    "unknown_key",
    "key_revoked",
    "key_rotated",
    "forbidden",
    "bad_request",
}


@dataclass(slots=True)
class SseMessage:
    event: str = "message"
    data: str = ""
    id: str | None = None


class SseParser:
    """Incremental text/event-stream parser (WHATWG rules for `event`, `data`, `id`, comments)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._buf = ""

    def feed(self, text: str) -> list[SseMessage]:
        self._buf += text
        out = []
        while True:
            nl = min((i for i in (self._buf.find("\n"), self._buf.find("\r")) if i >= 0), default=-1)
            if nl < 0:
                break
            line = self._buf[:nl]
            rest = self._buf[nl + 1 :]
            if self._buf[nl] == "\r" and rest.startswith("\n"):
                rest = rest[1:]
            elif self._buf[nl] == "\r" and not rest:
                break  # a lone CR at the end may be the first half of CRLF: wait
            self._buf = rest
            msg = self.line(line)
            if msg is not None:
                out.append(msg)
        return out

    def line(self, line: str) -> SseMessage | None:
        if not line:
            if not self._data and not self._event:
                return None
            msg = SseMessage(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return msg
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\x00" not in value:
            self._id = value
        return None


@dataclass(slots=True)
class EventCursor:
    """Where a stream stands: the last closed height and the alerts delivered above it."""

    after_height: int | None
    genesis: Genesis | None = None
    kinds: frozenset[str] = frozenset({"block", "alert"})
    _pending_alerts: set[str] = field(default_factory=set)
    anchor_ref: AnchorRef | None = None

    def __post_init__(self) -> None:
        if self.genesis is not None and self.anchor_ref is None:
            self.anchor_ref = AnchorRef(TrustAnchor.from_genesis(self.genesis))

    @property
    def _anchor(self) -> TrustAnchor | None:
        return None if self.genesis is None or self.anchor_ref is None else self.anchor_ref.anchor

    def params(self) -> dict[str, Any]:
        """Query parameters of the next (re)connection: both kinds always come (block events
        close heights); `kinds` filters what the caller gets."""
        return {"after_height": self.after_height}

    def accept(self, msg: SseMessage) -> Event | None:
        """The event to hand to the caller, or None (a repeat, or an event of no interest).
        Raises ApiError for an error event (callers reconnect unless `final_error` says not)."""
        if msg.event == "error":
            doc = _json(msg.data)
            code = str(doc.get("code", "stream_error"))
            status = int(doc.get("status", 503)) if str(doc.get("status", "")).isdigit() else 503
            raise api_error(status, code, str(doc.get("message", "")), height=doc.get("height"))
        if msg.event not in ("block", "alert"):
            return None
        doc = _json(msg.data)
        try:
            height = int(doc["height"])
        except (KeyError, TypeError, ValueError):
            raise VerificationError(f"a {msg.event} event without a height") from None
        if self.after_height is not None and height <= self.after_height:
            return None  # already closed: a replay after a reconnect
        if msg.event == "alert":
            aid = str(doc.get("alert_id", ""))
            if aid in self._pending_alerts:
                return None
            self._pending_alerts.add(aid)
            return Event("alert", height, doc) if "alert" in self.kinds else None
        header, cert = self._verify_block(height, doc)
        self.after_height = height
        self._pending_alerts.clear()
        return Event("block", height, doc, header, cert) if "block" in self.kinds else None

    def _verify_block(
        self, height: int, doc: dict[str, Any]
    ) -> tuple[BlockHeader | None, CommitCertificate | None]:
        if self._anchor is None:
            return None, None
        try:
            header_bytes = bytes.fromhex(doc["header_bytes"])
            cert_bytes = bytes.fromhex(doc["certificate_bytes"])
            header = BlockHeader.decode(header_bytes)
            cert = CommitCertificate.decode(cert_bytes)
        except (KeyError, TypeError, ValueError, DecodeError) as exc:
            raise VerificationError(f"block event {height} lacks a decodable header and certificate") from exc
        if header.chain_id != self._anchor.chain_id or header.height != height:
            raise VerificationError(f"block event {height} carries a header of another chain or height")
        validators = self._anchor.validators_at(height)
        if header.validators_hash != validators.hash:
            raise UnknownEpochError(f"block event {height} names another validator set than the one known")
        try:
            verify_certificate(
                cert, validators, self._anchor.chain_id, height=height, block_hash=sha256(header_bytes)
            )
        except CertificateError as exc:
            raise VerificationError(f"block event {height}: {exc.message}") from exc
        if doc.get("hash") not in (None, header.hash.hex()):
            raise VerificationError(f"block event {height} names a hash its header does not have")
        return header, cert


def final_error(exc: ApiError) -> bool:
    """An error a reconnect cannot cure (authentication, permission, a bad request)."""
    return exc.code in FINAL_ERRORS or exc.status in (400, 401, 403, 404)


def _json(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise VerificationError("an event whose data is not JSON") from None
    if not isinstance(doc, dict):
        raise VerificationError("an event whose data is not a JSON object")
    return doc


def kinds_of(kinds: Iterable[str] | None) -> frozenset[str]:
    chosen = frozenset(kinds or ("block", "alert"))
    unknown = chosen - {"block", "alert"}
    if unknown or not chosen:
        raise ValueError(f"event kinds are 'block' and 'alert', not {sorted(unknown)}")
    return chosen
