"""One real chain (built in-process) and a scriptable fake node over it, for the SDK tests; and a
real node's read API over a chain with alerts and users (`tests/support/readnode.py`), shared by the read tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain
from tests.support.fakenode import FakeNode, free_port, serve_on
from tests.support.readnode import ReadNode, build_read_chain, read_node


@pytest.fixture
def fake(sdk_chain: BuiltChain) -> Iterator[tuple[FakeNode, str]]:
    with BlockStore.open(sdk_chain.data_dir, sdk_chain.genesis.hash) as store:
        node = FakeNode(store, sdk_chain)
        with serve_on(node.app(), free_port()) as url:
            yield node, url
        node.store = None  # type: ignore[assignment]


@pytest.fixture(scope="session")
def read_chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    return build_read_chain(tmp_path_factory.mktemp("readchain"))


@pytest.fixture(scope="module")
def reads(read_chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadNode]:
    """The node serving the read chain; each test leaves the forger as it found it (`forged`)."""
    with read_node(read_chain, tmp_path_factory.mktemp("readnode")) as node:
        yield node


@pytest.fixture
def node(reads: ReadNode) -> Iterator[ReadNode]:
    reads.forger.reset()
    try:
        yield reads
    finally:
        reads.forger.reset()
