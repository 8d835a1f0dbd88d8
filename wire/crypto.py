"""Hashing, ed25519 signing with domain separation, and key files.

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
import json
import os
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

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


class KeyFileError(SignatureError):
    code = "bad_key_file"


def write_key_file(path: Path, kind: str, secret: bytes, public: bytes, label: str = "") -> None:
    """Write a key file readable only by its owner (mode 0600), never overwriting silently."""
    doc = {"kind": kind, "label": label, "public": public.hex(), "secret": secret.hex()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(doc, indent=2) + "\n").encode())
    finally:
        os.close(fd)


def read_key_file(path: Path) -> tuple[str, bytes, bytes]:
    """Read (kind, secret, public); refuse files readable by others and keys that do not match."""
    try:
        mode = path.stat().st_mode
        raw = path.read_text()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is accessible by group or others; chmod 600 it")
    try:
        doc = json.loads(raw)
        kind, secret, public = doc["kind"], bytes.fromhex(doc["secret"]), bytes.fromhex(doc["public"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"key file {path} is malformed") from exc
    if kind == "ed25519":
        if len(secret) != 32 or SigningKey(secret).public != public:
            raise KeyFileError(f"key file {path}: public key does not match the secret")
    elif kind == "x25519":
        if len(secret) != 32 or EncryptionKey(secret).public != public:
            raise KeyFileError(f"key file {path}: public key does not match the secret")
    else:
        raise KeyFileError(f"key file {path}: unknown key kind {kind!r}")
    return kind, secret, public


def load_signing_key(path: Path) -> SigningKey:
    kind, secret, _ = read_key_file(path)
    if kind != "ed25519":
        raise KeyFileError(f"{path} holds a {kind} key, not an ed25519 signing key")
    return SigningKey(secret)


def load_encryption_key(path: Path) -> EncryptionKey:
    kind, secret, _ = read_key_file(path)
    if kind != "x25519":
        raise KeyFileError(f"{path} holds a {kind} key, not an x25519 encryption key")
    return EncryptionKey(secret)
