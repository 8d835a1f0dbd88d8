"""The authenticated ordered state map: a Merkle Patricia trie over the raw state keys, versioned by
block height, with inclusion, absence and range proofs (docs/architecture.md argues the choice).

Layout:

- A key's path is its bytes as nibbles, each nibble n written as the symbol n + 1, followed by the
  terminator symbol 0: so symbol order is byte order, and a key that is a prefix of another (`org/cn`
  and `org/cn.gs`) sorts first. Branch nodes have 17 slots (0 = terminator, 1..16 = nibbles) and a
  `prefix` of symbols shared by everything below them (extensions folded into branches); leaves
  hold the whole key and its value. The shape depends only on the set of entries, never on the
  order they were written, so a full scan rebuilds the same root (`root_of`).
- Hashes (SHA-256): leaf = H(0x00 || u32 len(key) || key || H(value)); branch = H(0x01 || u16
  len(prefix) || prefix || u32 bitmap of present slots || the present children's hashes in slot
  order); the empty map's root is H("orgledger/statemap/empty"). A proof is the list of these
  preimages (leaves with the value's hash, not the value), so any client (SDK, auditor, a browser)
  checks it with nothing but SHA-256.
- Storage (node/store): every node is written at its position (the symbol path from the root to
  the slot it hangs in) and the version (block height) that wrote it; a branch refers to a child by
  (hash, version). A block writes only the nodes its writes changed, and lists the (position,
  version) it replaced as stale: a node stale since height s is no longer reachable from any root
  of height >= s, so pruning the roots below s may delete it (Jellyfish Merkle Tree's scheme).
- `update` applies one block's writes (sorted by key, None deletes) in one pass: every touched node
  is rebuilt and hashed once per block.

Pure: no IO (nodes come from a `NodeSource`), no clock, no randomness.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from wire.errors import ProofError

SLOTS = 17
END = 0
_SHA = hashlib.sha256
EMPTY_ROOT = _SHA(b"orgledger/statemap/empty").digest()
_LEAF, _BRANCH = 0, 1
MAX_KEY_BYTES = 4096


_HEX_TO_SYMBOL = bytes.maketrans(b"0123456789abcdef", bytes(range(1, 17)))


def symbols(key: bytes) -> bytes:
    """The path of `key`: a symbol per nibble (nibble + 1), then the terminator 0."""
    return key.hex().encode().translate(_HEX_TO_SYMBOL) + b"\x00"


def leaf_preimage(key: bytes, value_hash: bytes) -> bytes:
    return b"\x00" + len(key).to_bytes(4, "big") + key + value_hash


def leaf_hash(key: bytes, value: bytes) -> bytes:
    return _SHA(leaf_preimage(key, _SHA(value).digest())).digest()


def branch_preimage(prefix: bytes, hashes: Sequence[bytes | None]) -> bytes:
    bitmap = 0
    present = []
    for slot, h in enumerate(hashes):
        if h is not None:
            bitmap |= 1 << slot
            present.append(h)
    return b"\x01" + len(prefix).to_bytes(2, "big") + prefix + bitmap.to_bytes(4, "big") + b"".join(present)


# ------------------------------------------------------------------------------------ stored nodes
Ref = tuple[bytes, int]
"""A child as its parent holds it: (the child's hash, the version (height) that wrote it)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    key: bytes
    value: bytes

    def preimage(self) -> bytes:
        return leaf_preimage(self.key, _SHA(self.value).digest())


@dataclass(frozen=True, slots=True)
class Branch:
    prefix: bytes
    children: tuple[Ref | None, ...]

    def preimage(self) -> bytes:
        return branch_preimage(self.prefix, [None if r is None else r[0] for r in self.children])


Node = Leaf | Branch


# The stored forms. Leaf: 0x00 || u32 len(key) || key || value. Branch: 0x01 || u16 len(prefix) ||
# prefix || u32 bitmap || the k present children's hashes (32 bytes each) || their versions (u64
# each): the hash preimage is the stored form cut before the versions.
def _leaf_bytes(key: bytes, value: bytes, hashed: bool = False) -> tuple[bytes, bytes]:
    """(stored form, hash) of a leaf; `hashed`: `value` is already the value's hash."""
    head = b"\x00" + len(key).to_bytes(4, "big") + key
    return head + value, _SHA(head + (value if hashed else _SHA(value).digest())).digest()


def _branch_bytes(prefix: bytes, children: dict[int, Ref]) -> tuple[bytes, bytes]:
    """(stored form, hash) of a branch."""
    slots = sorted(children)
    bitmap = 0
    for s in slots:
        bitmap |= 1 << s
    pre = b"".join(
        (
            b"\x01",
            len(prefix).to_bytes(2, "big"),
            prefix,
            bitmap.to_bytes(4, "big"),
            *(children[s][0] for s in slots),
        )
    )
    versions = b"".join(children[s][1].to_bytes(8, "big") for s in slots)
    return pre + versions, _SHA(pre).digest()


def _parse_leaf(data: bytes) -> tuple[bytes, bytes]:
    klen = int.from_bytes(data[1:5], "big")
    return data[5 : 5 + klen], data[5 + klen :]


def _parse_branch(data: bytes) -> tuple[bytes, dict[int, Ref]]:
    plen = int.from_bytes(data[1:3], "big")
    prefix = data[3 : 3 + plen]
    pos = 3 + plen
    bitmap = int.from_bytes(data[pos : pos + 4], "big")
    pos += 4
    slots = [s for s in range(SLOTS) if bitmap >> s & 1]
    vpos = pos + 32 * len(slots)
    if vpos + 8 * len(slots) != len(data):
        raise ValueError("a branch node of the wrong length")
    return prefix, {
        s: (
            data[pos + 32 * i : pos + 32 * i + 32],
            int.from_bytes(data[vpos + 8 * i : vpos + 8 * i + 8], "big"),
        )
        for i, s in enumerate(slots)
    }


def decode_node(data: bytes) -> Node:
    """A stored node (raises ValueError when the bytes are not one)."""
    if not data:
        raise ValueError("empty node")
    if data[0] == _LEAF:
        return Leaf(*_parse_leaf(data))
    if data[0] == _BRANCH:
        prefix, children = _parse_branch(data)
        return Branch(prefix, tuple(children.get(s) for s in range(SLOTS)))
    raise ValueError(f"unknown node kind {data[0]}")


def node_hash(node: Node) -> bytes:
    return _SHA(node.preimage()).digest()


NodeSource = Callable[[bytes, int], bytes]
"""(position, version) -> the stored node bytes; raises KeyError when absent."""


@dataclass(slots=True)
class Changes:
    """What one `update` produced: nodes to store and (position, version) pairs gone stale."""

    version: int
    nodes: list[tuple[bytes, bytes]] = field(default_factory=list)  # (position, stored node)
    stale: list[tuple[bytes, int]] = field(default_factory=list)  # (position, version)


Item = tuple[bytes, bytes, bytes | None]  # (symbols, key, value or None to delete)


# ------------------------------------------------------------------------------------ updating
class _Updater:
    """One block's update. Nodes written at this version are kept in `pending` (position -> bytes)
    until the end: one rewritten again in the same block is replaced there, never marked stale."""

    def __init__(self, source: NodeSource, version: int, hashed: bool) -> None:
        self.source = source
        self.version = version
        self.hashed = hashed
        self.pending: dict[bytes, bytes] = {}
        self.stale: list[tuple[bytes, int]] = []

    def load(self, pos: bytes, ref: Ref) -> bytes:
        if ref[1] == self.version:
            return self.pending[pos]
        try:
            return self.source(pos, ref[1])
        except KeyError:
            raise ProofError(f"state map node at version {ref[1]} is missing") from None

    def leaf(self, pos: bytes, key: bytes, value: bytes) -> Ref:
        data, h = _leaf_bytes(key, value, self.hashed)
        self.pending[pos] = data
        return h, self.version

    def branch(self, pos: bytes, prefix: bytes, children: dict[int, Ref]) -> Ref:
        data, h = _branch_bytes(prefix, children)
        self.pending[pos] = data
        return h, self.version

    def drop(self, pos: bytes, ref: Ref) -> None:
        if ref[1] == self.version:
            self.pending.pop(pos, None)
        else:
            self.stale.append((pos, ref[1]))

    # -- building a subtree from entries (sorted by symbols, unique)
    def build(self, pos: bytes, entries: list[tuple[bytes, bytes, bytes]]) -> Ref | None:
        if not entries:
            return None
        if len(entries) == 1:
            return self.leaf(pos, entries[0][1], entries[0][2])
        first, last = entries[0][0], entries[-1][0]
        i = len(pos)
        end = min(len(first), len(last))
        while i < end and first[i] == last[i]:
            i += 1
        full = first[:i]
        groups: dict[int, list[tuple[bytes, bytes, bytes]]] = {}
        for e in entries:
            groups.setdefault(e[0][i], []).append(e)
        children: dict[int, Ref] = {}
        for s, g in groups.items():
            ref = self.build(full + bytes((s,)), g)
            if ref is not None:
                children[s] = ref
        return self.branch(pos, full[len(pos) :], children)

    # -- applying writes to an existing subtree
    def apply(self, pos: bytes, ref: Ref | None, items: list[Item]) -> Ref | None:
        if ref is None:
            return self.build(pos, [(s, k, v) for s, k, v in items if v is not None])
        data = self.load(pos, ref)
        if data[0] == _LEAF:
            return self._apply_leaf(pos, ref, data, items)
        return self._apply_branch(pos, ref, data, items)

    def _apply_leaf(self, pos: bytes, ref: Ref, data: bytes, items: list[Item]) -> Ref | None:
        key, value = _parse_leaf(data)
        merged: dict[bytes, tuple[bytes, bytes]] = {symbols(key): (key, value)}
        for s, k, v in items:
            if v is None:
                merged.pop(s, None)
            else:
                merged[s] = (k, v)
        if len(merged) == 1 and next(iter(merged.values())) == (key, value):
            return ref
        self.drop(pos, ref)
        return self.build(pos, [(s, kv[0], kv[1]) for s, kv in sorted(merged.items())])

    def _apply_branch(self, pos: bytes, ref: Ref, data: bytes, items: list[Item]) -> Ref | None:
        plen = int.from_bytes(data[1:3], "big")
        prefix = data[3 : 3 + plen]
        full = pos + prefix
        n = len(full)
        at = n  # where the first insert leaves this branch's prefix (n: none does)
        if prefix:
            for s, _, v in items:
                if v is not None and s[:n] != full:
                    j = len(pos)
                    while s[j] == full[j]:
                        j += 1
                    at = min(at, j)
        if at < n:
            # the branch moves one level down, under a new branch whose prefix ends where the insert
            # diverges; its own path (position + prefix) and so its children's positions stay
            _, children = _parse_branch(data)
            self.drop(pos, ref)
            moved = self.branch(full[: at + 1], full[at + 1 :], children)
            top: dict[int, Ref] = {full[at]: moved}
            cut = full[:at]
            self._children(cut, top, [it for it in items if it[0][:at] == cut])
            return self._normalise(pos, full[len(pos) : at], cut, top)
        inside = [it for it in items if it[0][:n] == full] if prefix else items  # others delete absent keys
        if not inside:
            return ref
        # the common case: children change, none appears or goes: rewrite their hashes in place
        bitmap = int.from_bytes(data[3 + plen : 7 + plen], "big")
        hstart = 7 + plen
        vstart = hstart + 32 * bitmap.bit_count()
        groups: dict[int, list[Item]] = {}
        for item in inside:
            groups.setdefault(item[0][n], []).append(item)
        new: dict[int, Ref | None] = {}
        for slot, group in groups.items():
            old: Ref | None = None
            if bitmap >> slot & 1:
                i = (bitmap & ((1 << slot) - 1)).bit_count()
                old = (
                    data[hstart + 32 * i : hstart + 32 * i + 32],
                    int.from_bytes(data[vstart + 8 * i : vstart + 8 * i + 8], "big"),
                )
            got = self.apply(full + bytes((slot,)), old, group)
            if got != old:
                new[slot] = got
        if not new:
            return ref
        self.drop(pos, ref)
        if all(got is not None for got in new.values()):
            # children changed or appeared, none went: splice their hashes and versions into the
            # stored form (the bytes `_branch_bytes` would build), highest slot first so the index
            # of each lower slot among the old children stays valid
            hashes = bytearray(data[hstart:vstart])
            versions = bytearray(data[vstart:])
            added = 0
            for slot in sorted(new, reverse=True):
                got = new[slot]
                assert got is not None
                h, version = got
                i = (bitmap & ((1 << slot) - 1)).bit_count()
                if bitmap >> slot & 1:
                    hashes[32 * i : 32 * i + 32] = h
                    versions[8 * i : 8 * i + 8] = version.to_bytes(8, "big")
                else:
                    hashes[32 * i : 32 * i] = h
                    versions[8 * i : 8 * i] = version.to_bytes(8, "big")
                    added |= 1 << slot
            pre = b"".join((data[: 3 + plen], (bitmap | added).to_bytes(4, "big"), hashes))
            self.pending[pos] = pre + versions
            return _SHA(pre).digest(), self.version
        _, children = _parse_branch(data)
        for slot, got in new.items():
            if got is None:
                children.pop(slot, None)
            else:
                children[slot] = got
        return self._normalise(pos, prefix, full, children)

    def _children(self, full: bytes, children: dict[int, Ref], items: list[Item]) -> bool:
        """Apply `items` to the children of the branch whose path is `full`; True if one changed."""
        n = len(full)
        if len(items) == 1:  # the common case below the top levels: one write per subtree
            groups: dict[int, list[Item]] = {items[0][0][n]: items}
        else:
            groups = {}
            for item in items:
                groups.setdefault(item[0][n], []).append(item)
        changed = False
        for slot, group in groups.items():
            old = children.get(slot)
            new = self.apply(full + bytes((slot,)), old, group)
            if new != old:
                changed = True
                if new is None:
                    del children[slot]
                else:
                    children[slot] = new
        return changed

    def _normalise(self, pos: bytes, prefix: bytes, full: bytes, children: dict[int, Ref]) -> Ref | None:
        if not children:
            return None
        if len(children) > 1:
            return self.branch(pos, prefix, children)
        # one child left: it takes this branch's place (its own path does not change)
        ((slot, child_ref),) = children.items()
        child_pos = full + bytes((slot,))
        data = self.load(child_pos, child_ref)
        self.drop(child_pos, child_ref)
        if data[0] == _LEAF:
            return self.leaf(pos, *_parse_leaf(data))
        child_prefix, grandchildren = _parse_branch(data)
        return self.branch(pos, prefix + bytes((slot,)) + child_prefix, grandchildren)


def update(
    source: NodeSource,
    root: Ref | None,
    version: int,
    writes: Iterable[tuple[bytes, bytes | None]],
    *,
    hashed: bool = False,
) -> tuple[Ref | None, Changes]:
    """Apply one block's writes (key -> value, None deletes) to the map whose root is `root`.

    Returns the new root (None when the map is empty) and the changes to store. `version` is the
    block height; it must be greater than every version already in the map. `hashed`: the values
    given are the values' SHA-256 and leaves keep only those (a verifier's map: same hashes, no
    values; such a map must always be updated with hashes)."""
    items = sorted((symbols(k), k, v) for k, v in writes)
    for i in range(1, len(items)):
        if items[i][0] == items[i - 1][0]:
            raise ValueError("a key is written twice in one update")
    up = _Updater(source, version, hashed)
    new_root = up.apply(b"", root, items) if items else root
    return new_root, Changes(version, sorted(up.pending.items()), up.stale)


def root_hash(root: Ref | None) -> bytes:
    return EMPTY_ROOT if root is None else root[0]


def root_of(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The root of the map holding exactly `entries` (key, value), in any order: a full rebuild,
    hashes only (what a snapshot or a scan of the whole state is checked with)."""
    return root_of_sorted(sorted(entries))


def root_of_sorted(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """`root_of` for entries in strictly ascending key order (a store's scan), in one pass with
    memory for one path of the trie, not the whole map: ValueError on a key out of order.

    The trie of sorted keys follows from the common prefixes of neighbours: `open_` holds the
    branches on the path to the last key, each as (its branching position, its children so far);
    `pending` is the hash of the finished subtree that holds the last key. A new key that shares
    `common` symbols with the last closes every open branch deeper than `common` (its prefix runs
    from the slot of the branch above it to its branching position), then hangs `pending` in the
    branch at `common`, opened now if none branches there."""
    open_: list[tuple[int, list[bytes | None]]] = []
    prev = b""
    prev_sym = b""
    pending: bytes | None = None
    for key, value in entries:
        if pending is not None:
            if key <= prev:
                raise ValueError(f"state keys out of order at {key[:80]!r}")
            m = min(len(prev), len(key))
            diff = int.from_bytes(prev[:m], "big") ^ int.from_bytes(key[:m], "big")
            common = (m * 8 - diff.bit_length()) // 4 if diff else 2 * m  # symbols shared
            while open_ and open_[-1][0] > common:
                depth, children = open_.pop()
                children[prev_sym[depth]] = pending
                above = max(open_[-1][0] if open_ else -1, common)
                pending = _SHA(branch_preimage(prev_sym[above + 1 : depth], children)).digest()
            if not open_ or open_[-1][0] < common:
                open_.append((common, [None] * SLOTS))
            open_[-1][1][prev_sym[common]] = pending
        pending = _SHA(leaf_preimage(key, _SHA(value).digest())).digest()
        prev, prev_sym = key, symbols(key)
    if pending is None:
        return EMPTY_ROOT
    while open_:
        depth, children = open_.pop()
        children[prev_sym[depth]] = pending
        above = open_[-1][0] if open_ else -1
        pending = _SHA(branch_preimage(prev_sym[above + 1 : depth], children)).digest()
    return pending


# ------------------------------------------------------------------------------------ reading
def get(source: NodeSource, root: Ref | None, key: bytes) -> bytes | None:
    """The value of `key` in the map at `root` (None when absent)."""
    found = _walk(source, root, symbols(key), None)
    return None if found is None else found.value


def _walk(source: NodeSource, root: Ref | None, sym: bytes, trail: list[bytes] | None) -> Leaf | None:
    pos, ref = b"", root
    while ref is not None:
        node = decode_node(source(pos, ref[1]))
        if trail is not None:
            trail.append(node.preimage())
        if isinstance(node, Leaf):
            return node if symbols(node.key) == sym else None
        full = pos + node.prefix
        if sym[: len(full)] != full:
            return None
        slot = sym[len(full)]
        pos, ref = full + bytes((slot,)), node.children[slot]
    return None


def scan(
    source: NodeSource, root: Ref | None, lo: bytes, hi: bytes | None, limit: int
) -> tuple[list[tuple[bytes, bytes]], list[bytes], bool]:
    """Entries with lo <= key < hi (hi None: no bound), at most `limit`, in key order, with the
    preimages that prove them: (entries, proof, more). When `more`, the proof covers [lo, last key]
    only; the next page starts after the last key."""
    lo_s = symbols(lo)
    hi_s = None if hi is None else symbols(hi)
    out: list[tuple[bytes, bytes]] = []
    proof: list[bytes] = []
    more = False

    def visit(pos: bytes, ref: Ref) -> bool:
        """False once the page is full (then nothing after it is visited)."""
        nonlocal more
        node = decode_node(source(pos, ref[1]))
        proof.append(node.preimage())
        if isinstance(node, Leaf):
            s = symbols(node.key)
            if s < lo_s or (hi_s is not None and s >= hi_s):
                return True
            if len(out) == limit:
                more = True  # this leaf stays in the proof: it shows where the page ends
                return False
            out.append((node.key, node.value))
            return True
        full = pos + node.prefix
        if not _intersects(full, lo_s, hi_s):
            return True  # only the root can be visited without being asked for
        for slot, child in enumerate(node.children):
            if child is None:
                continue
            cpos = full + bytes((slot,))
            if _intersects(cpos, lo_s, hi_s) and not visit(cpos, child):
                return False
        return True

    if root is not None:
        visit(b"", root)
    return out, proof, more


def _intersects(path: bytes, lo_s: bytes, hi_s: bytes | None) -> bool:
    """Some key whose path starts with `path` may lie in [lo, hi)."""
    n = len(path)
    if path < lo_s[:n]:
        return False
    return hi_s is None or path < hi_s[:n] or (path == hi_s[:n] and len(hi_s) > n)


def prove(source: NodeSource, root: Ref | None, keys: Iterable[bytes]) -> list[bytes]:
    """The preimages proving each key's value or absence at `root` (shared nodes listed once)."""
    seen: dict[bytes, None] = {}
    for key in keys:
        trail: list[bytes] = []
        _walk(source, root, symbols(key), trail)
        for p in trail:
            seen.setdefault(p, None)
    return list(seen)


def iter_nodes(source: NodeSource, root: Ref | None) -> Iterator[tuple[bytes, int, Node]]:
    """Every node reachable from `root` as (position, version, node), parents first."""
    if root is None:
        return
    stack: list[tuple[bytes, Ref]] = [(b"", root)]
    while stack:
        pos, ref = stack.pop()
        node = decode_node(source(pos, ref[1]))
        yield pos, ref[1], node
        if isinstance(node, Branch):
            full = pos + node.prefix
            for slot in range(SLOTS - 1, -1, -1):
                child = node.children[slot]
                if child is not None:
                    stack.append((full + bytes((slot,)), child))
