"""The node as the composition root builds it (node/app.py), served in-process over a copy of a real
chain: every route group is mounted, the authentication dependency is a dependency (not a query
parameter), the error table answers with the right statuses, and the listeners are subscribed."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client_sdk.auth import RequestSigner
from node.api.core import readiness_reasons
from node.app import NodeApp
from node.config import IndexSettings, NodeConfig
from tests.support.auditchain import BuiltChain
from wire.files import load_signing_key


def build(chain: BuiltChain, data: Path, tmp_path: Path, verify: str = "recent") -> NodeApp:
    validator = chain.genesis.validator_nodes[0].node_id
    cfg = NodeConfig.load(chain.net / "nodes" / validator / "node.toml")
    index = IndexSettings(url=f"sqlite:///{tmp_path / 'index.sqlite'}")
    cfg = dataclasses.replace(cfg, data_dir=data, index=index, verify_on_start=verify)
    return NodeApp.build(cfg)


def signed_get(client: TestClient, chain: BuiltChain, path: str) -> Any:
    validator = chain.genesis.validator_nodes[0].node_id
    key = load_signing_key(chain.net / "nodes" / validator / "node.key")
    return client.get(
        path, headers=RequestSigner(key, chain.genesis.chain_id, validator).headers("GET", path)
    )


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
    from wire import stateproofs

    built.indexer.catch_up()
    client = TestClient(built.app)
    page = signed_get(client, sealed_chain, "/v1/archives?proof=true").json()
    assert page["complete"] is True
    proof = page["proof"]
    view = stateproofs.ProofView(
        bytes.fromhex(proof["state_root"]), [bytes.fromhex(n) for n in proof["nodes"]]
    )
    (rng,) = proof["ranges"]
    index_keys = view.range(bytes.fromhex(rng["lo"]), None if rng["hi"] is None else bytes.fromhex(rng["hi"]))
    assert len(index_keys) == len(page["items"]) > 0
    one = page["items"][0]
    got = signed_get(client, sealed_chain, f"/v1/archives/{one['id']}?proof=true").json()
    p = got["proof"]
    stateproofs.verify_value(
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
    from wire import statemap, stateproofs

    client = TestClient(built.app)
    cfg = signed_get(client, sealed_chain, "/v1/config?proof=true").json()
    assert cfg["complete"] is True and cfg["entries"]
    view = stateproofs.ProofView(
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
        proven = stateproofs.ProofView(root, [bytes.fromhex(n) for n in page["proof"]["nodes"]]).range(lo, hi)
        assert [k.hex() for k, _ in proven] == [k for k, _ in page["entries"]]
        seen += page["entries"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert statemap.root_of((bytes.fromhex(k), bytes.fromhex(v)) for k, v in seen) == root


def test_readyz_is_503_with_its_reasons_while_healthz_is_200(built: NodeApp) -> None:
    client = TestClient(built.app)
    assert client.get("/healthz").status_code == 200  # liveness: the process runs
    resp = client.get("/readyz")  # never started: no peers, the index not open
    assert resp.status_code == 503
    body = resp.json()
    assert body["ready"] is False
    assert {r["code"] for r in body["reasons"]} == {"no_quorum", "index_unavailable"}
    assert body["quorum"] == built.genesis.validators.quorum and body["validators_connected"] == 1


def test_a_joining_node_answers_health_and_status_only(built: NodeApp) -> None:
    client = TestClient(built.app)
    built.runtime.joining = "waiting for admission by a peer"
    for path in ("/healthz", "/v1/status"):
        assert client.get(path).status_code == 200, path
    resp = client.get("/v1/orgs")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert resp.json()["error"]["code"] == "joining"
    assert "waiting for admission by a peer" in resp.json()["error"]["message"]
    built.runtime.joining = None
    assert client.get("/v1/orgs").status_code != 503


def test_readiness_reasons_apply_each_bound() -> None:
    facts = {"alive": True, "height": 100, "best_known_height": 100, "validators_connected": 4, "quorum": 4}
    bounds = {"max_behind": 5, "max_index_lag": 10}
    assert readiness_reasons(facts, 95, True, None, **bounds) == []
    codes = lambda f, ih=95, open_=True, err=None: [  # noqa: E731
        r["code"] for r in readiness_reasons(f, ih, open_, err, **bounds)
    ]
    assert codes({**facts, "best_known_height": 106}) == ["behind"]
    assert codes({**facts, "best_known_height": 105}) == []
    # a node replaying from genesis: no certificate it can verify yet, f+1 validators say 130
    behind = readiness_reasons({**facts, "reported_height": 130}, 95, True, None, **bounds)
    assert [r["code"] for r in behind] == ["behind"] and "130" in behind[0]["message"]
    assert codes({**facts, "reported_height": 105}) == []
    assert codes({**facts, "validators_connected": 3}) == ["no_quorum"]
    assert codes(facts, ih=89) == ["index_lag"]
    assert codes(facts, err="OperationalError: unable to open database file") == ["index_unavailable"]
    assert codes({**facts, "alive": False}) == ["stopping"]


def test_swagger_ui_is_served_by_the_node_not_a_cdn(built: NodeApp) -> None:
    client = TestClient(built.app)
    page = client.get("/docs")
    assert page.status_code == 200
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    assert not re.search(r"https?://", page.text), "the page must load nothing from outside the node"
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 100, ref
    assert "openapi" in client.get("/openapi.json").json()


def test_request_ids_are_echoed_or_made(built: NodeApp) -> None:
    client = TestClient(built.app)
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}).headers["X-Request-Id"]
    assert made != "bad id with spaces" and re.fullmatch(r"[0-9a-f]{16}", made)


def test_backup_streams_a_consistent_archive_to_the_node_key_only(
    built: NodeApp, sealed_chain: BuiltChain
) -> None:
    client = TestClient(built.app)
    resp = signed_get(client, sealed_chain, "/v1/admin/backup")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        names = tar.getnames()
        man = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        kv = tar.extractfile("store.kv").read()  # type: ignore[union-attr]
    assert names[0] == "store.kv" and names[-1] == "manifest.json"
    assert man["height"] == sealed_chain.height and man["node_id"] == built.config.node_id
    assert man["files"]["store.kv"]["bytes"] == len(kv) == man["store"]["bytes"]
    assert man["state_root"] == built.store.meta().state_root.hex()  # type: ignore[union-attr]
    other = sealed_chain.genesis.validator_nodes[1].node_id
    key = load_signing_key(sealed_chain.net / "nodes" / other / "node.key")
    path = "/v1/admin/backup"
    signer = RequestSigner(key, sealed_chain.genesis.chain_id, built.config.node_id)
    refused = client.get(path, headers=signer.headers("GET", path))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_an_empty_node_links_with_the_genesis_registry(sealed_chain: BuiltChain, tmp_path: Path) -> None:
    """The registry is read after genesis is written into an empty store: a node with only genesis
    and its key knows its peers (it joins by snapshot or replays), and its own key in force."""
    node = build(sealed_chain, tmp_path / "empty", tmp_path)
    try:
        me = sealed_chain.genesis.validator_nodes[0]
        others = {n.node_id for n in sealed_chain.genesis.nodes} - {me.node_id}
        assert set(node.runtime.registry) == {n.node_id for n in sealed_chain.genesis.nodes}
        assert {str(p.peer_id) for p in node.runtime._peer_specs()} == others
        assert node.runtime.spec.status == "ACTIVE" and node.runtime.spec.pubkey == me.pubkey
        assert node.api.auth.lookup_node(me.pubkey) == (me.node_id, me.org_id)
    finally:
        node.close()
