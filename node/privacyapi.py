"""Data protection in the node (docs/privacy.md): person keys, org key chains with proofs, re-sealed
data keys, the blob store, the access log and its anchors, wired into the node by `Privacy`.

Routes (all authenticated, `node.apiauth`):

- `POST /v1/person-keys` (operators, admins, integration accounts; not auditors, not node keys):
  a batch of ID numbers (at most 64), optionally with a name (and birth date) for the name key;
  answers person keys per item and a masked number, never the number. Rate-limited per key in
  ID numbers per second (`[extra] person_key_rate_per_s`, default 20, `person_key_burst` 200),
  written to the access log (masked numbers, the person keys).
- `GET /v1/enc-keys/{org_id}` (the org in the caller's subtree): the current X25519 key of the
  org and of each ancestor, each with `source` "genesis" or "tx" and then the proof of the
  transaction that set it (`client_sdk.privacy` verifies both against its genesis).
- `GET /v1/seals/{envelope}` (callers who read contents): data keys re-sealed by `privacy.reseal`
  for orgs of the caller's subtree.
- `GET /v1/access-log/segments`, `/segments/{n|current}`, `/anchors` (root-org admins and
  auditors, node keys): the raw log and the anchors on the ledger, for `orgledger audit access`.
- `/v1/blobs` (node/blobs.py).

The access log receives every `ReadEvent` of the read API (record contents, histories,
transactions, blocks), every blob download and person-key request, and every refused or failed
attempt (401/403/404) on those routes (an ASGI middleware), with caller, remote address, masked
path, ids, record orgs (looked up for up to 8 ids) and outcome. The anchoring loop closes
segments (`[extra] access_anchor_interval_s`, default 900; `access_segment_bytes`, 16 MiB) and
submits `access.anchor` signed by the node key, one segment at a time, in order.
"""

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

import msgpack
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from client_sdk.auth import H_SIG
from client_sdk.client import build_tx
from client_sdk.idnumber import mask_id, mask_path
from client_sdk.proofs import proof_to_json
from contracts import keys as state_keys
from contracts.identity import ancestors_or_self
from contracts.state import prefix_end, seg
from network import PeerId
from node.accesslog import INTERVAL_S_DEFAULT, SEGMENT_BYTES_DEFAULT, AccessLog, AccessLogError
from node.api import ApiError, receipt_json
from node.apiauth import Caller
from node.blobs import BLOB_MAX_DEFAULT, REPLICAS_DEFAULT, BlobPeers, BlobStore
from node.config import NodeConfig
from node.errors import ConfigError, StorageError
from node.personkeys import KeyRequest, PersonKeySecrets, PersonKeyService
from node.privacylog import install_log_masking
from node.proofapi import build_tx_proof
from wire import codec
from wire.crypto import SigningKey
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.types import Block, SignedTransaction

if TYPE_CHECKING:
    from node.readapi import ReadApi, ReadEvent
    from node.service import Node

log = logging.getLogger("orgledger.privacy")

PERSON_KEY_ROLES = frozenset({"operator", "admin", "integration"})
PERSON_KEY_BATCH_MAX = 64
PERSON_KEY_BODY_MAX = 32 * 1024
ORG_LOOKUP_MAX = 8
ANCHOR_RETRY_S = 60.0
UPLOAD_SLOTS = 4
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# read-API family -> state key prefix (for the record orgs of logged reads)
_FAMILY_KEYS = {
    "archive": "archive",
    "material": "doc",
    "pipeline": "pipeline",
    "transfer": "transfer",
    "meeting": "meeting",
    "decision": "decision",
    "alert": "alert",
    "member": "archive",
}
_PATH_FAMILIES = {
    "archives": "archive",
    "materials": "doc",
    "pipelines": "pipeline",
    "transfers": "transfer",
    "meetings": "meeting",
    "decisions": "decision",
    "alerts": "alert",
}
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


