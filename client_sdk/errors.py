"""The one exception tree of the SDK. Catch `LedgerError` for everything (docs/sdk.md).

LedgerError
├── PayloadError             a payload fails its schema on the client, before anything is signed
│                            (`code`: the node's reason code, `path`: the field)
├── TransportError           the node could not be reached, or the connection failed mid-request
│   └── CertificateError     the node's TLS certificate does not verify against `ca_file` (not retried)
├── ApiError                 the node answered with an error (`status`, stable `code`, `message`,
│   │                        `height`, `retry_after_s`)
│   ├── BadRequestError      400/413/415: a parameter or the transaction itself was refused
│   │                        (e.g. a schema code, `malformed`, `too_large`)
│   ├── AuthenticationError  401: the request signature, key or token was not accepted
│   ├── ForbiddenError       403: the caller's role may not read this
│   ├── NotFoundError        404: absent, or outside the caller's subtree (the same answer)
│   ├── HeightNotReachedError 409: `min_height` not reached in time
│   ├── RateLimitedError     429: slow down (`retry_after_s`)
│   └── UnavailableError     503 (and any other 5xx): the node cannot serve right now
├── TxRejectedError          the transaction was committed, and the contracts rejected it
│                            (`receipt`, `rule_id`, `reason_code`, `height`)
├── CommitTimeoutError       not known to be committed within the time allowed (`tx_id`): the
│                            outcome is unknown; submitting the same signed transaction again is safe
└── VerificationError        what the node served does not verify against the genesis the client
    │                        holds (forged block, certificate, proof or receipt)
    └── UnknownEpochError    a header names a validator set the client has not verified yet: a
                             later epoch; the clients fetch the epochs (`/v1/validators`),
                             verify them from genesis and check again, once
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    code = "ledger_error"


class PayloadError(LedgerError, ValueError):
    """A payload fails its transaction type's schema, found before signing (same codes as the node)."""

    def __init__(self, code: str, path: str, what: str) -> None:
        super().__init__(f"payload field {path or '(root)'}: {what}")
        self.code, self.path, self.what = code, path, what


class TransportError(LedgerError):
    code = "transport_error"


class CertificateError(TransportError):
    """The node's TLS certificate does not verify (wrong CA, host not named, expired)."""

    code = "certificate_error"


class ApiError(LedgerError):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        height: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.height, self.retry_after_s = height, retry_after_s


class BadRequestError(ApiError):
    pass


class AuthenticationError(ApiError):
    pass


class ForbiddenError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class HeightNotReachedError(ApiError):
    pass


class RateLimitedError(ApiError):
    pass


class UnavailableError(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: HeightNotReachedError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
    429: RateLimitedError,
}


def api_error(
    status: int,
    code: str,
    message: str,
    *,
    height: int | None = None,
    retry_after_s: float | None = None,
) -> ApiError:
    """The ApiError subclass for an HTTP status."""
    cls = _BY_STATUS.get(status, UnavailableError if status >= 500 else ApiError)
    return cls(status, code, message, height=height, retry_after_s=retry_after_s)


class TxRejectedError(LedgerError):
    code = "tx_rejected"

    def __init__(self, receipt: dict[str, Any], height: int) -> None:
        rule = f" [{receipt.get('rule_id')}]" if receipt.get("rule_id") else ""
        super().__init__(f"rejected{rule} {receipt.get('reason_code')}: {receipt.get('reason')}")
        self.receipt, self.height = receipt, height
        self.rule_id = str(receipt.get("rule_id") or "")
        self.reason_code = str(receipt.get("reason_code") or "")
        self.reason = str(receipt.get("reason") or "")
        self.tx_id = str(receipt.get("tx_id") or "")


class CommitTimeoutError(LedgerError):
    code = "commit_timeout"

    def __init__(self, message: str, tx_id: bytes | None = None) -> None:
        super().__init__(message)
        self.tx_id = tx_id


class VerificationError(LedgerError):
    code = "verification_failed"


class UnknownEpochError(VerificationError):
    """A certified header names a validator set other than the one the client knows for its height."""


__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CommitTimeoutError",
    "ForbiddenError",
    "HeightNotReachedError",
    "LedgerError",
    "NotFoundError",
    "PayloadError",
    "RateLimitedError",
    "TransportError",
    "TxRejectedError",
    "UnavailableError",
    "UnknownEpochError",
    "VerificationError",
    "api_error",
]
