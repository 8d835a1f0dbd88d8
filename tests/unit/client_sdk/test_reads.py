"""Every read of the SDK verified against its proof (issue 16 item 4), served by a real node over a
real chain (`tests/support/readnode.py`): honest answers verify and come back rebuilt from the proven bytes,
complete where the state's key layout orders them; every forgery of the node's answer (an edited
value or hash, a dropped proof node, an item left out of a complete page, a wrong range, a forged
certificate, a header without the root, ...) raises VerificationError in both clients."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from client_sdk import AsyncLedgerClient, LedgerClient, VerificationError
from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.readpages import encode_cursor
from tests.support.readnode import B001, B002, ReadNode
from wire.certificate import make_certificate
from wire.crypto import sha256
from wire.types import CommitCertificate, SignedTransaction

Doc = dict[str, Any]


def client(node: ReadNode, who: str, **kw: Any) -> LedgerClient:
    return LedgerClient(node.url, node.chain.genesis, key=node.key(who), **kw)


def raw(node: ReadNode, who: str, target: str) -> Doc:
    """The node's honest JSON answer (signed as `who`)."""
    auth = LedgerAuth(RequestSigner(node.key(who), node.chain.genesis.chain_id))
    with httpx.Client(base_url=node.url, auth=auth, timeout=10) as http:
        resp = http.get(target)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


def archive_ids(node: ReadNode) -> list[str]:
    with client(node, "cn") as c:
        return [r.id for r in c.records("archive")]


def tx_of_block(node: ReadNode, height: int, index: int = 0) -> bytes:
    return SignedTransaction.decode(node.chain.blocks[height - 1][0].txs[index]).tx_id


# ------------------------------------------------------------------------------------ honest
def test_every_read_verifies_and_is_rebuilt_from_the_proven_bytes(node: ReadNode) -> None:
    ids = archive_ids(node)
    pk = ids[0]
    as_served = raw(node, "cn", f"/v1/archives/{pk}")["item"]["record"]
    node.forger.requests.clear()
    with client(node, "cn") as c:
        first = c.page("alert", limit=2)
        assert first.complete and first.proven_height == 6 and first.height == 8 and first.next_cursor
        alerts = list(c.alerts(limit=2))  # three pages, each proven complete
        assert len(alerts) == 5 and {a.org_id for a in alerts} == {B001, B002}
        assert all(a.proven_height == 6 and a.record and a.record["rule_id"] == "MAT-05" for a in alerts)
        b002 = c.page("alert", org_id=B002, limit=50)
        assert b002.complete and {a.org_id for a in b002.items} == {B002} and len(b002.items) == 2
        archives = c.page("archive", limit=50)
        assert archives.complete and [a.id for a in archives.items] == ids
        rec = c.record("archive", pk)
        assert rec is not None and rec.proven_height == 6 and rec.record is not None
        assert rec == c.archive(pk) and rec.record == as_served
        assert c.record("archive", "00" * 32) is None  # the node's word: a 404 carries no proof
        materials = c.page("material", org_id=B001, limit=50)
        assert not materials.complete and materials.proven_height == 6 and len(materials.items) >= 3
        assert all(m.org_id == B001 for m in materials.items)
        yellow = c.page("alert", colour="YELLOW", limit=50)  # filtered: each item proven
        assert not yellow.complete and len(yellow.items) == 5
        history = c.member_history(pk)
        assert history.proven_height == 6 and not history.complete
        assert {r.family for r in history} == {"archive", "archive_version"}
        versions = list(c.children("archive_version", pk))
        assert versions and all(v.parent_id == pk and v.proven_height == 6 for v in versions)
        orgs = list(c.orgs())
        assert {o["org_id"] for o in orgs} >= {"cn", "cn.gs", B001, B002}
        assert c.org("cn.gs") == next(o for o in orgs if o["org_id"] == "cn.gs")
        users = list(c.users(org_id=B001))
        assert users and all(u["org_id"] == B001 for u in users)
        me = c.user(node.key("cn").public)
        assert me is not None and me["roles"] == ["admin"]
        tx = c.tx(tx_of_block(node, 3))
        assert tx is not None and tx["verified"] and tx["receipt_verified"] and tx["block_height"] == 3
        assert tx["receipt"]["status"] == "ACCEPTED" and tx["tx_type"] == "archive.create"
    state_reads = [
        r
        for r in node.forger.requests
        if r.startswith("/v1/")
        and not r.startswith(("/v1/auth", "/v1/status", "/v1/tx", "/v1/proofs", "/v1/blocks"))
    ]
    assert state_reads and all("proof=true" in r for r in state_reads), state_reads


