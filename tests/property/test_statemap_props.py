"""The authenticated state map (wire/statemap.py) against a plain dict, on random maps and random
edits: the root depends only on the entries (a rebuild from a scan gives it), reads, inclusion,
absence and range proofs check against the root and a forged one is refused, and pruning the stale
nodes below a height keeps every root from that height on whole."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wire import statemap as sm
from wire import stateproofs
from wire.errors import ProofError

KEYS = st.binary(min_size=0, max_size=6).map(lambda b: b"k/" + b)  # short keys: many shared prefixes
VALUES = st.binary(min_size=0, max_size=8)
BATCH = st.dictionaries(KEYS, st.one_of(st.none(), VALUES), max_size=25)


class Store:
    def __init__(self) -> None:
        self.nodes: dict[tuple[bytes, int], bytes] = {}
        self.stale: list[tuple[int, bytes, int]] = []  # (stale since, position, version)
        self.roots: dict[int, sm.Ref | None] = {0: None}

    def get(self, pos: bytes, version: int) -> bytes:
        return self.nodes[(pos, version)]

    def apply(self, version: int, writes: dict[bytes, bytes | None]) -> sm.Ref | None:
        root, changes = sm.update(self.get, self.roots[version - 1], version, writes.items())
        for pos, data in changes.nodes:
            assert (pos, version) not in self.nodes
            self.nodes[(pos, version)] = data
        self.stale.extend((version, pos, v) for pos, v in changes.stale)
        self.roots[version] = root
        return root

    def prune_below(self, height: int) -> None:
        """Drop what no root of `height` or later refers to."""
        for _, pos, v in [s for s in self.stale if s[0] <= height]:
            del self.nodes[(pos, v)]
        self.stale = [s for s in self.stale if s[0] > height]


def apply_all(batches: list[dict[bytes, bytes | None]]) -> tuple[Store, list[dict[bytes, bytes]]]:
    store, model, states = Store(), {}, [{}]
    for h, batch in enumerate(batches, start=1):
        store.apply(h, batch)
        for k, v in batch.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        states.append(dict(model))
    return store, states


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(BATCH, min_size=1, max_size=8))
def test_the_root_depends_only_on_the_entries_and_reads_match(
    batches: list[dict[bytes, bytes | None]],
) -> None:
    store, states = apply_all(batches)
    for h, state in enumerate(states):
        root = store.roots[h]
        assert sm.root_hash(root) == sm.root_of(state.items())
        assert sm.root_hash(root) == sm.root_of_sorted(iter(sorted(state.items())))  # one pass
        for k in {*state, *(k for b in batches for k in b)}:
            assert sm.get(store.get, root, k) == state.get(k)
        leaves = sorted(
            (n.key, n.value) for _, _, n in sm.iter_nodes(store.get, root) if isinstance(n, sm.Leaf)
        )
        assert leaves == sorted(state.items())


@settings(max_examples=200, deadline=None)
@given(st.lists(BATCH, min_size=1, max_size=6), st.lists(KEYS, max_size=6))
def test_inclusion_and_absence_proofs(batches: list[dict[bytes, bytes | None]], asked: list[bytes]) -> None:
    store, states = apply_all(batches)
    root, state = store.roots[len(batches)], states[-1]
    keys = [*asked, *list(state)[:4]]
    proof = sm.prove(store.get, root, keys)
    view = stateproofs.ProofView(sm.root_hash(root), proof)
    for k in keys:
        want = state.get(k)
        assert view.value_hash(k) == (None if want is None else hashlib.sha256(want).digest())
        stateproofs.verify_value(sm.root_hash(root), proof, k, want)
        with pytest.raises(ProofError):
            stateproofs.verify_value(sm.root_hash(root), proof, k, (want or b"") + b"x")


@settings(max_examples=200, deadline=None)
@given(st.lists(BATCH, min_size=1, max_size=6), KEYS, st.one_of(st.none(), KEYS), st.integers(1, 8))
def test_range_proofs_prove_a_page_complete(
    batches: list[dict[bytes, bytes | None]], lo: bytes, hi: bytes | None, limit: int
) -> None:
    store, states = apply_all(batches)
    root, state = store.roots[len(batches)], states[-1]
    entries, proof, more = sm.scan(store.get, root, lo, hi, limit)
    expected = sorted((k, v) for k, v in state.items() if k >= lo and (hi is None or k < hi))
    assert entries == expected[:limit] and more == (len(expected) > limit)
    end = entries[-1][0] + b"\x00" if more else hi
    got = stateproofs.ProofView(sm.root_hash(root), proof).range(lo, end)
    assert got == [(k, hashlib.sha256(v).digest()) for k, v in entries]


@settings(max_examples=150, deadline=None)
@given(st.lists(BATCH, min_size=1, max_size=6), st.data())
def test_a_forged_range_proof_is_refused(
    batches: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    store, _ = apply_all(batches)
    root = store.roots[len(batches)]
    entries, proof, _ = sm.scan(store.get, root, b"", None, 10_000)
    if len(proof) < 2:
        return
    victim = data.draw(st.integers(0, len(proof) - 1))
    dropped = proof[:victim] + proof[victim + 1 :]
    view = stateproofs.ProofView(sm.root_hash(root), dropped)
    with pytest.raises(ProofError):
        view.range(b"", None)
    edited = bytearray(proof[victim])
    edited[-1] ^= 1
    forged = [*proof[:victim], bytes(edited), *proof[victim + 1 :]]
    try:
        got = stateproofs.ProofView(sm.root_hash(root), forged).range(b"", None)
    except ProofError:
        return
    assert got == [(k, hashlib.sha256(v).digest()) for k, v in entries]  # never anything else


@settings(max_examples=150, deadline=None)
@given(st.lists(BATCH, min_size=2, max_size=8), st.data())
def test_pruning_keeps_every_retained_root_whole(
    batches: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    store, states = apply_all(batches)
    keep_from = data.draw(st.integers(1, len(batches)))
    store.prune_below(keep_from)
    for h in range(keep_from, len(batches) + 1):
        root = store.roots[h]
        assert sorted(
            (n.key, n.value) for _, _, n in sm.iter_nodes(store.get, root) if isinstance(n, sm.Leaf)
        ) == sorted(states[h].items())
    reachable = {
        (pos, v)
        for h in range(keep_from, len(batches) + 1)
        for pos, v, _ in sm.iter_nodes(store.get, store.roots[h])
    }
    assert set(store.nodes) == reachable  # nothing unreachable is left behind


def test_a_key_that_prefixes_another_and_the_empty_map() -> None:
    store = Store()
    store.apply(1, {b"org/cn": b"1", b"org/cn.gs": b"2", b"org/cn/enc": b"3"})
    root = store.roots[1]
    entries, proof, _ = sm.scan(store.get, root, b"org/cn", b"org/cn/", 10)
    assert [k for k, _ in entries] == [b"org/cn", b"org/cn.gs"]
    assert [k for k, _ in stateproofs.ProofView(sm.root_hash(root), proof).range(b"org/cn", b"org/cn/")] == [
        b"org/cn",
        b"org/cn.gs",
    ]
    store.apply(2, {b"org/cn": None, b"org/cn.gs": None, b"org/cn/enc": None})
    assert store.roots[2] is None and sm.root_of([]) == sm.EMPTY_ROOT
    assert stateproofs.ProofView(sm.EMPTY_ROOT, []).range(b"", None) == []


def test_a_branch_gaining_and_changing_children_in_one_block_is_stored_whole() -> None:
    store = Store()
    store.apply(1, {b"k/1": b"a", b"k/2": b"b", b"k/5": b"e"})
    store.apply(2, {b"k/1": b"A", b"k/3": b"c", b"k/9": b"i"})  # one child changes, two appear
    entries = {b"k/1": b"A", b"k/2": b"b", b"k/3": b"c", b"k/5": b"e", b"k/9": b"i"}
    root = store.roots[2]
    assert sm.root_hash(root) == sm.root_of(entries.items())
    top = sm.decode_node(store.get(b"", 2))
    assert isinstance(top, sm.Branch) and sm.node_hash(top) == sm.root_hash(root)
    # the untouched leaves keep the version that wrote them; the rest are of this block
    assert sorted(ref[1] for ref in top.children if ref is not None) == [1, 1, 2, 2, 2]
    assert {k: sm.get(store.get, root, k) for k in entries} == entries


def test_the_one_pass_root_refuses_keys_out_of_order() -> None:
    assert sm.root_of_sorted(iter([])) == sm.EMPTY_ROOT
    assert sm.root_of_sorted([(b"a", b"1")]) == sm.leaf_hash(b"a", b"1")
    for entries in ([(b"b", b"1"), (b"a", b"2")], [(b"a", b"1"), (b"a", b"2")]):
        with pytest.raises(ValueError, match="out of order"):
            sm.root_of_sorted(entries)
