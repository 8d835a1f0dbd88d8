"""The alert lifecycle (DOMAIN.md section 0.6): acknowledge, resolve, waive.

Rules:

- An alert starts OPEN. `alert.ack` moves it to ACKED (from OPEN only); `alert.resolve` (with a
  reason and the SHA-256 of the evidence, optionally a registered evidence document) and
  `alert.waive` (with a reason) close it as RESOLVED / WAIVED (from OPEN or ACKED). A closed alert
  stays closed.
- Who: the signer's org (the transaction's org) must be the alert's subject org or above it
  (`org_id` of the alert; a sibling never handles another org's alerts). Acknowledging and
  resolving need an `operator`, `admin` or `approver`; waiving needs an `approver` or `admin`.
  A RED alert is closed (resolved or waived) only by an org at least one level above the subject
  org: a strict ancestor.
- Every step is a signed transaction and is appended to the alert's `history` (action, status
  before and after, signer key and user id, org, transaction id, height, time, note or reason,
  evidence, and the transaction's signature). Closing also sets `resolver_sig`
  `{pubkey, signature, tx_id}`, `closed_by_org` and `closed_height`: the signature verifies over
  the transaction body in the block, so an auditor can check who closed the alert.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import require_role
from contracts.records import require_docs
from contracts.schema import ID_PATTERN, Hex, Obj, Str, opt, req
from contracts.state import View
from wire.genesis import is_ancestor_or_self

HISTORY_MAX = 16
_ALERT_ID = Str(32, min_len=32, pattern=r"^[0-9a-f]{32}$")
ALERT_ACK = Obj((req("alert_id", _ALERT_ID), opt("note", Str(1024, text=True))))
ALERT_RESOLVE = Obj(
    (
        req("alert_id", _ALERT_ID),
        req("reason", Str(1024, text=True)),
        req("evidence_hash", Hex(32), "SHA-256 of the evidence (off-ledger file)"),
        opt("evidence_doc", Str(128, pattern=ID_PATTERN), "a registered document with the evidence"),
    )
)
ALERT_WAIVE = Obj(
    (
        req("alert_id", _ALERT_ID),
        req("reason", Str(1024, text=True)),
        opt("evidence_hash", Hex(32)),
    )
)
_FROM = {"ack": ("OPEN",), "resolve": ("OPEN", "ACKED"), "waive": ("OPEN", "ACKED")}
_TO = {"ack": "ACKED", "resolve": "RESOLVED", "waive": "WAIVED"}
_ROLES = {
    "ack": ("operator", "admin", "approver"),
    "resolve": ("operator", "admin", "approver"),
    "waive": ("approver", "admin"),
}


def _alert(view: View, alert_id: str) -> dict[str, Any]:
    rec = view.get(keys.alert(alert_id))
    if rec is None:
        raise TxRejected("unknown_alert", f"alert {alert_id} does not exist")
    return rec


def _check(view: View, tx: TxCtx, action: str) -> None:
    require_role(view, tx, _ROLES[action])
    rec = _alert(view, tx.payload["alert_id"])
    subject = rec["org_id"]
    if not is_ancestor_or_self(tx.org_id, subject):
        raise TxRejected("not_in_subtree", f"the alert belongs to {subject}, outside {tx.org_id}")
    if rec["status"] not in _FROM[action]:
        raise TxRejected("bad_status", f"the alert is {rec['status']}; cannot {action} it")
    if action != "ack" and rec["colour"] == "RED" and tx.org_id == subject:
        raise TxRejected(
            "higher_org_required", f"a RED alert of {subject} is closed by an org at least one level above"
        )
    if len(rec["history"]) >= HISTORY_MAX:
        raise TxRejected("history_full", "the alert's history is full")
    doc = tx.payload.get("evidence_doc")
    if doc is not None:
        require_docs(view, [doc])


def _apply(view: View, tx: TxCtx, action: str) -> None:
    p = tx.payload
    rec = _alert(view, p["alert_id"])
    user = require_role(view, tx, _ROLES[action])
    step = {
        "seq": len(rec["history"]) + 1,
        "action": action.upper(),
        "from": rec["status"],
        "to": _TO[action],
        "by": tx.signer.hex(),
        "user_id": user["user_id"],
        "org_id": tx.org_id,
        "tx_id": tx.tx_hex,
        "height": tx.height,
        "time_ms": tx.time_ms,
        "date": tx.today.isoformat(),
        "note": p.get("note") if action == "ack" else p["reason"],
        "evidence_hash": p.get("evidence_hash"),
        "evidence_doc": p.get("evidence_doc"),
        "signature": tx.signature.hex(),
    }
    rec["history"] = [*rec["history"], step]
    rec["status"] = _TO[action]
    if action != "ack":
        rec["resolver_sig"] = {"pubkey": tx.signer.hex(), "signature": tx.signature.hex(), "tx_id": tx.tx_hex}
        rec["closed_by_org"] = tx.org_id
        rec["closed_height"] = tx.height
    view.put(keys.alert(p["alert_id"]), rec)


def _spec(action: str, schema: Obj, description: str, signers: str) -> TxSpec:
    def check(view: View, tx: TxCtx, config: Config) -> None:
        _check(view, tx, action)

    def apply(view: View, tx: TxCtx, config: Config) -> None:
        _apply(view, tx, action)

    return TxSpec(
        name=f"alert.{action}",
        family="alert",
        description=description,
        signers=signers,
        schema=schema,
        check=check,
        apply=apply,
    )


_RED = "; a RED alert is closed only by an org above the subject org"
TX_SPECS: tuple[TxSpec, ...] = (
    _spec(
        "ack",
        ALERT_ACK,
        "Acknowledge an open alert.",
        "an operator/admin/approver of the subject org or above",
    ),
    _spec(
        "resolve",
        ALERT_RESOLVE,
        "Resolve an alert with a reason and the hash of the evidence.",
        "an operator/admin/approver of the subject org or above" + _RED,
    ),
    _spec(
        "waive",
        ALERT_WAIVE,
        "Waive an alert (no action needed) with a reason.",
        "an approver/admin of the subject org or above" + _RED,
    ),
)