def test_a_branch_lists_its_own_subtree_learnt_from_its_proven_user_record(node: ReadNode) -> None:
    with client(node, B001) as c:
        page = c.page("alert", limit=50)
        again = c.page("archive", limit=50)
    assert page.complete and len(page.items) == 3 and {a.org_id for a in page.items} == {B001}
    assert again.complete and {a.org_id for a in again.items} <= {B001}
    pub = node.key(B001).public.hex()
    own = [r for r in node.forger.requests if r.startswith(f"/v1/users/{pub}")]
    assert len(own) == 1 and "proof=true" in own[0]  # learnt once, with its proof


def test_an_auditor_gets_hashes_proven_and_alerts_in_full(node: ReadNode) -> None:
    with client(node, "auditor") as c:
        materials = c.page("material", limit=50)
        archives = c.page("archive", limit=50)
        alerts = c.page("alert", limit=50)
    assert materials.items and all(m.record is None and m.org_id is None for m in materials.items)
    assert all(m.value_hash and m.proven_height == 6 for m in materials.items)
    assert archives.complete and all(a.org_id == B001 or a.org_id for a in archives.items)
    assert all(a.record is None and a.status is None for a in archives.items)
    assert alerts.complete and all(a.record is not None for a in alerts.items)


def test_alert_events_are_verified_against_the_proven_alert(node: ReadNode) -> None:
    events = []
    with client(node, "cn") as c:
        for ev in c.events(after_height=0, timeout_s=20):
            events.append(ev)
            if ev.kind == "block" and ev.height == node.chain.height:
                break
    alerts = [e for e in events if e.kind == "alert"]
    assert len(alerts) == 5 and all(e.height == 3 and e.proven_height == 6 for e in alerts)
    assert all(e.data["raised_height"] == 3 and e.rule_id == "MAT-05" for e in alerts)
    assert [e.height for e in events if e.kind == "block"] == list(range(1, node.chain.height + 1))


def test_the_async_client_verifies_the_same(node: ReadNode) -> None:
    pk = archive_ids(node)[0]

    async def main() -> tuple[Any, ...]:
        async with AsyncLedgerClient(node.url, node.chain.genesis, key=node.key(B001)) as c:
            page = await c.page("alert", limit=2)
            every = [a async for a in c.alerts(limit=2)]
            rec = await c.record("archive", pk)
            history = await c.member_history(pk)
            tx = await c.tx(tx_of_block(node, 3))
            return page, every, rec, history, tx

    page, every, rec, history, tx = asyncio.run(main())
    assert page.complete and len(every) == 3 and rec.proven_height == 6 and history.proven_height == 6
    assert tx["verified"] and tx["receipt_verified"]


# ------------------------------------------------------------------------------------ forgeries
def flip_hex(text: str, pos: int | None = None) -> str:
    pos = len(text) // 2 if pos is None else pos
    return text[:pos] + ("1" if text[pos] == "0" else "0") + text[pos + 1 :]


def cert_below_quorum(doc: Doc) -> Doc:
    cert = CommitCertificate.decode(bytes.fromhex(doc["proof"]["anchor"]["certificate_bytes"]))
    weaker = make_certificate(cert.height, cert.view, cert.block_hash, list(cert.signatures[:-1]))
    doc["proof"]["anchor"]["certificate_bytes"] = weaker.encode().hex()
    return doc


def other_block(node: ReadNode, height: int, header: bool) -> Callable[[Doc], Doc]:
    block, cert = node.chain.blocks[height - 1]

    def forge(doc: Doc) -> Doc:
        doc["proof"]["anchor"]["certificate_bytes"] = cert.encode().hex()
        if header:
            doc["proof"]["anchor"]["header_bytes"] = block.header.encode().hex()
        return doc

    return forge


