"""Recording reads of personal data into the access log, and anchoring its segments on the ledger.

Rules (the format is wire/accesslog.py's, the writer node/privacy/accesslog.py, the whole design
docs/privacy.md):

- `on_read` takes every `ReadEvent` of the read API (record contents, histories, transactions,
  blocks); `log_read` the reads the privacy routes serve (blob downloads, person keys);
  `AttemptLogger` (ASGI middleware) every 401, 403 and 404 on a personal-data route, with
  outcome `unauthenticated`, `refused`, `denied` (the record exists outside the caller's
  subtree; its org is named) or `not_found`. Paths and ids pass through `mask_path`; record orgs
  are looked up for reads of at most 8 ids.
- `run` (beside the driver) checks the local log against the ledger's last anchor of this node
  once (`AccessLog.reconcile`), then every tick fsyncs, closes the open segment when due, and
  submits `access.anchor` for the next closed segment, signed by the node key, one at a time and
  in order: a rejected anchor is rebuilt (another nonce); one left pending for a minute is
  resubmitted.
- Nothing here may break a read: failures are logged, never raised into a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import msgpack
from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts import keys as state_keys
from node.api.auth import Caller
from node.api.context import ReadEvent
from node.errors import NodeError, StorageError
from node.privacy.accesslog import AccessLog
from node.privacy.blobs import refs_orgs
from node.store.storage import BlockStore
from wire.accesslog import AccessLogError
from wire.crypto import SigningKey
from wire.families import BY_FAMILY, FAMILIES, seg
from wire.hexid import is_hex_id
from wire.idnumber import mask_path
from wire.types import SignedTransaction, TxBody

log = logging.getLogger("orgledger.accesslog")

ORG_LOOKUP_MAX = 8
ANCHOR_RETRY_S = 60.0
# read-API family (and "member") -> state key prefix, and URL path -> state key prefix (wire/families.py)
_FAMILY_KEYS = {**{f.family: f.key_prefix for f in FAMILIES}, "member": BY_FAMILY["archive"].key_prefix}
_PATH_FAMILIES = {f.path: f.key_prefix for f in FAMILIES}
_PERSONAL_PREFIXES = (
    *(f"/v1/{p}" for p in _PATH_FAMILIES),
    "/v1/members/",
    "/v1/blobs",
    "/v1/person-keys",
    "/v1/tx/",
    "/v1/blocks/",
    "/v1/proofs/tx/",
)
# ids that are not records (transactions, blocks): a 404 there is an unknown id, not worth a line
_NO_404 = ("/v1/tx/", "/v1/blocks/", "/v1/proofs/tx/")


def read_state(store: BlockStore, key: str) -> dict[str, Any] | None:
    """A state record of the node's store as a dict (None when absent or not a record)."""
    raw = store.state_get(key.encode("utf-8"))
    if raw is None:
        return None
    try:
        doc = msgpack.unpackb(raw, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who signs this node's anchors: its id, org, chain and node key."""

    node_id: str
    org_id: str
    chain_id: str
    key: SigningKey


class AccessRecorder:
    def __init__(
        self,
        *,
        store: BlockStore,
        access_log: AccessLog,
        interval_s: float,
        registry: CollectorRegistry,
        identity: NodeIdentity,
        submit: Callable[[bytes], object],
        height: Callable[[], int],
    ) -> None:
        self.store, self.log, self.interval_s = store, access_log, interval_s
        self.identity, self._submit_raw, self.height = identity, submit, height
        self._pending: tuple[int, bytes, float] | None = None
        self._attempts: dict[int, int] = {}
        #: Access-log lines written, by outcome (read, denied, not_found, refused, ...).
        self.m_lines = Counter(
            "orgledger_privacy_access_log_lines_total",
            "Access-log lines written, by outcome.",
            ["outcome"],
            registry=registry,
        )
        #: Access-log anchors, by event (submitted, anchored, rejected).
        self.m_anchors = Counter(
            "orgledger_privacy_access_anchors_total",
            "Access-log anchor transactions, by event.",
            ["event"],
            registry=registry,
        )
        #: Closed access-log segments not yet anchored on the ledger.
        self.m_unanchored = Gauge(
            "orgledger_privacy_access_log_unanchored_segments",
            "Closed segments not yet anchored.",
            registry=registry,
        )

    # ------------------------------------------------------------------ recording
    def on_read(self, event: ReadEvent) -> None:
        ids = list(event.ids)
        self._write(
            {
                "at_ms": event.at_ms,
                "outcome": "read",
                "status": 200,
                "caller": {"pubkey": event.pubkey, "user_id": event.user_id, "org_id": event.org_id},
                "remote": event.remote,
                "method": event.method,
                "path": mask_path(event.path),
                "what": event.what,
                "ids": [mask_path(i) for i in ids],
                "orgs": self._orgs_of(event.what, ids),
                "height": event.height,
            }
        )

    def log_read(
        self,
        request: Request,
        caller: Caller,
        what: str,
        ids: list[str],
        orgs: list[str],
        height: int,
        **extra: Any,
    ) -> None:
        self._write(
            {
                "at_ms": int(time.time() * 1000),
                "outcome": extra.pop("outcome", "read"),
                "status": 200,
                "caller": _caller_doc(caller),
                "remote": request.client.host if request.client else "",
                "method": request.method,
                "path": mask_path(request.url.path),
                "what": what,
                "ids": ids,
                "orgs": orgs,
                "height": height,
                **extra,
            }
        )

    def log_attempt(self, scope: Mapping[str, Any], status: int) -> None:
        state = scope.get("state") or {}
        caller = state.get("caller") if isinstance(state, Mapping) else None
        raw = scope.get("raw_path") or scope.get("path", "").encode()
        path = raw.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        outcome, orgs, ids = "unauthenticated", [], []
        if isinstance(caller, Caller):
            outcome = "refused" if status == 403 else "not_found"
            found = self._existing_target(path)
            if found is not None:
                ids = [found[0]]
                if found[1] is not None and status == 404:
                    outcome, orgs = "denied", [found[1]]
        entry: dict[str, Any] = {
            "at_ms": int(time.time() * 1000),
            "outcome": outcome,
            "status": status,
            "caller": _caller_doc(caller) if isinstance(caller, Caller) else None,
            "remote": (scope.get("client") or ("",))[0] or "",
            "method": scope.get("method", ""),
            "path": mask_path(path + ("?" + query if query else "")),
            "what": "attempt",
            "ids": [mask_path(i) for i in ids],
            "orgs": orgs,
            "height": self.height(),
        }
        if not isinstance(caller, Caller):
            claimed = _header(scope, b"x-orgledger-key")
            entry["claimed_key"] = claimed[:64] if claimed and is_hex_id(claimed) else None
        self._write(entry)

    def _write(self, entry: dict[str, Any]) -> None:
        try:
            self.log.append(entry)
        except (OSError, ValueError) as exc:
            log.error("access log write failed: %s", exc)
            return
        self.m_lines.labels(outcome=str(entry["outcome"])).inc()

    def _orgs_of(self, what: str, ids: list[str]) -> list[str]:
        base, child = what, False
        for suffix in ("_version", "_step", "_in"):
            if what.endswith(suffix):
                base, child = what.removesuffix(suffix), True
        prefix = _FAMILY_KEYS.get(base)
        if prefix is None or not ids or len(ids) > ORG_LOOKUP_MAX:
            return []
        orgs: set[str] = set()
        for rid in ids:
            head = rid.rsplit("/", 2)[0] if child else rid  # "<head>/v/<n>", "<head>/ev/<n>", ...
            rec = read_state(self.store, f"{prefix}/{seg(head)}")
            if rec is not None and isinstance(rec.get("org_id"), str):
                orgs.add(rec["org_id"])
        return sorted(orgs)

    def _existing_target(self, path: str) -> tuple[str, str | None] | None:
        """(id, org of the record if it exists) for a by-id path of a record family or blob."""
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "v1":
            return None
        kind, rid = parts[2], unquote(parts[3])
        if kind == "members":
            kind = "archives"
        if kind == "blobs":
            if not is_hex_id(rid):
                return None
            orgs = sorted(refs_orgs(self.store, rid))
            return rid, (orgs[0] if orgs else None)
        prefix = _PATH_FAMILIES.get(kind)
        if prefix is None or not rid:
            return None
        try:
            rec = read_state(self.store, f"{prefix}/{seg(rid)}")
        except StorageError:
            return None
        org = rec.get("org_id") if rec is not None else None
        return rid, (org if isinstance(org, str) else None)

    # ------------------------------------------------------------------ anchoring
    def ledger_head(self) -> dict[str, Any] | None:
        return read_state(self.store, state_keys.access_head(self.identity.node_id))

    async def run(self) -> None:
        """Close segments when due and anchor them, one at a time, in order."""
        try:
            await asyncio.to_thread(self.log.reconcile, self.ledger_head())
        except (AccessLogError, OSError) as exc:
            log.error("access log: cannot check the local log against the ledger: %s", exc)
        tick = min(1.0, self.interval_s / 2)
        while True:
            await asyncio.sleep(tick)
            try:
                tx = await asyncio.to_thread(self._anchor_step)
                if tx is not None:
                    self._submit(tx)
            except Exception:  # never let the loop die: the auditor sees unanchored segments
                log.exception("access log anchoring step failed")

    def _anchor_step(self) -> SignedTransaction | None:
        self.log.sync()
        if self.log.due(self.interval_s):
            self.log.close_segment()
        head = self.ledger_head()
        next_segment = 1 if head is None else int(head["segment"]) + 1
        waiting = [n for n in self.log.closed_segments() if n >= next_segment]
        self.m_unanchored.set(len(waiting))
        pending = self._pending
        if pending is not None:
            number, tx_id, at = pending
            if number < next_segment:
                self._pending = None
                self.m_anchors.labels(event="anchored").inc()
            else:
                loc = self.store.tx_location(tx_id)
                receipt = None if loc is None else self.store.receipt(loc.height, loc.index)
                if receipt is not None and not receipt.accepted:
                    log.warning("access log: anchor of segment %d rejected: %s", number, receipt.reason_code)
                    self.m_anchors.labels(event="rejected").inc()
                    self._pending = None
                    if receipt.reason_code == "anchor_chain_break":
                        self.log.reconcile(head)
                    return None
                if time.monotonic() - at < ANCHOR_RETRY_S:
                    return None
                self._pending = None
        if not waiting or waiting[0] != next_segment:
            return None
        try:
            info = self.log.info(next_segment)
        except AccessLogError as exc:
            log.error("access log: segment %d cannot be anchored: %s", next_segment, exc)
            return None
        attempt = self._attempts.get(next_segment, 0)
        self._attempts[next_segment] = attempt + 1
        now = int(time.time() * 1000)
        client_time = info.closed_at_ms if abs(now - info.closed_at_ms) < 6 * 3600_000 else now
        ident = self.identity
        body = TxBody(
            chain_id=ident.chain_id,
            tx_type="access.anchor",
            org_id=ident.org_id,
            signer=ident.key.public,
            nonce=next_segment * 1000 + attempt,
            client_time_ms=client_time,
            payload=info.anchor_payload(ident.node_id),
        )
        return SignedTransaction.create(body, ident.key.signer())

    def _submit(self, tx: SignedTransaction) -> None:
        try:
            self._submit_raw(tx.encode())
        except NodeError as exc:
            log.warning("access log: anchor not admitted: %s %s", exc.code, exc.message)
            return
        payload = tx.body.payload
        self._pending = (int(payload["segment"]), tx.tx_id, time.monotonic())
        self.m_anchors.labels(event="submitted").inc()


def _caller_doc(caller: Caller) -> dict[str, Any]:
    return {
        "pubkey": caller.pubkey.hex(),
        "kind": caller.kind,
        "user_id": caller.user_id,
        "org_id": caller.org_id,
        "roles": sorted(caller.roles),
    }


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


class AttemptLogger:
    """ASGI middleware: a refused (403), failed (401) or not-found (404) request to a route that
    serves personal data is written to the access log (successful reads come from the routes)."""

    def __init__(self, app: Any, recorder: AccessRecorder) -> None:
        self.app, self.recorder = app, recorder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope.get("type") != "http" or not path.startswith(_PERSONAL_PREFIXES) or path.endswith("/header"):
            await self.app(scope, receive, send)
            return
        status = 0

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 0))
            await send(message)

        await self.app(scope, receive, capture)
        if status in (401, 403) or (status == 404 and not path.startswith(_NO_404)):
            try:
                self.recorder.log_attempt(scope, status)
            except Exception:  # logging an attempt must never break the answer
                log.exception("access log: cannot record an attempt")
