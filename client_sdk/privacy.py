"""Data protection in the SDK: person keys, encrypted personal fields, encrypted materials, re-sealing
after an org key rotation (docs/privacy.md).

Rules:

- Personal fields the rules do not need (names, contact data, free text) never leave the SDK in
  clear: `seal_fields` encrypts them (canonical JSON, padded to 64 bytes, bound to a context such
  as `archive:<person_key>`) with a random 32-byte data key (SecretBox) and seals that key
  (SealedBox) to the X25519 key of the owning org and of every ancestor. The envelope
  `{v, nonce, ct, keys: [{org_id, key_version, sealed}]}` goes on the record payload as `sealed`.
- Raw ID numbers are refused inside envelopes too (`seal_fields` raises): the ledger holds person
  keys; a masked number (`idnumber.mask_id`) may be kept for display.
- Only an org's private key opens what was sealed to it (`open_fields` with an `OrgKeyring`):
  a superior org opens its subordinates' records, a sibling or a child cannot.
- Org public keys come from the node (`GET /v1/enc-keys/{org}`) and are verified against the
  caller's genesis: genesis keys by comparison, later keys by the proof of the certified
  `org.create` / `org.set_enc_key` transaction that set them (a node cannot substitute a key of
  its own). It can serve an older certified key than the newest (not prove freshness): see
  docs/privacy.md.
- Materials: `encrypt_blob` encrypts a file with its own random key (the key travels inside the
  record's envelope); the blob's SHA-256 goes on the ledger; `download_blob` checks the hash.
- Everything that fails raises `PrivacyError` (a `LedgerError`); `CannotDecrypt` when a keyring
  has no key that opens an envelope.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import nacl.exceptions
import nacl.public
import nacl.secret

from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.errors import ApiError, LedgerError, TransportError, VerificationError
from client_sdk.idnumber import IdNumberError, birth_date_of, check_id, find_id_numbers, mask_id
from wire.crypto import EncryptionKey, Signer, SigningKey, load_encryption_key, sha256
from wire.errors import GenesisError
from wire.genesis import Genesis, org_parent
from wire.types import RECEIPT_ACCEPTED

ENVELOPE_VERSION = 1
PAD_TO = 64
BLOB_MAGIC = b"OLB1"
RESEAL_BATCH = 128
KEY_CACHE_S = 300.0  # verified org key chains are reused this long (a rotation shows up after it)
KEY_TX_TYPES = ("org.create", "org.set_enc_key")
# families whose records may carry an envelope, with their read API path
SEALED_FAMILIES = {
    "archive": "archives",
    "material": "materials",
    "meeting": "meetings",
    "decision": "decisions",
}


class PrivacyError(LedgerError):
    code = "privacy_error"


class CannotDecrypt(PrivacyError):
    code = "cannot_decrypt"


class BlobError(PrivacyError):
    code = "blob_error"


# ------------------------------------------------------------------------------------ envelopes
@dataclass(frozen=True, slots=True)
class Recipient:
    """An org key the data key is sealed to."""

    org_id: str
    key_version: int
    public: bytes


@dataclass(frozen=True, slots=True)
class OrgKeyring:
    """The private keys of one org (current and older versions) that may open envelopes."""

    org_id: str
    keys: tuple[EncryptionKey, ...]

    @classmethod
    def from_files(cls, org_id: str, *paths: Path) -> OrgKeyring:
        return cls(org_id, tuple(load_encryption_key(p) for p in paths))

    def publics(self) -> set[bytes]:
        return {k.public for k in self.keys}


def context_for(family: str, record_id: str) -> str:
    """The context an envelope is bound to: `<family>:<record id>` (versions use their head's id)."""
    return f"{family}:{record_id}"


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _refuse_id_numbers(value: Any, where: str) -> None:
    if isinstance(value, str):
        if find_id_numbers(value):
            raise PrivacyError(
                f"{where} holds an ID number; keep the person key on the record (mask_id() for display)"
            )
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _refuse_id_numbers(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _refuse_id_numbers(v, f"{where}[{i}]")


def seal_fields(fields: Mapping[str, Any], recipients: Sequence[Recipient], context: str) -> dict[str, Any]:
    """Encrypt `fields` (JSON values) under a new data key sealed to every recipient."""
    if not recipients:
        raise PrivacyError("an envelope needs at least one recipient org key")
    _refuse_id_numbers(dict(fields), "fields")
    plain = _canonical({"ctx": context, "fields": dict(fields)})
    plain += b" " * (-len(plain) % PAD_TO)  # JSON ignores trailing blanks: lengths leak in 64-byte steps
    key = os.urandom(nacl.secret.SecretBox.KEY_SIZE)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    ct = nacl.secret.SecretBox(key).encrypt(plain, nonce).ciphertext
    return {
        "v": ENVELOPE_VERSION,
        "nonce": nonce.hex(),
        "ct": bytes(ct).hex(),
        "keys": [
            {"org_id": r.org_id, "key_version": r.key_version, "sealed": seal_key(key, r.public)}
            for r in recipients
        ],
    }


def seal_key(data_key: bytes, public: bytes) -> str:
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public)).encrypt(data_key)).hex()


