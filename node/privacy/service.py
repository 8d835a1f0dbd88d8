"""Data protection in the node (docs/privacy.md): person keys, org key chains with proofs, the blob
store and its replication, the access log and its anchors. `Privacy` holds them; the composition
root (`node/app.py`) builds it once the store exists, subscribes its access recorder to the API's
reads and its blob transfer to the peer requests, mounts its routes (`node/privacy/routes.py`,
`node/privacy/blob_routes.py`) and runs its anchoring loop beside the driver.

Routes (all authenticated, `node/api/auth.py`; served by the route modules):

- `POST /v1/person-keys` (operators, admins, integration accounts; not auditors, not node keys):
  a batch of ID numbers (at most 64), optionally with a name (and birth date) for the name key;
  answers person keys per item and a masked number, never the number. Rate-limited per key in
  ID numbers per second (`[privacy] person_key_rate_per_s`, default 20, `person_key_burst` 200),
  written to the access log (masked numbers, the person keys).
- `GET /v1/enc-keys/{org_id}` (the org in the caller's subtree): the current X25519 key of the
  org and of each ancestor, each with `source` "genesis" or "tx" and then the proof of the
  transaction that set it (`client_sdk.privacy` verifies both against its genesis).
- `GET /v1/seals/{envelope}` (callers who read contents): data keys re-sealed by `privacy.reseal`
  for orgs of the caller's subtree.
- `GET /v1/access-log/segments`, `/segments/{n|current}`, `/anchors` (root-org admins and
  auditors, node keys): the raw log and the anchors on the ledger, for `orgledger audit access`.
- `/v1/blobs` (node/privacy/blobs.py).

The person-key secret is loaded and checked before anything else opens (`load_person_key_secrets`:
a bad secret file stops the node). Its settings are node.toml's typed `[privacy]` table
(`node/config.py`, validated there): `access_anchor_interval_s` (900), `access_segment_bytes`
(16 MiB), `blob_max_bytes` (20 MiB), `blob_replicas` (2), `person_key_rate_per_s` (20),
`person_key_burst` (200).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter

from contracts import keys as state_keys
from contracts.identity import ancestors_or_self
from node.api.auth import Caller, authenticates
from node.api.body import read_body
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.ratelimit import TokenBucket
from node.config import NodeConfig
from node.privacy.accesslog import AccessLog
from node.privacy.blobs import BlobPeers, BlobStore
from node.privacy.logmask import install_log_masking
from node.privacy.personkeys import PersonKeySecrets, PersonKeyService
from node.privacy.recorder import AccessRecorder, NodeIdentity, read_state
from node.store.proofs import build_tx_proof
from node.store.storage import BlockStore
from wire.errors import DecodeError
from wire.hexid import is_hex_id
from wire.reqsign import H_SIG
from wire.txproof import proof_to_json
from wire.types import Block, SignedTransaction

log = logging.getLogger("orgledger.privacy")

PERSON_KEY_ROLES = frozenset({"operator", "admin", "integration"})
PERSON_KEY_BATCH_MAX = 64
PERSON_KEY_BODY_MAX = 32 * 1024
UPLOAD_SLOTS = 4


def load_person_key_secrets(config: NodeConfig) -> PersonKeySecrets | None:
    """The node's person-key secret (None when it holds none); ConfigError for a bad file."""
    path = config.person_key_secret_file
    return PersonKeySecrets.load(path) if path is not None else None


