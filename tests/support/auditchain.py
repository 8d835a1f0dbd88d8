"""A real, fully valid chain built in-process (no consensus, no network), for audit and proof tests.

`build_chain` makes a network with `network init` (default topology: five validators, quorum 4),
then for each height builds the block a primary would (header roots from h - exec_lag, the real
workload of `node.dev.workload`), signs a commit certificate with a quorum of the validators' own
keys, and applies it through the node's `Executor` into a LevelDB store. The result is exactly
what a node's data directory holds after committing those blocks.

Validator-set changes (issue 17): `extra` adds transactions to a block (a `node.propose` signed by
every admin it needs, `governance_tx`); the epochs the executor schedules are followed as a
primary would: each header names the set in force at its height and the one at the next, and is
certified by a quorum of the set in force (the keys of new validators come from `signing_keys`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI

from client_sdk.builders import NodePropose
from client_sdk.tx import sign_tx
from consensus import EpochInfo
from node.api.app import create_app
from node.api.errors import ApiError
from node.api.proofs import build_router
from node.api.render import certificate_json, header_json
from node.dev.netinit import init_network
from node.dev.workload import Workload
from node.runtime.executor import Executor
from node.store.storage import BlockStore
from wire.certificate import ValidatorSet, make_certificate
from wire.crypto import Domain, SigningKey
from wire.epochs import ValidatorEpoch, validators_at
from wire.files import load_signing_key
from wire.genesis import Genesis
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, CommitCertificate, Receipt, SignedTransaction, commit_vote_bytes

# (height, the block a primary would build) -> the block to certify instead (Byzantine quorum tests)
BlockHook = Callable[[int, Block], Block]
# (height, the chain so far) -> transactions to add to that block (validator-set changes)
TxHook = Callable[[int, "BuiltChain"], Sequence[SignedTransaction]]


@dataclass
class BuiltChain:
    net: Path
    genesis: Genesis
    data_dir: Path
    keys: list[SigningKey]
    blocks: list[tuple[Block, CommitCertificate]] = field(default_factory=list)
    roots: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    epochs: list[ValidatorEpoch] = field(default_factory=list)  # genesis first, in start order
    signing_keys: dict[bytes, SigningKey] = field(default_factory=dict)  # every validator key, by pubkey

    def __post_init__(self) -> None:
        self.epochs = self.epochs or [ValidatorEpoch(1, self.genesis.validators)]
        self.signing_keys.update((k.public, k) for k in self.keys)

    @property
    def height(self) -> int:
        return len(self.blocks)

    def validators_at(self, height: int) -> ValidatorSet:
        return validators_at(self.epochs, height)

    def sign(
        self, height: int, view: int, block_hash: bytes, signers: int | None = None
    ) -> CommitCertificate:
        """A certificate by the first `signers` validators of the set in force (default: a quorum)."""
        validators = self.validators_at(height)
        n = validators.quorum if signers is None else signers
        payload = commit_vote_bytes(height, view, block_hash)
        keys = [self.signing_keys[pk] for pk in validators.pubkeys[:n]]
        sigs = [(i, k.sign(Domain.COMMIT, self.genesis.chain_id, payload)) for i, k in enumerate(keys)]
        return make_certificate(height, view, block_hash, sigs)

    def admin(self, org_id: str) -> SigningKey:
        """The dev admin key of `org_id` (`network init` writes one per org)."""
        return load_signing_key(self.net / "keys" / "admins" / f"{org_id}.key")

    def learn_epochs(self, epochs: Sequence[EpochInfo]) -> None:
        """Follow the epochs a block scheduled (a later record of one start replaces the earlier)."""
        for e in epochs:
            self.epochs = [x for x in self.epochs if x.from_height != e.start]
            self.epochs.append(ValidatorEpoch(e.start, e.validators))
            self.epochs.sort(key=lambda x: x.from_height)


def build_chain(
    root: Path,
    *,
    blocks: int = 6,
    txs_per_block: int = 5,
    seed: int = 1,
    hook: BlockHook | None = None,
    sealed: int = 0,
    extra: TxHook | None = None,
) -> BuiltChain:
    """`blocks` blocks of `txs_per_block` workload transactions (and what `extra` adds), then
    `sealed` empty blocks (as the primary proposes to certify the last state: with exec_lag of them
    every root is certified)."""
    result = init_network(None, root / "net")
    genesis = result.genesis
    keys = [
        load_signing_key(root / "net" / "nodes" / n.node_id / "node.key") for n in genesis.validator_nodes
    ]
    chain = BuiltChain(net=root / "net", genesis=genesis, data_dir=root / "data", keys=keys)
    work = Workload(genesis, chain.net, seed=seed)
    now = int(time.time() * 1000)
    lag = genesis.consensus.exec_lag
    with BlockStore.open(chain.data_dir, genesis.hash) as store:
        executor = Executor(store, genesis)
        genesis_roots = store.roots(0)
        assert genesis_roots is not None
        chain.roots[0] = genesis_roots
        prev_hash, ts = genesis.hash, max(now, genesis.genesis_time_ms + 1)
        for h in range(1, blocks + sealed + 1):
            txs = tuple(work.next_tx(now).encode() for _ in range(txs_per_block if h <= blocks else 0))
            if extra is not None:
                txs += tuple(tx.encode() for tx in extra(h, chain))
            state_root, results_root = chain.roots[max(0, h - lag)]
            ts += 10
            header = BlockHeader(
                chain_id=genesis.chain_id,
                height=h,
                view=0,
                timestamp_ms=ts,
                prev_block_hash=prev_hash,
                tx_root=merkle_root(txs),
                prev_state_root=state_root,
                prev_results_root=results_root,
                validators_hash=chain.validators_at(h).hash,
                proposer=0,
                next_validators_hash=chain.validators_at(h + 1).hash,
            )
            block = Block(header=header, txs=txs)
            if hook is not None:
                block = hook(h, block)
            cert = chain.sign(h, 0, block.hash)
            applied = executor.apply(block, cert)
            chain.learn_epochs(applied.epochs)
            meta = applied.meta
            chain.roots[h] = (meta.state_root, meta.results_root)
            chain.blocks.append((block, cert))
            prev_hash = block.hash
    return chain


def governance_tx(chain: BuiltChain, payload: NodePropose, org_id: str) -> SignedTransaction:
    """`payload` for a node of `org_id`, signed by its org's admin with the approval of every other
    org hosting a genesis validator: all a validator change needs while the validators' orgs are
    those of genesis, so it executes at once."""
    orgs = {n.org_id for n in chain.genesis.nodes if n.role == "validator"} - {org_id}
    return sign_tx(
        payload,
        chain_id=chain.genesis.chain_id,
        org_id=org_id,
        key=chain.admin(org_id),
        approvers=[chain.admin(o) for o in sorted(orgs)],
    )


def reheader(block: Block, **changes: Any) -> Block:
    """The block with header fields replaced (tx_root follows the transactions unless given)."""
    txs = changes.pop("txs", block.txs)
    changes.setdefault("tx_root", merkle_root(txs))
    return Block(header=dataclasses.replace(block.header, **changes), txs=txs)


class StoreNode:
    """The read side of a node over a store: what `create_app` and the proof routes need.

    Use it as a context manager: FastAPI caches route functions for the life of the process, so
    an app keeps its node alive; leaving the context drops the node's store (otherwise plyvel
    frees the database during interpreter shutdown and prints "Error in sys.excepthook").
    """

    def __init__(self, store: BlockStore, genesis: Genesis) -> None:
        self.store, self.genesis = store, genesis

    def __enter__(self) -> StoreNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store = None  # type: ignore[assignment]

    def status(self) -> dict[str, Any]:
        return {
            "chain_id": self.genesis.chain_id,
            "genesis_hash": self.genesis.hash.hex(),
            "height": self.height(),
        }

    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {"height": self.height()}

    def block_checked(self, height: int) -> object:
        return None  # a test node serves what it holds (the forgeries are the point)

    def block(self, height: int) -> tuple[bytes, bytes] | None:
        b, c = self.store.block_bytes(height), self.store.certificate_bytes(height)
        return None if b is None or c is None else (b, c)

    def receipts(self, height: int) -> list[Receipt] | None:
        return None if height > self.height() else self.store.receipts(height)

    def height(self) -> int:
        return self.store.height


def chain_router(node: StoreNode) -> APIRouter:
    """Unauthenticated block routes of the same shape as the read API's (the fake node has no users)."""
    router = APIRouter()

    @router.get("/v1/status")
    def status() -> dict[str, Any]:
        return node.status()

    @router.get("/healthz")
    def healthz() -> dict[str, Any]:
        ok, detail = node.health()
        return {"ok": ok, **detail}

    @router.get("/v1/blocks/{height}")
    def block(height: int) -> dict[str, Any]:
        found = node.block(height)
        if found is None:
            raise ApiError("unknown_block", f"no block at height {height}")
        block_bytes, cert_bytes = found
        blk, cert = Block.decode(block_bytes), CommitCertificate.decode(cert_bytes)
        return {
            "height": node.height(),
            "block_height": height,
            "block_hash": blk.hash.hex(),
            "header": header_json(blk.header),
            "txs": [t.hex() for t in blk.txs],
            "certificate": certificate_json(cert),
            "block_bytes": block_bytes.hex(),
            "certificate_bytes": cert_bytes.hex(),
        }

    @router.get("/v1/blocks/{height}/receipts")
    def receipts(height: int) -> dict[str, Any]:
        found = node.receipts(height)
        if found is None:
            raise ApiError("unknown_block", f"no block at height {height}")
        return {"height": node.height(), "block_height": height, "receipts": [r.to_json() for r in found]}

    return router


def node_app(node: StoreNode, *first: APIRouter) -> FastAPI:
    """The node API over `node`; routers in `first` win over the real ones (to serve forgeries)."""
    return create_app([*first, build_router(node), chain_router(node)], height=node.height)


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a thread; yield its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
