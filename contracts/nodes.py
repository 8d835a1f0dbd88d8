"""The node registry and the validator-set epochs as ledger state (issue 17).

Rules:

- `node/<node_id>` is a node of the network: org, role (validator or observer), its ed25519 key,
  p2p and API addresses, `status` (JOINING: added, not yet in force; ACTIVE; REMOVED) and
  `pending`, the scheduled change that has not taken effect yet (at most one per node). Node ids
  and keys are unique for ever: a removed node's id and a rotated-out key are never used again.
- `nodekey/<pubkey hex>` names the node a key belongs to; `status` PENDING (in force later),
  ACTIVE, ROTATED or REMOVED. Node-signed transaction types (`access.anchor`) need ACTIVE.
- `valset/epoch/<start>` is the validator set in force from block `start`: `validators` in index
  order (`node_id`, `pubkey`), the `changes` that made it, `changed_nodes` (validators added,
  removed, re-keyed, promoted or demoted), `prev_start` and `scheduled_height`. Genesis writes the
  first, from height 1.
- A change executed in block h is scheduled for `wire.epochs.epoch_start(h, K, exec_lag)` (K and
  exec_lag are in `meta/chain`): it joins that epoch's record (created from the latest one) and
  marks the node `pending`. Adding appends a validator, removing or demoting drops it (the indexes
  after it shift down), rotating replaces its key in place, promoting appends it. Observer changes
  schedule the same way (the set is unchanged; consumers skip epochs whose set equals the one before).
- At the start of block `start` (`activate`) the epoch's changes take effect in the registry:
  JOINING -> ACTIVE, a removed node REMOVED, a rotated key ROTATED and the new one ACTIVE, the new
  role; `pending` is cleared.
- Pre-flight (`preflight`, when a change is proposed and again when it executes), with reason codes:
  `unknown_org` (a node of an org that does not exist), `node_exists` (an id used before),
  `unknown_node` (no such node, or removed), `node_change_pending` (one change at a time per
  node), `key_in_use` (a key any node or user holds or held), `address_in_use` (a p2p or API
  address another node listens on), `no_change`, `too_few_validators` (fewer than 4 validators
  after a change that shrinks the set), `too_many_changes` (more than f validators changed in one
  epoch, f of the set before it; at least 1). Reachability of an address is not consensus's to
  judge: the proposer's CLI checks it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from contracts import keys
from contracts.base import BlockContext
from contracts.errors import TxRejected, invariant
from contracts.state import StateReader, View, decode_record
from wire.certificate import max_faulty
from wire.epochs import epoch_start
from wire.families import prefix_end
from wire.genesis import Genesis

ACTIONS = ("add", "remove", "rotate_key", "set_role")
MIN_VALIDATORS = 4
EPOCH_KEY_PREFIX = keys.EPOCH_PREFIX.encode("utf-8")


# ----------------------------------------------------------------------------------- records
def node_record(
    *,
    node_id: str,
    org_id: str,
    role: str,
    pubkey: str,
    host: str,
    p2p_port: int,
    api_port: int,
    status: str,
    height: int,
) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "org_id": org_id,
        "role": role,
        "pubkey": pubkey,
        "host": host,
        "p2p_port": p2p_port,
        "api_port": api_port,
        "status": status,
        "added_height": height,
        "removed_height": None,
        "old_pubkeys": [],
        "pending": None,
    }


def key_record(node_id: str, org_id: str, role: str, status: str) -> dict[str, Any]:
    return {"node_id": node_id, "org_id": org_id, "role": role, "status": status}


def genesis_records(genesis: Genesis) -> dict[str, dict[str, Any]]:
    """The registry and the first epoch, as genesis state entries."""
    out: dict[str, dict[str, Any]] = {}
    for n in genesis.nodes:
        out[keys.node(n.node_id)] = node_record(
            node_id=n.node_id,
            org_id=n.org_id,
            role=n.role,
            pubkey=n.pubkey.hex(),
            host=n.host,
            p2p_port=n.p2p_port,
            api_port=n.api_port,
            status="ACTIVE",
            height=0,
        )
        out[keys.node_key(n.pubkey.hex())] = key_record(n.node_id, n.org_id, n.role, "ACTIVE")
    out[keys.epoch(1)] = {
        "start": 1,
        "validators": [{"node_id": n.node_id, "pubkey": n.pubkey.hex()} for n in genesis.validator_nodes],
        "changes": [],
        "changed_nodes": [],
        "prev_start": None,
        "scheduled_height": 0,
    }
    return out


# ----------------------------------------------------------------------------------- reading
def chain_params(view: View) -> tuple[int, int]:
    """(checkpoint_interval, exec_lag) recorded at genesis."""
    meta = view.require(keys.meta_chain())
    return int(meta["checkpoint_interval"]), int(meta["exec_lag"])


def epoch_records(view: View) -> list[dict[str, Any]]:
    """Every epoch record, in start order (a handful: one per set change)."""
    return [rec for _, rec in view.scan_prefix(keys.EPOCH_PREFIX)]


def latest_epoch(view: View) -> dict[str, Any]:
    records = epoch_records(view)
    invariant(bool(records), "the state has no validator epoch (valset/epoch/)")
    return records[-1]


def get_node(view: View, node_id: str) -> dict[str, Any] | None:
    return view.get(keys.node(node_id))


def live_node(view: View, node_id: str) -> dict[str, Any]:
    rec = get_node(view, node_id)
    if rec is None or rec["status"] == "REMOVED":
        raise TxRejected("unknown_node", f"there is no node {node_id} (or it was removed)")
    return rec


def iter_epochs(state: StateReader) -> Iterator[tuple[int, tuple[bytes, ...], tuple[str, ...]]]:
    """(start, validator keys, node ids) of every epoch record, in start order, from raw state
    (for the node's executor and the auditor's replay)."""
    start = keys.EPOCH_PREFIX.encode("utf-8")
    for key, raw in state.scan(start, prefix_end(start)):
        rec = decode_record(key, raw)
        validators = rec["validators"]
        yield (
            int(rec["start"]),
            tuple(bytes.fromhex(v["pubkey"]) for v in validators),
            tuple(str(v["node_id"]) for v in validators),
        )


def is_validator_change(change: Mapping[str, Any], node: Mapping[str, Any] | None) -> bool:
    """Whether `change` alters the validator set (else it concerns an observer only)."""
    if change["action"] == "add":
        return bool(change["role"] == "validator")
    if change["action"] == "set_role":
        return True
    return node is not None and bool(node["role"] == "validator")


# ----------------------------------------------------------------------------------- checks
def _target(view: View, height: int) -> tuple[int, dict[str, Any] | None, dict[str, Any]]:
    """For a change executed at `height`: its epoch start, that epoch's record if another change
    already made it, and the record of the epoch in force before it."""
    k, lag = chain_params(view)
    start = epoch_start(height, k, lag)
    records = epoch_records(view)
    invariant(bool(records), "the state has no validator epoch (valset/epoch/)")
    invariant(records[-1]["start"] <= start, "an epoch is scheduled after the next boundary")
    if records[-1]["start"] == start:
        invariant(len(records) >= 2, "the genesis epoch cannot be rescheduled")
        return start, records[-1], records[-2]
    return start, None, records[-1]


def _addresses(rec: Mapping[str, Any]) -> set[tuple[str, int]]:
    return {(rec["host"], rec["p2p_port"]), (rec["host"], rec["api_port"])}


def _listeners(view: View) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, rec in view.scan_prefix("node/"):
        if rec["status"] != "REMOVED":
            yield key, rec


def _key_taken(view: View, pubkey_hex: str) -> bool:
    return view.exists(keys.node_key(pubkey_hex)) or view.exists(keys.user(pubkey_hex))


def _after(
    validators: list[dict[str, str]], change: Mapping[str, Any], node: Mapping[str, Any] | None
) -> list[dict[str, str]]:
    """The validator list once `change` is applied to it."""
    node_id = change["node_id"]
    out = [dict(v) for v in validators]
    idx = next((i for i, v in enumerate(out) if v["node_id"] == node_id), None)
    action = change["action"]
    if action == "add" and change["role"] == "validator":
        out.append({"node_id": node_id, "pubkey": change["pubkey"]})
    elif action == "remove" and idx is not None:
        del out[idx]
    elif action == "rotate_key" and idx is not None:
        out[idx]["pubkey"] = change["pubkey"]
    elif action == "set_role" and node is not None:
        if change["role"] == "validator" and idx is None:
            out.append({"node_id": node_id, "pubkey": node["pubkey"]})
        elif change["role"] == "observer" and idx is not None:
            del out[idx]
    return out


def preflight(view: View, change: Mapping[str, Any], height: int) -> None:
    """Refuse an unsafe or impossible change with its reason code (see the module docstring)."""
    action, node_id = change["action"], change["node_id"]
    node = get_node(view, node_id)
    if action == "add":
        if view.get(keys.org(change["org_id"])) is None:
            raise TxRejected("unknown_org", f"organisation {change['org_id']} does not exist")
        if node is not None:
            raise TxRejected("node_exists", f"node id {node_id} is taken (ids are never reused)")
        if _key_taken(view, change["pubkey"]):
            raise TxRejected("key_in_use", "the key belongs (or belonged) to another node or a user")
        wanted = _addresses(change)
        if len(wanted) < 2:
            raise TxRejected("address_in_use", "the p2p and API ports must differ")
        for _, other in _listeners(view):
            if wanted & _addresses(other):
                raise TxRejected(
                    "address_in_use",
                    f"node {other['node_id']} listens on {sorted(wanted & _addresses(other))}",
                )
    else:
        node = live_node(view, node_id)
        if node["pending"] is not None:
            raise TxRejected(
                "node_change_pending",
                f"node {node_id} has a change taking effect at height {node['pending']['effective_height']}",
            )
        if action == "rotate_key" and _key_taken(view, change["pubkey"]):
            raise TxRejected("key_in_use", "the new key belongs (or belonged) to another node or a user")
        if action == "set_role" and node["role"] == change["role"]:
            raise TxRejected("no_change", f"node {node_id} is already a {change['role']}")
    if not is_validator_change(change, node):
        return
    _, existing, before = _target(view, height)
    current = existing if existing is not None else before
    after = _after(current["validators"], change, node)
    n_before, n_after = len(current["validators"]), len(after)
    if n_after < MIN_VALIDATORS and n_after < n_before:
        raise TxRejected(
            "too_few_validators",
            f"{n_after} validators after the change; at least {MIN_VALIDATORS} are needed",
        )
    changed = set(current["changed_nodes"] if existing is not None else ()) | {node_id}
    limit = max(1, max_faulty(len(before["validators"])))
    if len(changed) > limit:
        raise TxRejected(
            "too_many_changes",
            f"{len(changed)} validators would change in the epoch from the next boundary; at most "
            f"f = {limit} of the {len(before['validators'])} in force may change per epoch (wait for it)",
        )


# ----------------------------------------------------------------------------------- applying
def schedule(view: View, change: Mapping[str, Any], height: int, proposal_id: str) -> int:
    """Record `change` (checked by `preflight`) for the next epoch boundary; return its start."""
    start, existing, before = _target(view, height)
    node_id, action = change["node_id"], change["action"]
    node = get_node(view, node_id)
    current = existing if existing is not None else before
    record = (
        dict(current)
        if existing is not None
        else {
            "start": start,
            "validators": before["validators"],
            "changes": [],
            "changed_nodes": [],
            "prev_start": before["start"],
            "scheduled_height": height,
        }
    )
    entry = {k: change[k] for k in sorted(change) if change[k] is not None}
    entry["proposal_id"] = proposal_id
    entry["height"] = height
    record["validators"] = _after(current["validators"], change, node)
    record["changes"] = [*record["changes"], entry]
    if is_validator_change(change, node):
        record["changed_nodes"] = sorted({*record["changed_nodes"], node_id})
    view.put(keys.epoch(start), record)
    pending = {"action": action, "proposal_id": proposal_id, "effective_height": start}
    if action == "add":
        rec = node_record(
            node_id=node_id,
            org_id=change["org_id"],
            role=change["role"],
            pubkey=change["pubkey"],
            host=change["host"],
            p2p_port=change["p2p_port"],
            api_port=change["api_port"],
            status="JOINING",
            height=height,
        )
        rec["pending"] = pending
        view.put(keys.node(node_id), rec)
        view.put(
            keys.node_key(change["pubkey"]), key_record(node_id, change["org_id"], change["role"], "PENDING")
        )
        return start
    invariant(node is not None, f"node {node_id} vanished between preflight and schedule")
    assert node is not None
    if action == "rotate_key":
        pending["pubkey"] = change["pubkey"]
        view.put(
            keys.node_key(change["pubkey"]), key_record(node_id, node["org_id"], node["role"], "PENDING")
        )
    elif action == "set_role":
        pending["role"] = change["role"]
    view.put(keys.node(node_id), {**node, "pending": pending})
    return start


def activate(view: View, ctx: BlockContext) -> bool:
    """At the start of block `ctx.height`: the changes of an epoch starting here take effect."""
    record = view.get(keys.epoch(ctx.height))
    if record is None or ctx.height == 1:
        return False
    for change in record["changes"]:
        node = view.require(keys.node(change["node_id"]))
        action = change["action"]
        old_key = keys.node_key(node["pubkey"])
        if action == "add":
            node = {**node, "status": "ACTIVE"}
            view.put(old_key, {**view.require(old_key), "status": "ACTIVE"})
        elif action == "remove":
            node = {**node, "status": "REMOVED", "removed_height": ctx.height}
            view.put(old_key, {**view.require(old_key), "status": "REMOVED"})
        elif action == "rotate_key":
            new_key = keys.node_key(change["pubkey"])
            view.put(old_key, {**view.require(old_key), "status": "ROTATED"})
            view.put(new_key, {**view.require(new_key), "status": "ACTIVE"})
            node = {**node, "pubkey": change["pubkey"], "old_pubkeys": [*node["old_pubkeys"], node["pubkey"]]}
        elif action == "set_role":
            node = {**node, "role": change["role"]}
            view.put(old_key, {**view.require(old_key), "role": change["role"]})
        view.put(keys.node(change["node_id"]), {**node, "pending": None, "changed_height": ctx.height})
    return True