def drop_first_of_complete_page(doc: Doc) -> Doc:
    """Leave the first alert out and prove the range from after it: the range is not the one asked."""
    first = doc["items"].pop(0)
    key = f"idx/alert/{first['org_id']}/{first['id']}".encode() + b"\x00"
    doc["proof"]["ranges"][0]["lo"] = key.hex()
    return doc


def replaced_by(other: Doc) -> Callable[[Doc], Doc]:
    """The answer to another request (fetched before the forgery is installed: the forger runs on
    the server's event loop and must not call the server)."""
    return lambda doc: copy.deepcopy(other)


def set_in(path: str, value: Any) -> Callable[[Doc], Doc]:
    def forge(doc: Doc) -> Doc:
        target: Any = doc
        *head, last = path.split(".")
        for part in head:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return doc

    return forge


def pop_in(path: str, index: int) -> Callable[[Doc], Doc]:
    def forge(doc: Doc) -> Doc:
        target: Any = doc
        for part in path.split("."):
            target = target[part]
        target.pop(index)
        return doc

    return forge


def edit_item(field: str, change: Callable[[Any], Any], where: str = "item") -> Callable[[Doc], Doc]:
    def forge(doc: Doc) -> Doc:
        item = doc["item"] if where == "item" else doc["items"][0]
        item[field] = change(item[field])
        return doc

    return forge


def edited_birth_date(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "birth_date": "1900-01-01"}


