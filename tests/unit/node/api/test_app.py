"""The node as the composition root builds it (node/app.py), served in-process over a copy of a real
chain: every route group is mounted, the authentication dependency is a dependency (not a query
parameter), the error table answers with the right statuses, and the listeners are subscribed."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client_sdk.auth import RequestSigner
from node.app import NodeApp
from node.config import NodeConfig
from tests.support.auditchain import BuiltChain
from wire.files import load_signing_key


def build(chain: BuiltChain, data: Path, tmp_path: Path, verify: str = "recent") -> NodeApp:
    validator = chain.genesis.validator_nodes[0].node_id
    cfg = NodeConfig.load(chain.net / "nodes" / validator / "node.toml")
    cfg = dataclasses.replace(
        cfg, data_dir=data, index_url=f"sqlite:///{tmp_path / 'index.sqlite'}", verify_on_start=verify
    )
    return NodeApp.build(cfg)


def signed_get(client: TestClient, chain: BuiltChain, path: str) -> Any:
    validator = chain.genesis.validator_nodes[0].node_id
    key = load_signing_key(chain.net / "nodes" / validator / "node.key")
    return client.get(path, headers=RequestSigner(key, chain.genesis.chain_id).headers("GET", path))


@pytest.fixture
def built(sealed_chain: BuiltChain, tmp_path: Path) -> Iterator[NodeApp]:
    data = tmp_path / "data"
    shutil.copytree(sealed_chain.data_dir, data)
    node = build(sealed_chain, data, tmp_path)
    try:
        yield node
    finally:
        node.close()


def test_every_route_group_is_mounted_and_no_dependency_leaks_into_the_query(built: NodeApp) -> None:
    doc = built.app.openapi()
    paths = set(doc["paths"])
    for path in (
        "/healthz",
        "/v1/tx",
        "/v1/auth/token",
        "/v1/archives/{record_id}",
        "/v1/orgs",
        "/v1/tx/{tx_id}",
        "/v1/proofs/tx/{tx_id}",
        "/v1/events",
        "/v1/person-keys",
        "/v1/blobs/{h}",
    ):
        assert path in paths
    leaked = [
        (path, p["name"])
        for path, ops in doc["paths"].items()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["name"] in {"caller", "ctx", "request", "api", "node"}
    ]
    assert leaked == []


def test_a_signed_read_and_the_error_table(built: NodeApp, sealed_chain: BuiltChain) -> None:
    client = TestClient(built.app)
    resp = signed_get(client, sealed_chain, "/v1/blocks/1")
    assert resp.status_code == 200 and resp.json()["block_height"] == 1
    unsigned = client.get("/v1/blocks/1")
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "auth_required")
    bad = signed_get(client, sealed_chain, "/v1/tx/XYZ")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_id")
    refused = client.post("/v1/tx", content=b"\x01\x02", headers={"content-type": "application/octet-stream"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] != "internal_error"
    wrong_type = client.post("/v1/tx", content=b"x", headers={"content-type": "text/plain"})
    assert (wrong_type.status_code, wrong_type.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_the_listeners_are_subscribed_by_the_composition_root(built: NodeApp) -> None:
    listeners = built.runtime.commit_listeners
    assert built.indexer.on_commit in listeners and len(listeners) == 2
    assert built.privacy.recorder.on_read in built.api.read_listeners
    assert set(built.runtime.peer_handlers) == {"blob_get", "blob_have"}


def test_a_stored_block_that_does_not_decode_is_503_not_500(
    built: NodeApp, sealed_chain: BuiltChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the block routes decoded the stored bytes unguarded and answered 500."""
    real = built.runtime.block

    def damaged(height: int) -> tuple[bytes, bytes] | None:
        found = real(height)
        return (b"\x93garbage", found[1]) if found is not None and height == 2 else found

    monkeypatch.setattr(built.runtime, "block", damaged)
    client = TestClient(built.app, raise_server_exceptions=False)
    for path in ("/v1/blocks/2", "/v1/blocks/2/header"):
        resp = signed_get(client, sealed_chain, path)
        assert (resp.status_code, resp.json()["error"]["code"]) == (503, "storage_corrupt"), path


