"""Submitting through the SDK against a scriptable fake node: retries with the same signed bytes
(503 then 202, 429 with Retry-After, connection refused then success), final errors, timeouts,
and what the node serves is verified: a forged certificate, inclusion path or receipt is refused
(RELIABILITY B17), in both clients."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from client_sdk import (
    AsyncLedgerClient,
    BadRequestError,
    CommitTimeoutError,
    LedgerClient,
    TxRejectedError,
    VerificationError,
)
from tests.support.auditchain import BuiltChain
from tests.support.fakenode import FakeNode, free_port, serve_on
from wire.certificate import make_certificate
from wire.types import CommitCertificate, SignedTransaction

ERR_503 = (503, {"Retry-After": "0"}, {"error": {"code": "mempool_full", "message": "full"}, "height": 1})


def committed_tx(chain: BuiltChain, height: int = 2, index: int = 1) -> SignedTransaction:
    return SignedTransaction.decode(chain.blocks[height - 1][0].txs[index])


def test_503_then_202_resubmits_the_same_bytes(fake: tuple[FakeNode, str], sdk_chain: BuiltChain) -> None:
    node, url = fake
    tx = committed_tx(sdk_chain)
    node.script = [ERR_503, ERR_503]
    with LedgerClient(url, sdk_chain.genesis) as client:
        done = client.submit(tx, timeout_s=10)
    assert done.tx_id == tx.tx_id and done.height == 2 and done.index == 1
    assert done.receipt_verified and done.accepted and done.receipt["tx_id"] == tx.tx_id.hex()
    assert done.certificate.height == 2 and done.header.hash == sdk_chain.blocks[1][0].hash
    assert node.posted == [tx.encode()] * 3


def test_429_waits_for_retry_after(fake: tuple[FakeNode, str], sdk_chain: BuiltChain) -> None:
    node, url = fake
    tx = committed_tx(sdk_chain, 3, 0)
    node.script = [(429, {"Retry-After": "1"}, {"error": {"code": "signer_quota", "message": "slow down"}})]
    started = time.monotonic()
    with LedgerClient(url, sdk_chain.genesis) as client:
        done = client.submit(tx, timeout_s=10)
    assert time.monotonic() - started >= 1.0
    assert done.height == 3 and node.posted == [tx.encode()] * 2


def test_connection_refused_then_success(sdk_chain: BuiltChain, tmp_path: Any) -> None:
    from node.store.storage import BlockStore

    tx = committed_tx(sdk_chain, 4, 2)
    port = free_port()
    with BlockStore.open(sdk_chain.data_dir, sdk_chain.genesis.hash) as store:
        node = FakeNode(store, sdk_chain)
        with serve_on(node.app(), port, delay_s=0.8) as url, LedgerClient(url, sdk_chain.genesis) as client:
            started = time.monotonic()
            done = client.submit(tx, timeout_s=15)
            assert time.monotonic() - started >= 0.7
        node.store = None  # type: ignore[assignment]
    assert done.height == 4 and node.posted and set(node.posted) == {tx.encode()}


def test_nothing_accepted_in_time_is_an_unknown_outcome(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake
    tx = committed_tx(sdk_chain)
    node.script = [ERR_503] * 1000
    with LedgerClient(url, sdk_chain.genesis) as client, pytest.raises(CommitTimeoutError) as err:
        client.submit(tx, timeout_s=0.6)
    assert err.value.tx_id == tx.tx_id and "may still commit" in str(err.value)


def test_a_refused_transaction_is_final(fake: tuple[FakeNode, str], sdk_chain: BuiltChain) -> None:
    node, url = fake
    node.script = [(400, {}, {"error": {"code": "missing_field", "message": "payload field x: is required"}})]
    with LedgerClient(url, sdk_chain.genesis) as client, pytest.raises(BadRequestError) as err:
        client.submit(committed_tx(sdk_chain), timeout_s=5)
    assert err.value.code == "missing_field" and err.value.status == 400 and len(node.posted) == 1


def test_a_node_that_never_commits_times_out(fake: tuple[FakeNode, str], sdk_chain: BuiltChain) -> None:
    node, url = fake
    node.tx_answer = lambda tid: (200, {"tx_id": tid.hex(), "status": "pending", "height": 6})
    with LedgerClient(url, sdk_chain.genesis) as client, pytest.raises(CommitTimeoutError, match="unknown"):
        client.submit(committed_tx(sdk_chain), timeout_s=0.5)


# ------------------------------------------------------------------------------------ B17
def _cert_below_quorum(chain: BuiltChain, height: int) -> str:
    block, cert = chain.blocks[height - 1]
    return make_certificate(height, 0, block.hash, list(cert.signatures[:-1])).encode().hex()


FORGERIES = {
    "certificate below quorum": (
        lambda chain, doc: {**doc, "certificate_bytes": _cert_below_quorum(chain, 2)},
        "quorum",
    ),
    "another block's certificate": (
        lambda chain, doc: {**doc, "certificate_bytes": chain.blocks[0][1].encode().hex()},
        "certificate is for height 1",
    ),
    "a header of another block": (
        lambda chain, doc: {**doc, "header_bytes": chain.blocks[2][0].header.encode().hex()},
        "height 3, expected 2",
    ),
    "an inclusion path of another leaf": (
        lambda chain, doc: {**doc, "index": 0},
        "inclusion proof",
    ),
    "a receipt of another transaction": (
        lambda chain, doc: {
            **doc,
            "receipt_proof": {**doc["receipt_proof"], "index": 0},
        },
        "position",
    ),
    "a proof of another transaction": (
        lambda chain, doc: {**doc, "tx_id": chain.blocks[0][0].hash.hex()},
        "another transaction",
    ),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_what_a_lying_node_serves_is_refused(
    name: str, fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake
    forge, message = FORGERIES[name]
    node.forge_proof = lambda doc: forge(sdk_chain, doc)
    with LedgerClient(url, sdk_chain.genesis) as client, pytest.raises(VerificationError, match=message):
        client.submit(committed_tx(sdk_chain), timeout_s=5)


def test_a_certificate_signed_by_strangers_is_refused(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    from wire.crypto import Domain, SigningKey
    from wire.types import commit_vote_bytes

    node, url = fake
    block = sdk_chain.blocks[1][0]
    strangers = [SigningKey.generate() for _ in range(5)]
    payload = commit_vote_bytes(2, 0, block.hash)
    sigs = [
        (i, k.sign(Domain.COMMIT, sdk_chain.genesis.chain_id, payload)) for i, k in enumerate(strangers[:4])
    ]
    forged = make_certificate(2, 0, block.hash, sigs).encode().hex()
    node.forge_proof = lambda doc: {**doc, "certificate_bytes": forged}
    with LedgerClient(url, sdk_chain.genesis) as client, pytest.raises(VerificationError):
        client.submit(committed_tx(sdk_chain), timeout_s=5)


def test_a_receipt_never_provable_times_out_and_an_unproven_rejection_still_raises(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake
    tx = committed_tx(sdk_chain)
    node.forge_proof = lambda doc: {**doc, "receipt_proof": None}
    with LedgerClient(url, sdk_chain.genesis) as client:
        with pytest.raises(CommitTimeoutError, match="not provable yet"):
            client.submit(tx, timeout_s=0.5)
        done = client.submit(tx, timeout_s=5, wait_receipt=False)
        assert not done.receipt_verified and done.height == 2
        node.forge_proof = lambda doc: {
            **doc,
            "receipt_proof": None,
            "receipt": {**doc["receipt"], "status": "REJECTED", "rule_id": "DUP-02", "reason_code": "dup"},
        }
        with pytest.raises(TxRejectedError) as err:
            client.submit(tx, timeout_s=5, wait_receipt=False)
    assert err.value.rule_id == "DUP-02" and err.value.height == 2


# ------------------------------------------------------------------------------------ async
def test_the_async_client_retries_and_verifies_alike(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    node, url = fake
    tx = committed_tx(sdk_chain, 4, 1)

    async def main() -> None:
        node.script = [
            ERR_503,
            (429, {"Retry-After": "0"}, {"error": {"code": "signer_quota", "message": ""}}),
        ]
        async with AsyncLedgerClient(url, sdk_chain.genesis) as client:
            done = await client.submit(tx, timeout_s=10)
            assert done.height == 4 and done.receipt_verified
            assert node.posted == [tx.encode()] * 3
            node.forge_proof = lambda doc: {**doc, "certificate_bytes": _cert_below_quorum(sdk_chain, 4)}
            with pytest.raises(VerificationError, match="quorum"):
                await client.submit(tx, timeout_s=5)
            node.forge_proof = None
            node.script = [ERR_503] * 1000
            with pytest.raises(CommitTimeoutError):
                await client.submit(tx, timeout_s=0.5)

    asyncio.run(main())


def test_the_async_client_survives_connection_refused(sdk_chain: BuiltChain) -> None:
    from node.store.storage import BlockStore

    tx = committed_tx(sdk_chain, 3, 2)
    port = free_port()
    result: dict[str, Any] = {}
    with BlockStore.open(sdk_chain.data_dir, sdk_chain.genesis.hash) as store:
        node = FakeNode(store, sdk_chain)

        async def main(url: str) -> None:
            async with AsyncLedgerClient(url, sdk_chain.genesis) as client:
                result["done"] = await client.submit(tx, timeout_s=15)

        with serve_on(node.app(), port, delay_s=0.8) as url:
            thread = threading.Thread(target=lambda: asyncio.run(main(url)))
            thread.start()
            thread.join(30)
        node.store = None  # type: ignore[assignment]
    assert result["done"].height == 3 and set(node.posted) == {tx.encode()}


def test_certificates_in_committed_results_are_the_chains(
    fake: tuple[FakeNode, str], sdk_chain: BuiltChain
) -> None:
    _, url = fake
    with LedgerClient(url, sdk_chain.genesis) as client:
        done = client.submit(committed_tx(sdk_chain, 2, 0), timeout_s=5)
    cert: CommitCertificate = sdk_chain.blocks[1][1]
    assert done.certificate.block_hash == cert.block_hash and done.proof.root_header is not None


def test_the_client_takes_the_genesis_as_an_object_or_a_path(sdk_chain: BuiltChain) -> None:
    """Regression: the SDK's path form of `load_genesis` called itself instead of reading the file."""
    from client_sdk.clientbase import load_genesis

    path = sdk_chain.net / "genesis.json"
    assert load_genesis(path).hash == load_genesis(str(path)).hash == sdk_chain.genesis.hash
    assert load_genesis(sdk_chain.genesis) is sdk_chain.genesis
