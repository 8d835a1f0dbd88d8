"""The console's verifier across validator-set epochs (issue 21 with issue 17), cross-checked with
the SDK's on a chain whose validators changed.

The chain is built in-process (`tests.support.auditchain`): five genesis validators; block 2 rotates
the branch validator's key (in force from block 17, the first checkpoint after it), block 18 removes
the county validator (in force from block 33). Every header and certificate is what the network
would have made; `/v1/validators` is the node's own answer over that store. The page's verifier
(console/src/verify.js and epochs.js, run by node as the page runs them: learn the epochs once when
a header names one it does not know, check again) and client_sdk must agree on every case: real
answers, headers and a proof bundle of the later epochs verify; a certificate signed by the
rotated-out or the removed key after its boundary, a block the old set certified after the
boundary, and an epoch chain that is forged (a change certified by the new set itself, a changed
key list, a moved boundary, an edited boundary header) or withheld do not. Then in Chromium, the
node's own app (`tests.support.readnode`) serving the chain: blocks and state of the later
epochs show 已验证, and 未通过验证 once the node's epoch chain is forged on its way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client_sdk import VerificationError, check_bundle
from client_sdk.builders import NodePropose
from client_sdk.errors import UnknownEpochError
from client_sdk.proofs import AnchorRef, TrustAnchor, certified_header, make_bundle
from client_sdk.readproofs import ReadVerifier
from node.api.proven import ProofBuilder, ProvenView
from node.api.validators import validators_document
from node.store.proofs import build_tx_proof
from node.store.storage import BlockStore
from tests.integration.test_console import (
    Page,
    _flip,
    _forgeries,
    _node_verdicts,
    _py_answer_checked,
)
from tests.support.auditchain import BuiltChain, build_chain, governance_tx
from tests.support.readnode import ReadNode, read_node
from wire.certificate import make_certificate
from wire.crypto import Domain, SigningKey
from wire.epochs import EpochProof
from wire.records import org_view, project
from wire.txproof import tx_id_of
from wire.types import Block, BlockHeader, commit_vote_bytes

pytestmark = pytest.mark.integration

ROTATED = SigningKey(b"\x51" * 32)  # the branch validator's new key
ROTATION_START, REMOVAL_START = 17, 33


def _changes(height: int, chain: BuiltChain) -> list[Any]:
    if height == 2:
        chain.signing_keys[ROTATED.public] = ROTATED
        rotate = NodePropose(
            action="rotate_key", node_id="branch", pubkey=ROTATED.public.hex(), reason="rotate"
        )
        return [governance_tx(chain, rotate, "cn.gs.lz.cg.b001")]
    if height == 18:
        return [
            governance_tx(
                chain, NodePropose(action="remove", node_id="county", reason="remove"), "cn.gs.lz.cg"
            )
        ]
    return []


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    built = build_chain(
        tmp_path_factory.mktemp("epochchain"), blocks=36, txs_per_block=1, sealed=2, extra=_changes
    )
    assert [(e.from_height, e.validators.n) for e in built.epochs] == [
        (1, 5),
        (ROTATION_START, 5),
        (REMOVAL_START, 4),
    ]
    return built


def _header(store: BlockStore, height: int) -> tuple[bytes, bytes]:
    raw, cert = store.block_bytes(height), store.certificate_bytes(height)
    assert raw is not None and cert is not None
    return Block.header_of(raw).encode(), cert


def _org_answer(store: BlockStore, lag: int, height: int, org_id: str) -> dict[str, Any]:
    """`GET /v1/orgs/{org_id}?proof=true` as the node answers it, proven at `height`."""
    with store.snapshot() as snap:
        view = ProvenView(snap, height, lag)
        key = f"org/{org_id}".encode()
        raw = view.get(key)
        assert raw is not None
        proj = project(key.decode(), raw, view.height)
        assert proj is not None
        builder = ProofBuilder()
        view.prove(builder, [key])
        return {
            "height": view.reflects,
            "item": {**org_view(proj.row), "value": raw.hex()},
            "proof": view.proof_json(builder, {key: raw}),
        }


def _certificate(chain: BuiltChain, header: BlockHeader, signers: dict[int, SigningKey]) -> bytes:
    payload = commit_vote_bytes(header.height, 0, header.hash)
    sigs = [(i, k.sign(Domain.COMMIT, chain.genesis.chain_id, payload)) for i, k in signers.items()]
    return make_certificate(header.height, 0, header.hash, sigs).encode()


def _forged_chains(chain: BuiltChain, vdoc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`/v1/validators` answers whose epoch chain does not verify from genesis."""
    first = EpochProof.from_json(vdoc["epochs"][0])
    boundary = BlockHeader.decode(first.header_bytes)
    new_keys = [chain.signing_keys[k] for k in first.validators]  # index 4 is the rotated key
    outsider = SigningKey(b"\x66" * 32)

    def with_first(**changes: Any) -> dict[str, Any]:
        doc = json.loads(json.dumps(vdoc))
        doc["epochs"][0].update(changes)
        return doc

    return {
        "certified by the new set itself": with_first(
            boundary_certificate=_certificate(
                chain, boundary, {i: k for i, k in enumerate(new_keys) if i > 0}
            ).hex()
        ),
        "a key replaced": with_first(
            validators=[*vdoc["epochs"][0]["validators"][:4], outsider.public.hex()]
        ),
        "boundary moved": with_first(start=ROTATION_START + 1),
        "boundary header edited": with_first(boundary_header=_flip(vdoc["epochs"][0]["boundary_header"], 30)),
        "withheld": {**vdoc, "epochs": []},
        "truncated": {**vdoc, "epochs": vdoc["epochs"][:1]},
    }


