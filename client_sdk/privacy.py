"""`PrivacyClient`: data protection against a node: person keys, verified org keys, sealing and
opening records, blobs, re-sealing after an org key rotation (docs/privacy.md).

Rules:

- Personal fields the rules do not need (names, contact data, free text) never leave the SDK in
  clear: `seal` puts them in an envelope (`client_sdk.envelopes`) sealed to the verified keys of
  the owning org and every ancestor; it goes on the record payload as `sealed`. Raw ID numbers
  are refused inside envelopes too. A prose field of any transaction (`reason`, `note`, ...) is
  sealed in place: `seal_text`, or `text_sealer()` as a payload transform (`client_sdk.sealedtext`).
- Only an org's private key opens what was sealed to it (`open_item` / `read_fields` with an
  `OrgKeyring`): a superior org opens its subordinates' records, a sibling or a child cannot.
- Org public keys come from the node (`GET /v1/enc-keys/{org}`) and are verified against the
  caller's genesis (`client_sdk.orgkeys`); verified chains are reused for KEY_CACHE_S seconds.
- Materials: `client_sdk.blobs.encrypt_blob` encrypts a file (its key travels inside the record's
  envelope); the blob's SHA-256 goes on the ledger; `download_blob` checks the hash.
- Person keys: `client.person_keys` (`client_sdk.personkeys`).
- Everything that fails raises `PrivacyError` (a `LedgerError`); `CannotDecrypt` when a keyring
  has no key that opens an envelope.
- Record reads (`record`, `read_fields`, the pages re-sealing walks) are verified against their
  state proofs like `LedgerClient`'s (`client_sdk.readproofs`, docs/sdk.md "How reads are
  verified") unless `verify_reads=False`; the items returned are the node's, checked field by
  field against the proven bytes.
- This module re-exports the public names of `client_sdk.envelopes`, `client_sdk.blobs` and
  `client_sdk.personkeys`, so `from client_sdk.privacy import ...` works for all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from client_sdk.auth import LedgerAuth, RequestSigner, node_in_genesis
from client_sdk.blobs import BLOB_MAGIC as BLOB_MAGIC
from client_sdk.blobs import BlobError, blob_hash, decrypt_blob, encrypt_blob
from client_sdk.envelopes import ENVELOPE_VERSION as ENVELOPE_VERSION
from client_sdk.envelopes import PAD_TO as PAD_TO
from client_sdk.envelopes import (
    CannotDecrypt,
    OrgKeyring,
    PrivacyError,
    Recipient,
    context_for,
    data_key,
    envelope_id,
    open_fields,
    seal_fields,
    seal_key,
)
from client_sdk.errors import ApiError, TransportError, UnknownEpochError, VerificationError
from client_sdk.orgkeys import KEY_TX_TYPES as KEY_TX_TYPES
from client_sdk.orgkeys import NotYetProvable, verify_chain
from client_sdk.personkeys import PersonKey, PersonKeys
from client_sdk.proofs import AnchorRef, TrustAnchor
from client_sdk.readpages import (
    ListQuery,
    children_query,
    records_query,
    start_after,
    verify_page,
    verify_record,
)
from client_sdk.readproofs import ProvenState, ReadVerifier
from client_sdk.sealedtext import open_text, seal_prose, seal_text, text_context
from client_sdk.tx import PayloadTransform
from wire.crypto import EncryptionKey, Signer, SigningKey
from wire.families import FAMILIES as RECORD_FAMILIES
from wire.genesis import Genesis

RESEAL_BATCH = 128
KEY_CACHE_S = 300.0  # verified org key chains are reused this long (a rotation shows up after it)
# families whose records may carry an envelope, with their read API path
SEALED_FAMILIES = {f.family: f.path for f in RECORD_FAMILIES if f.sealed}


@dataclass(slots=True)
class ResealReport:
    org_id: str
    key_version: int
    records: int = 0
    envelopes: int = 0
    resealed: int = 0
    already: int = 0
    not_mine: int = 0
    tx_ids: list[str] = field(default_factory=list)


class PrivacyClient:
    """Person keys, org key lookups, sealing and opening records, blobs, re-sealing.

    `key` signs every request (a registered user key); reads are scoped to its org's subtree."""

    def __init__(
        self,
        url: str,
        genesis: Genesis,
        *,
        key: SigningKey | Signer | None = None,
        auth: httpx.Auth | None = None,
        timeout_s: float = 30.0,
        http: httpx.Client | None = None,
        verify_reads: bool = True,
    ) -> None:
        """`http` replaces the HTTP client (tests put a fake node behind it)."""
        self.url = url.rstrip("/")
        self.genesis = genesis
        self.key = key
        if auth is None and key is not None:
            auth = LedgerAuth(RequestSigner(key, genesis.chain_id, node_in_genesis(genesis, self.url)))
        self._http = (
            http if http is not None else httpx.Client(base_url=self.url, timeout=timeout_s, auth=auth)
        )
        self._keys: dict[str, tuple[float, tuple[Recipient, ...]]] = {}
        self._anchor = AnchorRef(TrustAnchor.from_genesis(genesis))
        self._verifier = ReadVerifier(genesis, self._anchor) if verify_reads else None
        self.person_keys = PersonKeys(self)

    @property
    def anchor(self) -> TrustAnchor:
        """The genesis and the validator epochs verified so far (shared with the read verifier)."""
        return self._anchor.anchor

    def _learn_epochs(self) -> None:
        """Fetch the node's validator epochs and verify them from genesis into the anchor."""
        self._anchor.anchor = self.anchor.from_validators_doc(self.request("GET", "/v1/validators"))

    def _proven(self, doc: Any) -> ProvenState:
        """The checked proof of `doc` (learning the validator epochs once if it needs a later one)."""
        assert self._verifier is not None
        try:
            return self._verifier.state(doc)
        except UnknownEpochError:
            self._learn_epochs()
            return self._verifier.state(doc)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrivacyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP
    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {self.url}{path}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", {})
            except (ValueError, AttributeError):
                err = {}
            raise ApiError(resp.status_code, str(err.get("code", "error")), str(err.get("message", "")))
        return resp

    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = self._send(method, path, **kw)
        try:
            doc = resp.json()
        except ValueError:
            raise ApiError(resp.status_code, "bad_response", f"non-JSON answer from {path}") from None
        if not isinstance(doc, dict):
            raise ApiError(resp.status_code, "bad_response", f"unexpected answer from {path}")
        return doc

    # ------------------------------------------------------------------ org keys
    def enc_keys(self, org_id: str, *, refresh: bool = False, wait_s: float = 10.0) -> tuple[Recipient, ...]:
        """The verified current keys of `org_id` and every ancestor (owning org first); reused for
        KEY_CACHE_S seconds unless `refresh`."""
        cached = self._keys.get(org_id)
        if not refresh and cached is not None and time.monotonic() - cached[0] < KEY_CACHE_S:
            return cached[1]
        deadline = time.monotonic() + wait_s
        while True:
            doc = self.request("GET", f"/v1/enc-keys/{quote(org_id, safe='')}")
            try:
                out = verify_chain(self.genesis, org_id, doc, self.anchor)
                break
            except UnknownEpochError:
                # a key set in a validator epoch not verified yet: learn the epochs, check again
                self._learn_epochs()
                out = verify_chain(self.genesis, org_id, doc, self.anchor)
                break
            except NotYetProvable:
                if time.monotonic() > deadline:
                    raise VerificationError(f"the key of an org above {org_id} is not provable yet") from None
                time.sleep(0.2)
        self._keys[org_id] = (time.monotonic(), out)
        return out

    # ------------------------------------------------------------------ sealing and opening
    def seal(self, org_id: str, fields: Mapping[str, Any], context: str) -> dict[str, Any]:
        """An envelope of `fields` for a record owned by `org_id`, sealed to it and its ancestors."""
        return seal_fields(fields, self.enc_keys(org_id), context)

    def seal_text(self, org_id: str, text: str, context: str) -> str:
        """`text` sealed for a prose field of a transaction of `org_id` (client_sdk.sealedtext)."""
        return seal_text(text, self.enc_keys(org_id), context)

    def text_sealer(self, fields: Collection[str] | None = None) -> PayloadTransform:
        """A payload transform (`LedgerClient(..., transforms=[...])`) that seals the prose fields
        of every payload (or those named, e.g. `{"reason", "recusals[].reason"}`) to the acting
        org and its ancestors before the payload is validated and signed."""

        def transform(tx_type: str, org_id: str, payload: dict[str, Any]) -> dict[str, Any]:
            keys = self.enc_keys(org_id)
            return seal_prose(
                tx_type,
                payload,
                lambda path, text: seal_text(text, keys, text_context(tx_type, org_id, path)),
                fields,
            )

        return transform

    def record(self, family: str, record_id: str) -> dict[str, Any]:
        """One record item (`family` as in the read API path: archives, materials, ...), verified."""
        params = None if self._verifier is None else {"proof": "true"}
        doc = self.request("GET", f"/v1/{family}/{quote(record_id, safe='')}", params=params)
        item = doc.get("item")
        if not isinstance(item, dict):
            raise ApiError(200, "bad_response", "no item in the answer")
        if self._verifier is not None:
            verify_record(self._proven(doc), doc, family, record_id)
        return item

    def seals(self, envelope: str) -> list[dict[str, Any]]:
        """Data keys of an envelope re-sealed after key rotations (those of orgs in your scope)."""
        items = self.request("GET", f"/v1/seals/{envelope}").get("items", [])
        return [i for i in items if isinstance(i, dict)]

    def open_item(self, item: Mapping[str, Any], keyring: OrgKeyring) -> dict[str, Any]:
        """Decrypt the `sealed` fields of a record item read from the API."""
        record = item.get("record")
        if record is None:
            raise PrivacyError("this caller reads hashes only (no record contents)")
        envelope = record.get("sealed")
        if envelope is None:
            raise PrivacyError("the record carries no encrypted fields")
        family = str(item.get("family", "")).removesuffix("_version")
        head = item.get("parent_id") or item.get("id")
        try:
            return open_fields(envelope, keyring, context=context_for(family, str(head)))
        except CannotDecrypt:
            seals = self.seals(envelope_id(envelope))
            if not seals:
                raise
            return open_fields(envelope, keyring, context=context_for(family, str(head)), seals=seals)

    def read_fields(
        self, family: str, record_id: str, keyring: OrgKeyring
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the record item, its decrypted fields)."""
        item = self.record(family, record_id)
        return item, self.open_item(item, keyring)

    # ------------------------------------------------------------------ blobs
    def upload_blob(self, blob: bytes, *, min_copies: int = 1) -> dict[str, Any]:
        """Store an encrypted blob; raise BlobError if fewer than `min_copies` nodes hold it."""
        h = blob_hash(blob)
        doc = self.request(
            "PUT", f"/v1/blobs/{h}", content=blob, headers={"content-type": "application/octet-stream"}
        )
        if doc.get("hash") != h:
            raise BlobError("the node stored the blob under another hash")
        if int(doc.get("copies", 0)) < min_copies:
            raise BlobError(f"the blob is on {doc.get('copies')} node(s), fewer than {min_copies}")
        return doc

    def download_blob(self, h: str) -> bytes:
        """The blob with this hash, checked against it (a tampered blob raises BlobError)."""
        blob = self._send("GET", f"/v1/blobs/{h}").content
        if blob_hash(blob) != h:
            raise BlobError(f"the node served a blob whose SHA-256 is not {h}")
        return blob

    # ------------------------------------------------------------------ rotation
    def _pages(self, q: ListQuery) -> Iterator[dict[str, Any]]:
        """The items of list `q`, page after page, each page verified (the node's items)."""
        cursor = None
        params = {k: ("true" if v is True else "false" if v is False else v) for k, v in q.params().items()}
        params = {k: v for k, v in params.items() if v is not None}
        if self._verifier is not None:
            params["proof"] = "true"
        while True:
            doc = self.request(
                "GET", q.path, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            )
            if self._verifier is not None:
                after = start_after(q, cursor, None)
                verify_page(self._proven(doc), doc, q, after=after, limit=500, scope=None)
            yield from doc.get("items", [])
            cursor = doc.get("next_cursor")
            if not cursor:
                return

    def envelopes_in_subtree(
        self, org_id: str, *, history: bool = False
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(record item, envelope) of every sealed record of the org's subtree (and versions)."""
        for family in SEALED_FAMILIES:
            for item in self._pages(records_query(family, org_id=org_id, subtree=True)):
                rec = item.get("record") or {}
                if rec.get("sealed") is not None:
                    yield item, rec["sealed"]
                if history:
                    for ver in self._pages(children_query(f"{family}_version", str(item["id"]))):
                        vrec = ver.get("record") or {}
                        if vrec.get("sealed") is not None:
                            yield ver, vrec["sealed"]

    def reseal_subtree(
        self,
        org_id: str,
        old: OrgKeyring,
        new_key: EncryptionKey,
        admin: SigningKey,
        admin_org: str,
        *,
        history: bool = False,
        submit: Callable[[Any], Any] | None = None,
    ) -> ResealReport:
        """Re-seal to `new_key` (the org's current key) the data keys `old` opens, for every sealed
        record of the org's subtree; one `privacy.reseal` per 128 envelopes, signed by `admin`."""
        current = self.enc_keys(org_id, refresh=True)[0]
        if current.public != new_key.public:
            raise PrivacyError(f"the ledger's current key of {org_id} is not the new key: set it first")
        report = ResealReport(org_id, current.key_version)
        items: list[dict[str, str]] = []
        seen: set[str] = set()
        for _, env in self.envelopes_in_subtree(org_id, history=history):
            report.records += 1
            eid = envelope_id(env)
            if eid in seen:
                continue
            seen.add(eid)
            report.envelopes += 1
            seals = self.seals(eid)
            if any(
                s.get("org_id") == org_id and s.get("key_version") == current.key_version for s in seals
            ) or any(k["org_id"] == org_id and k["key_version"] == current.key_version for k in env["keys"]):
                report.already += 1
                continue
            try:
                key = data_key(env, old, seals)
            except CannotDecrypt:
                report.not_mine += 1
                continue
            items.append({"envelope": eid, "sealed": seal_key(key, new_key.public)})
        for i in range(0, len(items), RESEAL_BATCH):
            batch = items[i : i + RESEAL_BATCH]
            payload = {"org_id": org_id, "key_version": current.key_version, "items": batch}
            tx_id = self._submit(admin, admin_org, "privacy.reseal", payload, submit)
            report.tx_ids.append(tx_id)
            report.resealed += len(batch)
        return report

    def rotate_org_key(
        self,
        org_id: str,
        old: OrgKeyring,
        new_key: EncryptionKey,
        admin: SigningKey,
        admin_org: str,
        *,
        history: bool = False,
    ) -> ResealReport:
        """`org.set_enc_key` to `new_key`, then `reseal_subtree` (old keys still open history)."""
        self._submit(
            admin, admin_org, "org.set_enc_key", {"org_id": org_id, "enc_pubkey": new_key.public.hex()}
        )
        self._keys.clear()
        return self.reseal_subtree(org_id, old, new_key, admin, admin_org, history=history)

    def _submit(
        self,
        admin: SigningKey,
        admin_org: str,
        tx_type: str,
        payload: dict[str, Any],
        submit: Callable[[Any], Any] | None = None,
    ) -> str:
        from client_sdk.client import LedgerClient, build_tx

        tx = build_tx(
            chain_id=self.genesis.chain_id, tx_type=tx_type, org_id=admin_org, payload=payload, key=admin
        )
        if submit is not None:
            submit(tx)
        else:
            with LedgerClient(self.url, self.genesis, key=admin) as client:
                client.submit(tx, timeout_s=60)
        return tx.tx_id.hex()


__all__ = [
    "BlobError",
    "CannotDecrypt",
    "OrgKeyring",
    "PersonKey",
    "PersonKeys",
    "PrivacyClient",
    "PrivacyError",
    "Recipient",
    "ResealReport",
    "blob_hash",
    "context_for",
    "data_key",
    "decrypt_blob",
    "encrypt_blob",
    "envelope_id",
    "open_fields",
    "open_text",
    "seal_fields",
    "seal_key",
    "seal_text",
    "text_context",
]
