"""Encrypted blobs (material files), offline: encrypt, decrypt, name by hash (docs/privacy.md).

Rules:

- `encrypt_blob` encrypts a file with its own random key (SecretBox) behind the `OLB1` magic; the
  key travels inside the record's envelope (`client_sdk.envelopes`), the blob's SHA-256
  (`blob_hash`) goes on the ledger and names it in the node's blob store.
- `decrypt_blob` refuses what is not a blob or does not decrypt with the key: `BlobError`, a
  `PrivacyError`. Uploading and the hash check on download are `client_sdk.privacy.PrivacyClient`.
"""

from __future__ import annotations

import os

import nacl.exceptions
import nacl.secret

from client_sdk.envelopes import PrivacyError
from wire.crypto import sha256

BLOB_MAGIC = b"OLB1"


class BlobError(PrivacyError):
    code = "blob_error"


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
