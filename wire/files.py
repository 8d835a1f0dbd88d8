"""The files both sides read and write: key files and `genesis.json`. The only module of `wire` that
touches the file system, so the pure core (which imports `wire.crypto` and `wire.genesis`) never
reaches it.

Rules:

- A key file is JSON `{"kind", "label", "public", "secret"}` (hex), mode 0600, written without
  ever being readable by others; reading refuses, in this order, a file that is not a key file at
  all (so a wrong path is named as such, not met with advice to chmod it), a file readable by
  group or others, an unknown kind and a public key that does not match the secret
  (`KeyFileError`, code `bad_key_file`).
- `load_genesis` reads `genesis.json` and validates it (`Genesis.from_json`; `GenesisError`).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from wire.crypto import EncryptionKey, SigningKey
from wire.errors import GenesisError, KeyFileError
from wire.genesis import Genesis


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
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a key file (it is not text)") from None
    try:
        doc = json.loads(raw)
        kind, secret, public = doc["kind"], bytes.fromhex(doc["secret"]), bytes.fromhex(doc["public"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(
            f'{path} is not a key file (expected JSON {{"kind", "public", "secret"}}, as `orgledger keys` writes)'
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is accessible by group or others; chmod 600 it")
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


def load_genesis(path: Path) -> Genesis:
    """Read and validate a `genesis.json`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GenesisError(f"cannot read genesis {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise GenesisError(f"genesis {path} is not valid JSON: {exc}") from exc
    return Genesis.from_json(doc)
