"""Joining a running network with only genesis, a key and one peer's address (issue 17).

Rules:

- The peer's `GET /v1/validators` answers the chain of validator epochs (`wire.epochs.EpochProof`:
  each epoch's keys with the certified boundary header before it) and the node registry. The chain
  is verified from the caller's genesis (`wire.epochs.verify_epoch_chain`): a peer can withhold a
  later epoch, never forge one. Only nodes whose key is in the last verified set are trusted as
  first peers (their addresses are hints: the handshake authenticates the keys).
- Nothing else is taken from the peer: with an empty store the node then joins by a verified
  state snapshot (`node/runtime/statesync.py`, its anchor checked against the epoch chain the
  serving peer sends, verified from genesis) or replays from genesis, verifying every
  certificate against the set of its height either way.
- Any failure is a `BootstrapError` naming it; the node does not start on a bootstrap it could
  not verify.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from node.errors import ConfigError
from node.runtime.registry import NodeEntry
from wire.epochs import EpochProof, ValidatorEpoch, verify_epoch_chain
from wire.errors import ProofError
from wire.genesis import Genesis

TIMEOUT_S = 10.0


class BootstrapError(ConfigError):
    code = "bootstrap_failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Bootstrap:
    height: int  # the peer's height when it answered
    epochs: tuple[ValidatorEpoch, ...]  # verified from genesis
    peers: tuple[NodeEntry, ...]  # registry entries of the last verified set's validators


def fetch_document(url: str, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    target = url.rstrip("/") + "/v1/validators"
    try:
        with urllib.request.urlopen(target, timeout=timeout_s) as resp:
            doc = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise BootstrapError(f"cannot read the validators from {target}: {exc}") from exc
    if not isinstance(doc, dict):
        raise BootstrapError(f"{target} did not answer a JSON object")
    return doc


def verify_document(doc: dict[str, Any], genesis: Genesis) -> Bootstrap:
    """Verify a `/v1/validators` answer against `genesis`."""
    try:
        proofs = [EpochProof.from_json(p) for p in doc.get("epochs", [])]
        epochs = verify_epoch_chain(
            genesis.chain_id, genesis.validators, genesis.consensus.checkpoint_interval, proofs
        )
        height = doc["height"]
        if type(height) is not int or height < 0:
            raise TypeError("height is a non-negative integer")
        current = set(epochs[-1].validators.pubkeys)
        peers = tuple(
            e
            for e in (NodeEntry.from_record(n) for n in doc.get("nodes", []))
            if e.pubkey in current and e.status != "REMOVED"
        )
    except ProofError as exc:
        raise BootstrapError(f"the validator epochs do not verify from genesis: {exc.message}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BootstrapError(f"malformed validators document: {exc}") from exc
    if not peers and len(epochs) > 1:
        raise BootstrapError("the peer names none of the validators it proved")
    return Bootstrap(height=height, epochs=epochs, peers=peers)


def bootstrap(url: str, genesis: Genesis) -> Bootstrap:
    return verify_document(fetch_document(url), genesis)
