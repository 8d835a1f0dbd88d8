"""Joining by verified snapshot (node/runtime/statesync.py) against real stores, peers in-process: a
lying peer's chunk (an edited value, a dropped entry) or anchor (a forged checkpoint) is refused
and the next peer used; the installed store has the certified root, restarts and executes the next
block to the same roots as the node it came from."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from network.errors import PeerDisconnected
from node.dev.chaingen import _certify_checkpoint
from node.runtime import statesync
from node.runtime.executor import Executor
from node.store import open_store
from node.store.integrity import verify_store
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain, build_chain
from wire import codec

Tamper = Callable[[list[Any]], list[Any]]


@pytest.fixture(scope="module")
def long_chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    chain = build_chain(tmp_path_factory.mktemp("long"), blocks=66, txs_per_block=2, sealed=2)
    with BlockStore.open(chain.data_dir, chain.genesis.hash) as store:
        _certify_checkpoint(store, chain.genesis, [k.signer() for k in chain.keys], store.height)
    return chain


def peers_over(store: BlockStore, lag: int, liars: dict[str, Tamper]) -> Callable[..., Any]:
    async def request(peer: str, data: bytes, timeout_s: float) -> bytes:
        req = codec.decode(data)
        raw = (
            statesync.serve_snapshot(store, lag) if req == ["snapshot"] else statesync.serve_chunk(store, req)
        )
        if peer in liars:
            return codec.encode_trusted(liars[peer](codec.decode(raw)))
        return raw

    return request


def join(
    chain: BuiltChain, tmp_path: Path, peers: list[str], liars: dict[str, Tamper]
) -> tuple[int | None, Path]:
    lag = chain.genesis.consensus.exec_lag
    dst = tmp_path / "joined"
    with (
        BlockStore.open(chain.data_dir, chain.genesis.hash) as src,
        open_store(dst, chain.genesis, "off") as store,
    ):
        Executor(store, chain.genesis)  # a new node starts with genesis written
        genesis_roots = store.roots(0)
        assert genesis_roots is not None
        installed = asyncio.run(
            statesync.join(
                peers_over(src, lag, liars),
                lambda: peers,
                store,
                chain.genesis.validators,
                chain.genesis.chain_id,
                lag,
                chain.genesis.consensus.checkpoint_interval,
                genesis_roots,
                wait_peers_s=1,
            )
        )
    return installed, dst


def edit_value(answer: list[Any]) -> list[Any]:
    if answer[0] == "chunk" and answer[1]:
        key, value = answer[1][len(answer[1]) // 2]
        answer[1][len(answer[1]) // 2] = [key, value + b"x"]
    return answer


def drop_entry(answer: list[Any]) -> list[Any]:
    if answer[0] == "chunk" and len(answer[1]) > 2:
        del answer[1][1]
    return answer


def forge_anchor(answer: list[Any]) -> list[Any]:
    if answer[0] == "snapshot":
        proof = codec.decode(answer[1])
        proof[2] = b"\x00" * 32  # another state root, same signatures
        answer[1] = codec.encode_trusted(proof)
    return answer


@pytest.mark.parametrize("lie", [edit_value, drop_entry, forge_anchor])
def test_a_lying_peer_is_refused_and_an_honest_one_used(
    long_chain: BuiltChain, tmp_path: Path, lie: Tamper
) -> None:
    installed, dst = join(long_chain, tmp_path, ["liar", "honest"], {"liar": lie})
    assert installed == 64
    with (
        BlockStore.open(dst, long_chain.genesis.hash) as store,
        BlockStore.open(long_chain.data_dir, long_chain.genesis.hash) as src,
    ):
        assert store.height == 64 and store.base_height() == 64
        assert store.roots(64) == src.roots(64) and store.roots(0) == src.roots(0)
        assert sorted(store.state_items()) != [] and store.meta() is not None
        verify_store(store, long_chain.genesis, "full")
        executor = Executor(store, long_chain.genesis)
        for h in (65, 66):
            block, cert = src.block(h), src.certificate(h)
            assert block is not None and cert is not None
            assert executor.apply(block, cert).meta.state_root == src.roots(h)[0]  # type: ignore[index]


def test_only_liars_means_no_snapshot_and_genesis_again(long_chain: BuiltChain, tmp_path: Path) -> None:
    installed, dst = join(long_chain, tmp_path, ["liar"], {"liar": edit_value})
    assert installed is None
    with BlockStore.open(dst, long_chain.genesis.hash) as store:
        assert not store.snapshot_pending() and store.meta() is None  # emptied: genesis is written again
        Executor(store, long_chain.genesis)
        assert store.height == 0


# ------------------------------------------------------------------ a node added after genesis
def join_added(
    chain: BuiltChain,
    tmp_path: Path,
    request: Callable[..., Any],
    peers: Callable[[], list[str]],
    unlinked: Callable[[], dict[str, str]] = dict,
) -> int | None:
    """statesync.join as a node outside the genesis node set runs it (`admission`), no back-off."""
    lag = chain.genesis.consensus.exec_lag
    with open_store(tmp_path / "added", chain.genesis, "off") as store:
        Executor(store, chain.genesis)
        genesis_roots = store.roots(0)
        assert genesis_roots is not None
        return asyncio.run(
            statesync.join(
                request,
                peers,
                store,
                chain.genesis.validators,
                chain.genesis.chain_id,
                lag,
                chain.genesis.consensus.checkpoint_interval,
                genesis_roots,
                admission=statesync.Retry(first_s=0, max_s=0, log_every_s=0),
                unlinked=unlinked,
            )
        )


def test_a_node_added_later_waits_until_a_peer_admits_it_then_joins_by_snapshot(
    long_chain: BuiltChain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rounds = iter([[], [], ["central"]])  # refused twice (not admitted yet), then linked
    refused = {"central": "has no link (peer_refused.unknown_key x2)"}
    with BlockStore.open(long_chain.data_dir, long_chain.genesis.hash) as src:
        installed = join_added(
            long_chain,
            tmp_path,
            peers_over(src, long_chain.genesis.consensus.exec_lag, {}),
            lambda: next(rounds),
            lambda: refused,
        )
    assert installed == 64  # by snapshot, not a replay from genesis
    waiting = [r.getMessage() for r in caplog.records if "waiting for admission by a peer" in r.getMessage()]
    assert len(waiting) == 2 and "central has no link (peer_refused.unknown_key x2)" in waiting[0]
    with BlockStore.open(tmp_path / "added", long_chain.genesis.hash) as store:
        assert store.height == 64 and store.base_height() == 64


def test_a_peer_lost_mid_transfer_is_asked_again(long_chain: BuiltChain, tmp_path: Path) -> None:
    with BlockStore.open(long_chain.data_dir, long_chain.genesis.hash) as src:
        honest = peers_over(src, long_chain.genesis.consensus.exec_lag, {})
        lost = [False]

        async def request(peer: str, data: bytes, timeout_s: float) -> bytes:
            if codec.decode(data)[0] == "chunk" and not lost[0]:
                lost[0] = True
                raise PeerDisconnected("the link closed while a request was outstanding")
            return await honest(peer, data, timeout_s)

        installed = join_added(long_chain, tmp_path, request, lambda: ["central"])
    assert lost[0] and installed == 64
    with BlockStore.open(tmp_path / "added", long_chain.genesis.hash) as store:
        assert not store.snapshot_pending() and store.roots(64) is not None
        verify_store(store, long_chain.genesis, "full")


def test_an_added_node_replays_when_the_peers_are_too_close_to_genesis(
    long_chain: BuiltChain, tmp_path: Path
) -> None:
    async def request(peer: str, data: bytes, timeout_s: float) -> bytes:
        return codec.encode_trusted(["none"])  # linked (admitted), but no stable checkpoint yet

    assert join_added(long_chain, tmp_path, request, lambda: ["central"]) is None


def _join_new_network(chain: BuiltChain, tmp_path: Path, peers: list[str]) -> tuple[int | None, list[str]]:
    asked: list[str] = []

    async def request(peer: str, data: bytes, timeout_s: float) -> bytes:
        asked.append(peer)
        return codec.encode_trusted(["none"])  # every peer as new as this node

    with open_store(tmp_path / "new", chain.genesis, "off") as store:
        Executor(store, chain.genesis)
        roots = store.roots(0)
        assert roots is not None
        installed = asyncio.run(
            statesync.join(
                request,
                lambda: peers,
                store,
                chain.genesis.validators,
                chain.genesis.chain_id,
                chain.genesis.consensus.exec_lag,
                chain.genesis.consensus.checkpoint_interval,
                roots,
                wait_peers_s=1.2,
            )
        )
    return installed, asked


def test_a_new_network_starts_at_once_when_every_linked_peer_has_no_checkpoint(
    long_chain: BuiltChain, tmp_path: Path
) -> None:
    """A genesis node with an empty store waited the whole `wait_peers_s` (15 s) at the first start
    of every network. Once as many peers as there are other validators are linked and all of them
    answer "none", it replays at once: each peer is asked one time."""
    others = [f"peer{i}" for i in range(len(long_chain.genesis.validators.pubkeys) - 1)]
    installed, asked = _join_new_network(long_chain, tmp_path, others)
    assert installed is None and sorted(asked) == sorted(others)


def test_too_few_linked_peers_keep_the_node_asking_until_the_wait_ends(
    long_chain: BuiltChain, tmp_path: Path
) -> None:
    """Fewer peers linked than other validators: one that is not linked yet may hold a snapshot, so
    the node asks again until `wait_peers_s` ends (then replays)."""
    few = [f"peer{i}" for i in range(len(long_chain.genesis.validators.pubkeys) - 2)]
    assert few, "the test chain needs at least 3 validators"
    installed, asked = _join_new_network(long_chain, tmp_path, few)
    assert installed is None and len(asked) > len(few)
