"""The read API through a real node process (uvicorn): every endpoint, filters, pagination, scoping
by org subtree and role, authentication failures, rate limits, `min_height`, the index on both
engines, and `orgledger index rebuild` against the live index (RELIABILITY S9, S10, S11).

One single-validator network is seeded through signed transactions with two provinces, users of
every role (one revoked), members, a pipeline, materials (one copied text raises an alert), a
transfer between branches, a meeting and a decision.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from client_sdk.auth import BearerAuth, LedgerAuth, RequestSigner
from client_sdk.client import LedgerClient, build_tx
from node.index import IndexDb
from tests.support.cluster import Cluster
from wire.crypto import SigningKey, sha256

pytestmark = pytest.mark.integration

B1, B2, P1, P2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1", "cn.p2"


def pk(name: str) -> str:
    return sha256(b"readapi-test-person\x00" + name.encode()).hex()


def h(name: str) -> str:
    return sha256(b"readapi-test-hash\x00" + name.encode()).hex()


def today(days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(hours=8, days=days)).date().isoformat()


@dataclass
class World:
    cluster: Cluster
    url: str
    keys: dict[str, SigningKey]
    txs: dict[str, str]

    def http(self, who: str | None) -> httpx.Client:
        auth = (
            None if who is None else LedgerAuth(RequestSigner(self.keys[who], self.cluster.genesis.chain_id))
        )
        return httpx.Client(base_url=self.url, timeout=10, auth=auth)

    def get(self, who: str | None, path: str, **params: Any) -> httpx.Response:
        with self.http(who) as c:
            return c.get(path, params=params or None)


def _seed(c: Cluster) -> World:
    g = c.genesis
    admins = {o.org_id: SigningKey(_key_seed(c, o.org_id)) for o in g.orgs}
    keys = {f"admin@{org}": k for org, k in admins.items()}
    keys["root"] = c.root_admin
    for name in ("p2_admin", "b1_op", "b2_op", "p1_auditor", "root_auditor", "b1_gone", "b1_integration"):
        keys[name] = SigningKey.generate()
    txs: dict[str, str] = {}
    client = LedgerClient(c.url("v0"), g, key=c.root_admin)

    def submit(label: str, signer: str, org: str, tx_type: str, payload: dict[str, Any]) -> None:
        tx = build_tx(chain_id=g.chain_id, tx_type=tx_type, org_id=org, payload=payload, key=keys[signer])
        done = client.submit(tx, timeout_s=30)
        txs[label] = done.tx_id.hex()

    submit(
        "org",
        "root",
        "cn",
        "org.create",
        {"org_id": P2, "name": "province two", "enc_pubkey": h("enc"), "founded_date": "2001-01-01"},
    )
    users = [
        ("p2_admin", "root", "cn", P2, ["admin"]),
        ("root_auditor", "root", "cn", "cn", ["auditor"]),
        ("p1_auditor", "root", "cn", P1, ["auditor"]),
        ("b1_op", f"admin@{B1}", B1, B1, ["operator"]),
        ("b1_gone", f"admin@{B1}", B1, B1, ["operator"]),
        ("b1_integration", f"admin@{B1}", B1, B1, ["integration"]),
        ("b2_op", f"admin@{B2}", B2, B2, ["operator"]),
    ]
    for name, signer, org, user_org, roles in users:
        payload = {"user_id": name, "org_id": user_org, "pubkey": keys[name].public.hex(), "roles": roles}
        submit(f"user:{name}", signer, org, "user.register", payload)
    submit(
        "revoke", f"admin@{B1}", B1, "user.revoke", {"pubkey": keys["b1_gone"].public.hex(), "reason": "left"}
    )
    base = {"key_version": 1, "id_check_ok": True}
    submit(
        "ann", "b1_op", B1, "archive.create", {**base, "person_key": pk("ann"), "birth_date": "1990-01-01"}
    )
    submit(
        "bob", "b2_op", B2, "archive.create", {**base, "person_key": pk("bob"), "birth_date": "1991-02-02"}
    )
    carl = {
        "person_key": pk("carl"),
        "birth_date": "1970-01-01",
        "status": "FULL",
        "join_date": "2000-01-01",
        "full_date": "2001-01-01",
    }
    submit("carl", "b1_op", B1, "archive.create", {**base, **carl})
    doc = {
        "doc_id": "p-ann/APPLICATION",
        "doc_version": 1,
        "doc_type": "APPLICATION",
        "subject_keys": [pk("ann")],
        "content_hash": h("content:ann"),
        "text_hash": h("text:ann"),
        "doc_date": today(),
        "issuer_org_id": B1,
    }
    submit("application", "b1_op", B1, "material.register", doc)
    step = {
        "pipeline_id": "p-ann",
        "person_key": pk("ann"),
        "step": "S01",
        "event_date": today(),
        "extra": {"received_date": today()},
    }
    submit("s01", "b1_op", B1, "join.step", step)
    copied = {
        **doc,
        "doc_id": "talk-carl",
        "doc_type": "TALK_RECORD",
        "subject_keys": [pk("carl")],
        "content_hash": h("c2"),
    }
    submit("copied", "b1_op", B1, "material.register", copied)
    transfer = {
        "transfer_id": "T-1",
        "person_key": pk("carl"),
        "member_status": "FULL",
        "from_org_id": B1,
        "to_org_id": B2,
        "issue_date": today(),
        "valid_until": today(60),
        "reason": "JOB_CHANGE",
    }
    submit("transfer", "b1_op", B1, "transfer.out", transfer)
    start = int(time.time() * 1000) - 3 * 3600_000
    meeting = {
        "meeting_id": "mtg-1",
        "meeting_type": "THEME_DAY",
        "start": start,
        "end": start + 3600_000,
        "location_code": "ROOM-1",
        "minutes_content_hash": h("minutes"),
        "minutes_text_hash": h("minutes-text"),
    }
    submit("meeting", "b1_op", B1, "meeting.record", meeting)
    decision = {
        "decision_id": "dec-1",
        "decision_body": "BRANCH_COMMITTEE",
        "decision_mode": "MEETING",
        "category": "OTHER",
        "item_seq": 1,
        "amount_fen": 1000,
        "result": "PASSED",
        "effective_date": today(),
    }
    submit("decision", "b1_op", B1, "decision.record", decision)
    client.close()
    return World(c, c.url("v0"), keys, txs)


def _key_seed(c: Cluster, org: str) -> bytes:
    from wire.files import load_signing_key

    return load_signing_key(c.net / "keys" / "admins" / f"{org}.key").seed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    c = Cluster(tmp_path_factory.mktemp("readapi"), validators=1, observers=0, proxies=False)
    try:
        c.start_all()
        w = _seed(c)
        _wait_index(w)
        yield w
    finally:
        c.close()


def _wait_index(w: World) -> None:
    height = w.cluster.height("v0")
    r = w.get("root", "/v1/archives", min_height=height)
    assert r.status_code == 200, r.text


def _ids(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [item["id"] for item in resp.json()["items"]]


# ------------------------------------------------------------------------------------ endpoints
def test_every_record_family_by_org_and_by_id(world: World) -> None:
    w = world
    assert set(_ids(w.get("b1_op", "/v1/archives"))) == {pk("ann"), pk("carl")}
    one = w.get("b1_op", f"/v1/archives/{pk('ann')}").json()
    assert one["item"]["record"]["birth_date"] == "1990-01-01" and one["height"] >= 1
    assert one["item"]["state_key"] == f"archive/{pk('ann')}" and len(one["item"]["value_hash"]) == 64
    versions = w.get("b1_op", f"/v1/archives/{pk('ann')}/versions").json()["items"]
    assert [v["kind"] for v in versions][:1] == ["create"] and len(versions) >= 2  # create, then S01
    assert set(_ids(w.get("b1_op", "/v1/materials"))) == {"p-ann/APPLICATION", "talk-carl"}
    assert _ids(w.get("b1_op", "/v1/materials", type="TALK_RECORD")) == ["talk-carl"]
    doc = w.get("b1_op", "/v1/materials/" + quote("p-ann/APPLICATION", safe="")).json()["item"]
    assert doc["record"]["doc_type"] == "APPLICATION" and doc["kind"] == "APPLICATION"
    assert _ids(w.get("b1_op", "/v1/materials/" + quote("p-ann/APPLICATION", safe="") + "/versions")) == [
        "p-ann/APPLICATION/v/00000001"
    ]
    assert _ids(w.get("b1_op", "/v1/pipelines", status="OPEN")) == ["p-ann"]
    steps = w.get("b1_op", "/v1/pipelines/p-ann/steps").json()["items"]
    assert [s["kind"] for s in steps] == ["S01"]
    assert _ids(w.get("b1_op", "/v1/transfers")) == ["T-1"] == _ids(w.get("b2_op", "/v1/transfers"))
    assert _ids(w.get("b1_op", "/v1/meetings", type="THEME_DAY")) == ["mtg-1"]
    assert w.get("b1_op", "/v1/meetings/mtg-1").json()["item"]["record"]["location_code"] == "ROOM-1"
    assert _ids(w.get("b1_op", "/v1/decisions", status="PASSED")) == ["dec-1"]
    assert w.get("b1_op", "/v1/decisions/dec-1/versions").json()["items"][0]["record"]["amount_fen"] == 1000


def test_alerts_by_colour_rule_subtree_and_status(world: World) -> None:
    w = world
    alerts = w.get("b1_op", "/v1/alerts").json()["items"]
    assert alerts, "the copied text raises MAT-01"
    mat01 = [a for a in alerts if a["kind"] == "MAT-01"]
    assert mat01 and mat01[0]["org_id"] == B1
    colour = mat01[0]["colour"]
    assert _ids(w.get("b1_op", "/v1/alerts", colour=colour, type="MAT-01", status="OPEN"))
    assert mat01[0]["id"] in _ids(w.get("root", "/v1/alerts", org_id="cn.p1.c1", subtree="true"))
    assert not _ids(w.get("root", "/v1/alerts", org_id="cn.p1.c1", subtree="false"))
    assert not _ids(w.get("b2_op", "/v1/alerts", type="MAT-01"))
    one = w.get("b1_op", f"/v1/alerts/{mat01[0]['id']}").json()["item"]
    assert one["record"]["rule_id"] == "MAT-01"


def test_member_history_org_tree_users_tx_and_header(world: World) -> None:
    w = world
    hist = w.get("b1_op", f"/v1/members/{pk('ann')}/history").json()
    assert {"archive", "archive_version", "material", "pipeline", "pipeline_step"} <= {
        i["family"] for i in hist["items"]
    }
    carl = {i["family"] for i in w.get("b2_op", f"/v1/members/{pk('carl')}/history").json()["items"]}
    assert carl == {"transfer"}  # the receiving branch sees the letter, not b1's archive of carl
    tree = [o["org_id"] for o in w.get("b1_op", "/v1/orgs").json()["items"]]
    assert tree == [B1]
    assert {o["org_id"] for o in w.get("root", "/v1/orgs", root="cn", subtree="false").json()["items"]} == {
        P1,
        P2,
    }
    assert w.get("p2_admin", f"/v1/orgs/{P2}").json()["item"]["name"] == "province two"
    users = w.get("b1_op", "/v1/users", role="operator").json()["items"]
    assert {u["user_id"] for u in users} == {"b1_op", "b1_gone"}
    assert [u["user_id"] for u in w.get("b1_op", "/v1/users", status="REVOKED").json()["items"]] == [
        "b1_gone"
    ]
    assert w.get("b1_op", f"/v1/users/{w.keys['b1_op'].public.hex()}").json()["item"]["roles"] == ["operator"]
    me = w.get("p1_auditor", "/v1/auth/whoami").json()
    assert (me["org_id"], me["contents"], me["reads_blocks"]) == (P1, False, False)
    tx = w.get("b1_op", f"/v1/tx/{w.txs['ann']}").json()
    assert (
        tx["status"] == "committed" and tx["org_id"] == B1 and tx["tx_bytes"] and tx["tx_proof"] is not None
    )
    header = w.get("b1_op", f"/v1/blocks/{tx['block_height']}/header").json()
    assert header["block_height"] == tx["block_height"] and header["certificate_bytes"]
    # a branch's key verifies its transaction with the proof endpoint (no whole blocks needed)
    with LedgerClient(w.url, w.cluster.genesis, key=w.keys["b1_op"]) as client:
        done = client.wait(bytes.fromhex(w.txs["ann"]), timeout_s=30)
    assert done.height == tx["block_height"] and done.receipt_verified
    receipts = w.get("root_auditor", f"/v1/blocks/{tx['block_height']}/receipts").json()["receipts"]
    assert w.txs["ann"] in {r["tx_id"] for r in receipts}


def test_pagination_covers_everything_once_and_caps_the_page(world: World) -> None:
    w = world
    everything = _ids(w.get("root", "/v1/archives", limit=500))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        doc = w.get("root", "/v1/archives", **params).json()
        seen += [i["id"] for i in doc["items"]]
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and len(seen) == 3
    for params in ({"limit": 501}, {"limit": 0}, {"cursor": "not-a-cursor"}, {"date_from": "yesterday"}):
        r = w.get("root", "/v1/archives", **params)
        assert r.status_code == 400 and r.json()["error"]["code"] in ("bad_request", "bad_cursor"), r.text
    # a cursor of another family is refused
    other = w.get("root", "/v1/users", limit=1).json()["next_cursor"]
    assert w.get("root", "/v1/archives", cursor=other).json()["error"]["code"] == "bad_cursor"


# ------------------------------------------------------------------------------------- scoping
def test_another_branch_or_province_gets_404_indistinguishable_from_absent(world: World) -> None:
    w = world
    absent = w.get("b2_op", f"/v1/archives/{pk('nobody')}")
    hidden = w.get("b2_op", f"/v1/archives/{pk('ann')}")
    assert absent.status_code == hidden.status_code == 404
    assert absent.json()["error"] == hidden.json()["error"]
    for who in ("b2_op", "p2_admin"):
        assert pk("ann") not in _ids(w.get(who, "/v1/archives", limit=500))
        assert w.get(who, "/v1/materials/talk-carl").status_code == 404
        assert w.get(who, "/v1/pipelines/p-ann/steps").status_code == 404
        assert w.get(who, f"/v1/members/{pk('ann')}/history").status_code == 404
        assert w.get(who, "/v1/meetings/mtg-1").status_code == 404
        assert w.get(who, f"/v1/tx/{w.txs['ann']}").json()["error"]["code"] == "unknown_tx"
    assert w.get("p2_admin", "/v1/archives", org_id=P1).status_code == 404
    assert w.get("p2_admin", f"/v1/orgs/{P1}").status_code == 404
    assert w.get("p2_admin", f"/v1/users/{w.keys['b1_op'].public.hex()}").status_code == 404
    assert not _ids(w.get("p2_admin", "/v1/alerts", limit=500))
    # whole blocks: root-org admins and auditors (and node keys) only
    assert w.get("b1_op", "/v1/blocks/1").status_code == 403
    assert w.get("p1_auditor", "/v1/blocks/1").json()["error"]["code"] == "forbidden"
    assert w.get("root_auditor", "/v1/blocks/1").status_code == 200
    node_key = SigningKey(_node_seed(w))
    with httpx.Client(
        base_url=w.url, auth=LedgerAuth(RequestSigner(node_key, w.cluster.genesis.chain_id))
    ) as c:
        assert c.get("/v1/blocks/1").status_code == 200


def _node_seed(w: World) -> bytes:
    from wire.files import load_signing_key

    return load_signing_key(w.cluster.net / "nodes" / "v0" / "node.key").seed


def test_an_auditor_sees_hashes_receipts_and_alerts_not_contents(world: World) -> None:
    w = world
    items = w.get("p1_auditor", "/v1/archives", limit=500).json()["items"]
    assert {i["id"] for i in items} == {pk("ann"), pk("carl"), pk("bob")}
    assert all(i["record"] is None and len(i["value_hash"]) == 64 for i in items)
    assert w.get("p1_auditor", f"/v1/archives/{pk('ann')}").json()["item"]["record"] is None
    assert all(
        i["record"] is None
        for i in w.get("p1_auditor", f"/v1/members/{pk('ann')}/history").json()["items"]
        if i["family"] != "alert"
    )
    alerts = w.get("p1_auditor", "/v1/alerts").json()["items"]
    assert alerts and all(a["record"] is not None for a in alerts)
    tx = w.get("p1_auditor", f"/v1/tx/{w.txs['ann']}").json()
    assert tx["receipt"]["status"] == "ACCEPTED" and tx["tx_bytes"] is None
    full = w.get("b1_op", f"/v1/archives/{pk('ann')}").json()["item"]
    assert full["value_hash"] == w.get("p1_auditor", f"/v1/archives/{pk('ann')}").json()["item"]["value_hash"]


# ------------------------------------------------------------------------------ authentication
def test_authentication_failures_are_401_with_a_reason(world: World) -> None:
    w = world
    path = "/v1/archives"
    assert w.get(None, path).json()["error"]["code"] == "auth_required"
    signer = RequestSigner(w.keys["b1_op"], w.cluster.genesis.chain_id, "v0")
    with httpx.Client(base_url=w.url, timeout=10) as c:
        headers = signer.headers("GET", path)
        assert c.get(path, headers=headers).status_code == 200
        again = c.get(path, headers=headers)
        assert (again.status_code, again.json()["error"]["code"]) == (401, "replayed_request")
        bad = {**signer.headers("GET", path), "x-orgledger-signature": "00" * 64}
        assert c.get(path, headers=bad).json()["error"]["code"] == "bad_signature"
        other_path = c.get(path + "?limit=5", headers=signer.headers("GET", path))
        assert other_path.json()["error"]["code"] == "bad_signature"
        old = signer.headers("GET", path, now_ms=int(time.time() * 1000) - 120_000)
        assert c.get(path, headers=old).json()["error"]["code"] == "stale_request"
        stranger = RequestSigner(SigningKey.generate(), w.cluster.genesis.chain_id, "v0")
        assert c.get(path, headers=stranger.headers("GET", path)).json()["error"]["code"] == "unknown_key"
        gone = RequestSigner(w.keys["b1_gone"], w.cluster.genesis.chain_id, "v0")
        r = c.get(path, headers=gone.headers("GET", path))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "key_revoked")
    # tokens: obtained with a signed request, used as a bearer, not renewable with themselves
    with w.http("b1_integration") as c:
        tok = c.post("/v1/auth/token", json={"ttl_s": 60}).json()
    assert tok["expires_in_s"] == 60
    with httpx.Client(base_url=w.url, timeout=10, auth=BearerAuth(tok["token"])) as c:
        assert pk("ann") in _ids(c.get("/v1/archives"))
        assert c.post("/v1/auth/token", json={}).status_code == 403
    with httpx.Client(base_url=w.url, timeout=10, auth=BearerAuth("x" * 43)) as c:
        assert c.get("/v1/archives").json()["error"]["code"] == "bad_token"


def test_the_cli_signs_a_get(world: World) -> None:
    c = world.cluster
    key, genesis = c.net / "keys" / "admins" / f"{B1}.key", c.net / "genesis.json"
    argv = [
        "api",
        "get",
        "/v1/auth/whoami",
        "--node",
        world.url,
        "--key",
        str(key),
        "--genesis",
        str(genesis),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and '"org_id": "cn.p1.c1.x1.b1"' in done.stdout, done.stdout + done.stderr


def test_min_height_waits_briefly_then_409(world: World) -> None:
    w = world
    height = w.cluster.height("v0")
    assert w.get("b1_op", "/v1/archives", min_height=height).status_code == 200
    assert w.get("b1_op", f"/v1/archives/{pk('ann')}", min_height=height).status_code == 200
    started = time.monotonic()
    r = w.get("b1_op", "/v1/archives", min_height=height + 50)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "height_not_reached")
    assert 1.5 < time.monotonic() - started < 5
    started = time.monotonic()
    far = w.get("b1_op", f"/v1/archives/{pk('ann')}", min_height=height + 10_000)
    assert far.json()["error"]["code"] == "height_not_reached" and time.monotonic() - started < 1.5


def test_openapi_documents_every_route_with_its_errors(world: World) -> None:
    doc = httpx.get(f"{world.url}/openapi.json", timeout=10).json()
    paths = doc["paths"]
    for path in (
        "/v1/archives",
        "/v1/archives/{record_id}",
        "/v1/pipelines/{record_id}/steps",
        "/v1/alerts",
        "/v1/members/{person_key}/history",
        "/v1/orgs",
        "/v1/users/{pubkey}",
        "/v1/tx/{tx_id}",
        "/v1/blocks/{height}",
        "/v1/blocks/{height}/header",
        "/v1/auth/token",
    ):
        assert path in paths, sorted(paths)
        op = next(iter(paths[path].values()))
        assert {"200", "401", "404", "429"} <= set(op["responses"]), path
    params = {p["name"] for p in paths["/v1/alerts"]["get"]["parameters"]}
    assert {"colour", "type", "status", "org_id", "subtree", "cursor", "limit", "min_height"} <= params


# ----------------------------------------------------------------------------- index rebuild
def test_index_rebuild_equals_the_live_index_and_refuses_a_running_node(world: World) -> None:
    w = world
    cfg = w.cluster.config("v0")
    cmd = [sys.executable, "-m", "node.cli", "index", "rebuild", "--config", str(cfg)]
    running = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert running.returncode == 1 and "stop it" in running.stderr, running.stderr
    height = w.cluster.height("v0")
    assert w.get("root", "/v1/archives", min_height=height).status_code == 200  # the index caught up
    assert w.cluster.stop("v0") == 0
    live = IndexDb(f"sqlite:///{cfg.parent / 'data' / 'index.sqlite'}")
    other = cfg.parent / "rebuilt.sqlite"
    done = subprocess.run([*cmd, "--url", f"sqlite:///{other}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rebuilt = IndexDb(f"sqlite:///{other}")
    assert live.height == rebuilt.height == height
    assert rebuilt.dump() == live.dump()
    live.close()
    rebuilt.close()
    w.cluster.start("v0")
    w.cluster.wait_healthy(["v0"])


# ------------------------------------------------------------- rate limits and PostgreSQL
def _single_node(
    root: Path, api: dict[str, Any] | None = None, index: dict[str, Any] | None = None
) -> Cluster:
    c = Cluster(root, validators=1, observers=0, proxies=False)
    for table, values in (("api", api), ("index", index)):
        if values:
            c.set_config("v0", table, values)
    c.start_all()
    return c


def test_rate_limit_per_key_answers_429_with_retry_after(tmp_path: Path) -> None:
    c = _single_node(tmp_path, api={"rate_per_s": 2.0, "burst": 4.0})
    try:
        with httpx.Client(base_url=c.url("v0"), timeout=10, auth=LedgerAuth(c.signer)) as http:
            codes = [http.get("/v1/auth/whoami").status_code for _ in range(8)]
            assert codes[:4] == [200] * 4 and 429 in codes[4:], codes
            limited = http.get("/v1/auth/whoami")
            assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
            assert int(limited.headers["Retry-After"]) >= 1
            time.sleep(1.1)
            assert http.get("/v1/auth/whoami").status_code == 200  # refilled
        other = RequestSigner(SigningKey(_key_seed(c, "cn.p1")), c.genesis.chain_id)
        with httpx.Client(base_url=c.url("v0"), timeout=10, auth=LedgerAuth(other)) as http:
            assert http.get("/v1/auth/whoami").status_code == 200  # another key is not limited
    finally:
        c.close()


def test_a_node_with_a_postgresql_index_serves_lists(tmp_path: Path, pg_server: Any) -> None:
    url = pg_server.create_database()
    c = _single_node(tmp_path, index={"url": url})
    try:
        ops = c.load_in_background(30, rate=200).result()
        assert c.check(ops).committed == 30
        height = c.height("v0")
        with httpx.Client(base_url=c.url("v0"), timeout=10, auth=LedgerAuth(c.signer)) as http:
            archives = http.get("/v1/archives", params={"limit": 500, "min_height": height}).json()
            meetings = http.get("/v1/meetings", params={"limit": 500, "min_height": height}).json()
        assert "items" in archives and "items" in meetings, (archives, meetings)
        assert archives["height"] >= height and len(archives["items"]) + len(meetings["items"]) > 0
        db = IndexDb(url)
        assert db.height >= height and db.engine.dialect.name == "postgresql"
        db.close()
    finally:
        c.close()
