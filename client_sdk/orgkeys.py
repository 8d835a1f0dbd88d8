"""Org encryption keys as served by a node, verified against the caller's genesis (docs/privacy.md).

Rules:

- A node answers `GET /v1/enc-keys/{org}` with the chain of the org and every ancestor, owning org
  first; `verify_chain` refuses any other set or order (VerificationError).
- Genesis keys are checked by comparison with the genesis; later keys by the proof of the
  certified, accepted `org.create` / `org.set_enc_key` transaction that set them, so a node cannot
  substitute a key of its own. A node can serve an older certified key than the newest (this does
  not prove freshness): see docs/privacy.md.
- A key whose transaction is committed but whose receipt is not provable yet (exec_lag) raises
  `NotYetProvable`: the caller asks again (`client_sdk.privacy.PrivacyClient.enc_keys` retries
  and caches). Pure functions: no IO, no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from client_sdk.envelopes import Recipient
from client_sdk.errors import VerificationError
from wire.errors import GenesisError
from wire.genesis import Genesis, org_parent
from wire.types import RECEIPT_ACCEPTED

if TYPE_CHECKING:
    from client_sdk.proofs import TrustAnchor

KEY_TX_TYPES = ("org.create", "org.set_enc_key")


class NotYetProvable(Exception):
    """The key's transaction is committed but its receipt is not provable yet (exec_lag)."""


def verify_chain(
    genesis: Genesis, org_id: str, doc: Mapping[str, Any], anchor: TrustAnchor | None = None
) -> tuple[Recipient, ...]:
    """The verified keys of `org_id` and every ancestor (owning org first) from an answer of
    `GET /v1/enc-keys/{org}`; NotYetProvable while a key's receipt cannot be proven yet. Proofs
    are checked against `anchor`'s validator epochs (UnknownEpochError for a later one)."""
    expected: list[str] = []
    org: str | None = org_id
    while org is not None:
        expected.append(org)
        org = org_parent(org)
    chain = doc.get("chain")
    if not isinstance(chain, list) or [e.get("org_id") for e in chain] != expected:
        raise VerificationError(f"the node did not answer the key chain of {org_id} and its ancestors")
    return tuple(verify_key(genesis, e, anchor) for e in chain)


def verify_key(genesis: Genesis, entry: Mapping[str, Any], anchor: TrustAnchor | None = None) -> Recipient:
    """One entry of a key chain, verified against the genesis."""
    org_id, version = str(entry["org_id"]), int(entry["key_version"])
    try:
        public = bytes.fromhex(str(entry["enc_pubkey"]))
    except ValueError:
        raise VerificationError(f"malformed key of {org_id}") from None
    if entry.get("source") == "genesis":
        try:
            spec = genesis.org(org_id)
        except GenesisError:
            raise VerificationError(f"{org_id} is not a genesis org") from None
        if version != 1 or spec.enc_pubkey != public:
            raise VerificationError(f"the key served for {org_id} is not its genesis key")
        return Recipient(org_id, version, public)
    if entry.get("proof") is None:
        raise NotYetProvable()
    from client_sdk.proofs import verify_proof_response

    tx_id = bytes.fromhex(str(entry["tx_id"]))
    verified = verify_proof_response(entry["proof"], genesis, tx_id, anchor=anchor)
    if verified.receipt is None:
        raise NotYetProvable()
    tx = verified.tx
    if verified.receipt.status != RECEIPT_ACCEPTED or tx is None:
        raise VerificationError(f"the transaction that set {org_id}'s key was not accepted")
    body = tx.body
    p = body.payload if isinstance(body.payload, dict) else {}
    if body.tx_type not in KEY_TX_TYPES or p.get("org_id") != org_id or p.get("enc_pubkey") != public.hex():
        raise VerificationError(f"the proven transaction does not set this key of {org_id}")
    return Recipient(org_id, version, public)
