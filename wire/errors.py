"""The one exception tree of the `wire` package.

Every error raised by `wire` derives from `WireError` and carries a stable, machine-readable
`code` (used as the reason code in API responses and receipts) plus a human message.
Foreign exceptions (msgpack, nacl) are translated at the boundary with `raise ... from exc`.
"""

from __future__ import annotations


class WireError(Exception):
    """Base of every error raised by the wire package."""

    code: str = "wire_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class DecodeError(WireError):
    """Bytes that are not a valid canonical encoding of the expected type."""

    code = "decode_error"


class EncodeError(WireError):
    """A value that cannot be encoded canonically (wrong type, out of range, too large)."""

    code = "encode_error"


class SignatureError(WireError):
    """A signature that does not verify, or a malformed key or signature."""

    code = "bad_signature"


class ProofError(WireError):
    """A Merkle inclusion or consistency proof that does not verify."""

    code = "bad_proof"


class CertificateError(WireError):
    """A commit certificate that does not verify against the validator set."""

    code = "bad_certificate"


class GenesisError(WireError):
    """A genesis document that is malformed or inconsistent."""

    code = "bad_genesis"