def _extra_number(extra: Mapping[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = extra.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"[extra] {name} must be a number in [{lo}, {hi}]")
    return float(value)


class IdBucket:
    """Per-key token buckets counted in ID numbers (bounded in keys, least recently used evicted)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._b: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def take(self, key: bytes, n: int, now: float) -> float:
        """0 when `n` tokens were taken, else the seconds until they would be there."""
        tokens, last = self._b.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if n <= tokens:
            self._b[key] = (tokens - n, now)
            wait = 0.0
        else:
            self._b[key] = (tokens, now)
            wait = (min(n, self.burst) - tokens) / self.rate if n <= self.burst else 3600.0
        while len(self._b) > self.max_keys:
            self._b.popitem(last=False)
        return wait


class PersonKeyItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    birth_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class PersonKeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[PersonKeyItem] = Field(min_length=1, max_length=PERSON_KEY_BATCH_MAX)
    all_versions: bool = False


class Privacy:
    """The node's data protection: built with the node's configuration (the secret is loaded and
    checked first), attached once the store exists, mounted on the API, run beside the driver."""

    def __init__(self, config: NodeConfig, genesis: Genesis, key: SigningKey) -> None:
        self.config, self.genesis, self.key = config, genesis, key
        install_log_masking()  # no ID number in any log line of this process
        extra = config.extra
        path = config.person_key_secret_file
        self.person_keys = PersonKeyService(PersonKeySecrets.load(path)) if path is not None else None
        self.interval_s = _extra_number(extra, "access_anchor_interval_s", INTERVAL_S_DEFAULT, 0.2, 86_400)
        self.segment_bytes = int(
            _extra_number(extra, "access_segment_bytes", SEGMENT_BYTES_DEFAULT, 4096, 1 << 30)
        )
        self.blob_max = int(_extra_number(extra, "blob_max_bytes", BLOB_MAX_DEFAULT, 1024, 256 << 20))
        self.replicas = int(_extra_number(extra, "blob_replicas", REPLICAS_DEFAULT, 0, 64))
        self.id_bucket = IdBucket(
            _extra_number(extra, "person_key_rate_per_s", 20, 0.01, 1e6),
            _extra_number(extra, "person_key_burst", 200, 1, 1e7),
        )
        self._upload_slots = asyncio.Semaphore(UPLOAD_SLOTS)
        self._pending: tuple[int, bytes, float] | None = None
        self._attempts: dict[int, int] = {}

    # ------------------------------------------------------------------ wiring
    def attach(self, node: "Node") -> None:
        self.node = node
        data_dir = node.config.data_dir
        self.log = AccessLog(data_dir / "accesslog", node.config.node_id, segment_bytes=self.segment_bytes)
        self.blobs = BlobStore(data_dir / "blobs", self.blob_max)
        self.blob_peers = BlobPeers(
            self.blobs,
            request=lambda peer, data, timeout: node.network.request(PeerId(peer), data, timeout),
            peers=lambda: [str(p) for p in node.network.connected_peers()],
            replicas=self.replicas,
        )
        node.read_listeners.append(self.on_read)
        node.peer_handlers["blob_get"] = self.blob_peers.on_request
        node.peer_handlers["blob_have"] = self.blob_peers.on_request
        r = node.metrics.registry
        #: Person-key requests' ID numbers, by result (ok / invalid). Never labelled with ids.
        self.m_person_keys = Counter(
            "orgledger_privacy_person_keys_total",
            "ID numbers hashed into person keys, by result.",
            ["result"],
            registry=r,
        )
        #: Access-log lines written, by outcome (read, denied, not_found, unauthenticated, ...).
        self.m_lines = Counter(
            "orgledger_privacy_access_log_lines_total",
            "Access-log lines written, by outcome.",
            ["outcome"],
            registry=r,
        )
        #: Access-log anchors, by event (submitted, anchored, rejected).
        self.m_anchors = Counter(
            "orgledger_privacy_access_anchors_total",
            "Access-log anchor transactions, by event.",
            ["event"],
            registry=r,
        )
        #: Closed access-log segments not yet anchored on the ledger.
        self.m_unanchored = Gauge(
            "orgledger_privacy_access_log_unanchored_segments",
            "Closed segments not yet anchored.",
            registry=r,
        )
        #: Blob operations (upload, download).
        self.m_blobs = Counter(
            "orgledger_privacy_blob_ops_total", "Blob uploads and downloads.", ["op"], registry=r
        )

    def metrics_blob(self, op: str) -> None:
        self.m_blobs.labels(op=op).inc()

    def routers(self, api: "ReadApi") -> list[APIRouter]:
        from node import blobs

        self.api = api
        return [build_router(self), blobs.build_router(self)]

    def install(self, app: Any) -> None:
        """Log refused and failed attempts on personal-data routes (an ASGI middleware)."""
        app.add_middleware(AttemptLogger, privacy=self)

    def close(self) -> None:
        """The open segment stays open (fsynced): the next start continues it, so a restart does
        not cost an anchor transaction."""
        self.log.close()

    # ------------------------------------------------------------------ authentication with a body
    def body_authn(self, max_body: int) -> Callable[..., Awaitable[Caller]]:
        """Like the read API's authentication, for routes whose body exceeds its 4 KiB."""

        async def authn(
            request: Request,
            _sig: Annotated[
                str | None, Depends(APIKeyHeader(name="X-Orgledger-Signature", auto_error=False))
            ] = None,
            _bearer: Annotated[Any, Depends(HTTPBearer(auto_error=False))] = None,
        ) -> Caller:
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_body:
                raise ApiError(413, "too_large", f"request body exceeds {max_body} bytes")
            raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
            query = request.scope.get("query_string", b"")
            target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
            remote = request.client.host if request.client else ""
            signed = H_SIG in request.headers
            try:
                caller = (
                    None
                    if signed
                    else self.api.auth.authenticate(request.method, target, b"", request.headers, remote)
                )
                async with self._upload_slots:
                    chunks, size = [], 0
                    async for chunk in request.stream():
                        size += len(chunk)
                        if size > max_body:
                            raise ApiError(413, "too_large", f"request body exceeds {max_body} bytes")
                        chunks.append(chunk)
                body = b"".join(chunks)
                if caller is None:
                    caller = self.api.auth.authenticate(request.method, target, body, request.headers, remote)
            except StorageError as exc:
                raise ApiError(503, "storage_error", "the node cannot read its store") from exc
            request.state.body = body
            request.state.caller = caller
            return caller

        return authn

    # ------------------------------------------------------------------ the access log
    def on_read(self, event: "ReadEvent") -> None:
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
            "height": self.node.height(),
        }
        if not isinstance(caller, Caller):
            claimed = _header(scope, b"x-orgledger-key")
            entry["claimed_key"] = claimed[:64] if claimed and _HEX64.match(claimed) else None
        self._write(entry)

    def _write(self, entry: dict[str, Any]) -> None:
        try:
            self.log.append(entry)
        except (OSError, ValueError) as exc:
            log.error("access log write failed: %s", exc)
            return
        self.m_lines.labels(outcome=str(entry["outcome"])).inc()

    def _state(self, key: str) -> dict[str, Any] | None:
        raw = self.node.store.state_get(key.encode("utf-8"))
        if raw is None:
            return None
        try:
            doc = msgpack.unpackb(raw, raw=False)
        except (ValueError, TypeError, msgpack.UnpackException):
            return None
        return doc if isinstance(doc, dict) else None

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
            rec = self._state(f"{prefix}/{seg(head)}")
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
            if not _HEX64.match(rid):
                return None
            from node.blobs import refs_orgs

            orgs = sorted(refs_orgs(self.node, rid))
            return rid, (orgs[0] if orgs else None)
        prefix = _PATH_FAMILIES.get(kind)
        if prefix is None or not rid:
            return None
        try:
            rec = self._state(f"{prefix}/{seg(rid)}")
        except StorageError:
            return None
        org = rec.get("org_id") if rec is not None else None
        return rid, (org if isinstance(org, str) else None)

    # ------------------------------------------------------------------ anchoring
    def ledger_head(self) -> dict[str, Any] | None:
        return self._state(state_keys.access_head(self.config.node_id))

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
                loc = self.node.store.tx_location(tx_id)
                receipt = None if loc is None else self.node.store.receipt(loc.height, loc.index)
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
        return build_tx(
            chain_id=self.genesis.chain_id,
            tx_type="access.anchor",
            org_id=self.node.spec.org_id,
            payload=info.anchor_payload(self.config.node_id),
            key=self.key,
            nonce=next_segment * 1000 + attempt,
            client_time_ms=client_time,
        )

    def _submit(self, tx: SignedTransaction) -> None:
        try:
            self.node.submit(tx.encode())
        except ApiError as exc:
            log.warning("access log: anchor not admitted: %s %s", exc.code, exc.message)
            return
        payload = tx.body.payload
        self._pending = (int(payload["segment"]), tx.tx_id, time.monotonic())
        self.m_anchors.labels(event="submitted").inc()

    # ------------------------------------------------------------------ org keys
    def key_chain(self, org_id: str) -> list[dict[str, Any]]:
        out = []
        for org in ancestors_or_self(org_id):
            rec = self._state(state_keys.org(org))
            if rec is None:
                raise ApiError(404, "not_found", "no organisation with this id in your scope")
            version = int(rec["enc_key_version"])
            hist = self._state(state_keys.org_enc_key(org, version)) or {}
            entry: dict[str, Any] = {
                "org_id": org,
                "key_version": version,
                "enc_pubkey": rec["enc_pubkey"],
                "source": "genesis",
                "tx_id": None,
                "proof": None,
            }
            height = int(hist.get("set_height", 0))
            if height > 0:
                tx_id = self._key_tx(org, rec, version, height)
                entry["source"] = "tx"
                entry["tx_id"] = tx_id.hex() if tx_id else None
                if tx_id is not None:
                    found = build_tx_proof(self.node.store, self.genesis.consensus.exec_lag, tx_id)
                    if found is not None:
                        proof, receipt, top = found
                        doc = proof_to_json(proof)
                        doc["height"] = top
                        doc["receipt"] = None if receipt is None else receipt_json(receipt)
                        entry["proof"] = doc
            out.append(entry)
        return out

    def _key_tx(self, org: str, rec: Mapping[str, Any], version: int, height: int) -> bytes | None:
        created = rec.get("created_by")
        if version == 1 and isinstance(created, str) and _HEX64.match(created):
            return bytes.fromhex(created)
        raw = self.node.store.block_bytes(height)
        if raw is None:
            return None
        try:
            block = Block.decode(raw)
        except DecodeError:
            return None
        for index, entry in enumerate(block.txs):
            try:
                tx = SignedTransaction.decode(entry)
                body = tx.body
            except DecodeError:
                continue
            p = body.payload if isinstance(body.payload, dict) else {}
            if (
                body.tx_type in ("org.set_enc_key", "org.create")
                and p.get("org_id") == org
                and p.get("enc_pubkey") == rec["enc_pubkey"]
            ):
                receipt = self.node.store.receipt(height, index)
                if receipt is not None and receipt.accepted:
                    return tx.tx_id
        return None


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

    def __init__(self, app: Any, privacy: Privacy) -> None:
        self.app, self.privacy = app, privacy

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
                self.privacy.log_attempt(scope, status)
            except Exception:  # logging an attempt must never break the answer
                log.exception("access log: cannot record an attempt")


