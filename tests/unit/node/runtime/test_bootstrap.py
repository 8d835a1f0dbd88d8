"""Joining with only genesis, a key and one peer (node/runtime/bootstrap.py): the peer's validator
epochs are verified from genesis; only proven validators become first peers; a forged or
malformed answer stops the node."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import key, make_genesis
from node.runtime.bootstrap import BootstrapError, verify_document
from wire.certificate import ValidatorSet, make_certificate
from wire.crypto import Domain, SigningKey
from wire.epochs import EpochProof
from wire.genesis import ConsensusParams
from wire.types import BlockHeader, commit_vote_bytes

NODES = tuple((f"v{i}", "cn", "validator") for i in range(4))
GENESIS = make_genesis(nodes=NODES, consensus=ConsensusParams(checkpoint_interval=4, watermark_window=8))
OLD = [key(f"node/v{i}") for i in range(4)]
NEW_KEY = key("node/v4")
NEW = ValidatorSet(tuple(k.public for k in [*OLD, NEW_KEY]))


def _entry(node_id: str, k: SigningKey, status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "node_id": node_id,
        "org_id": "cn",
        "role": "validator",
        "pubkey": k.public.hex(),
        "host": "127.0.0.1",
        "p2p_port": 7100,
        "api_port": 8100,
        "status": status,
        "pending": None,
    }


def _doc(signers: list[SigningKey]) -> dict[str, Any]:
    header = BlockHeader(
        chain_id=GENESIS.chain_id,
        height=8,
        view=0,
        timestamp_ms=1,
        prev_block_hash=bytes(32),
        tx_root=bytes(32),
        prev_state_root=bytes(32),
        prev_results_root=bytes(32),
        validators_hash=GENESIS.validators.hash,
        proposer=0,
        next_validators_hash=NEW.hash,
    )
    payload = commit_vote_bytes(8, 0, header.hash)
    cert = make_certificate(
        8,
        0,
        header.hash,
        [(i, k.sign(Domain.COMMIT, GENESIS.chain_id, payload)) for i, k in enumerate(signers)],
    )
    proof = EpochProof(
        start=9, validators=NEW.pubkeys, header_bytes=header.encode(), certificate_bytes=cert.encode()
    )
    nodes = [_entry(f"v{i}", k) for i, k in enumerate(OLD)] + [_entry("v4", NEW_KEY), _entry("x", key("x"))]
    return {"height": 12, "epochs": [proof.to_json()], "scheduled": [], "nodes": nodes}


def test_the_proven_validators_become_the_first_peers() -> None:
    boot = verify_document(_doc(OLD[:3]), GENESIS)
    assert boot.height == 12 and [e.from_height for e in boot.epochs] == [1, 9]
    assert sorted(e.node_id for e in boot.peers) == ["v0", "v1", "v2", "v3", "v4"]  # not "x"


def test_a_forged_epoch_stops_the_node() -> None:
    with pytest.raises(BootstrapError, match="do not verify from genesis"):
        verify_document(_doc([OLD[0], OLD[1], key("intruder")]), GENESIS)


@pytest.mark.parametrize("doc", [{"epochs": "no"}, {"height": -1, "epochs": []}, {"epochs": [{"start": 9}]}])
def test_a_malformed_answer_stops_the_node(doc: dict[str, Any]) -> None:
    with pytest.raises(BootstrapError):
        verify_document(doc, GENESIS)
