"""A generated chain's state and results roots are pinned: a change that makes execution faster
(decoding, schema checks, caches, the state map, the store) must leave every byte of state the
same, on every node, before and after.

The chain is the benchmark's workload (node/dev/workload.py) over the deterministic test genesis
(contracts/testing.py), so keys, payloads, signatures and block times are the same on every run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.engine import checked_payload
from contracts.schema import validate
from contracts.testing import key, make_genesis, ms
from contracts.txtypes import TX_TYPES
from node.dev.workload import Workload
from node.runtime.executor import Executor
from node.runtime.sigcache import SignatureCache
from node.runtime.txcheck import check_stateless
from node.store.storage import BlockStore
from wire.certificate import make_certificate
from wire.crypto import Domain
from wire.files import write_key_file
from wire.genesis import Genesis
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, SignedTransaction, commit_vote_bytes

BLOCKS = 6
BLOCK_TXS = 40
# The roots after BLOCKS blocks of BLOCK_TXS workload transactions (seed 11). They change only
# when the contracts' rules or the state layout change on purpose: never for speed.
PINNED_STATE_ROOT = "e4cd8552c88594000dd90d93616f8db50059a9f059db17c5e282bc0d98034903"
PINNED_RESULTS_ROOT = "653ea74853e6ffbe56e3a4b09c6bb97bd1b25fb389386f21aa1ece17f1ca284b"


def _network(tmp: Path) -> Genesis:
    genesis = make_genesis()
    for org in genesis.orgs:
        sk = key(f"{org.org_id}/admin")
        write_key_file(tmp / "keys" / "admins" / f"{org.org_id}.key", "ed25519", sk.seed, sk.public)
    return genesis


def _blocks(genesis: Genesis, tmp: Path) -> list[tuple[int, tuple[bytes, ...]]]:
    work = Workload(genesis, tmp, seed=11)
    ts = ms("2024-03-01")
    out = []
    for _ in range(BLOCKS):
        ts += 1000
        out.append((ts, tuple(work.next_tx(ts - 500).encode() for _ in range(BLOCK_TXS))))
    return out


def _run(
    genesis: Genesis, data: Path, blocks: list[tuple[int, tuple[bytes, ...]]], *, admitted: bool
) -> tuple[Executor, SignatureCache]:
    signer = key("node/v0").signer()
    signatures = SignatureCache()
    if admitted:  # as on a node: every transaction passed admission, execution reuses its object
        for _, txs in blocks:
            for raw in txs:
                check_stateless(raw, genesis.chain_id, genesis.consensus.max_tx_bytes, signatures)
    with BlockStore.open(data, genesis.hash) as store:
        executor = Executor(store, genesis, signatures.decode if admitted else SignedTransaction.decode)
        prev = executor.meta.block_hash
        for height, (ts, txs) in enumerate(blocks, start=1):
            roots = store.roots(height - 1)
            assert roots is not None
            header = BlockHeader(
                chain_id=genesis.chain_id,
                height=height,
                view=0,
                timestamp_ms=ts,
                prev_block_hash=prev,
                tx_root=merkle_root(txs),
                prev_state_root=roots[0],
                prev_results_root=roots[1],
                validators_hash=genesis.validators.hash,
                proposer=0,
            )
            block = Block(header=header, txs=txs)
            vote = signer.sign(Domain.COMMIT, genesis.chain_id, commit_vote_bytes(height, 0, block.hash))
            applied = executor.apply(block, make_certificate(height, 0, block.hash, [(0, vote)]))
            assert sum(r.accepted for r in applied.receipts) == len(txs)
            prev = block.hash
        return executor, signatures


@pytest.mark.parametrize("admitted", [False, True], ids=["decoded-in-execution", "reused-from-admission"])
def test_generated_chain_roots_are_pinned(tmp_path: Path, admitted: bool) -> None:
    genesis = _network(tmp_path)
    blocks = _blocks(genesis, tmp_path)
    executor, signatures = _run(genesis, tmp_path / "data", blocks, admitted=admitted)
    assert executor.meta.height == BLOCKS
    assert executor.meta.state_root.hex() == PINNED_STATE_ROOT
    assert executor.meta.results_root.hex() == PINNED_RESULTS_ROOT
    if admitted:  # the payload admission checked, which execution used, came out of it unchanged
        for _, txs in blocks:
            for raw in txs:
                tx = signatures.decode(raw)
                spec = TX_TYPES[tx.body.tx_type]
                assert checked_payload(tx, spec) == validate(
                    spec.schema, SignedTransaction.decode(raw).body.payload
                )
