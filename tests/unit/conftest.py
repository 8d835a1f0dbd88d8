"""Real chains built in-process (five validators), shared by the unit tests that need one:
`chain` (eight blocks, the auditor, proof and integrity tests; tamper on copies) and `sdk_chain`
(six small blocks, the SDK and event-stream tests)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain, build_chain


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    return build_chain(tmp_path_factory.mktemp("chain"), blocks=8, txs_per_block=6)


@pytest.fixture
def store(chain: BuiltChain) -> Iterator[BlockStore]:
    with BlockStore.open(chain.data_dir, chain.genesis.hash) as s:
        yield s


@pytest.fixture
def data_copy(chain: BuiltChain, tmp_path: Path) -> Path:
    """A private copy of the chain's data directory, to tamper with."""
    dst = tmp_path / "data"
    shutil.copytree(chain.data_dir, dst)
    return dst


@pytest.fixture(scope="session")
def sdk_chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    return build_chain(tmp_path_factory.mktemp("sdkchain"), blocks=6, txs_per_block=3)


@pytest.fixture(scope="session")
def sealed_chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    """Eight blocks of transactions then the empty blocks that certify the last state (what a
    primary proposes): every state root of it is provable."""
    return build_chain(tmp_path_factory.mktemp("sealed"), blocks=8, txs_per_block=6, sealed=2)