# ------------------------------------------------------------------------------------ routes
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad request"},
    401: {"description": "not authenticated"},
    403: {"description": "the caller's role may not do this"},
    404: {"description": "absent or outside the caller's subtree"},
    413: {"description": "body too large"},
    429: {"description": "rate limited"},
    503: {"description": "not available right now"},
}
PERSON_KEYS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PersonKeysIn.model_json_schema()}},
    }
}


def build_router(privacy: Privacy) -> APIRouter:
    router = APIRouter(tags=["privacy"], responses=_ERRORS)
    node = privacy.node
    api = privacy.api
    Auth = Annotated[Caller, Depends(api.authn)]
    BodyAuth = Annotated[Caller, Depends(privacy.body_authn(PERSON_KEY_BODY_MAX))]

    @router.post("/v1/person-keys", openapi_extra=PERSON_KEYS_BODY)
    async def person_keys(request: Request, caller: BodyAuth) -> JSONResponse:
        """Person keys (and name keys) for a batch of ID numbers; the numbers are never echoed."""
        service = privacy.person_keys
        if caller.kind != "user" or not caller.roles & PERSON_KEY_ROLES:
            raise ApiError(403, "forbidden", "person keys are for operators, admins and integration accounts")
        if service is None:
            raise ApiError(503, "person_keys_unavailable", "this node holds no person-key secret")
        try:
            body = PersonKeysIn.model_validate_json(request.state.body or b"{}")
        except ValidationError:
            raise ApiError(
                400,
                "bad_request",
                f'body must be {{"items": [{{"id_number", "name"?, "birth_date"?}}] (1..{PERSON_KEY_BATCH_MAX}), '
                '"all_versions"?}',
            ) from None
        wait = privacy.id_bucket.take(caller.pubkey, len(body.items), time.monotonic())
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                "person-key rate limit of this key exceeded",
                {"Retry-After": str(int(wait) + 1)},
            )
        reqs = [KeyRequest(i.id_number, i.name, i.birth_date) for i in body.items]
        items = await asyncio.to_thread(service.compute, reqs, all_versions=body.all_versions)
        good = [i for i in items if i["ok"]]
        privacy.m_person_keys.labels(result="ok").inc(len(good))
        privacy.m_person_keys.labels(result="invalid").inc(len(items) - len(good))
        privacy.log_read(
            request,
            caller,
            "person_key",
            [i["keys"][0]["person_key"] for i in good],
            [],
            node.height(),
            outcome="person_keys",
            masked=[i["masked"] for i in items],
        )
        return JSONResponse({"height": node.height(), "key_version": service.secrets.current, "items": items})

    @router.get("/v1/enc-keys/{org_id}")
    def enc_keys(org_id: str, caller: Auth) -> dict[str, Any]:
        """The org's and every ancestor's current encryption key, each with its origin: genesis,
        or the proof of the transaction that set it (verify it against your genesis)."""
        if len(org_id) > 200 or not caller.sees(org_id):
            raise ApiError(404, "not_found", "no organisation with this id in your scope")
        try:
            chain = privacy.key_chain(org_id)
        except StorageError as exc:
            raise ApiError(503, "storage_error", "the node cannot read its store") from exc
        return {"height": node.height(), "org_id": org_id, "chain": chain}

    @router.get("/v1/seals/{envelope}")
    def seals(envelope: str, caller: Auth) -> dict[str, Any]:
        """Data keys of an envelope re-sealed (privacy.reseal) to orgs of your subtree."""
        if not _HEX64.match(envelope):
            raise ApiError(400, "bad_id", "an envelope id is 64 lowercase hex characters")
        if not caller.contents:
            raise ApiError(403, "forbidden", "auditors read hashes, not keys")
        start = state_keys.seal(envelope).encode()
        items = []
        for _, raw in node.store.state_scan(start, prefix_end(start)):
            doc = codec.decode(raw)
            if isinstance(doc, dict) and caller.sees(str(doc.get("org_id"))):
                items.append(doc)
        return {"height": node.height(), "envelope": envelope, "items": items}

    def _root_reader(caller: Caller) -> None:
        if not caller.reads_blocks:
            raise ApiError(
                403, "forbidden", "the access log is for root-org admins and auditors and node keys"
            )

    @router.get("/v1/access-log/segments")
    def log_segments(caller: Auth) -> dict[str, Any]:
        """This node's access-log segments (closed ones by number) and the open one's line count."""
        _root_reader(caller)
        lg = privacy.log
        return {
            "height": node.height(),
            "node_id": privacy.config.node_id,
            "segments": lg.closed_segments(),
            "current_lines": lg.current_lines,
        }

    @router.get("/v1/access-log/segments/{number}", response_class=Response)
    def log_segment(number: str, caller: Auth) -> Response:
        """One segment's exact bytes (JSON lines); `current` for the open one."""
        _root_reader(caller)
        if number != "current" and not (number.isdigit() and len(number) <= 12):
            raise ApiError(400, "bad_id", "a segment is a number or `current`")
        try:
            data = privacy.log.segment_bytes_of(None if number == "current" else int(number))
        except FileNotFoundError:
            raise ApiError(404, "not_found", "no such segment") from None
        return Response(content=data, media_type="application/x-ndjson")

    @router.get("/v1/access-log/anchors")
    def log_anchors(
        caller: Auth, node_id: Annotated[str | None, Query(max_length=64)] = None
    ) -> dict[str, Any]:
        """The anchors of a node's access log on the ledger (default: this node's)."""
        _root_reader(caller)
        nid = node_id or privacy.config.node_id
        start = (state_keys.access_head(nid) + "/").encode()
        anchors = []
        for _, raw in node.store.state_scan(start, prefix_end(start)):
            doc = codec.decode(raw)
            if isinstance(doc, dict):
                anchors.append(doc)
        head = privacy._state(state_keys.access_head(nid))
        return {"height": node.height(), "node_id": nid, "head": head, "anchors": anchors}

    return router


__all__ = ["Privacy", "build_router", "mask_id"]