def test_the_page_verifier_agrees_with_the_sdk_across_validator_epochs(
    chain: BuiltChain, tmp_path: Path
) -> None:
    with BlockStore.open(chain.data_dir, chain.genesis.hash) as store:
        _cross_check(chain, store, tmp_path)


def _cross_check(built: BuiltChain, store: BlockStore, tmp_path: Path) -> None:
    genesis = built.genesis
    lag = genesis.consensus.exec_lag
    vdoc = json.loads(json.dumps(validators_document(store)))
    assert [e["start"] for e in vdoc["epochs"]] == [ROTATION_START, REMOVAL_START]
    cases: list[dict[str, Any]] = []
    expected: dict[str, bool] = {}

    def verdict(check: Callable[[TrustAnchor], object], validators: dict[str, Any] | None) -> bool:
        """client_sdk's: check; on an epoch not known yet learn `validators` and check again, once."""
        ref = AnchorRef(TrustAnchor.from_genesis(genesis))
        try:
            try:
                check(ref.anchor)
            except UnknownEpochError:
                ref.anchor = ref.anchor.from_validators_doc(validators or {"epochs": []})
                check(ref.anchor)
        except VerificationError:
            return False
        return True

    def header_case(name: str, height: int, hb: bytes, cb: bytes, validators: dict[str, Any] | None) -> None:
        case = {
            "name": name,
            "kind": "header",
            "height": height,
            "header_bytes": hb.hex(),
            "certificate_bytes": cb.hex(),
        }
        cases.append({**case, "validators": validators} if validators is not None else case)
        expected[name] = verdict(lambda a: certified_header(hb, cb, height, a, f"block {height}"), validators)

    def answer_case(name: str, doc: dict[str, Any], validators: dict[str, Any] | None) -> None:
        cases.append({"name": name, "kind": "answer", "doc": doc, "validators": validators})
        expected[name] = verdict(
            lambda a: _py_answer_checked(ReadVerifier(genesis, AnchorRef(a)), doc), validators
        )

    # real headers of every epoch, the boundaries included
    for height in (5, ROTATION_START - 1, ROTATION_START, 20, REMOVAL_START - 1, REMOVAL_START, 36):
        header_case(f"header {height}", height, *_header(store, height), vdoc)
    hb20, cb20 = _header(store, 20)
    hb36, cb36 = _header(store, 36)
    header_case("header 20 forged: epochs withheld", 20, hb20, cb20, None)

    # certificates after the boundary by a key no longer in force
    h20, h36 = BlockHeader.decode(hb20), BlockHeader.decode(hb36)
    old_branch = built.keys[4]  # genesis order: central, province, city, county, branch
    assert old_branch.public != ROTATED.public and built.validators_at(20).pubkeys[4] == ROTATED.public
    signers20 = {i: built.signing_keys[k] for i, k in enumerate(built.validators_at(20).pubkeys[:3])}
    rotated_out = _certificate(built, h20, {**signers20, 4: old_branch})
    header_case("header 20 forged: signed by the rotated-out key", 20, hb20, rotated_out, vdoc)
    county = built.keys[3]
    signers36 = {i: built.signing_keys[k] for i, k in enumerate(built.validators_at(36).pubkeys[:2])}
    header_case(
        "header 36 forged: signed by the removed key",
        36,
        hb36,
        _certificate(built, h36, {**signers36, 3: county}),
        vdoc,
    )
    header_case(
        "header 36 forged: removed key at its old index",
        36,
        hb36,
        _certificate(built, h36, {**signers36, 4: county}),
        vdoc,
    )
    old_set = built.validators_at(20)
    stale = dataclasses.replace(h36, validators_hash=old_set.hash, next_validators_hash=old_set.hash)
    old_quorum = {i: built.signing_keys[k] for i, k in enumerate(old_set.pubkeys[:4])}
    header_case(
        "header 36 forged: certified by the set before the removal",
        36,
        stale.encode(),
        _certificate(built, stale, old_quorum),
        vdoc,
    )

    # forged or withheld epoch chains: a real header of a later epoch must not verify with them
    for name, forged in _forged_chains(built, vdoc).items():
        header_case(f"header 36 forged chain: {name}", 36, hb36, cb36, forged)

    # proven answers anchored in the later epochs, and their forgeries
    for height in (20, 34):
        doc = _org_answer(store, lag, height, "cn.gs")
        answer_case(f"org at {height}", doc, vdoc)
        for forged_name, forged in _forgeries(doc).items():
            answer_case(f"org at {height} forged:{forged_name}", forged, vdoc)
    answer_case("org at 34 forged: epochs withheld", _org_answer(store, lag, 34, "cn.gs"), {"epochs": []})

    # a proof bundle of a transaction of the second epoch carries the epoch chain (version 2)
    tx_id = tx_id_of(Block.decode(store.block_bytes(20) or b"").txs[0])
    built_proof = build_tx_proof(store, lag, tx_id)
    assert built_proof is not None
    anchor = TrustAnchor.from_genesis(genesis).from_validators_doc(vdoc)
    bundle = make_bundle(built_proof[0], genesis, anchor)
    boundary_cert = bytes.fromhex(vdoc["epochs"][0]["boundary_certificate"])
    at = bundle.index(boundary_cert) + len(boundary_cert) - 1
    forged_bundle = bytearray(bundle)
    forged_bundle[at] ^= 1
    for name, data in [
        ("bundle v2", bundle),
        ("bundle v2 forged: boundary certificate", bytes(forged_bundle)),
    ]:
        cases.append({"name": name, "kind": "bundle", "bundle": data.hex()})
        try:
            check_bundle(data, genesis=genesis)
            expected[name] = True
        except VerificationError:
            expected[name] = False

    got = _node_verdicts(cases, genesis.to_json(), tmp_path)
    assert got == expected
    real = [n for n in expected if "forged" not in n]
    assert all(expected[n] for n in real), [n for n in real if not expected[n]]
    assert not any(v for n, v in expected.items() if "forged" in n), [
        n for n, v in expected.items() if "forged" in n and v
    ]