def envelope_id(envelope: Mapping[str, Any]) -> str:
    """SHA-256 of nonce || ciphertext: names an envelope for `privacy.reseal`."""
    return sha256(bytes.fromhex(envelope["nonce"]) + bytes.fromhex(envelope["ct"])).hex()


def _candidates(envelope: Mapping[str, Any], org_id: str, seals: Sequence[Mapping[str, Any]]) -> list[str]:
    own = [k["sealed"] for k in envelope.get("keys", []) if k.get("org_id") == org_id]
    later = [s["sealed"] for s in seals if s.get("org_id") == org_id]
    return [*reversed(later), *own]  # newest re-seal first


def data_key(
    envelope: Mapping[str, Any], keyring: OrgKeyring, seals: Sequence[Mapping[str, Any]] = ()
) -> bytes:
    """The envelope's data key, unsealed with one of the keyring's keys, or CannotDecrypt."""
    if envelope.get("v") != ENVELOPE_VERSION:
        raise PrivacyError(f"unknown envelope version {envelope.get('v')!r}")
    for sealed in _candidates(envelope, keyring.org_id, seals):
        for key in keyring.keys:
            try:
                out = nacl.public.SealedBox(nacl.public.PrivateKey(key.secret)).decrypt(bytes.fromhex(sealed))
            except (nacl.exceptions.CryptoError, ValueError):
                continue
            return bytes(out)
    raise CannotDecrypt(f"no key of {keyring.org_id} opens this envelope")