class Privacy:
    """The node's data protection: person keys, the blob store, the access log and its anchors."""

    def __init__(
        self,
        *,
        config: NodeConfig,
        secrets: PersonKeySecrets | None,
        store: BlockStore,
        identity: NodeIdentity,
        exec_lag: int,
        registry: CollectorRegistry,
        submit: Callable[[bytes], object],
        height: Callable[[], int],
        request_peer: Callable[[str, bytes, float], Awaitable[bytes]],
        peers: Callable[[], list[str]],
    ) -> None:
        install_log_masking()  # no ID number in any log line of this process
        settings = config.privacy
        self.node_id, self.store, self.exec_lag, self.height = config.node_id, store, exec_lag, height
        self.person_keys = PersonKeyService(secrets) if secrets is not None else None
        self.interval_s = settings.access_anchor_interval_s
        self.segment_bytes = settings.access_segment_bytes
        self.blob_max = settings.blob_max_bytes
        self.replicas = settings.blob_replicas
        self.id_bucket = TokenBucket(
            settings.person_key_rate_per_s, settings.person_key_burst, max_names=10_000
        )
        self._upload_slots = asyncio.Semaphore(UPLOAD_SLOTS)
        data_dir = config.data_dir
        self.log = AccessLog(data_dir / "accesslog", config.node_id, segment_bytes=self.segment_bytes)
        self.blobs = BlobStore(data_dir / "blobs", self.blob_max)
        self.blob_peers = BlobPeers(self.blobs, request=request_peer, peers=peers, replicas=self.replicas)
        self.recorder = AccessRecorder(
            store=store,
            access_log=self.log,
            interval_s=self.interval_s,
            registry=registry,
            identity=identity,
            submit=submit,
            height=height,
        )
        #: Person-key requests' ID numbers, by result (ok / invalid). Never labelled with ids.
        self.m_person_keys = Counter(
            "orgledger_privacy_person_keys_total",
            "ID numbers hashed into person keys, by result.",
            ["result"],
            registry=registry,
        )
        #: Blob operations (upload, download).
        self.m_blobs = Counter(
            "orgledger_privacy_blob_ops_total", "Blob uploads and downloads.", ["op"], registry=registry
        )

    def metrics_blob(self, op: str) -> None:
        self.m_blobs.labels(op=op).inc()

    async def run(self) -> None:
        await self.recorder.run()

    def close(self) -> None:
        """The open segment stays open (fsynced): the next start continues it, so a restart does
        not cost an anchor transaction."""
        self.log.close()

    # ------------------------------------------------------------------ authentication with a body
    def body_authn(self, ctx: ApiContext, max_body: int) -> Callable[..., Awaitable[Caller]]:
        """Like the read API's authentication, for routes whose body exceeds its 4 KiB: a token is
        checked before the body is read, a signature after (it covers the body)."""

        @authenticates
        async def authn(request: Request) -> Caller:
            signed = H_SIG in request.headers
            caller = None if signed else ctx.authenticate(request, b"")
            async with self._upload_slots:
                body = await read_body(request, max_body)
            if caller is None:
                caller = ctx.authenticate(request, body)
            request.state.body = body
            request.state.caller = caller
            return caller

        return authn

    # ------------------------------------------------------------------ org keys
    def key_chain(self, org_id: str) -> list[dict[str, Any]]:
        out = []
        for org in ancestors_or_self(org_id):
            rec = read_state(self.store, state_keys.org(org))
            if rec is None:
                raise ApiError("not_found", "no organisation with this id in your scope")
            version = int(rec["enc_key_version"])
            hist = read_state(self.store, state_keys.org_enc_key(org, version)) or {}
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
                    found = build_tx_proof(self.store, self.exec_lag, tx_id)
                    if found is not None:
                        proof, receipt, top = found
                        doc = proof_to_json(proof)
                        doc["height"] = top
                        doc["receipt"] = None if receipt is None else receipt.to_json()
                        entry["proof"] = doc
            out.append(entry)
        return out

    def _key_tx(self, org: str, rec: Mapping[str, Any], version: int, height: int) -> bytes | None:
        created = rec.get("created_by")
        if version == 1 and isinstance(created, str) and is_hex_id(created):
            return bytes.fromhex(created)
        raw = self.store.block_bytes(height)
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
                receipt = self.store.receipt(height, index)
                if receipt is not None and receipt.accepted:
                    return tx.tx_id
        return None
