"""`wire/merkle.py` against the transparency-dev reference vectors (github.com/transparency-dev/merkle,
`proof/verify_test.go` and `rfc6962/rfc6962_test.go`): the hashes, the eight roots, the inclusion
and consistency proofs, and the reference's corruption probes, every one of which must fail.

Two deliberate departures from the reference, asserted here too: a hash that is not 32 bytes (leaf,
root or proof element) is refused everywhere (the reference checks sizes for inclusion only), and
a consistency proof from the empty tree (size 0) is refused (the reference calls it trivially
consistent; nothing here ever needs one, and refusing it leaves no input that verifies without a
hash).
"""

from __future__ import annotations

import pytest

from wire import merkle


def dh(text: str) -> bytes:
    return bytes.fromhex(text)


SOME_HASH = dh("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE = dh("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

LEAVES = [dh(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    dh("606162636465666768696a6b6c6d6e6f")
]
ROOTS = [
    dh("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    dh("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    dh("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    dh("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    dh("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    dh("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    dh("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (leaf number, 1-based as in the reference; tree size; proof)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [dh("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            dh("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            dh("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]


def test_rfc6962_hashes() -> None:
    assert merkle.EMPTY_ROOT == EMPTY_TREE
    assert merkle.leaf_hash(b"") == ROOTS[0]
    assert merkle.leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert merkle.node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots(size: int) -> None:
    assert merkle.merkle_root(LEAVES[:size]) == ROOTS[size - 1]


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    probes = [
        ("leafIndex - 1", index - 1, size, proof, root, leaf),
        ("leafIndex + 1", index + 1, size, proof, root, leaf),
        ("leafIndex ^ 2", index ^ 2, size, proof, root, leaf),
        ("treeSize * 2", index, size * 2, proof, root, leaf),
        ("treeSize / 2", index, size // 2, proof, root, leaf),
        ("wrong leaf", index, size, proof, root, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_TREE, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root, leaf),
        ("trailing root", index, size, [*proof, root], root, leaf),
        ("preceding garbage", index, size, [b"", *proof], root, leaf),
        ("preceding root", index, size, [root, *proof], root, leaf),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 3", index, size, wrong, root, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        probes.append(("inserted component", index, size, [proof[0], SOME_HASH, *proof[1:]], root, leaf))
    return probes


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_vectors_and_their_corruptions(leaf: int, size: int, proof: list[bytes]) -> None:
    index, root, leaf_h = leaf - 1, ROOTS[size - 1], merkle.leaf_hash(LEAVES[leaf - 1])
    hashes = [merkle.leaf_hash(x) for x in LEAVES[:size]]
    assert merkle.inclusion_proof(hashes, index) == proof
    assert merkle.verify_inclusion(leaf_h, index, size, proof, root)
    wrong = [
        desc
        for desc, *p in _inclusion_probes(index, size, proof, root, leaf_h)
        if merkle.verify_inclusion(p[3], p[0], p[1], p[2], p[4])
    ]
    assert wrong == []


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_probes_without_a_tree(index: int, size: int) -> None:
    assert not merkle.verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not merkle.verify_inclusion(b"", index, size, [], EMPTY_TREE)
    assert not merkle.verify_inclusion(SOME_HASH, index, size, [], EMPTY_TREE)


def test_single_entry_hash_sizes() -> None:
    """The reference's TestVerifyInclusionSingleEntry: root = leaf hash; an empty hash never verifies
    (before the fix, `verify_inclusion(b'', 0, 1, [], b'')` was true)."""
    h = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(h, 0, 1, [], h)
    assert not merkle.verify_inclusion(b"", 0, 1, [], h)
    assert not merkle.verify_inclusion(h, 0, 1, [], b"")
    assert not merkle.verify_inclusion(b"", 0, 1, [], b"")
    assert not merkle.verify_inclusion(b"short", 0, 1, [], b"short")
    assert not merkle.verify_inclusion(bytes(33), 0, 1, [], bytes(33))


def _consistency_probes(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    probes = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 / 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, [*proof, b""]),
        ("trailing root1", size1, size2, root1, root2, [*proof, root1]),
        ("trailing root2", size1, size2, root1, root2, [*proof, root2]),
        ("preceding garbage", size1, size2, root1, root2, [b"", *proof]),
        ("preceding root1", size1, size2, root1, root2, [root1, *proof]),
        ("preceding root2", size1, size2, root1, root2, [root2, *proof]),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0], *proof]),
        ("truncated proof", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 4", size1, size2, root1, root2, wrong))
    return probes


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_vectors_and_their_corruptions(size1: int, size2: int, proof: list[bytes]) -> None:
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    hashes = [merkle.leaf_hash(x) for x in LEAVES[:size2]]
    assert merkle.consistency_proof(hashes, size1) == proof
    assert merkle.verify_consistency(size1, size2, root1, root2, proof)
    if not proof:
        return
    wrong = [
        desc
        for desc, *p in _consistency_probes(size1, size2, root1, root2, proof)
        if merkle.verify_consistency(*p)
    ]
    assert wrong == []


def test_consistency_edge_cases() -> None:
    """The reference's TestVerifyConsistency table, with the departures of the module docstring."""
    r1, r2 = b"don't care 1", b"don't care 2"
    assert not merkle.verify_consistency(0, 0, r1, r2, [])
    assert not merkle.verify_consistency(1, 1, r1, r2, [])
    assert not merkle.verify_consistency(1, 0, r1, r2, [])
    assert not merkle.verify_consistency(2, 1, r1, r2, [])
    assert not merkle.verify_consistency(1, 2, r1, r2, [])
    assert not merkle.verify_consistency(0, 0, EMPTY_TREE, r2, [])
    assert not merkle.verify_consistency(1, 1, EMPTY_TREE, r2, [])
    assert not merkle.verify_consistency(0, 0, EMPTY_TREE, EMPTY_TREE, [EMPTY_TREE])
    assert not merkle.verify_consistency(0, 1, EMPTY_TREE, EMPTY_TREE, [EMPTY_TREE])
    assert not merkle.verify_consistency(1, 1, EMPTY_TREE, EMPTY_TREE, [EMPTY_TREE])
    # departures: equal 12-byte "roots" and size 0 verify in the reference, not here
    assert not merkle.verify_consistency(1, 1, r2, r2, [])
    assert not merkle.verify_consistency(0, 1, r1, r2, [])
    assert not merkle.verify_consistency(0, 0, r1, r1, [])
    # a real equal-size pair still verifies
    assert merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
