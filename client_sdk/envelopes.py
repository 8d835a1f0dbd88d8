"""Envelopes: encrypted personal fields, sealed to org keys (docs/privacy.md). Offline: no IO.

Rules:

- `seal_fields` encrypts fields (canonical JSON, padded to 64 bytes, bound to a context such as
  `archive:<person_key>`, see `context_for`) with a random 32-byte data key (SecretBox) and seals
  that key (SealedBox) to the X25519 key of every recipient org. The envelope is
  `{v, nonce, ct, keys: [{org_id, key_version, sealed}]}`.
- Raw ID numbers are refused inside envelopes (`seal_fields` raises PrivacyError): the ledger holds
  person keys; a masked number (`idnumber.mask_id`) may be kept for display.
- Only an org's private key opens what was sealed to it (`open_fields` / `data_key` with an
  `OrgKeyring`); keys re-sealed after a rotation (`seals`) are tried newest first.
- Failures raise `PrivacyError` (a `LedgerError`), `CannotDecrypt` when no key of the keyring opens
  the envelope. Fetching and verifying org keys is `client_sdk.orgkeys`; the client that does both
  is `client_sdk.privacy.PrivacyClient`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.public
import nacl.secret

from client_sdk.errors import LedgerError
from wire.crypto import EncryptionKey, sha256
from wire.files import load_encryption_key
from wire.idnumber import find_id_numbers

ENVELOPE_VERSION = 1
PAD_TO = 64


class PrivacyError(LedgerError):
    code = "privacy_error"


class CannotDecrypt(PrivacyError):
    code = "cannot_decrypt"


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
