"""Node governance: proposals to add, remove, re-key, promote or demote a node, their approvals,
withdrawal and expiry (issue 17). The registry and the epochs they change are `contracts.nodes`.

Rules:

- A change is a proposal that collects approvals over several transactions (admins of different
  orgs sign at different times): `node.propose` (an admin of the node's org or of an ancestor)
  opens `nodeprop/<id>` (id = the first 32 hex digits of the transaction id); `node.approve` (an
  admin whose approval the proposal needs) adds one; the transaction whose approval completes the
  requirement executes the change (`contracts.nodes.schedule`), in the same transaction. The
  proposer's own approval and the approval signatures a `node.propose` carries count at once, so a
  proposal signed by everyone it needs executes in one transaction.
- Who must approve is ledger configuration (`contracts.config`, global keys, set at genesis and
  by `config.set`), fixed in the proposal when it is made (`required`):
  - a validator change (add a validator, remove or re-key one, promote, demote):
    `node_validator_approvals` = {"orgs_fraction": [2, 3], "own_org": true}: admins of at least
    ceil(2/3) of the orgs hosting validators in the latest set, plus an admin of the node's own org;
  - an observer change: `node_observer_approvals` = {"own_org": true, "parent_org": true}: an
    admin of the node's org and one of its parent org (the root org has no parent).
  One approval per org; an admin of an org the proposal does not need is `not_an_approver`.
- Pre-flight checks run at proposal and again at execution (`contracts.nodes.preflight`); a change
  that became unsafe meanwhile refuses the completing approval with the reason, and the proposal
  stays open.
- `node.withdraw` (the proposer, or an admin of the proposer's org) closes an open proposal:
  WITHDRAWN with its reason. An open proposal expires `ttl_ms` after it was made (default
  `node_proposal_ttl_ms`, 7 days): at the start of the first block whose time passes it
  (`expire`), it becomes EXPIRED (reason code `expired`). Approving a closed proposal is
  `proposal_closed`; an unknown id is `unknown_proposal`.
- A proposal's `status`: OPEN, EXECUTED (with `effective_height`, the epoch start), WITHDRAWN,
  EXPIRED; `approvals` maps org -> {user_id, pubkey, tx_id, height}.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import BlockContext, TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import get_user, require_org, require_role
from contracts.nodes import (
    ACTIONS,
    get_node,
    is_validator_change,
    latest_epoch,
    live_node,
    preflight,
    schedule,
)
from contracts.schema import ORG_PATTERN, Enum, Hex, Int, Obj, Str, opt, req
from contracts.state import View
from wire.genesis import NODE_ROLES, is_ancestor_or_self, org_parent

NODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
HOST_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$"
DAY_MS = 86_400_000
_NEEDS = {
    "add": ("org_id", "role", "pubkey", "host", "p2p_port", "api_port"),
    "remove": (),
    "rotate_key": ("pubkey",),
    "set_role": ("role",),
}

NODE_PROPOSE = Obj(
    (
        req("action", Enum(ACTIONS), "add, remove, rotate_key (a new key) or set_role (promote/demote)"),
        req("node_id", Str(64, pattern=NODE_ID_PATTERN)),
        opt("org_id", Str(164, pattern=ORG_PATTERN), "add: the org running the node"),
        opt("role", Enum(NODE_ROLES), "add, set_role: validator or observer"),
        opt("pubkey", Hex(32), "add: the node's ed25519 key; rotate_key: its new key"),
        opt("host", Str(253, pattern=HOST_PATTERN), "add: where the node listens"),
        opt("p2p_port", Int(1, 65535), "add: its peer port"),
        opt("api_port", Int(1, 65535), "add: its API port"),
        opt("ttl_ms", Int(3_600_000, 90 * DAY_MS), "default: node_proposal_ttl_ms"),
        req("reason", Str(1024)),
    )
)
NODE_APPROVE = Obj((req("proposal_id", Hex(16), "the proposal's id (32 hex digits)"),))
NODE_WITHDRAW = Obj((req("proposal_id", Hex(16)), req("reason", Str(1024))))


def proposal_id(tx: TxCtx) -> str:
    return tx.tx_hex[:32]


# ----------------------------------------------------------------------------------- requirement
def requirement(view: View, config: Config, node_org: str, validator_change: bool) -> dict[str, Any]:
    """Whose admins must approve: `pool` orgs of which `need` approve, and every org in `must`."""
    if validator_change:
        rule = config.get_map("node_validator_approvals")
        num, den = rule["orgs_fraction"]
        orgs: set[str] = set()
        for v in latest_epoch(view)["validators"]:
            rec = get_node(view, v["node_id"])
            if rec is not None:
                orgs.add(str(rec["org_id"]))
        pool = sorted(orgs)
        need = -(-len(pool) * int(num) // int(den))
        must = [node_org] if rule["own_org"] else []
        return {"kind": "validator", "pool": pool, "need": need, "must": must}
    rule = config.get_map("node_observer_approvals")
    must = [node_org] if rule["own_org"] else []
    parent = org_parent(node_org)
    if rule["parent_org"] and parent is not None:
        must.append(parent)
    return {"kind": "observer", "pool": [], "need": 0, "must": must}


def satisfied(required: dict[str, Any], approvals: dict[str, Any]) -> bool:
    approved = set(approvals)
    if not set(required["must"]) <= approved:
        return False
    return len(approved & set(required["pool"])) >= int(required["need"])


def _admin_approvals(view: View, tx: TxCtx, required: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The approvals a transaction brings: its signer and its approval signatures, where each is a
    live admin of an org the proposal needs (first per org)."""
    wanted = set(required["pool"]) | set(required["must"])
    out: dict[str, dict[str, Any]] = {}
    for key in (tx.signer, *tx.approvers):
        user = get_user(view, key)
        if user is None or user["status"] != "ACTIVE" or "admin" not in user["roles"]:
            continue
        org = str(user["org_id"])
        if org in wanted and org not in out:
            out[org] = {
                "user_id": user["user_id"],
                "pubkey": key.hex(),
                "tx_id": tx.tx_hex,
                "height": tx.height,
            }
    return out