def open_fields(
    envelope: Mapping[str, Any],
    keyring: OrgKeyring,
    *,
    context: str | None = None,
    seals: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Decrypt an envelope's fields with an org's private key(s); check its context if given."""
    key = data_key(envelope, keyring, seals)
    try:
        plain = nacl.secret.SecretBox(key).decrypt(
            bytes.fromhex(envelope["ct"]), bytes.fromhex(envelope["nonce"])
        )
        doc = json.loads(plain.decode("utf-8"))
    except (nacl.exceptions.CryptoError, ValueError, KeyError) as exc:
        raise PrivacyError("the envelope's ciphertext does not decrypt with its data key") from exc
    if context is not None and doc.get("ctx") != context:
        raise PrivacyError(f"the envelope belongs to {doc.get('ctx')!r}, not to {context!r}")
    fields = doc.get("fields")
    if not isinstance(fields, dict):
        raise PrivacyError("the envelope holds no fields")
    return fields


# ---------------------------------------------------------------------------------------- blobs
def encrypt_blob(data: bytes) -> tuple[bytes, bytes]:
    """(blob bytes for the store, the file key to keep in the record's envelope)."""
    key = os.urandom(nacl.secret.SecretBox.KEY_SIZE)
    return BLOB_MAGIC + bytes(nacl.secret.SecretBox(key).encrypt(data)), key


def decrypt_blob(blob: bytes, key: bytes) -> bytes:
    if not blob.startswith(BLOB_MAGIC):
        raise BlobError("not an orgledger blob")
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(blob[len(BLOB_MAGIC) :]))
    except nacl.exceptions.CryptoError as exc:
        raise BlobError("the blob does not decrypt with this key") from exc


def blob_hash(blob: bytes) -> str:
    return sha256(blob).hex()


# ----------------------------------------------------------------------------------- the client
@dataclass(frozen=True, slots=True)
class PersonKey:
    """A person key from the node: never the ID number itself."""

    person_key: str
    key_version: int
    masked: str  # at most the first 6 and the last 4 characters of the ID number
    birth_date: str  # digits 7-14 of the ID number
    name_key: str | None = None
    older: tuple[tuple[int, str, str | None], ...] = ()  # (version, person_key, name_key) of older secrets


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
    ) -> None:
        """`http` replaces the HTTP client (tests put a fake node behind it)."""
        self.url = url.rstrip("/")
        self.genesis = genesis
        self.key = key
        if auth is None and key is not None:
            auth = LedgerAuth(RequestSigner(key, genesis.chain_id))
        self._http = (
            http if http is not None else httpx.Client(base_url=self.url, timeout=timeout_s, auth=auth)
        )
        self._keys: dict[str, tuple[float, tuple[Recipient, ...]]] = {}
        self.person_keys = PersonKeys(self)

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
                out = self._verify_chain(org_id, doc)
                break
            except _NotYetProvable:
                if time.monotonic() > deadline:
                    raise VerificationError(f"the key of an org above {org_id} is not provable yet") from None
                time.sleep(0.2)
        self._keys[org_id] = (time.monotonic(), out)
        return out

    def _verify_chain(self, org_id: str, doc: Mapping[str, Any]) -> tuple[Recipient, ...]:
        expected: list[str] = []
        org: str | None = org_id
        while org is not None:
            expected.append(org)
            org = org_parent(org)
        chain = doc.get("chain")
        if not isinstance(chain, list) or [e.get("org_id") for e in chain] != expected:
            raise VerificationError(f"the node did not answer the key chain of {org_id} and its ancestors")
        return tuple(self._verify_key(e) for e in chain)

    def _verify_key(self, entry: Mapping[str, Any]) -> Recipient:
        org_id, version = str(entry["org_id"]), int(entry["key_version"])
        try:
            public = bytes.fromhex(str(entry["enc_pubkey"]))
        except ValueError:
            raise VerificationError(f"malformed key of {org_id}") from None
        if entry.get("source") == "genesis":
            try:
                spec = self.genesis.org(org_id)
            except GenesisError:
                raise VerificationError(f"{org_id} is not a genesis org") from None
            if version != 1 or spec.enc_pubkey != public:
                raise VerificationError(f"the key served for {org_id} is not its genesis key")
            return Recipient(org_id, version, public)
        if entry.get("proof") is None:
            raise _NotYetProvable()
        from client_sdk.proofs import verify_proof_response

        tx_id = bytes.fromhex(str(entry["tx_id"]))
        verified = verify_proof_response(entry["proof"], self.genesis, tx_id)
        if verified.receipt is None:
            raise _NotYetProvable()
        tx = verified.tx
        if verified.receipt.status != RECEIPT_ACCEPTED or tx is None:
            raise VerificationError(f"the transaction that set {org_id}'s key was not accepted")
        body = tx.body
        p = body.payload if isinstance(body.payload, dict) else {}
        if (
            body.tx_type not in KEY_TX_TYPES
            or p.get("org_id") != org_id
            or p.get("enc_pubkey") != public.hex()
        ):
            raise VerificationError(f"the proven transaction does not set this key of {org_id}")
        return Recipient(org_id, version, public)

    # ------------------------------------------------------------------ sealing and opening
    def seal(self, org_id: str, fields: Mapping[str, Any], context: str) -> dict[str, Any]:
        """An envelope of `fields` for a record owned by `org_id`, sealed to it and its ancestors."""
        return seal_fields(fields, self.enc_keys(org_id), context)

    def record(self, family: str, record_id: str) -> dict[str, Any]:
        """One record item (`family` as in the read API path: archives, materials, ...)."""
        doc = self.request("GET", f"/v1/{family}/{quote(record_id, safe='')}")
        item = doc.get("item")
        if not isinstance(item, dict):
            raise ApiError(200, "bad_response", "no item in the answer")
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
    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            q = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            doc = self.request("GET", path, params=q)
            yield from doc.get("items", [])
            cursor = doc.get("next_cursor")
            if not cursor:
                return

    def envelopes_in_subtree(
        self, org_id: str, *, history: bool = False
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(record item, envelope) of every sealed record of the org's subtree (and versions)."""
        for path in SEALED_FAMILIES.values():
            for item in self._pages(f"/v1/{path}", {"org_id": org_id, "subtree": "true"}):
                rec = item.get("record") or {}
                if rec.get("sealed") is not None:
                    yield item, rec["sealed"]
                if history:
                    sub = f"/v1/{path}/{quote(str(item['id']), safe='')}/versions"
                    for ver in self._pages(sub, {}):
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


class _NotYetProvable(Exception):
    """The key's transaction is committed but its receipt is not provable yet (exec_lag)."""


class PersonKeys:
    """Person keys from a node (`POST /v1/person-keys`): the ID number is validated here first and
    never sent when invalid; the answer carries the keys and a masked number, never the number."""

    MAX_BATCH = 64

    def __init__(self, client: PrivacyClient) -> None:
        self._client = client

    @staticmethod
    def _item(id_number: str, name: str | None, birth_date: str | None) -> dict[str, Any]:
        n = check_id(id_number)
        born = birth_date_of(n)
        if birth_date is not None and birth_date != born:
            raise IdNumberError(
                "birth_date", "birth date differs from the one in the ID number (positions 7-14)"
            )
        item: dict[str, Any] = {"id_number": n}
        if name is not None:
            item["name"] = name
            item["birth_date"] = born
        return item

    def get(
        self,
        id_number: str,
        *,
        name: str | None = None,
        birth_date: str | None = None,
        all_versions: bool = False,
    ) -> PersonKey:
        return self.batch([(id_number, name, birth_date)], all_versions=all_versions)[0]

    def batch(
        self, entries: Sequence[str | tuple[str, str | None, str | None]], *, all_versions: bool = False
    ) -> list[PersonKey]:
        """Person keys for several ID numbers (optionally with name (and birth date) for the
        name key); any invalid number raises IdNumberError before anything is sent."""
        items = []
        for e in entries:
            id_number, name, born = (e, None, None) if isinstance(e, str) else e
            items.append(self._item(id_number, name, born))
        out: list[PersonKey] = []
        for i in range(0, len(items), self.MAX_BATCH):
            chunk = items[i : i + self.MAX_BATCH]
            doc = self._client.request(
                "POST", "/v1/person-keys", json={"items": chunk, "all_versions": all_versions}
            )
            answers = doc.get("items", [])
            if len(answers) != len(chunk):
                raise ApiError(200, "bad_response", "the node answered another number of items")
            for sent, ans in zip(chunk, answers, strict=True):
                if not ans.get("ok"):
                    err = ans.get("error", {})
                    raise IdNumberError(str(err.get("code", "invalid")), str(err.get("message", "")))
                keys = sorted(ans["keys"], key=lambda k: -int(k["key_version"]))
                top = keys[0]
                out.append(
                    PersonKey(
                        person_key=str(top["person_key"]),
                        key_version=int(top["key_version"]),
                        masked=mask_id(sent["id_number"]),
                        birth_date=birth_date_of(sent["id_number"]),
                        name_key=top.get("name_key"),
                        older=tuple(
                            (int(k["key_version"]), str(k["person_key"]), k.get("name_key")) for k in keys[1:]
                        ),
                    )
                )
        return out


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
    "seal_fields",
    "seal_key",
]
