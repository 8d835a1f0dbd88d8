"""Proven reads: ledger state read from the authenticated state map at a certified height, with the
proof a client checks against that height's certified header (docs/api.md "Proofs").

Rules:

- A state root is certified once a later header carries it: the header of block a carries the
  root after block a - exec_lag. So a `ProvenView` at height v reads the map as of v and anchors
  it to block v + exec_lag (its header and commit certificate go with every proof); v = 0 (the
  genesis state) is anchored by block 1.
- An answer about the state as of height w (the newest block, or an index page's height) is
  proven at w when w is certified, else at the newest certified height v when the state roots of
  v and w are equal (blocks after v changed nothing: the empty blocks that seal a transaction
  block, say); it then `reflects` w. Otherwise the state of w is not provable yet
  (`height_not_reached`, retry: the blocks that certify it follow within a few ticks).
- Every value served is read from the map at v (never from the read index); a proof is the list of
  map node preimages (`wire.statemap`) covering the keys and ranges asked, checked here against
  the root before it is served: a node never serves a proof its own state does not back.
- Anything the store cannot back (a pruned height, a missing node) is `StorageError` (503).
- The anchor's header and certificate come through `Anchors`, the API's bounded cache of recent
  anchor heights: a stored block and its certificate never change while the node runs, and taking
  the header out of a stored block read the whole block, 235 of a view's 370 µs on 2,000-transaction
  blocks (docs/benchmarks.md, issue 19).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from node.api.errors import ApiError
from node.errors import StorageCorruptError
from node.store.storage import BlockStore
from wire import statemap, stateproofs
from wire.errors import DecodeError, ProofError
from wire.types import Block

ANCHORS_KEPT = 64


def read_anchor(snap: BlockStore, height: int) -> tuple[bytes, bytes]:
    """(encoded header, certificate bytes) of stored block `height`."""
    raw = snap.block_bytes(height)
    cert = snap.certificate_bytes(height)
    if raw is None or cert is None:
        raise StorageCorruptError(f"block {height} is below the stored height but missing")
    try:
        return Block.header_of(raw).encode(), cert
    except DecodeError as exc:
        raise StorageCorruptError(f"stored block {height} does not decode") from exc


class Anchors:
    """The anchors of the last `kept` heights it read, first in first out (see the module's
    rules); thread-safe (the API answers on the event loop and in worker threads)."""

    def __init__(self, kept: int = ANCHORS_KEPT) -> None:
        self._kept = kept
        self._items: dict[int, tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, snap: BlockStore, height: int) -> tuple[bytes, bytes]:
        """The anchor of `height`, which the caller checked is at or below `snap`'s height."""
        with self._lock:
            found = self._items.get(height)
        if found is not None:
            return found
        found = read_anchor(snap, height)
        with self._lock:
            if height not in self._items and len(self._items) >= self._kept:
                del self._items[next(iter(self._items))]  # the longest kept
            self._items[height] = found
        return found


@dataclass(frozen=True, slots=True)
class Range:
    """Keys lo <= k < hi (hi None: no bound), proven complete."""

    lo: bytes
    hi: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {"lo": self.lo.hex(), "hi": None if self.hi is None else self.hi.hex()}


@dataclass(slots=True)
class ProofBuilder:
    """Collects what one answer proves: keys (value or absence) and complete ranges."""

    keys: list[bytes] = field(default_factory=list)
    ranges: list[Range] = field(default_factory=list)
    nodes: dict[bytes, None] = field(default_factory=dict)

    def add_nodes(self, preimages: Iterable[bytes]) -> None:
        for p in preimages:
            self.nodes.setdefault(p, None)


