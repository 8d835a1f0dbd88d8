"""`CodedError`, the base every package's exception tree shares, and the tree of the `wire` package.

Rules:

- Every error a package raises on purpose carries a stable, machine-readable `code` (snake_case;
  the reason code in receipts and API responses) and a human `message`, and never an HTTP status:
  only the node's API layer maps codes to statuses (`node/api/errors.py`).
- Each package roots its own tree in `CodedError` (`WireError`, `ContractError`, `NetworkError`,
  `NodeError`, `AuditError`, the SDK's `LedgerError`), so a caller can catch one package's errors
  or every coded error at once.
- Foreign exceptions (msgpack, nacl, OSError) are translated at the boundary with `raise ... from exc`.

    CodedError
    └── WireError
        ├── DecodeError       bytes that are not a canonical encoding of the expected type
        ├── EncodeError       a value that cannot be encoded canonically
        ├── SignatureError    a signature that does not verify, a malformed key or signature
        │   └── KeyFileError  a key file that is unreadable, readable by others or malformed
        ├── ProofError        a Merkle inclusion or consistency proof that does not verify
        ├── CertificateError  a commit certificate that does not verify against the validator set
        ├── GenesisError      a malformed or inconsistent genesis document
        ├── BadIdError        an id that is not 64 lowercase hex characters (`wire.hexid`)
        └── SchemaError       a payload that fails its schema (`wire.schema`; `code`, `path`)
"""

from __future__ import annotations


class CodedError(Exception):
    """An error with a stable machine-readable `code` and a human message."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class WireError(CodedError):
    """Base of every error raised by the wire package."""

    code = "wire_error"


class DecodeError(WireError):
    """Bytes that are not a valid canonical encoding of the expected type."""

    code = "decode_error"


class EncodeError(WireError):
    """A value that cannot be encoded canonically (wrong type, out of range, too large)."""

    code = "encode_error"


class SignatureError(WireError):
    """A signature that does not verify, or a malformed key or signature."""

    code = "bad_signature"


class KeyFileError(SignatureError):
    """A key file that cannot be read, is readable by others, or does not hold a matching key."""

    code = "bad_key_file"


class ProofError(WireError):
    """A Merkle inclusion or consistency proof that does not verify."""

    code = "bad_proof"


class CertificateError(WireError):
    """A commit certificate that does not verify against the validator set."""

    code = "bad_certificate"


class GenesisError(WireError):
    """A genesis document that is malformed or inconsistent."""

    code = "bad_genesis"


class BadIdError(WireError):
    """An id (transaction, person key, envelope, ...) that is not 64 lowercase hex characters."""

    code = "bad_id"


class SchemaError(WireError):
    """A payload that fails its transaction type's schema: `code` is the reason code, `path` the field."""

    code = "bad_payload"

    def __init__(self, code: str, path: str, what: str) -> None:
        super().__init__(f"payload field {path or '(root)'}: {what}", code=code)
        self.path, self.what = path, what