def test_an_edited_index_row_is_refused_counted_and_repaired(
    built: NodeApp, sealed_chain: BuiltChain
) -> None:
    from sqlalchemy import text

    built.indexer.catch_up()
    client = TestClient(built.app)
    listed = signed_get(client, sealed_chain, "/v1/materials?proof=true")
    assert listed.status_code == 200 and listed.json()["items"], listed.text
    assert listed.json()["complete"] is False and listed.json()["proof"]["nodes"]
    db = built.indexer.db
    assert db is not None
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ol_record SET body = '[1]' WHERE family = 'material'"))
    refused = signed_get(client, sealed_chain, "/v1/materials")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "index_inconsistent")
    assert b"orgledger_index_inconsistent_rows_total " in client.get("/metrics").content
    built.indexer.catch_up()  # the worker's next step re-projects the rows it was told of
    again = signed_get(client, sealed_chain, "/v1/materials")
    assert again.status_code == 200 and again.json()["items"] == listed.json()["items"]


def test_a_record_and_an_unfiltered_org_list_come_with_proofs(
    built: NodeApp, sealed_chain: BuiltChain
) -> None:
    from wire import statemap

    built.indexer.catch_up()
    client = TestClient(built.app)
    page = signed_get(client, sealed_chain, "/v1/archives?proof=true").json()
    assert page["complete"] is True
    proof = page["proof"]
    view = statemap.ProofView(bytes.fromhex(proof["state_root"]), [bytes.fromhex(n) for n in proof["nodes"]])
    (rng,) = proof["ranges"]
    index_keys = view.range(bytes.fromhex(rng["lo"]), None if rng["hi"] is None else bytes.fromhex(rng["hi"]))
    assert len(index_keys) == len(page["items"]) > 0
    one = page["items"][0]
    got = signed_get(client, sealed_chain, f"/v1/archives/{one['id']}?proof=true").json()
    p = got["proof"]
    statemap.verify_value(
        bytes.fromhex(p["state_root"]),
        [bytes.fromhex(n) for n in p["nodes"]],
        one["state_key"].encode(),
        bytes.fromhex(got["item"]["value"]),
    )


def test_an_edited_old_block_is_refused_not_served(sealed_chain: BuiltChain, tmp_path: Path) -> None:
    from tests.support.tamper import tamper_block

    data = tmp_path / "data"
    shutil.copytree(sealed_chain.data_dir, data)
    tamper_block(data, 3, decodable=True)
    node = build(sealed_chain, data, tmp_path, verify="off")  # the operator's choice: serve it anyway
    try:
        client = TestClient(node.app)
        for path in ("/v1/blocks/3", "/v1/blocks/3/header"):
            resp = signed_get(client, sealed_chain, path)
            assert (resp.status_code, resp.json()["error"]["code"]) == (503, "storage_corrupt"), path
        assert signed_get(client, sealed_chain, "/v1/blocks/4").status_code == 200
        tx_id = sealed_chain.blocks[2][0].transactions()[0].tx_id.hex()
        for path in (f"/v1/tx/{tx_id}", f"/v1/proofs/tx/{tx_id}"):
            resp = signed_get(client, sealed_chain, path)
            assert resp.status_code == 503, (path, resp.text)
    finally:
        node.close()


def test_config_and_state_chunks_are_proven_complete(built: NodeApp, sealed_chain: BuiltChain) -> None:
    from wire import statemap

    client = TestClient(built.app)
    cfg = signed_get(client, sealed_chain, "/v1/config?proof=true").json()
    assert cfg["complete"] is True and cfg["entries"]
    view = statemap.ProofView(
        bytes.fromhex(cfg["proof"]["state_root"]), [bytes.fromhex(n) for n in cfg["proof"]["nodes"]]
    )
    assert [k.decode() for k, _ in view.range(b"cfg/g/", b"cfg/g0")] == sorted(cfg["entries"])
    snap = signed_get(client, sealed_chain, "/v1/state/snapshot").json()["snapshot"]
    height, root = snap["height"], bytes.fromhex(snap["state_root"])
    seen, after = [], ""
    while True:
        page = signed_get(
            client, sealed_chain, f"/v1/state/chunks?height={height}&limit=97&after={after}"
        ).json()
        lo = bytes.fromhex(after) + b"\x00" if after else b""
        hi = bytes.fromhex(page["next_after"]) + b"\x00" if page["next_after"] else None
        proven = statemap.ProofView(root, [bytes.fromhex(n) for n in page["proof"]["nodes"]]).range(lo, hi)
        assert [k.hex() for k, _ in proven] == [k for k, _ in page["entries"]]
        seen += page["entries"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert statemap.root_of((bytes.fromhex(k), bytes.fromhex(v)) for k, v in seen) == root
