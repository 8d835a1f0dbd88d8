"""The API's cache of proof anchors (node/api/proven.py `Anchors`): a view anchored through it
carries exactly the stored header and certificate, a cached anchor is not read again, the cache
keeps a bounded number of heights, and a missing block is an error that nothing caches."""

from __future__ import annotations

from typing import Any

import pytest

from node.api.proven import Anchors, ProvenView, open_view, read_anchor
from node.errors import StorageCorruptError
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain


class Counting:
    """A store snapshot that counts the block reads asked of it."""

    def __init__(self, snap: BlockStore) -> None:
        self.snap = snap
        self.block_reads: list[int] = []

    def block_bytes(self, height: int) -> bytes | None:
        self.block_reads.append(height)
        return self.snap.block_bytes(height)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.snap, name)


def test_views_through_the_cache_carry_the_stored_anchor(store: BlockStore, chain: BuiltChain) -> None:
    lag = chain.genesis.consensus.exec_lag
    anchors = Anchors()
    with store.snapshot() as snap:
        for height in range(0, snap.height - lag + 1):
            for _ in range(2):  # read, then cached
                cached = open_view(snap, lag, height, anchors)
                plain = ProvenView(snap, height, lag)
                assert cached.anchor_height == plain.anchor_height
                assert cached.header_bytes == plain.header_bytes
                assert cached.certificate_bytes == plain.certificate_bytes
                assert (cached.header_bytes, cached.certificate_bytes) == read_anchor(
                    snap, plain.anchor_height
                )


def test_a_cached_anchor_is_not_read_again_and_the_cache_is_bounded(store: BlockStore) -> None:
    anchors = Anchors(kept=2)
    with store.snapshot() as snap:
        counting = Counting(snap)
        for height in (1, 2, 1, 2, 3, 2, 1):
            anchors.get(counting, height)  # type: ignore[arg-type]
    # 1 and 2 read once each while both were kept; 3 pushed out 1, which was read again
    assert counting.block_reads == [1, 2, 3, 1]


def test_a_missing_block_is_an_error_and_is_not_cached(store: BlockStore) -> None:
    anchors = Anchors()
    with store.snapshot() as snap:
        missing = snap.height + 5
        for _ in range(2):
            with pytest.raises(StorageCorruptError, match="missing"):
                anchors.get(snap, missing)
