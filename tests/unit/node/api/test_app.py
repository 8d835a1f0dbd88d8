"""The node as the composition root builds it (node/app.py), served in-process over a copy of a real
chain: every route group is mounted, the authentication dependency is a dependency (not a query
parameter), the error table answers with the right statuses, and the listeners are subscribed."""

from __future__ import annotations

import dataclasses
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
    return client.get(
        path, headers=RequestSigner(key, chain.genesis.chain_id, validator).headers("GET", path)
    )


@pytest.fixture
def built(chain: BuiltChain, data_copy: Path, tmp_path: Path) -> Iterator[NodeApp]:
    node = build(chain, data_copy, tmp_path)
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


def test_a_signed_read_and_the_error_table(built: NodeApp, chain: BuiltChain) -> None:
    client = TestClient(built.app)
    resp = signed_get(client, chain, "/v1/blocks/1")
    assert resp.status_code == 200 and resp.json()["block_height"] == 1
    unsigned = client.get("/v1/blocks/1")
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "auth_required")
    bad = signed_get(client, chain, "/v1/tx/XYZ")
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
    built: NodeApp, chain: BuiltChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the block routes decoded the stored bytes unguarded and answered 500."""
    real = built.runtime.block

    def damaged(height: int) -> tuple[bytes, bytes] | None:
        found = real(height)
        return (b"\x93garbage", found[1]) if found is not None and height == 2 else found

    monkeypatch.setattr(built.runtime, "block", damaged)
    client = TestClient(built.app, raise_server_exceptions=False)
    for path in ("/v1/blocks/2", "/v1/blocks/2/header"):
        resp = signed_get(client, chain, path)
        assert (resp.status_code, resp.json()["error"]["code"]) == (503, "storage_corrupt"), path
