"""The one exception tree of the `auditor` package.

    CodedError (wire.errors)
    └── AuditError
        ├── AuditFailed      audit_failed: the chain (or the access log) does not verify; the
        │                    `failure` names the height, the check and the reason
        ├── AuditIncomplete  audit_incomplete: no verdict, the source could not be read to the end
        └── SourceError      source_error: a node or archive did not deliver something (network,
                             HTTP error, unreadable or truncated file); `height` and `status` when known

Rules: an `AuditFailed` is a verdict (exit code 1 of `orgledger audit`), an `AuditIncomplete` is
the absence of one (exit code 3); a `SourceError` becomes one or the other depending on whether the
source could be blamed (a node that claims a height it cannot serve fails; a lost connection is
incomplete).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wire.errors import CodedError


@dataclass(frozen=True, slots=True)
class Failure:
    height: int
    check: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"height": self.height, "check": self.check, "reason": self.reason}


class AuditError(CodedError):
    """Base of every error the auditor raises on purpose."""

    code = "audit_error"


class AuditFailed(AuditError):
    code = "audit_failed"

    def __init__(self, height: int, check: str, reason: str) -> None:
        super().__init__(f"height {height}: {check}: {reason}")
        self.failure = Failure(height, check, reason)


class AuditIncomplete(AuditError):
    """The audit could not run to the end (source unreachable or unreadable): no verdict."""

    code = "audit_incomplete"


class SourceError(AuditError):
    """The source could not deliver something (network, HTTP error, unreadable or truncated file)."""

    code = "source_error"

    def __init__(self, message: str, *, height: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.height, self.status = height, status
