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
from contracts.state import decode_record, prefix_end
from network import PeerId, PeerSpec
from node.store.storage import BlockStore, StoreReader
from wire.certificate import ValidatorSet

NODE_PREFIX = b"node/"
EPOCH_PREFIX = b"valset/epoch/"
REGISTRY_PREFIXES = (b"node/", b"nodekey/")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEntry:
    node_id: str
    org_id: str
    role: str
    pubkey: bytes
    host: str
    p2p_port: int
    api_port: int
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
        return {
            "node_id": self.node_id,
            "org_id": self.org_id,
            "role": self.role,
            "pubkey": self.pubkey.hex(),
            "host": self.host,
            "p2p_port": self.p2p_port,
            "api_port": self.api_port,
            "status": self.status,
            "pending": self.pending,
        }


def read_registry(store: BlockStore) -> dict[str, NodeEntry]:
    out: dict[str, NodeEntry] = {}
    for key, raw in store.state_scan(NODE_PREFIX, prefix_end(NODE_PREFIX)):
        entry = NodeEntry.from_record(decode_record(key, raw))
        out[entry.node_id] = entry
    return out


def read_epochs(store: BlockStore) -> tuple[EpochInfo, ...]:
    """Every epoch after the first, merged, with base hashes where the store has the block."""
    out: list[EpochInfo] = []
    previous: tuple[bytes, ...] | None = None
    for start, keys, _ in iter_epochs(StoreReader(store)):
        if keys == previous:
            continue
        previous = keys
        if start == 1:
            continue
        base = store.block(start - 1) if start - 1 <= store.height else None
        out.append(EpochInfo(start, ValidatorSet(keys), b"" if base is None else base.hash))
    return tuple(out)


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
