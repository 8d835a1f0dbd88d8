"""Who may make the network store something: the stateful half of admission (issue 18.2, T13).

Rules:

- A transaction is admitted (through the API or by gossip) only when its signer is, in the
  node's current state, a registered user key that is ACTIVE (`user/<pubkey>`) or a node key in
  force (`nodekey/<pubkey>` ACTIVE: a genesis node's key, a key a governed rotation put in force,
  an added node's key from its epoch on; `contracts/nodes.py`), and every approval comes from an
  ACTIVE user key. Otherwise it is refused with `unknown_signer` (also a node key not in force
  yet: PENDING until its epoch), `signer_revoked` (also a removed node's key), `signer_rotated`
  (also a node key rotated out) or `bad_approval`: it is never gossiped, ordered or stored, so no
  key that no ledger record knows can make every node keep a REJECTED receipt forever.
- The state is read with the same key layout the contracts use (`contracts.keys`), so admission
  and execution agree on who is registered. Execution checks again (`unknown_signer` and the
  rest stay receipt codes): a key revoked between admission and execution, or a transaction a
  faulty primary proposed without admission, still gets a REJECTED receipt. Proposals are not
  checked against state (their validation is stateless, `node/runtime/txcheck.py`): a block
  may carry a signer registered one block earlier that this node has not executed yet.
- A state record that does not decode counts as no record: refused, never trusted. Records are
  read back without the canonical re-check (`codec.decode_trusted`): the node's own state, which
  the contracts wrote canonically and the state root guards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import keys
from node.errors import AdmissionError
from wire import codec
from wire.errors import DecodeError
from wire.types import SignedTransaction

StateGet = Callable[[bytes], bytes | None]


class SignerAuthority:
    """Checks a decoded transaction's signer and approvers against the current state."""

    def __init__(self, state_get: StateGet) -> None:
        self._get = state_get

    def _record(self, key: str) -> dict[str, Any] | None:
        raw = self._get(key.encode("utf-8"))
        if raw is None:
            return None
        try:
            doc = codec.decode_trusted(raw)
        except DecodeError:
            return None
        return doc if isinstance(doc, dict) else None

    def check(self, tx: SignedTransaction) -> None:
        """None when the signer and approvers may act now; AdmissionError (its reason code) otherwise."""
        signer = tx.body.signer.hex()
        user = self._record(keys.user(signer))
        if user is None:
            self._check_node_key(signer)
        elif user.get("status") == "REVOKED":
            raise AdmissionError("signer_revoked", "the signer's key was revoked")
        elif user.get("status") != "ACTIVE":
            raise AdmissionError("signer_rotated", "the signer's key was replaced by a rotation")
        for approval in tx.approvals:
            rec = self._record(keys.user(approval.signer.hex()))
            if rec is None or rec.get("status") != "ACTIVE":
                raise AdmissionError(
                    "bad_approval", f"approval key {approval.signer.hex()[:16]}… is not a live registered key"
                )

    def _check_node_key(self, signer: str) -> None:
        node = self._record(keys.node_key(signer))
        if node is None:
            raise AdmissionError(
                "unknown_signer",
                f"the signer's key {signer[:16]}… is neither a registered user key nor a node key",
            )
        status = node.get("status")
        if status == "ACTIVE":
            return
        who = f"node {node.get('node_id')}"
        if status == "ROTATED":
            raise AdmissionError("signer_rotated", f"this key of {who} was replaced by a rotation")
        if status == "REMOVED":
            raise AdmissionError("signer_revoked", f"{who} was removed from the network")
        raise AdmissionError("unknown_signer", f"this key of {who} is not in force yet ({status})")
