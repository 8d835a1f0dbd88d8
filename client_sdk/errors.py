"""The one exception tree of the SDK. Catch `LedgerError` for everything.

LedgerError
├── TransportError        the node could not be reached, or the connection failed mid-request
├── ApiError              the node answered with an error (status, stable `code`, message)
├── TxRejectedError       the transaction was committed but the contracts rejected it (`receipt`)
├── CommitTimeoutError    not committed within the time allowed (outcome unknown: query later)
└── VerificationError     what the node served does not verify (forged block, certificate, proof)
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    code = "ledger_error"


class TransportError(LedgerError):
    code = "transport_error"


class ApiError(LedgerError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class TxRejectedError(LedgerError):
    code = "tx_rejected"

    def __init__(self, receipt: dict[str, Any], height: int) -> None:
        rule = f" [{receipt.get('rule_id')}]" if receipt.get("rule_id") else ""
        super().__init__(f"rejected{rule} {receipt.get('reason_code')}: {receipt.get('reason')}")
        self.receipt, self.height = receipt, height
        self.rule_id = str(receipt.get("rule_id", ""))
        self.reason_code = str(receipt.get("reason_code", ""))


class CommitTimeoutError(LedgerError):
    code = "commit_timeout"


class VerificationError(LedgerError):
    code = "verification_failed"
