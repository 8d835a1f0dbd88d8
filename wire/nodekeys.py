"""A node key's standing in the ledger: the one rule the node's API applies to a caller signing
with a node key and the SDK proves for itself (issue 17).

Rules:

- `nodekey/<pubkey hex>` (`node_key_state_key`) holds `{node_id, org_id, role, status}`, written
  by the node registry contract (`contracts.nodes`): a genesis node's key, an added node's, a
  rotated-in one.
- A key whose record says `status` ACTIVE is in force (`node_in_force`: its node id and org); a
  caller signing with it reads as that node, over the whole org tree (`NODE_SCOPE`, the root):
  it holds the ledger anyway. PENDING (in force later), ROTATED, REMOVED, a malformed record or
  none: no node authority.
"""

from __future__ import annotations

from typing import Any

NODE_KEY_PREFIX = "nodekey/"
NODE_SCOPE = ""  # the whole tree: the caller's subtree is the root org's


def node_key_state_key(pubkey_hex: str) -> str:
    """The state key of a node key's record (`pubkey_hex`: lower-case hex)."""
    return NODE_KEY_PREFIX + pubkey_hex


def node_in_force(record: Any) -> tuple[str, str] | None:
    """(node id, org id) when `record` (a decoded `nodekey/` record) is a key in force, else None."""
    if not isinstance(record, dict) or record.get("status") != "ACTIVE":
        return None
    node_id, org_id = record.get("node_id"), record.get("org_id")
    if not isinstance(node_id, str) or not isinstance(org_id, str):
        return None
    return node_id, org_id
