"""The caller's scope for a node key added after genesis (issue 17): an observer's key is neither a
genesis node key nor a validator key of any epoch, so the SDK reads its own `nodekey/` record with
its proof (`GET /v1/nodekeys/{pubkey}`) and gives it the scope the node gives a node key in force
(`wire.nodekeys`): the whole tree. A record other than the proven one is refused.

The chain: block 2 adds an observer of cn.gs.lz.cg.b002 (proposed by the org's admin, approved by
its parent's); the change takes effect at block 17 (the first checkpoint after it), and the empty
blocks up to 21 certify that state. A real node serves it in-process (`readnode.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from client_sdk.client import LedgerClient, build_tx
from client_sdk.errors import VerificationError
from tests.support.auditchain import build_chain, reheader
from tests.support.readnode import B002, ReadNode, read_node
from wire import codec
from wire.crypto import SigningKey
from wire.epochs import epoch_start
from wire.files import load_signing_key
from wire.nodekeys import NODE_SCOPE, node_in_force, node_key_state_key
from wire.records import decode_value
from wire.types import Block

OBSERVER = SigningKey(b"sdk-read-tests-late-observer".ljust(32, b"\x00"))
PARENT = "cn.gs.lz.cg"


@pytest.fixture(scope="module")
def late_observer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadNode]:
    root = tmp_path_factory.mktemp("nodekey")
    net = root / "net"

    def hook(height: int, block: Block) -> Block:
        if height != 2:
            return block if height <= 3 else reheader(block, txs=())
        admin = lambda org: load_signing_key(net / "keys" / "admins" / f"{org}.key")  # noqa: E731
        payload = {
            "action": "add",
            "node_id": "b002-obs2",
            "org_id": B002,
            "role": "observer",
            "pubkey": OBSERVER.public.hex(),
            "host": "127.0.0.1",
            "p2p_port": 39991,
            "api_port": 39992,
            "reason": "a second observer for the branch",
        }
        tx = build_tx(
            chain_id=block.header.chain_id,
            tx_type="node.propose",
            org_id=B002,
            payload=payload,
            key=admin(B002),
            approvers=[admin(PARENT)],
            nonce=7,
        )
        return reheader(block, txs=(*block.txs, tx.encode()))

    chain = build_chain(root, blocks=3, txs_per_block=2, hook=hook, sealed=18)
    assert epoch_start(2, chain.genesis.consensus.checkpoint_interval, chain.genesis.consensus.exec_lag) == 17
    with read_node(chain, root / "node") as node:
        yield node


def _client(node: ReadNode) -> LedgerClient:
    return LedgerClient(node.url, node.chain.genesis, key=OBSERVER)


def test_an_observer_added_after_genesis_lists_the_whole_tree_by_its_proven_node_key(
    late_observer: ReadNode,
) -> None:
    node = late_observer
    node.forger.reset()
    with _client(node) as c:
        page = c.page("archive", limit=200)
    assert page.complete and len({a.org_id for a in page.items}) > 1  # not one branch: the whole tree
    pub = OBSERVER.public.hex()
    own = [r for r in node.forger.requests if r.startswith(f"/v1/nodekeys/{pub}")]
    assert len(own) == 1 and "proof=true" in own[0]  # learnt once, with its proof


def test_a_node_key_record_other_than_the_proven_one_is_refused(late_observer: ReadNode) -> None:
    node = late_observer
    node.forger.reset()
    node.forger.forge = lambda path, doc: _forged(doc) if path.startswith("/v1/nodekeys/") else doc
    try:
        with _client(node) as c, pytest.raises(VerificationError, match="does not match its proof"):
            c.page("archive", limit=10)
    finally:
        node.forger.reset()


def _forged(doc: dict[str, Any]) -> dict[str, Any]:
    """The served record re-encoded as another node's key (the proof stays the honest one)."""
    record = codec.decode(bytes.fromhex(doc["item"]["value"]))
    record.update(node_id="central", org_id="cn")
    return {**doc, "item": {**doc["item"], "record": record, "value": codec.encode(record).hex()}}


def test_the_node_gives_the_key_the_scope_the_sdk_proved(late_observer: ReadNode) -> None:
    """The node's rule and the SDK's are one (`wire.nodekeys`): the key is in force from block 17."""
    raw = late_observer.node.store.state_get(node_key_state_key(OBSERVER.public.hex()).encode())
    assert raw is not None and node_in_force(decode_value(raw)) == ("b002-obs2", B002)
    caller = late_observer.node.api.auth.identify(OBSERVER.public, "signature")
    assert caller.kind == "node" and caller.scope == NODE_SCOPE