# ----------------------------------------------------------------------------------- propose
def _change(view: View, tx: TxCtx) -> dict[str, Any]:
    p = tx.payload
    missing = [f for f in _NEEDS[p["action"]] if p[f] is None]
    if missing:
        raise TxRejected("missing_field", f"{p['action']} needs {', '.join(missing)}")
    extra = [f for f in ("org_id", "role", "pubkey", "host", "p2p_port", "api_port") if p[f] is not None]
    extra = [f for f in extra if f not in _NEEDS[p["action"]]]
    if extra:
        raise TxRejected("unknown_field", f"{p['action']} takes no {', '.join(extra)}")
    change = {k: p[k] for k in ("action", "node_id", *_NEEDS[p["action"]])}
    if p["action"] != "add":
        change["org_id"] = live_node(view, p["node_id"])["org_id"]
    return change


def _check_propose(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("admin",))
    change = _change(view, tx)
    if change["action"] == "add":
        require_org(view, change["org_id"])
    if not is_ancestor_or_self(tx.org_id, change["org_id"]):
        raise TxRejected(
            "not_in_subtree", f"node {change['node_id']} belongs to {change['org_id']}, outside {tx.org_id}"
        )
    preflight(view, change, tx.height)


def _apply_propose(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    change = _change(view, tx)
    node = get_node(view, change["node_id"])
    required = requirement(view, config, change["org_id"], is_validator_change(change, node))
    pid = proposal_id(tx)
    ttl = p["ttl_ms"] if p["ttl_ms"] is not None else config.get_int("node_proposal_ttl_ms")
    user = require_role(view, tx, ("admin",))
    proposal = {
        "proposal_id": pid,
        "change": change,
        "reason": p["reason"],
        "proposer": {"user_id": user["user_id"], "pubkey": tx.signer.hex(), "org_id": tx.org_id},
        "tx_id": tx.tx_hex,
        "proposed_height": tx.height,
        "proposed_time_ms": tx.time_ms,
        "expires_ms": tx.time_ms + ttl,
        "required": required,
        "approvals": _admin_approvals(view, tx, required),
        "status": "OPEN",
        "closed_height": None,
        "closed_reason_code": None,
        "closed_reason": None,
        "effective_height": None,
    }
    view.put(keys.node_proposal_due(proposal["expires_ms"], pid), {"proposal_id": pid})
    _maybe_execute(view, tx, proposal)


def _maybe_execute(view: View, tx: TxCtx, proposal: dict[str, Any]) -> None:
    pid = proposal["proposal_id"]
    if satisfied(proposal["required"], proposal["approvals"]):
        change = proposal["change"]
        preflight(view, change, tx.height)
        start = schedule(view, change, tx.height, pid)
        proposal = {
            **proposal,
            "status": "EXECUTED",
            "closed_height": tx.height,
            "closed_reason_code": "approved",
            "closed_reason": "every approval it needs was given",
            "effective_height": start,
        }
        view.delete(keys.node_proposal_due(proposal["expires_ms"], pid))
    view.put(keys.node_proposal(pid), proposal)


# ----------------------------------------------------------------------------------- approve
def _open_proposal(view: View, pid: str) -> dict[str, Any]:
    proposal = view.get(keys.node_proposal(pid))
    if proposal is None:
        raise TxRejected("unknown_proposal", f"there is no node proposal {pid}")
    if proposal["status"] != "OPEN":
        raise TxRejected("proposal_closed", f"proposal {pid} is {proposal['status']}")
    return proposal


def _check_approve(view: View, tx: TxCtx, config: Config) -> None:
    user = require_role(view, tx, ("admin",))
    proposal = _open_proposal(view, tx.payload["proposal_id"])
    required = proposal["required"]
    if user["org_id"] not in set(required["pool"]) | set(required["must"]):
        raise TxRejected(
            "not_an_approver", f"proposal {proposal['proposal_id']} needs no approval of {user['org_id']}"
        )
    if user["org_id"] in proposal["approvals"]:
        raise TxRejected("already_approved", f"{user['org_id']} approved proposal {proposal['proposal_id']}")


def _apply_approve(view: View, tx: TxCtx, config: Config) -> None:
    proposal = _open_proposal(view, tx.payload["proposal_id"])
    approvals = dict(proposal["approvals"])
    for org, entry in _admin_approvals(view, tx, proposal["required"]).items():
        approvals.setdefault(org, entry)
    _maybe_execute(view, tx, {**proposal, "approvals": approvals})


# ----------------------------------------------------------------------------------- withdraw, expire
def _check_withdraw(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx, ("admin",))
    proposal = _open_proposal(view, tx.payload["proposal_id"])
    if tx.signer.hex() != proposal["proposer"]["pubkey"] and tx.org_id != proposal["proposer"]["org_id"]:
        raise TxRejected("not_the_proposer", "only the proposer or an admin of its org may withdraw it")


def _apply_withdraw(view: View, tx: TxCtx, config: Config) -> None:
    proposal = _open_proposal(view, tx.payload["proposal_id"])
    view.delete(keys.node_proposal_due(proposal["expires_ms"], proposal["proposal_id"]))
    closed = {
        **proposal,
        "status": "WITHDRAWN",
        "closed_height": tx.height,
        "closed_reason_code": "withdrawn",
        "closed_reason": tx.payload["reason"],
    }
    view.put(keys.node_proposal(proposal["proposal_id"]), closed)


def expire(view: View, ctx: BlockContext) -> int:
    """At the start of a block: open proposals whose time passed become EXPIRED; how many."""
    due = list(view.scan_range("nodeprop_due/", keys.node_proposal_due_until(ctx.time_ms)))
    for key, entry in due:
        view.delete(key)
        proposal = view.get(keys.node_proposal(entry["proposal_id"]))
        if proposal is not None and proposal["status"] == "OPEN":
            view.put(
                keys.node_proposal(entry["proposal_id"]),
                {
                    **proposal,
                    "status": "EXPIRED",
                    "closed_height": ctx.height,
                    "closed_reason_code": "expired",
                    "closed_reason": "not approved before it expired",
                },
            )
    return len(due)


_ADMIN = "an admin"
TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="node.propose",
        family="node",
        description="Propose adding, removing, re-keying, promoting or demoting a node (pre-flight checked).",
        signers=_ADMIN + " of the node's org or of an ancestor",
        schema=NODE_PROPOSE,
        check=_check_propose,
        apply=_apply_propose,
    ),
    TxSpec(
        name="node.approve",
        family="node",
        description="Approve a node proposal; the approval that completes it executes the change.",
        signers=_ADMIN + " of an org whose approval the proposal needs",
        schema=NODE_APPROVE,
        check=_check_approve,
        apply=_apply_approve,
    ),
    TxSpec(
        name="node.withdraw",
        family="node",
        description="Withdraw an open node proposal.",
        signers="the proposer, or an admin of the proposer's org",
        schema=NODE_WITHDRAW,
        check=_check_withdraw,
        apply=_apply_withdraw,
    ),
)
