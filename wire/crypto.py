"""Hashing, ed25519 signing with domain separation, X25519 encryption keys (key files: `wire/files.py`).

Rules:

- Hash: SHA-256 everywhere (`sha256`).
- Every signature is over `sign_bytes(domain, chain_id, payload)` =
  `b"orgledger/" + domain + b"\\x00" + len(chain_id) (1 byte) + chain_id + payload`.
  Domains are fixed ASCII names without NUL, so the prefix is unambiguous: no signed object of one
  kind can be replayed as another kind or on another chain.
- Keys are ed25519 (PyNaCl). Verification uses libsodium, which rejects non-canonical signatures,
  so a valid signature has exactly one byte form.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

import nacl.exceptions
import nacl.public
import nacl.signing

from wire.errors import SignatureError

HASH_SIZE = 32
PUBKEY_SIZE = 32
SIGNATURE_SIZE = 64
MAX_CHAIN_ID_LEN = 64


class Domain(Enum):
    """One signing domain per kind of signed object."""

    TX = "tx"
    TX_APPROVAL = "tx-approval"
    PRE_PREPARE = "pre-prepare"
    PREPARE = "prepare"
    COMMIT = "commit"
    CHECKPOINT = "checkpoint"
    VIEW_CHANGE = "view-change"
    NEW_VIEW = "new-view"
    HANDSHAKE = "handshake"
    API_REQUEST = "api-request"
    SYNC = "sync"


_DOMAIN_PREFIX = {d: b"orgledger/" + d.value.encode("ascii") + b"\x00" for d in Domain}


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sign_bytes(domain: Domain, chain_id: str, payload: bytes) -> bytes:
    """The exact bytes a signature of `domain` covers."""
    cid = chain_id.encode("utf-8")
    if not 0 < len(cid) <= MAX_CHAIN_ID_LEN:
        raise SignatureError(f"chain id must be 1..{MAX_CHAIN_ID_LEN} bytes", code="bad_chain_id")
    return _DOMAIN_PREFIX[domain] + bytes((len(cid),)) + cid + payload


def verify(domain: Domain, chain_id: str, pubkey: bytes, payload: bytes, signature: bytes) -> bool:
    """True when `signature` by `pubkey` covers `payload` in `domain` on `chain_id`."""
    if len(pubkey) != PUBKEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.signing.VerifyKey(pubkey).verify(sign_bytes(domain, chain_id, payload), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    except SignatureError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An ed25519 key pair. `seed` is the 32-byte secret."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise SignatureError("an ed25519 seed is 32 bytes", code="bad_key")

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    def sign(self, domain: Domain, chain_id: str, payload: bytes) -> bytes:
        signed = nacl.signing.SigningKey(self.seed).sign(sign_bytes(domain, chain_id, payload))
        return bytes(signed.signature)

    def signer(self) -> Signer:
        return Signer(self)


class Signer:
    """A signing key with its libsodium object cached (signing many messages)."""

    __slots__ = ("_key", "public")

    def __init__(self, key: SigningKey) -> None:
        self._key = nacl.signing.SigningKey(key.seed)
        self.public = bytes(self._key.verify_key)

    def sign(self, domain: Domain, chain_id: str, payload: bytes) -> bytes:
        return bytes(self._key.sign(sign_bytes(domain, chain_id, payload)).signature)


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """An X25519 key pair (org encryption keys). `secret` is 32 bytes."""

    secret: bytes

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    @property
    def public(self) -> bytes:
        return bytes(nacl.public.PrivateKey(self.secret).public_key)
