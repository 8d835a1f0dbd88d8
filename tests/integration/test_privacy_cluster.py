"""Data protection on a real cluster (issue 8): a full scenario typed in through the SDK with real
names and ID numbers, then every file the cluster wrote (LevelDB, index, logs, blob store, access
log) and its metrics are scanned for them.

Done when: a province admin reads a branch member's name through the SDK; a sibling province's
admin gets ciphertext it cannot open, and the read attempt is in the access log.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import plyvel
import pytest

from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.client import LedgerClient, build_tx
from client_sdk.errors import ApiError, VerificationError
from client_sdk.orgkeys import verify_chain
from client_sdk.privacy import (
    CannotDecrypt,
    OrgKeyring,
    PersonKey,
    PrivacyClient,
    context_for,
    decrypt_blob,
    encrypt_blob,
    open_fields,
)
from tests.support.cluster import Cluster
from wire.crypto import EncryptionKey, SigningKey, sha256
from wire.files import load_encryption_key, load_signing_key
from wire.idnumber import check_char

pytestmark = pytest.mark.integration

ROOT, P1, P2 = "cn", "cn.p1", "cn.p2"
C1, X1, B1, B2 = "cn.p1.c1", "cn.p1.c1.x1", "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2"


def id_number(first17: str) -> str:
    return first17 + check_char(first17)


# real-looking people: names (3 characters, so a chance match in binary data is negligible),
# ID numbers with a valid check character, contact data
PEOPLE = [
    {
        "name": "张伟明",
        "pinyin": "Zhang Weiming",
        "id": id_number("11010519850307123"),
        "phone": "13912345678",
    },
    {"name": "李秀英", "pinyin": "Li Xiuying", "id": id_number("32058319920815246"), "phone": "13698765432"},
    {
        "name": "王建国",
        "pinyin": "Wang Jianguo",
        "id": id_number("44030419781122369"),
        "phone": "15811112222",
    },
]
ADDRESS = "北京市东城区景山前街四号"
EXTRA = {
    "access_anchor_interval_s": 1,
    "person_key_rate_per_s": 1,
    "person_key_burst": 100,
}


def today() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()


@dataclass
class World:
    c: Cluster
    url: str
    keys: dict[str, SigningKey]
    enc: dict[str, EncryptionKey]
    pks: list[PersonKey] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # (hash, key, plain file)
    metrics: dict[str, str] = field(default_factory=dict)
    since: str = ""

    def sdk(self, who: str, node: str = "v0") -> PrivacyClient:
        return PrivacyClient(self.c.url(node), self.c.genesis, key=self.keys[who])

    def submit(self, who: str, org: str, tx_type: str, payload: dict[str, Any]) -> str:
        tx = build_tx(
            chain_id=self.c.genesis.chain_id, tx_type=tx_type, org_id=org, payload=payload, key=self.keys[who]
        )
        with LedgerClient(self.url, self.c.genesis, key=self.keys[who]) as client:
            client.submit(tx, timeout_s=60)
        return tx.tx_id.hex()

    def http(self, key: SigningKey, node: str = "v0") -> httpx.Client:
        return httpx.Client(
            base_url=self.c.url(node),
            timeout=30,
            auth=LedgerAuth(RequestSigner(key, self.c.genesis.chain_id)),
        )


def _configure(c: Cluster) -> None:
    for name in c.names:
        c.set_config(name, "privacy", EXTRA)


def _seed(c: Cluster) -> World:
    net = c.net / "keys"
    keys = {f"admin@{o}": load_signing_key(net / "admins" / f"{o}.key") for o, _ in ORGS_OF(c)}
    enc = {o: load_encryption_key(net / "orgs" / f"{o}.x25519.key") for o, _ in ORGS_OF(c)}
    for name in ("admin@cn.p2", "b1_op", "p1_auditor", "b1_integration"):
        keys[name] = SigningKey.generate()
    enc[P2] = EncryptionKey.generate()
    w = World(c, c.url("v0"), keys, enc, since=today())
    w.submit(
        f"admin@{ROOT}",
        ROOT,
        "org.create",
        {
            "org_id": P2,
            "name": "province two",
            "enc_pubkey": enc[P2].public.hex(),
            "founded_date": "2001-01-01",
        },
    )
    for name, signer, org, user_org, roles in [
        ("admin@cn.p2", f"admin@{ROOT}", ROOT, P2, ["admin"]),
        ("p1_auditor", f"admin@{ROOT}", ROOT, P1, ["auditor"]),
        ("b1_op", f"admin@{B1}", B1, B1, ["operator"]),
        ("b1_integration", f"admin@{B1}", B1, B1, ["integration"]),
    ]:
        w.submit(
            signer,
            org,
            "user.register",
            {
                "user_id": name.replace("admin@cn.p2", "p2_admin"),
                "org_id": user_org,
                "pubkey": keys[name].public.hex(),
                "roles": roles,
            },
        )
    op = w.sdk("b1_op")
    # person keys: the ID numbers go to the node's hashing endpoint, never to the ledger
    w.pks = op.person_keys.batch([(p["id"], p["name"], None) for p in PEOPLE])
    for person, pk in zip(PEOPLE, w.pks, strict=True):
        fields = {
            "name": person["name"],
            "name_pinyin": person["pinyin"],
            "phone": person["phone"],
            "address": ADDRESS,
            "id_masked": pk.masked,
        }
        sealed = op.seal(B1, fields, context_for("archive", pk.person_key))
        w.submit(
            "b1_op",
            B1,
            "archive.create",
            {
                "person_key": pk.person_key,
                "key_version": pk.key_version,
                "id_check_ok": True,
                "name_key": pk.name_key,
                "birth_date": pk.birth_date,
                "sealed": sealed,
            },
        )
        # the scanned application: a file with the name and the number on it, encrypted first
        plain = f"入党申请书\n申请人：{person['name']}\n身份证号：{person['id']}\n".encode() + b"\x00" * 2000
        blob, file_key = encrypt_blob(plain)
        stored = op.upload_blob(blob, min_copies=2)
        doc_id = f"app-{pk.person_key[:12]}"
        doc = {
            "doc_id": doc_id,
            "doc_version": 1,
            "doc_type": "APPLICATION",
            "subject_keys": [pk.person_key],
            "content_hash": sha256(plain).hex(),
            "doc_date": today(),
            "issuer_org_id": B1,
            "blob": {"hash": stored["hash"], "size": stored["size"]},
            "sealed": op.seal(
                B1,
                {
                    "file_key": file_key.hex(),
                    "file_name": f"{person['name']}-入党申请书.pdf",
                    "note": "本人手写",
                },
                context_for("material", doc_id),
            ),
        }
        w.submit("b1_op", B1, "material.register", doc)
        w.docs.append(doc)
        w.blobs.append((stored["hash"], file_key, plain))
    start = int(time.time() * 1000) - 3 * 3600_000
    county = w.sdk(f"admin@{X1}")
    minutes = f"会议记录：{PEOPLE[0]['name']}、{PEOPLE[1]['name']} 发言，{PEOPLE[2]['name']} 请假。"
    w.submit(
        f"admin@{X1}",
        X1,
        "meeting.record",
        {
            "meeting_id": "mtg-county-1",
            "meeting_type": "THEME_DAY",
            "start": start,
            "end": start + 3600_000,
            "location_code": "ROOM-1",
            "minutes_content_hash": sha256(minutes.encode()).hex(),
            "sealed": county.seal(X1, {"minutes": minutes}, context_for("meeting", "mtg-county-1")),
        },
    )
    w.submit(
        "b1_op",
        B1,
        "decision.record",
        {
            "decision_id": "dec-1",
            "decision_body": "BRANCH_COMMITTEE",
            "decision_mode": "MEETING",
            "category": "OTHER",
            "item_seq": 1,
            "result": "PASSED",
            "effective_date": today(),
            "sealed": op.seal(
                B1, {"text": f"同意{PEOPLE[2]['name']}的困难补助申请"}, context_for("decision", "dec-1")
            ),
        },
    )
    op.close()
    county.close()
    return w


def ORGS_OF(c: Cluster) -> list[tuple[str, str]]:
    from tests.support.cluster import ORGS

    return ORGS


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    c = Cluster(tmp_path_factory.mktemp("privacy"), validators=4, observers=1, proxies=False)
    _configure(c)
    try:
        c.start_all()
        yield _seed(c)
    finally:
        c.close()


def ring(w: World, org: str) -> OrgKeyring:
    return OrgKeyring(org, (w.enc[org],))


# ------------------------------------------------------------------------------- done when
def test_a_province_admin_reads_a_branch_members_name_a_sibling_province_cannot(world: World) -> None:
    w = world
    pk = w.pks[0].person_key
    with w.sdk(f"admin@{P1}") as p1:
        item, fields = p1.read_fields("archives", pk, ring(w, P1))
    assert (
        fields["name"] == PEOPLE[0]["name"] and fields["id_masked"] == "110105********" + PEOPLE[0]["id"][-4:]
    )
    assert item["record"]["birth_date"] == "1985-03-07" and "name" not in item["record"]
    # the sibling province: the API answers as for an absent record ...
    with w.sdk("admin@cn.p2") as p2, pytest.raises(ApiError) as info:
        p2.record("archives", pk)
    assert info.value.status == 404
    # ... and the ciphertext (every node holds it: here read with a node key) does not open with its key
    node_key = load_signing_key(w.c.net / "nodes" / "v1" / "node.key")
    with w.http(node_key) as http:
        record = http.get(f"/v1/archives/{pk}").json()["item"]["record"]
    with pytest.raises(CannotDecrypt):
        open_fields(record["sealed"], ring(w, P2))
    # a child cannot open a superior's record: the branch and the county's meeting minutes
    with w.sdk(f"admin@{B1}") as b1, w.http(node_key) as http:
        meeting = http.get("/v1/meetings/mtg-county-1").json()["item"]
        with pytest.raises(CannotDecrypt):
            b1.open_item(meeting, ring(w, B1))
    with w.sdk(f"admin@{C1}") as city:
        _, minutes = city.read_fields("meetings", "mtg-county-1", ring(w, C1))
    assert PEOPLE[1]["name"] in minutes["minutes"]
    # the attempt is in v0's access log, as a denied read by the sibling's admin
    lines = _access_lines(w, "v0")
    denied = [
        line
        for line in lines
        if line["outcome"] == "denied"
        and (line.get("caller") or {}).get("org_id") == P2
        and pk in line["ids"]
    ]
    assert denied and denied[0]["orgs"] == [B1] and denied[0]["status"] == 404
    reads = [
        line for line in lines if line["outcome"] == "read" and (line.get("caller") or {}).get("org_id") == P1
    ]
    assert any(pk in line["ids"] and line["orgs"] == [B1] for line in reads)


def _access_lines(w: World, node: str) -> list[dict[str, Any]]:
    root = w.keys[f"admin@{ROOT}"]
    with w.http(root, node) as http:
        segs = http.get("/v1/access-log/segments").json()["segments"]
        parts = [http.get(f"/v1/access-log/segments/{n}").content for n in segs]
        parts.append(http.get("/v1/access-log/segments/current").content)
    return [json.loads(raw) for part in parts for raw in part.splitlines() if raw.strip()]


def test_an_auditor_sees_hashes_only_and_gets_no_person_keys_or_blobs(world: World) -> None:
    w = world
    auditor = w.sdk("p1_auditor")
    item = auditor.record("archives", w.pks[1].person_key)
    assert item["record"] is None and len(item["value_hash"]) == 64
    with pytest.raises(ApiError) as info:
        auditor.download_blob(w.blobs[0][0])
    assert info.value.status == 403
    with pytest.raises(ApiError) as info:
        auditor.person_keys.get(PEOPLE[0]["id"])
    assert info.value.status == 403
    auditor.close()
    node_key = load_signing_key(w.c.net / "nodes" / "v0" / "node.key")
    with w.http(node_key) as http:
        r = http.post("/v1/person-keys", json={"items": [{"id_number": PEOPLE[0]["id"]}]})
    assert r.status_code == 403  # node keys read as root but hash nothing


def test_person_keys_agree_across_nodes_validate_and_are_rate_limited(world: World) -> None:
    w = world
    with w.sdk("b1_integration", "o0") as integ:
        again = integ.person_keys.get(PEOPLE[0]["id"].lower(), name=PEOPLE[0]["name"])
        assert (again.person_key, again.name_key) == (w.pks[0].person_key, w.pks[0].name_key)
    with w.http(w.keys["b1_integration"], "o0") as http:  # raw: the node validates too, never echoes it
        bad = PEOPLE[0]["id"][:-1] + ("0" if PEOPLE[0]["id"][-1] != "0" else "1")
        r = http.post("/v1/person-keys", json={"items": [{"id_number": bad}]}).json()
        assert r["items"][0]["error"]["code"] == "check_char" and bad not in json.dumps(r)
        many = {"items": [{"id_number": PEOPLE[1]["id"]}] * 64}
        codes = [http.post("/v1/person-keys", json=many).status_code for _ in range(3)]
    assert codes[0] == 200 and 429 in codes


def test_blobs_are_replicated_verified_and_served_by_any_node(world: World) -> None:
    w = world
    h, _, plain = w.blobs[0]
    holders = [n for n in w.c.names if _blob_path(w, n, h).exists()]
    assert len(holders) >= 3, holders  # the uploading node and two replicas
    with w.sdk(f"admin@{P1}", "o0") as p1:
        _, fields = p1.read_fields("materials", w.docs[0]["doc_id"], ring(w, P1))
        blob = p1.download_blob(h)
    assert decrypt_blob(blob, bytes.fromhex(fields["file_key"])) == plain
    lacking = [n for n in w.c.names if n not in holders]
    if lacking:  # a node without it fetches it from its peers
        with w.sdk("b1_op", lacking[0]) as op:
            assert op.download_blob(h) == blob
    with w.sdk("admin@cn.p2") as p2, pytest.raises(ApiError) as info:
        p2.download_blob(h)
    assert info.value.status == 404


def _blob_path(w: World, node: str, h: str) -> Path:
    return w.c.net / "nodes" / node / "data" / "blobs" / h[:2] / h[2:4] / h


def test_a_tampered_blob_is_refused_and_healed_from_a_peer(world: World) -> None:
    w = world
    h, _, _ = w.blobs[1]
    path = _blob_path(w, "v0", h)
    if not path.exists():
        with w.sdk("b1_op") as op:
            op.download_blob(h)
    good = path.read_bytes()
    path.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    with w.sdk("b1_op") as op:
        assert op.download_blob(h) == good  # v0 found the damage, set it aside, fetched a good copy
    assert path.read_bytes() == good and list(path.parent.glob(f"{h}.corrupt-*"))


def test_rotating_an_org_key_reseals_what_it_must_read(world: World) -> None:
    w = world
    old, new = w.enc[P1], EncryptionKey.generate()
    with w.sdk(f"admin@{P1}") as p1:
        report = p1.rotate_org_key(P1, OrgKeyring(P1, (old,)), new, w.keys[f"admin@{P1}"], P1)
        assert report.resealed >= len(PEOPLE) * 2 + 2 and report.not_mine == 0 and report.tx_ids
        only_new = OrgKeyring(P1, (new,))
        _, fields = p1.read_fields("archives", w.pks[2].person_key, only_new)
        assert fields["name"] == PEOPLE[2]["name"]
        again = p1.reseal_subtree(P1, OrgKeyring(P1, (old,)), new, w.keys[f"admin@{P1}"], P1)
        assert again.resealed == 0 and again.already == report.envelopes
    # records written from now on are sealed to the new key, proven by its transaction
    with w.sdk("b1_op") as op:
        chain = op.enc_keys(B1, refresh=True)
        assert [(r.org_id, r.key_version) for r in chain][3] == (P1, 2) and chain[3].public == new.public
        doc = op.request("GET", f"/v1/enc-keys/{B1}")
        assert doc["chain"][3]["source"] == "tx" and doc["chain"][3]["proof"] is not None
        doc["chain"][3]["enc_pubkey"] = EncryptionKey.generate().public.hex()  # a node's own key
        with pytest.raises(VerificationError):
            verify_chain(op.genesis, B1, doc)
    w.enc[P1] = new


def test_the_access_log_is_anchored_verifies_and_an_edited_line_fails(world: World, tmp_path: Path) -> None:
    w = world
    root_key = w.c.net / "keys" / "admins" / f"{ROOT}.key"
    _wait_anchored(w, "v0")
    base = [sys.executable, "-m", "node.cli", "audit", "access", "--genesis", str(w.c.net / "genesis.json")]
    ok = subprocess.run(
        [*base, "--node", w.url, "--key", str(root_key), "--org", P2, "--since", w.since],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "denied" in ok.stdout and "p2_admin@cn.p2" in ok.stdout and "verifies" in ok.stdout
    # a copy of the log whose closed, anchored first segment has one line edited
    copy = tmp_path / "accesslog"
    shutil.copytree(w.c.net / "nodes" / "v0" / "data" / "accesslog", copy)
    seg = copy / "00000001.jsonl"
    lines = seg.read_text().splitlines()
    doc = json.loads(lines[0])
    doc["remote"] = "10.9.9.9"
    lines[0] = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    seg.write_text("\n".join(lines) + "\n")
    bad = subprocess.run(
        [*base, "--dir", str(copy), "--node", w.url, "--key", str(root_key)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "does NOT verify" in bad.stderr and "segment 1" in bad.stderr, bad.stderr
    clean = tmp_path / "clean"
    shutil.copytree(w.c.net / "nodes" / "v0" / "data" / "accesslog", clean)
    good = subprocess.run(
        [*base, "--dir", str(clean), "--node", w.url, "--key", str(root_key), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    assert report["ok"] and report["proofs_checked"] >= 1 and report["anchored"]
    # the chain with node-signed anchors and re-seals replays from genesis like any other
    verify = [*base[:3], "audit", "verify", "--node", w.url, "--genesis", str(w.c.net / "genesis.json")]
    replay = subprocess.run(
        [*verify, "--key", str(root_key), "--no-progress", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replay.returncode == 0 and "audit OK" in replay.stdout, replay.stdout + replay.stderr


def _wait_anchored(w: World, node: str, timeout_s: float = 30) -> None:
    root = w.keys[f"admin@{ROOT}"]
    deadline = time.monotonic() + timeout_s
    with w.http(root, node) as http:
        while True:
            segs = http.get("/v1/access-log/segments").json()["segments"]
            anchors = http.get("/v1/access-log/anchors").json()["anchors"]
            if segs and {a["segment"] for a in anchors} >= set(segs):
                return
            assert time.monotonic() < deadline, (segs, [a["segment"] for a in anchors])
            time.sleep(0.5)


def test_a_restored_node_serves_its_blobs(world: World, tmp_path: Path) -> None:
    w = world
    c = w.c
    h = w.blobs[2][0]
    with w.sdk("b1_op", "o0") as op:
        op.download_blob(h)  # o0 holds it now
    assert c.stop("o0") == 0
    data = c.net / "nodes" / "o0" / "data"
    backup = tmp_path / "o0-backup"
    shutil.copytree(data, backup)  # the documented backup: a copy of the stopped node's data dir
    shutil.rmtree(data)
    shutil.copytree(backup, data)
    assert (data / "blobs" / h[:2] / h[2:4] / h).exists()
    c.start("o0")
    c.wait_healthy(["o0"])
    with w.sdk("b1_op", "o0") as op:
        assert sha256(op.download_blob(h)).hex() == h


def test_every_copy_tampered_is_refused(world: World) -> None:
    w = world
    h = w.blobs[2][0]
    for n in w.c.names:
        path = _blob_path(w, n, h)
        if path.exists():
            path.write_bytes(b"OLB1" + b"\x00" * 64)
    with w.sdk("b1_op") as op, pytest.raises(ApiError) as info:
        op.download_blob(h)
    assert info.value.status == 503 and info.value.code == "blob_unavailable"


# ------------------------------------------------------------------------------- the scan
def _needles() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in PEOPLE:
        ident = p["id"]
        out[f"id {ident[:6]}…"] = ident.encode()
        out[f"id utf-16 {ident[:6]}…"] = ident.encode("utf-16-le")
        out[f"id digits {ident[:6]}…"] = ident[:17].encode()
        out[f"phone {p['phone'][:3]}…"] = p["phone"].encode()
        out[f"pinyin {p['pinyin']}"] = p["pinyin"].encode()
        for enc in ("utf-8", "utf-16-le", "utf-16-be", "gb18030", "big5"):
            try:
                out[f"name {enc} {p['name']}"] = p["name"].encode(enc)
            except UnicodeEncodeError:
                continue
        escaped = json.dumps(p["name"])[1:-1]
        out[f"name json {p['name']}"] = escaped.encode()
        out[f"name JSON {p['name']}"] = escaped.upper().replace("\\U", "\\u").encode()
    for enc in ("utf-8", "gb18030"):
        out[f"address {enc}"] = ADDRESS.encode(enc)
    return out


def _hits(data: bytes, needles: dict[str, bytes]) -> list[str]:
    return [label for label, needle in needles.items() if needle in data]


def test_no_raw_id_number_or_name_anywhere_on_disk_or_in_metrics(world: World) -> None:
    w = world
    c = w.c
    for name in c.names:
        if c.alive(name):
            w.metrics[name] = httpx.get(f"{c.url(name)}/metrics", timeout=10).text
    for name in c.names:
        if c.alive(name):
            assert c.stop(name) == 0
    needles = _needles()
    found: list[str] = []
    files = 0
    for path in sorted(c.root.rglob("*")):
        if path.is_file():
            files += 1
            found += [f"{path.relative_to(c.root)}: {h}" for h in _hits(path.read_bytes(), needles)]
    for name, text in w.metrics.items():
        found += [f"metrics of {name}: {h}" for h in _hits(text.encode(), needles)]
    # logically too: LevelDB values may be compressed on disk, SQLite pages laid out any way
    for node_dir in sorted((c.net / "nodes").iterdir()):
        db = plyvel.DB(str(node_dir / "data"))
        try:
            for key, value in db:
                found += [f"{node_dir.name} leveldb {key[:40]!r}: {h}" for h in _hits(key + value, needles)]
        finally:
            db.close()
        for index in (node_dir / "data").glob("index.sqlite"):
            con = sqlite3.connect(index)
            try:
                for (table,) in con.execute("select name from sqlite_master where type='table'"):
                    for row in con.execute(f'select * from "{table}"'):
                        blob = "\x1f".join(str(v) for v in row).encode()
                        found += [f"{index.name} {table}: {h}" for h in _hits(blob, needles)]
            finally:
                con.close()
    assert files > 50 and not found, "\n".join(found[:40])
    # the scan would have found them: the plain texts do exist where they belong (the SDK side)
    assert hashlib.sha256(w.blobs[0][2]).hexdigest() == w.docs[0]["content_hash"]
    assert _hits(w.blobs[0][2], needles)
