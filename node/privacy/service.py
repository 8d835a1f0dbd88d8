"""Data protection in the node (docs/privacy.md): person keys, org key chains with proofs, re-sealed
data keys, the blob store, the access log and its anchors, wired into the node by `Privacy`.

Routes (all authenticated, `node.api.auth`):

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
- `/v1/blobs` (node/privacy/blobs.py).

`Privacy` is built with the node's configuration (the person-key secret is loaded and checked
first: a bad secret file stops the node), attached once the store exists (access log, blob store,
peer handlers, metrics), mounted on the API (these routers and the attempt-logging middleware of
node/privacy/recorder.py) and run beside the driver (the anchoring loop). `[extra]` keys:
`access_anchor_interval_s` (900), `access_segment_bytes` (16 MiB), `blob_max_bytes` (20 MiB),
`blob_replicas` (2), `person_key_rate_per_s` (20), `person_key_burst` (200).
"""

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from client_sdk.proofs import proof_to_json
from contracts import keys as state_keys
from contracts.identity import ancestors_or_self
from contracts.state import prefix_end
from network import PeerId
from node.api.app import ApiError, receipt_json
from node.api.auth import Caller
from node.api.proofs import build_tx_proof
from node.config import NodeConfig
from node.errors import ConfigError, StorageError
from node.privacy.accesslog import INTERVAL_S_DEFAULT, SEGMENT_BYTES_DEFAULT, AccessLog
from node.privacy.blobs import BLOB_MAX_DEFAULT, REPLICAS_DEFAULT, BlobPeers, BlobStore
from node.privacy.logmask import install_log_masking
from node.privacy.personkeys import KeyRequest, PersonKeySecrets, PersonKeyService
from node.privacy.recorder import AccessRecorder, AttemptLogger, read_state
from wire import codec
from wire.crypto import SigningKey
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.idnumber import mask_id
from wire.reqsign import H_SIG
from wire.types import Block, SignedTransaction

if TYPE_CHECKING:
    from node.api.records import ReadApi
    from node.runtime.node import Node

log = logging.getLogger("orgledger.privacy")

PERSON_KEY_ROLES = frozenset({"operator", "admin", "integration"})
PERSON_KEY_BATCH_MAX = 64
PERSON_KEY_BODY_MAX = 32 * 1024
UPLOAD_SLOTS = 4
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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
        self.recorder = AccessRecorder(node, self.log, self.interval_s, node.metrics.registry)
        node.read_listeners.append(self.recorder.on_read)
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
        #: Blob operations (upload, download).
        self.m_blobs = Counter(
            "orgledger_privacy_blob_ops_total", "Blob uploads and downloads.", ["op"], registry=r
        )

    def metrics_blob(self, op: str) -> None:
        self.m_blobs.labels(op=op).inc()

    def routers(self, api: "ReadApi") -> list[APIRouter]:
        from node.privacy import blobs

        self.api = api
        return [build_router(self), blobs.build_router(self)]

    def install(self, app: Any) -> None:
        """Log refused and failed attempts on personal-data routes (an ASGI middleware)."""
        app.add_middleware(AttemptLogger, recorder=self.recorder)

    async def run(self) -> None:
        await self.recorder.run()

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

    # ------------------------------------------------------------------ org keys
    def key_chain(self, org_id: str) -> list[dict[str, Any]]:
        out = []
        for org in ancestors_or_self(org_id):
            rec = read_state(self.node, state_keys.org(org))
            if rec is None:
                raise ApiError(404, "not_found", "no organisation with this id in your scope")
            version = int(rec["enc_key_version"])
            hist = read_state(self.node, state_keys.org_enc_key(org, version)) or {}
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
        privacy.recorder.log_read(
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
        head = read_state(node, state_keys.access_head(nid))
        return {"height": node.height(), "node_id": nid, "head": head, "anchors": anchors}

    return router


__all__ = ["Privacy", "build_router", "mask_id"]
