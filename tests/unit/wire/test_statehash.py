"""The state root is a function of the live entries only, whatever the order of writes."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from wire.statehash import StateHash

entries = st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=8), max_size=30)


@given(entries, st.randoms(use_true_random=False))
def test_root_depends_only_on_the_final_set(final: dict[bytes, bytes], rnd: random.Random) -> None:
    a = StateHash()
    for k, v in final.items():
        a.add(k, v)
    b = StateHash()
    state: dict[bytes, bytes] = {}
    keys = list(final) + [b"noise-%d" % i for i in range(5)]
    rnd.shuffle(keys)
    for k in keys:  # write junk first, then overwrite / delete to reach the final set
        b.update(k, state.get(k), b"junk")
        state[k] = b"junk"
    for k in keys:
        new = final.get(k)
        b.update(k, state.get(k), new)
        if new is None:
            state.pop(k, None)
        else:
            state[k] = new
    assert a.root() == b.root()
    assert StateHash.from_bytes(b.lanes_bytes()).root() == a.root()


def test_any_change_moves_the_root() -> None:
    h = StateHash()
    h.add(b"k", b"v")
    r1 = h.root()
    h.update(b"k", b"v", b"w")
    assert h.root() != r1
    h.update(b"k", b"w", None)
    assert h.root() == StateHash().root()


def test_many_updates_survive_reduction() -> None:
    h, ref = StateHash(), StateHash()
    for i in range(25_000):
        h.add(b"k%d" % i, b"v")
        h.remove(b"k%d" % i, b"v")
    h.add(b"x", b"y")
    ref.add(b"x", b"y")
    assert h == ref and h.root() == ref.root()