# ------------------------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def epoch_node(chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadNode]:
    """The node's real app (console included) over a copy of the chain, served in-process."""
    with read_node(chain, tmp_path_factory.mktemp("epochnode")) as node:
        yield node


def _block_rows(page: Page, top: int) -> dict[int, bool]:
    """The blocks view from `top` down: {height: shown 已验证}, once every row is checked."""
    page.go(f"#/blocks/{top}")
    rows = "#blocks tr[data-height]"
    page.wait(lambda d: len(page.all(rows)) == min(20, top))
    return {
        int(r.get_attribute("data-height")): bool(r.find_elements("css selector", "td.ok-cell"))
        for r in page.all(rows)
    }


@pytest.mark.browser
def test_the_page_shows_blocks_and_state_of_later_epochs_verified_and_a_forged_chain_not(
    browser: Any, epoch_node: ReadNode, chain: BuiltChain
) -> None:
    browser.delete_all_cookies()
    page = Page(browser, epoch_node.url, chain.net / "keys" / "admins")
    epoch_node.forger.reset()
    page.sign_in("cn.key")
    assert _block_rows(page, 36) == {h: True for h in range(17, 37)}  # epochs from 17 and 33
    assert sum(r.startswith("/v1/validators") for r in epoch_node.forger.requests) == 1  # learnt once
    page.go("#/orgs")
    page.wait(lambda d: page.all("#org-tree li"))
    verified, text = page.verdict()
    assert verified == "true" and "已验证" in text  # anchored in the epoch from 33
    # a node that serves an epoch chain the genesis set did not certify: later blocks fail, earlier pass
    forged = _forged_chains(chain, _validators_doc(epoch_node))["certified by the new set itself"]
    epoch_node.forger.forge = lambda path, doc: forged if path.startswith("/v1/validators") else doc
    try:
        page.sign_in("cn.key")
        shown = _block_rows(page, 36)
        assert shown == {h: False for h in range(17, 37)}
        assert "epochs do not verify" in page.find("#blocks td.fail-cell").text
        assert _block_rows(page, 16) == {h: True for h in range(1, 17)}
        page.go("#/orgs")
        verified, text = page.verdict()
        assert verified == "false" and "未通过验证" in text
    finally:
        epoch_node.forger.reset()


def _validators_doc(node: ReadNode) -> dict[str, Any]:
    return httpx.get(f"{node.url}/v1/validators", timeout=30).json()
