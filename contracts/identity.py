"""Organisations, users and permissions as ledger state: the readers and checks every family uses.

Rules (ARCHITECTURE section 6, issue 4):

- An org record `org/<org_id>` holds its level, parent, X25519 encryption key (versioned),
  `approval_authority` and founding date. Levels follow the path depth (CENTRAL .. BRANCH).
- A user record `user/<pubkey hex>` holds the user id, org and roles; `status` is ACTIVE, REVOKED
  or ROTATED. Only an ACTIVE key is live. The engine checks, for every transaction, that the
  signer's key is live and belongs to the transaction's `org_id` (the org on whose behalf it acts),
  and that every approval signature comes from a live key.
- Writes of a record need `operator` or `admin` in the record's own org (`require_role`).
  Approvals need an `approver` (the signer or an approval signature) in the org that approves:
  for admissions the nearest ancestor-or-self org with approval authority (default COUNTY level).
- An org's authority covers its subtree and nothing else (`is_ancestor_or_self`).
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx
from contracts.errors import TxRejected
from contracts.state import View
from wire.genesis import is_ancestor_or_self, org_parent

WRITE_ROLES = ("operator", "admin")


def get_org(view: View, org_id: str) -> dict[str, Any] | None:
    return view.get(keys.org(org_id))


def require_org(view: View, org_id: str) -> dict[str, Any]:
    rec = get_org(view, org_id)
    if rec is None:
        raise TxRejected("unknown_org", f"organisation {org_id} does not exist")
    return rec


def get_user(view: View, pubkey: bytes) -> dict[str, Any] | None:
    return view.get(keys.user(pubkey.hex()))


def live_user(view: View, pubkey: bytes, what: str = "signer") -> dict[str, Any]:
    rec = get_user(view, pubkey)
    if rec is None:
        raise TxRejected("unknown_signer", f"the {what}'s key {pubkey.hex()[:16]}… is not registered")
    status = rec["status"]
    if status == "REVOKED":
        raise TxRejected("key_revoked", f"the {what}'s key was revoked")
    if status == "ROTATED":
        raise TxRejected("key_rotated", f"the {what}'s key was replaced by a rotation")
    return rec


def signer(view: View, tx: TxCtx) -> dict[str, Any]:
    return live_user(view, tx.signer)


def require_role(view: View, tx: TxCtx, roles: tuple[str, ...] = WRITE_ROLES) -> dict[str, Any]:
    """The signer (live, of `tx.org_id`: checked by the engine) holds one of `roles`."""
    rec = signer(view, tx)
    if not any(r in rec["roles"] for r in roles):
        raise TxRejected(
            "missing_role", f"the signer needs one of the roles {', '.join(roles)} in {tx.org_id}"
        )
    return rec


def require_own_org(tx: TxCtx, org_id: str, what: str = "record") -> None:
    """Records are written by their own org: `org_id` must be the transaction's org."""
    if org_id != tx.org_id:
        raise TxRejected("wrong_org", f"the {what} belongs to {org_id}; {tx.org_id} may not write it")


def require_subtree(tx: TxCtx, org_id: str, what: str = "organisation") -> None:
    if not is_ancestor_or_self(tx.org_id, org_id):
        raise TxRejected("not_in_subtree", f"{what} {org_id} is outside the subtree of {tx.org_id}")


def approval_org(view: View, org_id: str) -> str | None:
    """The nearest ancestor-or-self of `org_id` with approval authority (None if there is none)."""
    org: str | None = org_id
    while org is not None:
        rec = get_org(view, org)
        if rec is not None and rec["approval_authority"]:
            return org
        org = org_parent(org)
    return None


def approvers(view: View, tx: TxCtx) -> list[dict[str, Any]]:
    """Live users with the `approver` role among the signer and the approval signatures."""
    out = []
    for key in (tx.signer, *tx.approvers):
        rec = get_user(view, key)
        if rec is not None and rec["status"] == "ACTIVE" and "approver" in rec["roles"]:
            out.append(rec)
    return out


def has_approver_in(view: View, tx: TxCtx, orgs: tuple[str, ...]) -> bool:
    return any(u["org_id"] in orgs for u in approvers(view, tx))


def ancestors_or_self(org_id: str) -> tuple[str, ...]:
    out = []
    org: str | None = org_id
    while org is not None:
        out.append(org)
        org = org_parent(org)
    return tuple(out)


def province_of(org_id: str) -> str | None:
    """The PROVINCE-level ancestor-or-self of an org (None for the CENTRAL root)."""
    parts = org_id.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def org_founded(view: View, org_id: str) -> str | None:
    rec = get_org(view, org_id)
    return None if rec is None else str(rec["founded_date"])
