"""The auditor against honest and lying sources.

A fake node (the real API and proof routes over a real store, served by uvicorn) that forges a
block, a certificate, receipts, a proof or its state is caught at the right height with the
right check. A Byzantine quorum (every validator key signs) that certifies a block with a bad
signature, a wrong state root or a broken link is caught by the checks certificates cannot do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from auditor.verify import AuditReport, audit_archive, audit_node, check_tx_batch
from node.api.proofs import build_tx_proof, state_digest_page
from node.dev import chaingen
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain, StoreNode, build_chain, node_app, reheader, serve
from wire.certificate import make_certificate
from wire.crypto import Domain, SigningKey
from wire.types import RECEIPT_REJECTED, Block, Receipt, SignedTransaction, commit_vote_bytes


def write_archive(chain: BuiltChain, path: Path) -> Path:
    chaingen.write_archive(chain.genesis, chain.data_dir, path)
    return path


def assert_fails(report: AuditReport, height: int, check: str, text: str = "") -> None:
    doc = report.to_json()
    assert not report.ok and report.failure is not None, doc
    assert (report.failure.height, report.failure.check) == (height, check), doc["failure"]
    assert text in report.failure.reason, doc["failure"]
    assert doc["checks"][check]["failed"] == 1


# ------------------------------------------------------------------------------------ a lying node
class ForgingNode(StoreNode):
    """The real node API over a real store, with hooks that change what is served."""

    def __init__(self, store: BlockStore, chain: BuiltChain) -> None:
        super().__init__(store, chain.genesis)
        self.chain = chain
        self.forge_block: Callable[[int, bytes, bytes], tuple[bytes, bytes]] | None = None
        self.forge_receipts: Callable[[int, list[Receipt]], list[Receipt]] | None = None
        self.forge_proof: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.forge_state: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def block(self, height: int) -> tuple[bytes, bytes] | None:
        real = super().block(height)
        return real if real is None or self.forge_block is None else self.forge_block(height, *real)

    def receipts(self, height: int) -> list[Receipt] | None:
        real = super().receipts(height)
        return real if real is None or self.forge_receipts is None else self.forge_receipts(height, real)

    def router(self) -> APIRouter:
        """Routes mounted before the real proof routes, so they answer first."""
        r = APIRouter()
        lag = self.genesis.consensus.exec_lag

        @r.get("/v1/proofs/tx/{tx_id}")
        def proof(tx_id: str) -> dict[str, Any]:
            from client_sdk.proofs import proof_to_json

            found = build_tx_proof(self.store, lag, bytes.fromhex(tx_id))
            assert found is not None
            doc = proof_to_json(found[0])
            doc["height"] = found[2]
            return doc if self.forge_proof is None else self.forge_proof(doc)

        @r.get("/v1/proofs/state-digests")
        def state(after: str | None = None, limit: int = 1000) -> dict[str, Any]:
            page = state_digest_page(self.store, None if after is None else bytes.fromhex(after), limit)
            return page if self.forge_state is None else self.forge_state(page)

        return r


@pytest.fixture
def liar(store: BlockStore, chain: BuiltChain) -> Iterator[tuple[ForgingNode, str]]:
    with ForgingNode(store, chain) as node, serve(node_app(node, node.router())) as url:
        yield node, url


def audit(url: str, chain: BuiltChain, **kw: Any) -> AuditReport:
    kw.setdefault("workers", 0)
    return audit_node(url, chain.genesis, **kw)


def test_an_honest_node_passes_every_check(liar: tuple[ForgingNode, str], chain: BuiltChain) -> None:
    _, url = liar
    report = audit(url, chain, proofs="all", workers=1)
    doc = report.to_json()
    assert report.ok, doc
    n_txs = sum(len(b.txs) for b, _ in chain.blocks)
    assert (
        doc["blocks"] == chain.height and doc["txs"] == n_txs and doc["accepted"] + doc["rejected"] == n_txs
    )
    assert doc["verified_height"] == chain.height
    assert doc["roots_confirmed_height"] == chain.height - chain.genesis.consensus.exec_lag
    checks = doc["checks"]
    for name in ("availability", "decode", "headers", "certificates", "replay", "receipts"):
        assert checks[name] == {"passed": chain.height, "failed": 0}, name
    for name in ("tx_validity", "tx_signatures", "proofs"):
        assert checks[name] == {"passed": n_txs, "failed": 0}, name
    assert checks["state"]["passed"] > n_txs and not doc["skipped"]
    assert doc["tx_per_s"] > 0 and doc["timings"]["total_s"] > 0


def test_the_genesis_comes_from_the_auditor(liar: tuple[ForgingNode, str], tmp_path: Path) -> None:
    _, url = liar
    other = build_chain(tmp_path / "other", blocks=1, txs_per_block=1)
    report = audit_node(url, other.genesis, workers=0)
    assert_fails(report, 0, "headers", "another chain")


def _change_tx_byte(raw: bytes, block: Block) -> bytes:
    tx = block.txs[1]
    pos = raw.rindex(tx) + len(tx) - 3  # inside the transaction's signature: the block still decodes
    return raw[:pos] + bytes([raw[pos] ^ 1]) + raw[pos + 1 :]


def test_a_forged_block_is_caught_at_its_height(liar: tuple[ForgingNode, str], chain: BuiltChain) -> None:
    node, url = liar

    def edited(h: int, raw: bytes, cert: bytes) -> tuple[bytes, bytes]:
        return (_change_tx_byte(raw, Block.decode(raw)), cert) if h == 4 else (raw, cert)

    node.forge_block = edited
    assert_fails(audit(url, chain), 4, "headers", "tx_root")

    def rehashed(h: int, raw: bytes, cert: bytes) -> tuple[bytes, bytes]:
        if h != 4:
            return raw, cert
        block = Block.decode(raw)
        forged = reheader(block, txs=(*block.txs[:-1],))  # drop a transaction, fix the tx root
        return forged.encode(), cert

    node.forge_block = rehashed
    assert_fails(audit(url, chain), 4, "certificates", "another block hash")

    node.forge_block = lambda h, raw, cert: (b"\x93garbage" if h == 4 else raw, cert)
    assert_fails(
        audit(url, chain), 4, "availability", "block 4"
    )  # the real API answers 503 storage_corrupt for it


def test_forged_certificates_are_caught(liar: tuple[ForgingNode, str], chain: BuiltChain) -> None:
    node, url = liar
    g = chain.genesis
    block, cert = chain.blocks[4]
    payload = commit_vote_bytes(5, 0, block.hash)
    outsiders = [SigningKey.generate() for _ in chain.keys]
    forged = {
        "quorum": make_certificate(5, 0, block.hash, list(cert.signatures[:-1])),
        "does not verify": make_certificate(
            5,
            0,
            block.hash,
            [(i, k.sign(Domain.COMMIT, g.chain_id, payload)) for i, k in enumerate(outsiders)],
        ),
        "height 4": chain.blocks[3][1],
    }
    for text, bad in forged.items():
        node.forge_block = lambda h, raw, c, bad=bad: (raw, bad.encode() if h == 5 else c)
        assert_fails(audit(url, chain), 5, "certificates", text)


def test_forged_receipts_are_caught(liar: tuple[ForgingNode, str], chain: BuiltChain) -> None:
    node, url = liar

    def flipped(h: int, receipts: list[Receipt]) -> list[Receipt]:
        if h != 3:
            return receipts
        first = dataclasses.replace(receipts[0], status=RECEIPT_REJECTED, reason_code="forged")
        return [first, *receipts[1:]]

    node.forge_receipts = flipped
    assert_fails(audit(url, chain, proofs="none"), 3, "receipts", "receipt 0")
    node.forge_receipts = lambda h, receipts: receipts[:-1] if h == 2 else receipts
    assert_fails(audit(url, chain, proofs="none"), 2, "receipts", "receipts served")


def test_forged_proofs_are_caught(liar: tuple[ForgingNode, str], chain: BuiltChain) -> None:
    node, url = liar
    other_tx = chain.blocks[0][0].txs[0]

    def swap(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "tx_bytes": other_tx.hex()} if doc["block_height"] == 3 else doc

    node.forge_proof = swap
    assert_fails(audit(url, chain), 3, "proofs", "does not verify")

    def wrong_receipt(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["block_height"] != 2 or doc["receipt_proof"] is None:
            return doc
        return {**doc, "receipt_proof": {**doc["receipt_proof"], "path": doc["receipt_proof"]["path"][::-1]}}

    node.forge_proof = wrong_receipt
    assert_fails(audit(url, chain), 2, "proofs", "receipt")


def test_a_forged_state_is_caught(
    liar: tuple[ForgingNode, str], chain: BuiltChain, store: BlockStore
) -> None:
    node, url = liar
    top = chain.height
    key = next(k for k, _ in store.state_items() if k.startswith(b"tx/"))

    def changed(page: dict[str, Any]) -> dict[str, Any]:
        entries = [[k, ("00" * 32 if bytes.fromhex(k) == key else d)] for k, d in page["entries"]]
        return {**page, "entries": entries}

    node.forge_state = changed
    assert_fails(audit(url, chain, proofs="none"), top, "state", key.decode())

    node.forge_state = lambda page: {
        **page,
        "entries": [e for e in page["entries"] if bytes.fromhex(e[0]) != key],
    }
    assert_fails(audit(url, chain, proofs="none"), top, "state", "lacks")

    node.forge_state = lambda page: {**page, "state_root": "00" * 32}
    assert_fails(audit(url, chain, proofs="none"), top, "state", "state root")


def test_a_node_that_cannot_serve_a_block_it_claims_fails_there(
    liar: tuple[ForgingNode, str], chain: BuiltChain
) -> None:
    node, url = liar

    def broken(h: int, raw: bytes, cert: bytes) -> tuple[bytes, bytes]:
        if h == 6:
            raise RuntimeError("disk on fire")
        return raw, cert

    node.forge_block = broken
    assert_fails(audit(url, chain), 6, "availability", "HTTP 500")


def test_an_unreachable_node_gives_no_verdict(chain: BuiltChain) -> None:
    report = audit("http://127.0.0.1:9", chain)
    assert not report.ok and report.failure is None and report.incomplete


# ------------------------------------------------------------------------------------ Byzantine quorums
def _bad_signature(raw: bytes) -> bytes:
    tx = SignedTransaction.decode(raw)
    return SignedTransaction(body_bytes=tx.body_bytes, signature=bytes(64), approvals=tx.approvals).encode()


BYZANTINE: dict[str, tuple[Callable[[int, Block], Block], int, str, str]] = {
    "bad signature": (
        lambda h, b: reheader(b, txs=(b.txs[0], _bad_signature(b.txs[1]), *b.txs[2:])) if h == 3 else b,
        3,
        "tx_signatures",
        "transaction 1",
    ),
    "wrong state root": (
        lambda h, b: reheader(b, prev_state_root=bytes(32)) if h == 5 else b,
        3,
        "state_roots",
        "block 5 carries",
    ),
    "wrong results root": (
        lambda h, b: reheader(b, prev_results_root=bytes(32)) if h == 2 else b,
        2,
        "results_roots",
        "genesis",
    ),
    "time going back": (
        lambda h, b: reheader(b, timestamp_ms=b.header.timestamp_ms - 1000) if h == 4 else b,
        4,
        "headers",
        "timestamp",
    ),
    "wrong proposer": (lambda h, b: reheader(b, proposer=2) if h == 2 else b, 2, "headers", "proposer"),
    "garbage transaction": (
        lambda h, b: reheader(b, txs=(*b.txs, b"\x01\x02")) if h == 4 else b,
        4,
        "tx_validity",
        "does not decode",
    ),
    "repeated transaction": (
        lambda h, b: reheader(b, txs=(*b.txs, b.txs[0])) if h == 2 else b,
        2,
        "headers",
        "twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BYZANTINE))
def test_a_byzantine_quorum_cannot_certify_an_invalid_block(case: str, tmp_path: Path) -> None:
    hook, height, check, text = BYZANTINE[case]
    bad = build_chain(tmp_path, blocks=6, txs_per_block=3, hook=hook)
    report = audit_archive(write_archive(bad, tmp_path / "bad.arc"), bad.genesis, workers=0)
    assert_fails(report, height, check, text)


# ------------------------------------------------------------------------------------ archives
def test_an_archive_audits_like_the_node(chain: BuiltChain, tmp_path: Path) -> None:
    path = write_archive(chain, tmp_path / "chain.arc.gz")
    report = audit_archive(path, chain.genesis, workers=1)
    doc = report.to_json()
    assert report.ok, doc
    assert (
        doc["kind"] == "archive"
        and doc["blocks"] == chain.height
        and set(doc["skipped"]) == {"state", "proofs"}
    )


def test_a_damaged_archive_never_passes(chain: BuiltChain, tmp_path: Path) -> None:
    data = write_archive(chain, tmp_path / "chain.arc").read_bytes()
    report = audit_archive(tmp_path / "chain.arc", chain.genesis, workers=0)
    assert report.ok
    step = max(1, len(data) // 60)
    for pos in range(0, len(data), step):
        damaged = tmp_path / "damaged.arc"
        damaged.write_bytes(data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :])
        report = audit_archive(damaged, chain.genesis, workers=0)
        assert not report.ok, f"a flipped byte at {pos} was not noticed"
    for cut in (len(data) // 3, len(data) - 1):
        (tmp_path / "short.arc").write_bytes(data[:cut])
        report = audit_archive(tmp_path / "short.arc", chain.genesis, workers=0)
        assert not report.ok and report.failure is not None, report.to_json()
    missing = audit_archive(tmp_path / "nope.arc", chain.genesis, workers=0)
    assert missing.incomplete and missing.failure is None


def test_transaction_checks_report_each_bad_entry(chain: BuiltChain) -> None:
    g = chain.genesis
    good = chain.blocks[0][0].txs[0]
    items = [
        (1, 0, good),
        (1, 1, _bad_signature(good)),
        (2, 0, b"\x00"),
        (2, 1, b"x" * (g.consensus.max_tx_bytes + 2000)),
    ]
    result = check_tx_batch(g.chain_id, g.consensus.max_tx_bytes, items)
    assert result.checked == 4
    assert [(h, i, c) for h, i, c, _ in result.bad] == [
        (1, 1, "tx_signatures"),
        (2, 0, "tx_validity"),
        (2, 1, "tx_validity"),
    ]
    other_chain = check_tx_batch("another", g.consensus.max_tx_bytes, items[:1])
    assert other_chain.bad and "names chain" in other_chain.bad[0][3]


def test_the_sdk_rejects_what_the_fake_node_forges(liar: tuple[ForgingNode, str], chain: BuiltChain) -> None:
    from auditor.archive import NodeReader
    from auditor.verify import prove_tx
    from client_sdk.client import LedgerClient
    from client_sdk.errors import VerificationError

    node, url = liar
    block, cert = chain.blocks[4]
    forged_cert = make_certificate(5, 0, block.hash, list(cert.signatures[:-1])).encode()
    node.forge_block = lambda h, raw, c: (raw, forged_cert if h == 5 else c)
    with LedgerClient(url, chain.genesis) as client:
        client.block(4)
        with pytest.raises(VerificationError, match="quorum"):
            client.block(5)
    tx_id = SignedTransaction.decode(chain.blocks[1][0].txs[0]).tx_id
    with NodeReader(url) as reader:
        assert prove_tx(reader, chain.genesis, tx_id, wait_s=0)
        node.forge_proof = lambda doc: {**doc, "certificate_bytes": chain.blocks[0][1].encode().hex()}
        with pytest.raises(VerificationError, match="certificate is for height 1"):
            prove_tx(reader, chain.genesis, tx_id, wait_s=0)
