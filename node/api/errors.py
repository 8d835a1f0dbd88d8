"""The API's refusals and the one table that maps every reason code to its HTTP status.

Rules:

- Route code raises `ApiError(code, message)`; the runtime, the store, the index and privacy
  raise their own `NodeError`s (and `wire` its `WireError`s) with reason codes. Nothing below
  this module knows an HTTP status: `status_of(exc)` is the only place a code becomes one.
- Lookup order: the code in `STATUS`; else the class default in `CLASS_STATUS` (any other
  admission refusal is the client's transaction: 400; any other storage error: 503); else 500
  (a bug: the handler logs it).
- 429 and 503 answers carry `Retry-After` (the error's `retry_after_s`, default 1 s).
- Every error body is `{"error": {"code", "message"}, "height"}`.
"""

from __future__ import annotations

import math

from node.errors import AdmissionError, BusyError, NodeError, StorageError
from wire.errors import CodedError, WireError


class ApiError(NodeError):
    """A refusal by the API: a reason code (its status comes from `STATUS`) and a message."""

    code = "api_error"

    def __init__(self, code: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


STATUS: dict[str, int] = {
    # 400: the request or the transaction is malformed
    "bad_request": 400,
    "bad_id": 400,
    "bad_cursor": 400,
    "hash_mismatch": 400,
    "malformed": 400,
    "bad_json": 400,
    "too_deep": 400,
    "duplicate_key": 400,
    "client_gone": 400,
    # 401: who is asking is not established
    "auth_required": 401,
    "bad_auth_header": 401,
    "wrong_audience": 401,
    "stale_request": 401,
    "bad_signature": 401,
    "replayed_request": 401,
    "unknown_key": 401,
    "key_revoked": 401,
    "key_rotated": 401,
    "bad_token": 401,
    "token_expired": 401,
    # 403: established, and not allowed
    "forbidden": 403,
    "unknown_signer": 403,
    "signer_revoked": 403,
    "signer_rotated": 403,
    # 404: absent, or outside the caller's subtree (the same answer)
    "not_found": 404,
    "unknown_tx": 404,
    "unknown_block": 404,
    # 405, 409, 413, 415
    "method_not_allowed": 405,
    "height_not_reached": 409,
    "already_committed": 409,
    "too_large": 413,
    "header_too_large": 431,
    "unsupported_media_type": 415,
    # 429: slow down
    "rate_limited": 429,
    "too_many_failures": 429,
    "signer_quota": 429,
    "client_rate_limited": 429,
    "client_connection_limit": 429,
    "busy": 429,
    # 503: the node cannot serve right now
    "node_stopped": 503,
    "joining": 503,
    "mempool_full": 503,
    "admission_busy": 503,
    "too_many_connections": 503,
    "state_changing": 503,
    "index_unavailable": 503,
    "index_inconsistent": 503,
    "person_keys_unavailable": 503,
    "blob_unavailable": 503,
    "storage_error": 503,
    "storage_corrupt": 503,
    "storage_unavailable": 503,
}

CLASS_STATUS: tuple[tuple[type[CodedError], int], ...] = (
    (AdmissionError, 400),
    (StorageError, 503),
    (BusyError, 429),
    (WireError, 400),
)

RETRY_AFTER_DEFAULT_S = 1.0


def status_of(exc: CodedError) -> int:
    """The HTTP status of a coded error (500 for a code and class nobody mapped: a bug)."""
    found = STATUS.get(exc.code)
    if found is not None:
        return found
    for cls, status in CLASS_STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def headers_of(exc: CodedError, status: int) -> dict[str, str]:
    """`Retry-After` for 429 and 503."""
    if status not in (429, 503):
        return {}
    wait = getattr(exc, "retry_after_s", None)
    seconds = RETRY_AFTER_DEFAULT_S if wait is None else float(wait)
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
