"""The node registry and validator epochs as this node's store holds them (issue 17).

Rules:

- The registry is the ledger's `node/<id>` records (`contracts/nodes.py`), read from the store's
  state after the last executed block; the peer set is every node in it that is not REMOVED
  (JOINING nodes included: a node added to the set must be able to connect and catch up before
  its epoch starts), each under the key in force.
- The epochs are the ledger's `valset/epoch/` records, in start order, with consecutive equal sets
  merged (an observer-only change); each with the hash of its base block when the store has it.
  The replica gets them after a restart and, block by block, those a block wrote.
- Validator indexes never leave the replica: peers are named by public key between the driver and
  the replica and by node id on the network; this module maps one to the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from consensus import EpochInfo
from contracts.nodes import iter_epochs
from contracts.state import decode_record
from network import PeerId, PeerSpec
from node.errors import StorageError
from node.store.storage import BlockStore, StoreReader
from wire import codec
from wire.certificate import ValidatorSet
from wire.crypto import sha256
from wire.epochs import EpochProof, ValidatorEpoch
from wire.errors import WireError
from wire.families import prefix_end
from wire.genesis import NodeSpec
from wire.types import Block

NODE_PREFIX = b"node/"
EPOCH_PREFIX = b"valset/epoch/"
REGISTRY_PREFIXES = (b"node/", b"nodekey/")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEntry(NodeSpec):
    """A node as the ledger registers it: its genesis-style spec plus where its admission stands."""

    status: str  # JOINING, ACTIVE or REMOVED
    pending: dict[str, Any] | None = None
    changed_height: int | None = None  # the last change (removal, rotation, role) took effect here

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> NodeEntry:
        return cls(
            node_id=str(rec["node_id"]),
            org_id=str(rec["org_id"]),
            role=str(rec["role"]),
            pubkey=bytes.fromhex(rec["pubkey"]),
            host=str(rec["host"]),
            p2p_port=int(rec["p2p_port"]),
            api_port=int(rec["api_port"]),
            status=str(rec["status"]),
            pending=rec.get("pending"),
            changed_height=rec.get("removed_height") or rec.get("changed_height"),
        )

    def to_json(self) -> dict[str, Any]:
        return {**NodeSpec.to_json(self), "status": self.status, "pending": self.pending}


def read_registry(store: BlockStore) -> dict[str, NodeEntry]:
    out: dict[str, NodeEntry] = {}
    for key, raw in store.state_scan(NODE_PREFIX, prefix_end(NODE_PREFIX)):
        entry = NodeEntry.from_record(decode_record(key, raw))
        out[entry.node_id] = entry
    return out


def encode_boundaries(proofs: Iterable[EpochProof]) -> bytes:
    """The proven epoch boundaries a snapshot-joined store keeps (`BlockStore.snapshot_boundaries`)."""
    return codec.encode_trusted([p.to_wire() for p in proofs])


def stored_boundaries(store: BlockStore) -> dict[int, EpochProof]:
    """The epoch proofs a snapshot install kept, by start (their boundary blocks are below the
    snapshot, so the store has no block for them); verified before they were kept."""
    raw = store.snapshot_boundaries()
    if raw is None:
        return {}
    try:
        return {p.start: p for p in (EpochProof.from_wire(v) for v in codec.decode(raw))}
    except (WireError, TypeError) as exc:
        raise StorageError(f"the stored epoch boundaries do not decode: {exc}") from exc


def read_epochs(store: BlockStore) -> tuple[EpochInfo, ...]:
    """Every epoch after the first, merged, with base hashes where the store has the block (or,
    after a snapshot, its proven boundary header)."""
    bounds = stored_boundaries(store)
    out: list[EpochInfo] = []
    previous: tuple[bytes, ...] | None = None
    for start, keys, _ in iter_epochs(StoreReader(store)):
        if keys == previous:
            continue
        previous = keys
        if start == 1:
            continue
        base = store.block(start - 1) if start - 1 <= store.height else None
        if base is not None:
            base_hash = base.hash
        elif start in bounds:
            base_hash = sha256(bounds[start].header_bytes)
        else:
            base_hash = b""
        out.append(EpochInfo(start, ValidatorSet(keys), base_hash))
    return tuple(out)


def validator_epochs(store: BlockStore) -> list[ValidatorEpoch]:
    """Every validator epoch the store's state records, genesis first, in start order (what a
    certificate of a stored block is checked against: `wire.epochs.validators_at`)."""
    return [ValidatorEpoch(start, ValidatorSet(keys)) for start, keys, _ in iter_epochs(StoreReader(store))]


def epoch_proofs(store: BlockStore, up_to: int | None = None) -> tuple[list[EpochProof], list[EpochInfo]]:
    """(the proof of every epoch after genesis whose boundary block is stored, and those scheduled
    without one yet): each proof the epoch's keys with the certified boundary header before it
    (`wire.epochs.verify_epoch_chain` checks them from genesis). `up_to`: only epochs starting at
    or below it."""
    proven: list[EpochProof] = []
    scheduled: list[EpochInfo] = []
    bounds = stored_boundaries(store)
    for epoch in read_epochs(store):
        if up_to is not None and epoch.start > up_to:
            break
        base = epoch.start - 1
        block, cert = store.block_bytes(base), store.certificate_bytes(base)
        if base > store.height or block is None or cert is None:
            kept = bounds.get(epoch.start)
            if kept is not None and kept.validators == epoch.validators.pubkeys:
                proven.append(kept)
            else:
                scheduled.append(epoch)
            continue
        proven.append(
            EpochProof(
                start=epoch.start,
                validators=epoch.validators.pubkeys,
                header_bytes=Block.header_of(block).encode(),
                certificate_bytes=cert,
            )
        )
    return proven, scheduled


def epochs_written(writes: Iterable[tuple[bytes, bytes | None]]) -> tuple[EpochInfo, ...]:
    """The epoch records a block wrote (what `Executed.epochs` reports)."""
    out = []
    for key, raw in writes:
        if key.startswith(EPOCH_PREFIX) and raw is not None:
            rec = decode_record(key, raw)
            keys = tuple(bytes.fromhex(v["pubkey"]) for v in rec["validators"])
            out.append(EpochInfo(int(rec["start"]), ValidatorSet(keys)))
    return tuple(out)


def registry_written(writes: Iterable[tuple[bytes, bytes | None]]) -> bool:
    return any(key.startswith(REGISTRY_PREFIXES) for key, _ in writes)


def peer_specs(
    entries: Iterable[NodeEntry], overrides: dict[str, tuple[str, int]], own_id: str
) -> list[PeerSpec]:
    """Who to link with: every node that is not removed, at its address (or the override)."""
    out = []
    for e in sorted(entries, key=lambda e: e.node_id):
        if e.status == "REMOVED" or e.node_id == own_id:
            continue
        host, port = overrides.get(e.node_id, (e.host, e.p2p_port))
        out.append(PeerSpec(peer_id=PeerId(e.node_id), pubkey=e.pubkey, host=host, port=port))
    return out


def own_entry(
    config: Any, pubkey: bytes, registry: dict[str, NodeEntry], bootstrap: Iterable[NodeEntry]
) -> NodeEntry:
    """This node as the ledger knows it; a node not (yet) registered is an observer of the org its
    configuration names (it starts, serves its API and waits to be added)."""
    found = registry.get(config.node_id) or next((e for e in bootstrap if e.node_id == config.node_id), None)
    if found is not None:
        return found
    return NodeEntry(
        node_id=config.node_id,
        org_id=config.org_id or "",
        role="observer",
        pubkey=pubkey,
        host=config.p2p_host,
        p2p_port=config.p2p_port,
        api_port=config.api_port,
        status="UNREGISTERED",
    )
