"""One real chain (built in-process) and a scriptable fake node over it, for the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain
from tests.support.fakenode import FakeNode, free_port, serve_on


@pytest.fixture
def fake(sdk_chain: BuiltChain) -> Iterator[tuple[FakeNode, str]]:
    with BlockStore.open(sdk_chain.data_dir, sdk_chain.genesis.hash) as store:
        node = FakeNode(store, sdk_chain)
        with serve_on(node.app(), free_port()) as url:
            yield node, url
        node.store = None  # type: ignore[assignment]
