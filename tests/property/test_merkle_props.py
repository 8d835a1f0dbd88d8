"""RFC 6962 Merkle trees: every proof verifies and any alteration fails (RELIABILITY 3.7)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from wire import merkle

leaves_st = st.lists(st.binary(max_size=12), min_size=1, max_size=40)


def _reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written recursively as in the RFC."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])).digest()


@given(st.lists(st.binary(max_size=12), max_size=40))
def test_root_matches_the_rfc_definition(leaves: list[bytes]) -> None:
    assert merkle.merkle_root(leaves) == _reference_mth(leaves)


@given(leaves_st, st.data())
def test_every_inclusion_proof_verifies_and_alterations_fail(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(x) for x in leaves]
    root = merkle.root_from_leaf_hashes(hashes)
    i = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.inclusion_proof(hashes, i)
    assert merkle.verify_inclusion(hashes[i], i, len(leaves), proof, root)
    # altered leaf
    assert not merkle.verify_inclusion(merkle.leaf_hash(leaves[i] + b"!"), i, len(leaves), proof, root)
    # another index: fails whenever the leaves are distinct
    if len(set(leaves)) == len(leaves) and len(leaves) > 1:
        j = data.draw(st.integers(0, len(leaves) - 1).filter(lambda j: j != i))
        assert not merkle.verify_inclusion(hashes[i], j, len(leaves), proof, root)
    # altered root
    assert not merkle.verify_inclusion(hashes[i], i, len(leaves), proof, bytes(32))
    # altered proof element
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = bytes(a ^ 1 for a in bad[k][:1]) + bad[k][1:]
        assert not merkle.verify_inclusion(hashes[i], i, len(leaves), bad, root)


@given(leaves_st, st.data())
def test_consistency_proofs_verify_and_alterations_fail(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(x) for x in leaves]
    n = len(hashes)
    m = data.draw(st.integers(1, n))
    old_root, new_root = merkle.root_from_leaf_hashes(hashes[:m]), merkle.root_from_leaf_hashes(hashes)
    proof = merkle.consistency_proof(hashes, m)
    assert merkle.verify_consistency(m, n, old_root, new_root, proof)
    assert not merkle.verify_consistency(m, n, bytes(32), new_root, proof)
    assert not merkle.verify_consistency(m, n, old_root, bytes(32), proof)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = bytes(32)
        assert not merkle.verify_consistency(m, n, old_root, new_root, bad)


def test_leaf_and_node_prefixes_prevent_second_preimages() -> None:
    a, b = b"a", b"b"
    root = merkle.merkle_root([a, b])
    forged_leaf = merkle.leaf_hash(a) + merkle.leaf_hash(b)
    assert merkle.merkle_root([forged_leaf]) != root


def test_hostile_proofs_never_raise() -> None:
    assert not merkle.verify_inclusion(bytes(32), 5, 3, [], bytes(32))
    assert not merkle.verify_inclusion(bytes(32), 0, 1, [b"short"], bytes(32))
    assert not merkle.verify_consistency(0, 3, bytes(32), bytes(32), [])
    assert not merkle.verify_consistency(4, 3, bytes(32), bytes(32), [])
    assert not merkle.verify_consistency(2, 3, bytes(32), bytes(32), [])
