"""Checking state-map proofs (`wire/statemap.py` makes them): a proof is a list of node preimages,
checked against a root with SHA-256 alone, so a client, an auditor or a browser needs nothing else.

Rules:

- `ProofView(root, preimages)`: `value_hash(key)` is the hash of the key's value or None when the
  proof shows it absent; `range(lo, hi)` lists every (key, value hash) with lo <= key < hi in key
  order, complete. Asked about a key or range the proof does not cover, or given a malformed
  preimage, it raises ProofError; it never guesses.
- `verify_value(root, preimages, key, value)` raises ProofError unless the proof shows `key`
  holding exactly `value` (None: absent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from wire.errors import ProofError
from wire.statemap import _BRANCH, _LEAF, EMPTY_ROOT, SLOTS, _intersects, symbols

_SHA = hashlib.sha256


@dataclass(frozen=True, slots=True)
class _ProofNode:
    leaf: bool
    key: bytes = b""  # leaves
    value_hash: bytes = b""  # leaves
    prefix: bytes = b""  # branches
    hashes: tuple[bytes | None, ...] = ()  # branches


def _parse_preimage(p: bytes) -> _ProofNode:
    try:
        if p[0] == _LEAF:
            klen = int.from_bytes(p[1:5], "big")
            if len(p) != 5 + klen + 32:
                raise ValueError
            return _ProofNode(True, key=p[5 : 5 + klen], value_hash=p[5 + klen :])
        if p[0] != _BRANCH:
            raise ValueError
        plen = int.from_bytes(p[1:3], "big")
        prefix = p[3 : 3 + plen]
        pos = 3 + plen
        bitmap = int.from_bytes(p[pos : pos + 4], "big")
        pos += 4
        hashes: list[bytes | None] = []
        for slot in range(SLOTS):
            if bitmap >> slot & 1:
                hashes.append(p[pos : pos + 32])
                pos += 32
            else:
                hashes.append(None)
        if pos != len(p) or bitmap >> SLOTS or len(prefix) != plen or any(s > 16 for s in prefix):
            raise ValueError
        return _ProofNode(False, prefix=prefix, hashes=tuple(hashes))
    except (ValueError, IndexError):
        raise ProofError("a malformed proof node") from None


class ProofView:
    """A proof checked against a root: answers which values it establishes. Raises ProofError for a
    malformed preimage, or when asked about a key or range the proof does not cover."""

    def __init__(self, root: bytes, preimages: Iterable[bytes]) -> None:
        self.root = root
        self._nodes: dict[bytes, bytes] = {_SHA(p).digest(): p for p in preimages}

    def _node(self, h: bytes) -> _ProofNode:
        p = self._nodes.get(h)
        if p is None:
            raise ProofError("the proof does not cover this key or range (a node is missing)")
        return _parse_preimage(p)

    def value_hash(self, key: bytes) -> bytes | None:
        """The hash of `key`'s value, or None when the proof shows the key absent."""
        if self.root == EMPTY_ROOT:
            return None
        sym = symbols(key)
        h: bytes | None = self.root
        path = b""
        while h is not None:
            node = self._node(h)
            if node.leaf:
                return node.value_hash if node.key == key else None
            full = path + node.prefix
            if sym[: len(full)] != full:
                return None
            slot = sym[len(full)]
            h, path = node.hashes[slot], full + bytes((slot,))
        return None

    def range(self, lo: bytes, hi: bytes | None) -> list[tuple[bytes, bytes]]:
        """Every (key, value hash) with lo <= key < hi (hi None: no bound), in key order: complete,
        or ProofError."""
        lo_s = symbols(lo)
        hi_s = None if hi is None else symbols(hi)
        out: list[tuple[bytes, bytes]] = []
        if self.root == EMPTY_ROOT:
            return out
        stack: list[tuple[bytes, bytes]] = [(self.root, b"")]
        while stack:  # depth first, children pushed in reverse slot order
            h, path = stack.pop()
            node = self._node(h)
            if node.leaf:
                s = symbols(node.key)
                if not s.startswith(path):
                    raise ProofError("a proof leaf sits outside its path")
                if s >= lo_s and (hi_s is None or s < hi_s):
                    out.append((node.key, node.value_hash))
                continue
            full = path + node.prefix
            if not _intersects(full, lo_s, hi_s):
                continue
            for slot in range(SLOTS - 1, -1, -1):
                ch = node.hashes[slot]
                if ch is None:
                    continue
                cpath = full + bytes((slot,))
                if _intersects(cpath, lo_s, hi_s):
                    stack.append((ch, cpath))
        return out


def verify_value(root: bytes, preimages: Iterable[bytes], key: bytes, value: bytes | None) -> None:
    """Raise ProofError unless the proof shows `key` holding `value` (None: absent) at `root`."""
    found = ProofView(root, preimages).value_hash(key)
    want = None if value is None else _SHA(value).digest()
    if found != want:
        raise ProofError(
            f"the proof shows {key!r} " + ("absent" if found is None else "with another value")
            if want is not None
            else f"the proof shows {key!r} present"
        )