Read = Callable[[LedgerClient, ReadNode], Any]
# name -> (who reads, the read, the request it forges (a regex of path and query), the forgery, what is said)
FORGERIES: dict[str, tuple[str, Read, str, Callable[[ReadNode], Callable[[Doc], Doc]], str]] = {
    "an edited value": (
        "cn",
        lambda c, n: c.record("archive", archive_ids(n)[0]),
        r"^/v1/archives/",
        lambda n: edit_item("value", flip_hex),
        "does not match its proof",
    ),
    "an edited rendering, the value intact": (
        "cn",
        lambda c, n: c.record("archive", archive_ids(n)[0]),
        r"^/v1/archives/",
        lambda n: edit_item("record", edited_birth_date),
        "differs from the proven value",
    ),
    "an edited value hash (hash-only)": (
        "auditor",
        lambda c, n: c.page("material", limit=5),
        r"^/v1/materials\?",
        lambda n: edit_item("value_hash", flip_hex, where="items"),
        "value hash does not match",
    ),
    "a node dropped from the proof": (
        "cn",
        lambda c, n: c.record("archive", archive_ids(n)[0]),
        r"^/v1/archives/",
        lambda n: pop_in("proof.nodes", -1),
        "does not cover",
    ),
    "a node dropped from a range proof": (
        "cn",
        lambda c, n: c.page("alert", limit=50),
        r"^/v1/alerts\?",
        lambda n: pop_in("proof.nodes", 2),
        "does not cover",
    ),
    "an item left out of a complete page": (
        "cn",
        lambda c, n: c.page("alert", limit=50),
        r"^/v1/alerts\?",
        lambda n: pop_in("items", 1),
        "the org index holds 5 entries",
    ),
    "a range that starts after the first record": (
        "cn",
        lambda c, n: c.page("alert", limit=50),
        r"^/v1/alerts\?",
        lambda n: drop_first_of_complete_page,
        "not the one asked",
    ),
    "another org's complete page": (
        "cn",
        lambda c, n: c.page("alert", org_id=B002, limit=50),
        r"^/v1/alerts\?.*org_id=cn\.gs\.lz\.cg\.b002",
        lambda n: replaced_by(raw(n, "cn", f"/v1/alerts?org_id={B001}&limit=50&proof=true")),
        "not the one asked",
    ),
    "a certificate below quorum": (
        "cn",
        lambda c, n: c.record("archive", archive_ids(n)[0]),
        r"^/v1/archives/",
        lambda n: cert_below_quorum,
        "quorum",
    ),
    "another block's certificate": (
        "cn",
        lambda c, n: c.page("alert", limit=50),
        r"^/v1/alerts\?",
        lambda n: other_block(n, 7, header=False),
        "block 8",
    ),
    "another block's header and certificate": (
        "cn",
        lambda c, n: c.page("material", limit=5),
        r"^/v1/materials\?",
        lambda n: other_block(n, 7, header=True),
        "height 7, expected 8",
    ),
    "a header that does not carry the root": (
        "cn",
        lambda c, n: c.record("archive", archive_ids(n)[0]),
        r"^/v1/archives/",
        lambda n: set_in("proof.state_root", sha256(b"another root").hex()),
        "does not carry the proven state root",
    ),
    "a proven height the anchor does not certify": (
        "cn",
        lambda c, n: c.org("cn.gs"),
        r"^/v1/orgs/",
        lambda n: set_in("proof.height", 5),
        "certified by block 7, not 8",
    ),
    "no proof": (
        "cn",
        lambda c, n: c.page("alert", limit=50),
        r"^/v1/alerts\?",
        lambda n: lambda doc: {k: v for k, v in doc.items() if k != "proof"},
        "no proof",
    ),
    "a malformed proof node": (
        "cn",
        lambda c, n: c.user(n.key("cn").public),
        r"^/v1/users/",
        lambda n: set_in("proof.nodes.0", "not hex"),
        "not hex",
    ),
    "a proof that is not an object": (
        "cn",
        lambda c, n: c.member_history(archive_ids(n)[0]),
        r"^/v1/members/",
        lambda n: set_in("proof", ["a", "list"]),
        "not an object",
    ),
    "another record than the one asked": (
        "cn",
        lambda c, n: c.record("archive", archive_ids(n)[0]),
        r"^/v1/archives/",
        lambda n: replaced_by(raw(n, "cn", f"/v1/archives/{archive_ids(n)[1]}?proof=true")),
        "served archive/",
    ),
    "an item the filter does not select": (
        "cn",
        lambda c, n: c.page("alert", colour="RED", limit=50),
        r"^/v1/alerts\?.*colour=RED",
        lambda n: replaced_by(raw(n, "cn", "/v1/alerts?colour=YELLOW&limit=50&proof=true")),
        r"not what was asked \(colour\)",
    ),
    "a record outside the caller's subtree": (
        B001,
        lambda c, n: c.page("material", limit=50),
        r"^/v1/materials\?",
        lambda n: replaced_by(raw(n, "cn", "/v1/materials?limit=50&proof=true")),
        "outside the caller's subtree",
    ),
    "another person's history": (
        "cn",
        lambda c, n: c.member_history(archive_ids(n)[0]),
        r"^/v1/members/",
        lambda n: replaced_by(raw(n, "cn", f"/v1/members/{archive_ids(n)[1]}/history?proof=true")),
        "does not name the person",
    ),
    "another org than the one asked": (
        "cn",
        lambda c, n: c.org("cn.gs"),
        r"^/v1/orgs/",
        lambda n: replaced_by(raw(n, "cn", "/v1/orgs/cn.sn?proof=true")),
        "org/cn.gs",
    ),
    "a child of another parent": (
        "cn",
        lambda c, n: list(c.children("archive_version", archive_ids(n)[0])),
        r"^/v1/archives/.*/versions",
        lambda n: replaced_by(raw(n, "cn", f"/v1/archives/{archive_ids(n)[1]}/versions?proof=true")),
        r"\(parent\)",
    ),
    "a transaction proof with another block's certificate": (
        "cn",
        lambda c, n: c.tx(tx_of_block(n, 3)),
        r"^/v1/proofs/tx/",
        lambda n: set_in("certificate_bytes", n.chain.blocks[3][1].encode().hex()),
        "block 3",
    ),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forged_answer_raises_verification_error(node: ReadNode, name: str) -> None:
    who, read, target, make, said = FORGERIES[name]
    forge = make(node)
    pattern = re.compile(target)
    node.forger.forge = lambda path, doc: forge(copy.deepcopy(doc)) if pattern.search(path) else doc
    with client(node, who) as c, pytest.raises(VerificationError, match=said):
        read(c, node)
    assert any(pattern.search(r) for r in node.forger.requests), node.forger.requests


@pytest.mark.parametrize(
    "name", ["an edited value", "an item left out of a complete page", "a certificate below quorum"]
)
def test_the_async_client_refuses_the_same_forgeries(node: ReadNode, name: str) -> None:
    who, _, target, make, said = FORGERIES[name]
    forge, pattern = make(node), re.compile(target)
    node.forger.forge = lambda path, doc: forge(copy.deepcopy(doc)) if pattern.search(path) else doc
    pk = archive_ids(node)[0]

    async def main() -> None:
        async with AsyncLedgerClient(node.url, node.chain.genesis, key=node.key(who)) as c:
            if "page" in name:
                await c.page("alert", limit=50)
            else:
                await c.record("archive", pk)

    with pytest.raises(VerificationError, match=said):
        asyncio.run(main())


def test_a_forged_alert_event_is_refused(node: ReadNode) -> None:
    node.forger.forge_text = lambda path, chunk: (
        chunk.replace('"colour":"YELLOW"', '"colour":"RED"') if path.startswith("/v1/events") else chunk
    )
    with client(node, "cn") as c, pytest.raises(VerificationError, match="colour differs"):
        for _ in c.events(after_height=2, timeout_s=20):
            pass


def test_an_alert_event_the_node_does_not_prove_is_refused(node: ReadNode) -> None:
    other = '"alert_id":"' + "ab" * 16 + '"'
    node.forger.forge_text = lambda path, chunk: (
        re.sub(r'"alert_id":"[0-9a-f]+"', other, chunk) if path.startswith("/v1/events") else chunk
    )
    with client(node, "cn") as c, pytest.raises(VerificationError, match="does not serve it"):
        for _ in c.events(after_height=2, timeout_s=20):
            pass


def test_a_claim_of_freshness_that_a_certified_header_contradicts_is_refused(node: ReadNode) -> None:
    """A valid proof of an old state (height 2) offered as reflecting height 8: block 5's header
    (which the client verified) carries the root of height 3, which differs."""
    from node.api.proven import ProofBuilder

    key = b"org/cn.gs"
    with node.node.api.proven(2) as view:
        builder = ProofBuilder()
        view.prove(builder, [key])
        old = view.proof_json(builder, {key: view.get(key)})
    old["reflects"] = 8
    node.forger.forge = lambda path, doc: {**doc, "proof": old} if path.startswith("/v1/orgs/") else doc
    with client(node, "cn") as c:
        assert c.org("cn.gs") is not None  # an old state, but nothing the client knows contradicts it
        c.header(5)
        with pytest.raises(VerificationError, match="the state changed at 3"):
            c.org("cn.gs")


def test_a_cursor_outside_the_list_is_not_sent(node: ReadNode) -> None:
    """The node's org index range starts at the cursor: a cursor before the caller's range would
    list other orgs' records (the node must refuse it too, see the report)."""
    with client(node, B002) as c, pytest.raises(ValueError, match="not one of this list"):
        c.page("alert", cursor=encode_cursor("alert", "idx/alert/"))


def test_verify_reads_false_takes_the_nodes_word(node: ReadNode) -> None:
    pk = archive_ids(node)[0]
    node.forger.requests.clear()
    edit = edit_item("record", edited_birth_date)
    node.forger.forge = lambda path, doc: edit(doc) if path.startswith("/v1/archives/") else doc
    with client(node, "cn", verify_reads=False) as c:
        rec = c.record("archive", pk)
        page = c.page("alert", limit=50)
        tx = c.tx(tx_of_block(node, 3))
    assert rec is not None and rec.record is not None and rec.record["birth_date"] == "1900-01-01"
    assert rec.proven_height is None and not page.complete and page.proven_height is None
    assert tx is not None and not tx["verified"]
    assert not any("proof=true" in r for r in node.forger.requests)


def test_a_pending_transaction_is_marked_unverified(node: ReadNode) -> None:
    tid = tx_of_block(node, 3).hex()
    pending = {"tx_id": tid, "status": "pending", "height": 8}
    node.forger.forge = lambda path, doc: pending if path.startswith("/v1/tx/") else doc
    with client(node, "cn") as c:
        tx = c.tx(tid)
    assert tx is not None and tx["status"] == "pending" and not tx["verified"]


JUNK: list[Any] = [None, 0, -1, 2**70, True, "", "zz", "00" * 32, [], {}, ["00"], {"lo": "00"}, 1.5]


def paths_of(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += paths_of(v, (*prefix, i))
    return out


def mutate(doc: Doc, path: tuple[Any, ...], junk: Any) -> Doc:
    out = copy.deepcopy(doc)
    target: Any = out
    for part in path[:-1]:
        target = target[part]
    if junk is KeyError and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = None if junk is KeyError else copy.deepcopy(junk)
    return out


def test_malformed_answers_raise_verification_error_and_nothing_else(node: ReadNode) -> None:
    """Every field of real answers replaced by junk of every type, or removed: the verifiers either
    accept (a field they do not rely on) or raise VerificationError; never another exception."""
    import random

    from client_sdk.readpages import orgs_query, records_query, verify_history, verify_page, verify_record
    from client_sdk.readproofs import ReadVerifier

    pk = archive_ids(node)[0]
    cases: list[tuple[Doc, Callable[[ReadVerifier, Doc], Any]]] = [
        (
            raw(node, "cn", "/v1/alerts?limit=2&proof=true"),
            lambda v, d: verify_page(v.state(d), d, records_query("alert"), after=None, limit=2, scope=""),
        ),
        (
            raw(node, "auditor", "/v1/materials?limit=2&proof=true"),
            lambda v, d: verify_page(
                v.state(d), d, records_query("material"), after=None, limit=2, scope=None
            ),
        ),
        (
            raw(node, "cn", "/v1/orgs?limit=2&proof=true"),
            lambda v, d: verify_page(v.state(d), d, orgs_query(None, True), after=None, limit=2, scope=None),
        ),
        (
            raw(node, "cn", f"/v1/archives/{pk}?proof=true"),
            lambda v, d: verify_record(v.state(d), d, "archive", pk),
        ),
        (
            raw(node, "cn", f"/v1/members/{pk}/history?proof=true"),
            lambda v, d: verify_history(v.state(d), d, pk),
        ),
    ]
    rnd = random.Random(16)
    tried = refused = 0
    for doc, check in cases:
        verifier = ReadVerifier(node.chain.genesis)
        check(verifier, doc)  # the honest answer verifies
        for path in paths_of(doc):
            for junk in [KeyError, *rnd.sample(JUNK, 4)]:
                tried += 1
                try:
                    check(verifier, mutate(doc, path, junk))
                except VerificationError:
                    refused += 1
    assert tried > 1000 and refused > tried // 2, (tried, refused)


def test_the_clients_own_commits_contradict_a_stale_claim(node: ReadNode) -> None:
    """An answer proven at 6 that says it reflects 8 is refused by a client whose own transaction
    was committed at 7 (every processed transaction writes its replay marker)."""
    from client_sdk.readproofs import ReadVerifier

    doc = raw(node, "cn", "/v1/orgs/cn.gs?proof=true")
    assert (doc["proof"]["height"], doc["proof"]["reflects"]) == (6, 8)
    verifier = ReadVerifier(node.chain.genesis)
    verifier.state(doc)
    verifier.learn_commit(7)
    with pytest.raises(VerificationError, match="this client's transaction changed the state at 7"):
        verifier.state(doc)


def test_the_privacy_client_verifies_its_record_reads(node: ReadNode) -> None:
    from client_sdk.privacy import PrivacyClient

    pk = archive_ids(node)[0]
    with PrivacyClient(node.url, node.chain.genesis, key=node.key("cn")) as pc:
        assert pc.record("archives", pk)["id"] == pk
        assert list(pc.envelopes_in_subtree(B001, history=True)) == []  # every page verified
        edit = edit_item("value", flip_hex)
        node.forger.forge = lambda path, doc: edit(doc) if path.startswith("/v1/archives/") else doc
        with pytest.raises(VerificationError, match="does not match its proof"):
            pc.record("archives", pk)
    assert all(
        "proof=true" in r for r in node.forger.requests if r.startswith(("/v1/archives", "/v1/materials"))
    )
