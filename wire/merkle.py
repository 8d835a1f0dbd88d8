"""RFC 6962 / RFC 9162 Merkle trees: roots, inclusion proofs, consistency proofs, and their verifiers.

Rules:

- Leaf hash = SHA-256(0x00 || leaf bytes); interior node = SHA-256(0x01 || left || right). The
  prefixes keep a leaf from ever being read as an interior node (second-preimage resistance).
- The tree over n leaves splits at k, the largest power of two smaller than n (RFC 6962 2.1), so
  the root of the empty tree is SHA-256 of nothing.
- Proofs are lists of 32-byte hashes. The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2
  literally and never raise on hostile input: they return False. Every hash they are given (leaf,
  roots, proof elements) must be HASH_BYTES long, or they return False: an empty leaf and root
  never "verify" a one-leaf tree. Checked against the transparency-dev reference vectors
  (tests/unit/wire/test_merkle_vectors.py), which also name the one departure: a consistency
  proof from the empty tree (old size 0) is refused rather than trivially true.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hashes_ok(*hashes: bytes, proof: Sequence[bytes] = ()) -> bool:
    return all(len(h) == HASH_BYTES for h in hashes) and all(len(p) == HASH_BYTES for p in proof)


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The tree head over already-hashed leaves (bottom-up; equal to RFC 6962's MTH)."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return root_from_leaf_hashes([leaf_hash(x) for x in leaves])


def _mth(hashes: Sequence[bytes]) -> bytes:
    return root_from_leaf_hashes(hashes)


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for leaf `index` in the tree over leaf hashes `hashes` (RFC 6962 PATH)."""
    if not 0 <= index < len(hashes):
        raise IndexError(f"leaf index {index} outside a tree of {len(hashes)}")
    path: list[bytes] = []
    lo, hi, m = 0, len(hashes), index
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            stack.append(_mth(hashes[lo + k : hi]))
            hi = lo + k
        else:
            stack.append(_mth(hashes[lo : lo + k]))
            lo, m = lo + k, m - k
    path.extend(reversed(stack))
    return path


def verify_inclusion(
    leaf_hash_: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf `index` of a `tree_size` tree hashes to `root`?"""
    if not 0 <= index < tree_size or not _hashes_ok(leaf_hash_, root, proof=proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash_
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]): shows the tree of the first `old_size` leaves is a prefix."""
    n = len(hashes)
    if not 0 < old_size <= n:
        raise IndexError(f"old size {old_size} outside 1..{n}")

    def sub(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if complete else [_mth(hashes[lo:hi])]
        k = _split(hi - lo)
        if m <= k:
            return [*sub(m, lo, lo + k, complete), _mth(hashes[lo + k : hi])]
        return [*sub(m - k, lo + k, hi, False), _mth(hashes[lo : lo + k])]

    return sub(old_size, 0, n, True)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does `proof` show the `old_size` tree is a prefix of the `new_size` tree?"""
    if not _hashes_ok(old_root, new_root, proof=proof) or not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
