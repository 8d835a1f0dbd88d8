"""Proofs of a transaction and its receipt: the endpoint, offline verification, and proof bundles.

Everything a node serves must verify against the genesis alone, and any change must be caught:
a changed field, a certificate below quorum or by keys outside the validator set, a certificate
of another block, a bundle with any byte flipped.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from client_sdk.errors import VerificationError
from client_sdk.proofs import (
    TrustAnchor,
    check_bundle,
    make_bundle,
    proof_from_json,
    verify_proof_response,
    verify_tx_proof,
)
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain, StoreNode, node_app, serve
from wire.certificate import make_certificate
from wire.crypto import Domain, SigningKey, sha256
from wire.types import CommitCertificate, SignedTransaction, commit_vote_bytes


@pytest.fixture
def client(store: BlockStore, chain: BuiltChain) -> Iterator[httpx.Client]:
    with (
        StoreNode(store, chain.genesis) as node,
        serve(node_app(node)) as url,
        httpx.Client(base_url=url) as c,
    ):
        yield c


def _tx_id(chain: BuiltChain, height: int, index: int) -> bytes:
    return SignedTransaction.decode(chain.blocks[height - 1][0].txs[index]).tx_id


def _proof(client: httpx.Client, tx_id: bytes) -> dict[str, Any]:
    resp = client.get(f"/v1/proofs/tx/{tx_id.hex()}")
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


def test_every_transaction_has_a_proof_that_verifies(client: httpx.Client, chain: BuiltChain) -> None:
    lag = chain.genesis.consensus.exec_lag
    for height, (block, _) in enumerate(chain.blocks, start=1):
        for index in range(len(block.txs)):
            tx_id = _tx_id(chain, height, index)
            doc = _proof(client, tx_id)
            assert doc["height"] == chain.height and doc["block_height"] == height
            assert doc["available_at_height"] == height + lag
            verified = verify_proof_response(doc, chain.genesis, tx_id)
            assert verified.index == index and verified.header.hash == block.hash
            if height + lag <= chain.height:
                assert verified.receipt is not None and verified.receipt.tx_id == tx_id
                assert doc["receipt"]["receipt_bytes"] == verified.receipt.encode().hex()
            else:
                assert doc["receipt_proof"] is None and verified.receipt is None
                with pytest.raises(VerificationError, match="no receipt proof"):
                    verify_tx_proof(
                        proof_from_json(doc), TrustAnchor.from_genesis(chain.genesis), require_receipt=True
                    )


def test_unknown_and_malformed_ids_are_4xx_with_a_code(client: httpx.Client, chain: BuiltChain) -> None:
    cases = {
        "00" * 32: (404, "unknown_tx"),
        "nothex": (400, "bad_id"),
        "abcd": (400, "bad_id"),
        "00" * 33: (400, "bad_id"),
    }
    for tx_id, (status, code) in cases.items():
        resp = client.get(f"/v1/proofs/tx/{tx_id}")
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]["code"] == code and resp.json()["height"] == chain.height


def test_state_digests_page_through_the_whole_state(client: httpx.Client, store: BlockStore) -> None:
    expected = [[k.hex(), sha256(v).hex()] for k, v in store.state_items()]
    got: list[list[str]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 97}
        if after is not None:
            params["after"] = after
        page = client.get("/v1/proofs/state-digests", params=params).json()
        assert page["height"] == store.height and page["state_root"] == store.meta().state_root.hex()  # type: ignore[union-attr]
        got.extend(page["entries"])
        after = page["next_after"]
        if after is None:
            break
    assert got == expected
    for params in ({"limit": 0}, {"limit": 10**6}, {"after": "zz"}):
        resp = client.get("/v1/proofs/state-digests", params=params)
        assert resp.status_code == 400 and resp.json()["error"]["code"] in ("bad_request", "bad_id")


# ------------------------------------------------------------------------------------ forgeries
def _mutations(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, changed value) for every verified field of a proof response."""
    informational = {"height", "block_hash", "receipt"}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if not path and k in informational:
                continue
            yield from _mutations(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _mutations(v, (*path, i))
    elif isinstance(doc, bool) or doc is None:
        return
    elif isinstance(doc, int):
        yield path, doc + 1
        if doc:
            yield path, doc - 1
    elif isinstance(doc, str):
        for pos in {0, len(doc) // 2, len(doc) - 1}:
            flipped = "0" if doc[pos] != "0" else "1"
            yield path, doc[:pos] + flipped + doc[pos + 1 :]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return out


def test_any_changed_field_of_a_proof_is_caught(client: httpx.Client, chain: BuiltChain) -> None:
    tx_id = _tx_id(chain, 2, 3)
    doc = _proof(client, tx_id)
    assert doc["receipt_proof"] is not None
    verify_proof_response(doc, chain.genesis, tx_id)
    checked = 0
    for path, value in _mutations(doc):
        forged = _set(doc, path, value)
        with pytest.raises(VerificationError):
            verify_proof_response(forged, chain.genesis, tx_id)
        checked += 1
    assert checked > 40
    # dropped or mangled fields
    for key in ("tx_proof", "header_bytes", "receipt_proof"):
        broken = _set(doc, (key,), {"nonsense": 1})
        with pytest.raises(VerificationError):
            verify_proof_response(broken, chain.genesis, tx_id)
    with pytest.raises(VerificationError):
        verify_proof_response([], chain.genesis, tx_id)


def _cert_doc(cert: CommitCertificate) -> str:
    return cert.encode().hex()


def test_forged_certificates_are_rejected(client: httpx.Client, chain: BuiltChain) -> None:
    tx_id = _tx_id(chain, 3, 0)
    doc = _proof(client, tx_id)
    block, cert = chain.blocks[2]
    g = chain.genesis
    payload = commit_vote_bytes(3, 0, block.hash)
    outsiders = [SigningKey.generate() for _ in chain.keys]
    forged = {
        "below quorum": make_certificate(3, 0, block.hash, list(cert.signatures[: g.validators.quorum - 1])),
        "outsiders' keys": make_certificate(
            3,
            0,
            block.hash,
            [(i, k.sign(Domain.COMMIT, g.chain_id, payload)) for i, k in enumerate(outsiders)],
        ),
        "another block's": chain.blocks[1][1],
        "another chain's": make_certificate(
            3,
            0,
            block.hash,
            [(i, k.sign(Domain.COMMIT, "other-chain", payload)) for i, k in enumerate(chain.keys)],
        ),
        "a prepare, not a commit": make_certificate(
            3,
            0,
            block.hash,
            [(i, k.sign(Domain.PREPARE, g.chain_id, payload)) for i, k in enumerate(chain.keys)],
        ),
    }
    for what, bad in forged.items():
        for field in (("certificate_bytes",), ("receipt_proof", "certificate_bytes")):
            with pytest.raises(VerificationError):
                verify_proof_response(_set(doc, field, _cert_doc(bad)), g, tx_id)
            assert what


def test_a_proof_from_a_chain_signed_by_outsiders_is_rejected(chain: BuiltChain, tmp_path: Any) -> None:
    from tests.support.auditchain import build_chain

    other = build_chain(tmp_path / "other", blocks=4, txs_per_block=2)
    with (
        BlockStore.open(other.data_dir, other.genesis.hash) as store,
        StoreNode(store, other.genesis) as node,
        serve(node_app(node)) as url,
        httpx.Client(base_url=url) as c,
    ):
        tx_id = _tx_id(other, 1, 0)
        doc = _proof(c, tx_id)
    verify_proof_response(doc, other.genesis, tx_id)
    with pytest.raises(VerificationError):
        verify_proof_response(doc, chain.genesis, tx_id)


# ------------------------------------------------------------------------------------ bundles
@pytest.fixture
def bundle(client: httpx.Client, chain: BuiltChain) -> bytes:
    tx_id = _tx_id(chain, 1, 1)
    return make_bundle(proof_from_json(_proof(client, tx_id)), chain.genesis)


def test_a_bundle_verifies_offline_and_pins_to_its_genesis(
    bundle: bytes, chain: BuiltChain, tmp_path: Any
) -> None:
    checked = check_bundle(bundle)
    assert checked.verified.receipt is not None and checked.verified.block_height == 1
    assert checked.genesis.hash == chain.genesis.hash
    check_bundle(bundle, genesis=chain.genesis, genesis_hash=chain.genesis.hash)
    with pytest.raises(VerificationError, match="genesis"):
        check_bundle(bundle, genesis_hash=b"\x01" * 32)
    from tests.support.auditchain import build_chain

    other = build_chain(tmp_path / "other", blocks=1, txs_per_block=1)
    with pytest.raises(VerificationError, match="genesis"):
        check_bundle(bundle, genesis=other.genesis)


def test_a_proof_without_its_receipt_cannot_be_bundled(client: httpx.Client, chain: BuiltChain) -> None:
    doc = _proof(client, _tx_id(chain, chain.height, 0))
    with pytest.raises(VerificationError, match="not provable yet"):
        make_bundle(proof_from_json(doc), chain.genesis)


def test_every_changed_byte_of_a_bundle_is_caught(bundle: bytes) -> None:
    started = time.monotonic()
    for pos in range(len(bundle)):
        for mask in (0x01, 0xFF) if pos % 5 == 0 else (0x01,):
            forged = bytearray(bundle)
            forged[pos] ^= mask
            with pytest.raises(VerificationError):
                check_bundle(bytes(forged))
    for cut in (0, 1, len(bundle) // 2, len(bundle) - 1):
        with pytest.raises(VerificationError):
            check_bundle(bundle[:cut])
    with pytest.raises(VerificationError):
        check_bundle(bundle + b"\x00")
    assert time.monotonic() - started < 120


def test_the_proof_routes_are_documented_and_take_a_router_dependency(
    store: BlockStore, chain: BuiltChain
) -> None:
    from fastapi import APIRouter, Depends

    from node.api.app import create_app
    from node.api.errors import ApiError
    from node.api.proofs import build_router

    def refuse() -> None:  # what the read API's authentication will be: one dependency for all
        raise ApiError("auth_required", "sign the request")

    with StoreNode(store, chain.genesis) as node:
        guarded = APIRouter(dependencies=[Depends(refuse)])
        guarded.include_router(build_router(node))
        with serve(create_app([guarded], height=node.height)) as url, httpx.Client(base_url=url) as c:
            doc = c.get("/openapi.json").json()
            assert {"/v1/proofs/tx/{tx_id}", "/v1/proofs/state-digests"} <= set(doc["paths"])
            assert {"TxProofDoc", "ReceiptProofDoc", "StateDigestsDoc"} <= set(doc["components"]["schemas"])
            for path in (f"/v1/proofs/tx/{_tx_id(chain, 1, 0).hex()}", "/v1/proofs/state-digests"):
                resp = c.get(path)
                assert resp.status_code == 401 and resp.json()["error"]["code"] == "auth_required"


def test_a_node_with_damaged_data_answers_503_not_a_wrong_proof(chain: BuiltChain, data_copy: Any) -> None:
    import plyvel

    from wire import codec

    tx_id = _tx_id(chain, 2, 0)
    db = plyvel.DB(str(data_copy))
    db.put(b"T" + tx_id, codec.encode([2, 1]))  # the index now points at another transaction
    db.close()
    with (
        BlockStore.open(data_copy, chain.genesis.hash) as store,
        StoreNode(store, chain.genesis) as node,
        serve(node_app(node)) as url,
    ):
        resp = httpx.get(f"{url}/v1/proofs/tx/{tx_id.hex()}")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "storage_corrupt", resp.text