class ProvenView:
    """The state map as of height `height`, read through one store snapshot; the answer it gives
    reflects every block up to `reflects` (>= height: the state did not change in between)."""

    def __init__(
        self,
        snap: BlockStore,
        height: int,
        lag: int,
        reflects: int | None = None,
        anchors: Anchors | None = None,
    ) -> None:
        self.snap, self.height, self.lag = snap, height, lag
        self.reflects = height if reflects is None else reflects
        top = snap.height
        self.anchor_height = max(1, height + lag)
        if self.anchor_height > top:
            raise ApiError("height_not_reached", f"the state of height {height} is not certified yet")
        self.root = snap.map_root(height)
        self.state_root = statemap.root_hash(self.root)
        self.header_bytes, self.certificate_bytes = (
            read_anchor(snap, self.anchor_height)
            if anchors is None
            else anchors.get(snap, self.anchor_height)
        )

    @staticmethod
    def latest(snap: BlockStore, lag: int) -> int:
        """The newest height whose state root a stored header carries (-1: none yet)."""
        top = snap.height
        return -1 if top == 0 else max(0, top - lag)

    def _node(self, position: bytes, version: int) -> bytes:
        try:
            return self.snap.map_node(position, version)
        except KeyError:
            raise StorageCorruptError(f"a state map node of height {self.height} is missing") from None

    def get(self, key: bytes) -> bytes | None:
        return statemap.get(self._node, self.root, key)

    def prove(self, builder: ProofBuilder, keys: Sequence[bytes]) -> None:
        builder.keys.extend(keys)
        builder.add_nodes(statemap.prove(self._node, self.root, keys))

    def scan(
        self, builder: ProofBuilder, lo: bytes, hi: bytes | None, limit: int
    ) -> tuple[list[tuple[bytes, bytes]], bool]:
        """A page of [lo, hi) with its completeness proof added to `builder`: (entries, more)."""
        entries, proof, more = statemap.scan(self._node, self.root, lo, hi, limit)
        builder.add_nodes(proof)
        builder.ranges.append(Range(lo, entries[-1][0] + b"\x00" if more else hi))
        return entries, more

    def proof_json(self, builder: ProofBuilder, values: dict[bytes, bytes | None]) -> dict[str, Any]:
        """The proof of an answer, checked against the root first: every key in `values` must be
        shown with that value (None: absent), every range complete."""
        nodes = list(builder.nodes)
        try:
            view = stateproofs.ProofView(self.state_root, nodes)
            for key in builder.keys:
                stateproofs.verify_value(self.state_root, nodes, key, values.get(key))
            for r in builder.ranges:
                view.range(r.lo, r.hi)
        except ProofError as exc:
            raise StorageCorruptError(f"the state map does not back this answer: {exc.message}") from exc
        return {
            "height": self.height,
            "reflects": self.reflects,
            "state_root": self.state_root.hex(),
            "anchor": {
                "height": self.anchor_height,
                "header_bytes": self.header_bytes.hex(),
                "certificate_bytes": self.certificate_bytes.hex(),
            },
            "keys": [k.decode("utf-8", "replace") for k in builder.keys],
            "ranges": [r.to_json() for r in builder.ranges],
            "nodes": [p.hex() for p in nodes],
        }


def provable_at(snap: BlockStore, lag: int, want: int) -> int | None:
    """The height to prove the state of height `want` at (see the rules), or None: not yet."""
    top = snap.height
    if top == 0 or want > top:
        return None
    certified = max(0, top - lag)
    if want <= certified:
        return want
    want_roots, certified_roots = snap.roots(want), snap.roots(certified)
    if want_roots is None or certified_roots is None or want_roots[0] != certified_roots[0]:
        return None
    return certified


def reflected(snap: BlockStore, lag: int) -> int:
    """The newest height whose state can be proven now (-1 before block 1)."""
    top = snap.height
    for want in range(top, max(0, top - lag) - 1, -1):
        if provable_at(snap, lag, want) is not None:
            return want
    return -1


def open_view(
    snap: BlockStore, lag: int, want: int | None = None, anchors: Anchors | None = None
) -> ProvenView:
    """The view answering for the state of height `want` (default: the newest provable)."""
    target = reflected(snap, lag) if want is None else want
    at = None if target < 0 else provable_at(snap, lag, target)
    if at is None:
        raise ApiError(
            "height_not_reached", f"the state of height {target} is not certified yet; retry shortly"
        )
    return ProvenView(snap, at, lag, reflects=target, anchors=anchors)
