"""The SDK and `orgledger dev seed` against a real network (issue 7 point 4, 6, "Done when"; issue 16
item 4 and 7: every read verified).

One local network of the default topology (six node processes, `orgledger dev up` on free ports)
is seeded once by `dev seed` through the SDK; then: the seed raised alerts of every colour and
every intended fraud outcome, a second run changes nothing; the SDK submits one transaction of
every family and gets verified receipts (sync and async); a rejection names its rule; events
arrive in order, resume after a reconnect, and are scoped to the caller's subtree; every
`python` example of docs/sdk.md runs; and the observer's data, tampered with as an attacker with
disk access would (an index row edited, deleted, moved to another org; a LevelDB state entry or
map node edited; an old block edited), never reaches a caller through the SDK: the node refuses
(503 `index_inconsistent` and a repair, 503 `storage_corrupt`, or no start at all) or the SDK
raises VerificationError.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from client_sdk import (
    AsyncLedgerClient,
    Event,
    LedgerClient,
    NotFoundError,
    TxRejectedError,
    UnavailableError,
    check_bundle,
)
from client_sdk import (
    builders as b,
)
from contracts.testing import person
from node.dev import devnet
from node.dev.netinit import init_network
from node.dev.seed import SeedReport, seed
from node.dev.topology import DEFAULT_TOPOLOGY
from tests.integration import sdk_tamper as tamper
from tests.support.cluster import free_ports
from tests.support.tamper import tamper_block
from wire.crypto import SigningKey
from wire.files import load_genesis, load_signing_key
from wire.types import SignedTransaction

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
B001, B002, B003 = "cn.gs.lz.cg.b001", "cn.gs.lz.cg.b002", "cn.gs.lz.cg.b003"
CST = timezone(timedelta(hours=8))


def yesterday() -> str:
    return (datetime.now(CST).date() - timedelta(days=1)).isoformat()


@dataclass
class Net:
    directory: Path
    ports: dict[int, int]  # default API port -> this network's
    report: SeedReport
    lines: list[str]

    def url(self, default_port: int) -> str:
        return f"http://127.0.0.1:{self.ports[default_port]}"

    def key(self, name: str) -> SigningKey:
        return load_signing_key(self.directory / "keys" / name)

    def client(self, default_port: int, key: str, **kw: Any) -> LedgerClient:
        return LedgerClient(self.url(default_port), self.directory / "genesis.json", key=self.key(key), **kw)


def _network(root: Path) -> tuple[Path, dict[int, int]]:
    """The default topology on free ports (so it never meets a developer's `make run`)."""
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    defaults = sorted(int(p) for p in re.findall(r"port = (\d+)", text))
    ports = dict(zip(defaults, free_ports(len(defaults)), strict=True))
    text = re.sub(r"port = (\d+)", lambda m: f"port = {ports[int(m[1])]}", text)
    (root / "topology.toml").write_text(text, encoding="utf-8")
    init_network(root / "topology.toml", root / "net")
    return root / "net", {d: p for d, p in ports.items() if d >= 28000}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("sdknet")
    directory, ports = _network(root)
    devnet.up(directory, echo=False)
    try:
        lines: list[str] = []
        report = seed(directory, echo=lines.append)
        yield Net(directory, ports, report, lines)
    finally:
        devnet.down(directory, echo=False)


# ------------------------------------------------------------------------------------ dev seed
def test_dev_seed_makes_every_intended_outcome_and_alerts_of_every_colour(net: Net) -> None:
    report = net.report
    text = "\n".join(net.lines)
    assert report.ok, text
    assert not report.unexpected, text
    intents = report.intents
    assert len(intents) >= 10 and all(met for _, met in intents), text
    colours, rules = report.alert_counts()
    assert colours["RED"] and colours["YELLOW"] and colours["BLUE"], text
    for rule, colour in [
        ("MTG-02", "RED"),
        ("DEC-06", "RED"),
        ("DEC-06", "YELLOW"),
        ("MAT-01", "YELLOW"),
        ("JOIN-17", "BLUE"),
        ("JOIN-17", "YELLOW"),
        ("JOIN-17", "RED"),
        ("MTG-05", "YELLOW"),
        ("MTG-05", "BLUE"),
        ("MTG-05", "RED"),
    ]:
        assert rules[(rule, colour)], (rule, colour, text)
    rejected = {o.receipt["rule_id"] for o in report.outcomes if o.receipt.get("status") == "REJECTED"}
    assert rejected == {"DUP-02", "MAT-01", "MTG-02", "XFER-01"}
    families = {o.tx.family for o in report.outcomes}
    assert families >= {"org", "user", "archive", "material", "join", "meeting", "transfer", "decision"}
    assert "what to try" in text and "alerts on the ledger" in text
    for name in ("cn.gs.operator", "cn.gs.lz.cg.b001.operator", "cn.gs.lz.ql.admin"):
        path = net.directory / "keys" / "users" / f"{name}.key"
        assert path.stat().st_mode & 0o777 == 0o600
    assert (net.directory / "keys" / "orgs" / "cn.gs.lz.ql.x25519.key").exists()


def test_a_second_seed_sends_nothing(net: Net) -> None:
    import subprocess
    import sys

    lines: list[str] = []
    again = seed(net.directory, echo=lines.append)
    assert again.already and again.ok and not again.outcomes
    assert "already seeded" in lines[0]
    assert again.alert_counts() == net.report.alert_counts()
    cli = subprocess.run(
        [sys.executable, "-m", "node.cli", "dev", "seed", "--dir", str(net.directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0 and "already seeded" in cli.stdout, cli.stdout + cli.stderr


# ------------------------------------------------------------------------------------ submit
TYPES = {
    "archive": "archive.create",
    "material": "material.register",
    "join": "join.step",
    "meeting": "meeting.record",
    "decision": "decision.record",
    "transfer": "transfer.out",
    "org": "user.register",
    "alert": "alert.ack",
    "config": "calendar.set",
}


def test_one_transaction_of_each_family_gets_a_verified_receipt(net: Net) -> None:
    day = yesterday()
    pk = secrets.token_bytes(32)
    uid = secrets.token_hex(3)
    done = {}
    with net.client(28005, "users/cn.gs.lz.cg.b001.operator.key") as branch:
        done["archive"] = branch.submit(
            b.ArchiveCreate(person_key=pk, key_version=1, id_check_ok=True, birth_date="1993-07-01")
        )
        app = b.MaterialRegister(
            doc_id=f"t/{uid}/APPLICATION",
            doc_version=1,
            doc_type="APPLICATION",
            subject_keys=[pk],
            content_hash=secrets.token_bytes(32),
            doc_date=day,
            issuer_org_id=B001,
        )
        done["material"] = branch.submit(app)
        done["join"] = branch.submit(
            b.JoinStep(
                pipeline_id=f"t/{uid}",
                person_key=pk,
                step="S01",
                event_date=day,
                doc_refs=[app.doc_id],
                extra={"received_date": day},
            )
        )
        start = int(datetime.fromisoformat(f"{day}T15:00:00+08:00").timestamp() * 1000)
        done["meeting"] = branch.submit(
            b.MeetingRecord(
                meeting_id=f"t/{uid}/m",
                meeting_type="PARTY_LESSON",
                start=start,
                end=start + 3_600_000,
                location_code="ROOM-T",
                minutes_content_hash=secrets.token_bytes(32),
                minutes_text_hash=secrets.token_bytes(32),
            )
        )
        done["decision"] = branch.submit(
            b.DecisionRecord(
                decision_id=f"t/{uid}/d",
                decision_body="BRANCH_COMMITTEE",
                decision_mode="CIRCULATION",
                category="OTHER",
                item_seq=1,
                amount_fen=5_000,
                result="PASSED",
                effective_date=day,
            )
        )
    with net.client(28005, "users/cn.gs.lz.cg.b003.operator.key") as b003:
        done["transfer"] = b003.submit(
            b.TransferOut(
                transfer_id=f"T-{uid}",
                person_key=person(f"{B003}-m01"),
                member_status="FULL",
                from_org_id=B003,
                to_org_id=B002,
                issue_date=day,
                valid_until=(datetime.fromisoformat(day) + timedelta(days=60)).date(),
                reason="JOB_CHANGE",
            )
        )
    with net.client(28005, "users/cn.gs.lz.cg.b001.operator.key") as branch:
        bundle = branch.bundle(done["decision"].tx_id)
    with net.client(28004, "admins/cn.gs.lz.cg.key") as county:
        done["org"] = county.submit(
            b.UserRegister(
                user_id=f"t-{uid}", org_id=B002, pubkey=SigningKey.generate().public, roles=["operator"]
            )
        )
        open_alert = next(county.alerts(org_id=B002, status="OPEN", colour="BLUE"))
        done["alert"] = county.submit(b.AlertAck(alert_id=open_alert.id, note="seen by the county"))
    with net.client(28001, "admins/cn.key") as central:
        year = datetime.now(CST).year + 3
        done["config"] = central.submit(
            b.CalendarSet(year=year, holidays=[f"{year}-10-01"], reason="national holidays")
        )
    for family, c in done.items():
        assert c.accepted and c.receipt_verified, family
        assert c.certificate.height == c.height == c.header.height, family
        assert c.proof.root_header is not None and c.proof.tx is not None, family
        assert c.proof.tx.body.tx_type == TYPES[family], family
    checked = check_bundle(bundle, genesis=load_genesis(net.directory / "genesis.json"))
    assert checked.verified.tx_id == done["decision"].tx_id


def test_a_rejection_names_its_rule_and_the_async_client_submits_concurrently(net: Net) -> None:
    day = yesterday()
    with (
        net.client(28005, "users/cn.gs.lz.cg.b001.operator.key") as branch,
        pytest.raises(TxRejectedError) as err,
    ):
        branch.submit(
            b.TransferIn(
                transfer_id="NO-SUCH-LETTER",
                person_key=person(f"{B002}-m01"),
                to_org_id=B001,
                report_date=day,
                accepted=True,
            )
        )
    assert err.value.rule_id == "XFER-01" and err.value.height > 0

    async def main() -> list[Any]:
        async with AsyncLedgerClient(
            net.url(28006), net.directory / "genesis.json", key=net.key("users/cn.gs.lz.cg.b002.operator.key")
        ) as client:
            txs = [
                await client.sign(
                    b.MaterialRegister(
                        doc_id=f"async/{secrets.token_hex(4)}",
                        doc_version=1,
                        doc_type="OTHER",
                        subject_keys=[],
                        content_hash=secrets.token_bytes(32),
                        doc_date=day,
                        issuer_org_id=B002,
                    )
                )
                for _ in range(6)
            ]
            return await client.submit_many(txs)

    results = asyncio.run(main())
    assert len(results) == 6 and all(getattr(r, "receipt_verified", False) for r in results), results


# ------------------------------------------------------------------------------------ events
def _collect(client: LedgerClient, after: int, until: int, out: list[Event], timeout_s: float = 20) -> None:
    for ev in client.events(after_height=after, timeout_s=timeout_s):
        out.append(ev)
        if ev.kind == "block" and ev.height >= until:
            return


def test_events_arrive_in_order_and_resume_after_a_reconnect(net: Net) -> None:
    end = net.report.end_height
    with net.client(28001, "admins/cn.key") as root:
        first: list[Event] = []
        for ev in root.events(after_height=end - 40, timeout_s=20):
            first.append(ev)
            if ev.kind == "block" and ev.height == end - 20:
                break  # the connection closes here
        resumed: list[Event] = []
        _collect(root, end - 20, end, resumed)
    blocks = [e.height for e in first + resumed if e.kind == "block"]
    assert blocks == list(range(end - 39, end + 1))
    assert all(e.header is not None and e.certificate is not None for e in first if e.kind == "block")
    heights = [e.height for e in first + resumed]
    assert heights == sorted(heights)
    ids = [e.alert_id for e in first + resumed if e.kind == "alert"]
    assert len(ids) == len(set(ids))


def test_events_are_scoped_to_the_callers_subtree(net: Net) -> None:
    with net.client(28001, "admins/cn.key") as root:
        h0 = int(root.status()["height"])
    streams: dict[str, list[Event]] = {"b001": [], "b002": [], "root": []}
    clients = {
        "b001": net.client(28005, "users/cn.gs.lz.cg.b001.operator.key"),
        "b002": net.client(28006, "users/cn.gs.lz.cg.b002.operator.key"),
        "root": net.client(28003, "admins/cn.key"),
    }
    target: dict[str, int] = {}
    threads = []
    for name, client in clients.items():

        def follow(client: LedgerClient = client, out: list[Event] = streams[name]) -> None:
            deadline = time.monotonic() + 30
            for ev in client.events(after_height=h0, timeout_s=30):
                out.append(ev)
                # past the last submission's block: its alerts (sent with or after its block) are in
                if "end" in target and ev.kind == "block" and ev.height > target["end"]:
                    return
                if time.monotonic() > deadline:
                    return

        threads.append(threading.Thread(target=follow, daemon=True))
    for t in threads:
        t.start()
    old = (datetime.now(CST).date() - timedelta(days=90)).isoformat()
    raised = {}
    heights: list[int] = []
    for name, port, org in (("b001", 28005, B001), ("b002", 28006, B002)):
        with net.client(port, f"users/{org}.operator.key") as c:
            done = c.submit(
                b.MaterialRegister(
                    doc_id=f"late/{secrets.token_hex(4)}",
                    doc_version=1,
                    doc_type="OTHER",
                    subject_keys=[],
                    content_hash=secrets.token_bytes(32),
                    doc_date=old,
                    issuer_org_id=org,
                )
            )
            raised[name] = done.alerts[0]["alert_id"]
            heights.append(done.height)
    target["end"] = max(heights)  # only now: a follower must not stop before the second submission
    for t in threads:
        t.join(40)
    for c in clients.values():
        c.close()
    seen = {name: {e.alert_id for e in evs if e.kind == "alert"} for name, evs in streams.items()}
    assert raised["b001"] in seen["b001"] and raised["b002"] not in seen["b001"]
    assert raised["b002"] in seen["b002"] and raised["b001"] not in seen["b002"]
    assert {raised["b001"], raised["b002"]} <= seen["root"]
    orgs = {e.data["org_id"] for e in streams["b001"] if e.kind == "alert"}
    assert orgs <= {B001}, orgs
    for evs in streams.values():
        blocks = [e.height for e in evs if e.kind == "block"]
        assert blocks == list(range(h0 + 1, h0 + 1 + len(blocks))) and blocks[-1] >= target["end"]


# ------------------------------------------------------------------------------------ docs/sdk.md
def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


def test_the_examples_of_docs_sdk_md_run(net: Net, tmp_path: Path) -> None:
    blocks = python_blocks((ROOT / "docs" / "sdk.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    (tmp_path / ".devnet").symlink_to(net.directory)

    def local(match: re.Match[str]) -> str:
        return f"127.0.0.1:{net.ports[int(match[1])]}"

    namespace: dict[str, Any] = {"__name__": "docs_sdk"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for i, block in enumerate(blocks):
            code = re.sub(r"127\.0\.0\.1:(280\d\d)", local, block)
            try:
                exec(compile(code, f"docs/sdk.md python block {i + 1}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"docs/sdk.md python block {i + 1} failed:\n{block}") from exc
    finally:
        os.chdir(cwd)


def test_the_event_stream_refuses_bad_requests_and_too_many_streams(net: Net) -> None:
    import contextlib

    import httpx

    from client_sdk.auth import LedgerAuth, RequestSigner

    genesis = load_genesis(net.directory / "genesis.json")
    url = net.url(28003)
    auth = LedgerAuth(RequestSigner(net.key("users/cn.gs.lz.operator.key"), genesis.chain_id))
    assert httpx.get(f"{url}/v1/events", timeout=5).json()["error"]["code"] == "auth_required"
    with httpx.Client(base_url=url, auth=auth, timeout=5) as http:
        for params, headers in (
            ({"after_height": "-1"}, {}),
            ({"kinds": "everything"}, {}),
            ({}, {"last-event-id": "yesterday"}),
        ):
            r = http.get("/v1/events", params=params, headers=headers)
            assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text
        with contextlib.ExitStack() as streams:
            lines = []  # keep each stream's line iterator: dropping it closes the stream
            for _ in range(4):
                resp = streams.enter_context(http.stream("GET", "/v1/events"))
                assert resp.headers["content-type"].startswith("text/event-stream")
                lines.append(resp.iter_lines())
                assert resp.status_code == 200 and next(lines[-1]).startswith(":")
            busy = http.get("/v1/events")
            assert busy.status_code == 429 and busy.json()["error"]["code"] == "busy"
        deadline = time.monotonic() + 10  # closed streams free their places
        while True:
            with http.stream("GET", "/v1/events") as resp:
                if resp.status_code == 200:
                    break
            assert time.monotonic() < deadline, "closed streams were not released"
            time.sleep(0.2)


def test_dev_load_on_a_seeded_network_checks_only_its_own_transactions(net: Net) -> None:
    """Issue 18.11: `dev load` exited 1 on any chain holding transactions it did not send (the
    seed's, the nodes' access anchors); it judges its own now, and says what else it saw."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "dev", "load", "--dir", str(net.directory), "--txs", "60"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "this run did not send" in result.stdout and "committed=60" in result.stdout


# ------------------------------------------------------------------------------------ tampering (issue 16)
def _b001_archive(net: Net, n: int = 0) -> Any:
    with net.client(28006, "users/cn.gs.lz.cg.b001.operator.key") as branch:
        return [r for r in branch.records("archive", org_id=B001) if r.status == "FULL"][n]


def test_an_edited_index_row_is_refused_by_the_node_and_never_returned(net: Net) -> None:
    member = _b001_archive(net)
    body = {**member.record, "birth_date": tamper.EDITED_DAY}
    before = tamper.inconsistent_rows(net.url(28006))
    with tamper.index(net.directory) as db:
        db.execute(
            "UPDATE ol_record SET body = ? WHERE state_key = ?",
            (json.dumps(body, sort_keys=True, separators=(",", ":")), member.state_key),
        )
    with net.client(28006, "users/cn.gs.lz.cg.b001.operator.key", timeout_s=5) as branch:
        listed = [r for r in branch.records("archive", status="FULL") if r.id == member.id]  # an index page
        history = branch.member_history(member.id).of("archive")
    assert [r.record["birth_date"] for r in listed + history] == [member.record["birth_date"]] * 2
    assert all(r.proven_height is not None for r in listed + history)
    assert tamper.inconsistent_rows(net.url(28006)) > before  # the node noticed, refused and repaired
    with tamper.index(net.directory) as db:
        (stored,) = db.execute(
            "SELECT body FROM ol_record WHERE state_key = ?", (member.state_key,)
        ).fetchone()
    assert json.loads(stored)["birth_date"] == member.record["birth_date"]


def test_a_deleted_red_alert_row_cannot_hide_it_from_a_complete_list(net: Net) -> None:
    with net.client(28006, "users/cn.gs.operator.key", timeout_s=5) as province:
        red = next(a for a in province.alerts() if a.colour == "RED")
        with tamper.index(net.directory) as db:
            cols = [c[1] for c in db.execute("PRAGMA table_info(ol_record)")]
            row = db.execute("SELECT * FROM ol_record WHERE state_key = ?", (red.state_key,)).fetchone()
            db.execute("DELETE FROM ol_record WHERE state_key = ?", (red.state_key,))
        try:
            filtered = province.page("alert", colour="RED", limit=500)  # the index's: proven per item
            assert not filtered.complete and red.id not in {a.id for a in filtered.items}
            complete = province.page("alert", org_id=red.org_id, limit=500)  # the state's org index
            assert complete.complete and red.id in {a.id for a in complete.items}
            assert red.id in {a.id for a in province.alerts()} and province.alert(red.id) == red
        finally:
            with tamper.index(net.directory) as db:
                marks = ", ".join("?" * len(cols))
                db.execute(f"INSERT OR REPLACE INTO ol_record ({', '.join(cols)}) VALUES ({marks})", row)


def test_a_sibling_archive_moved_into_the_branch_is_never_returned_to_it(net: Net) -> None:
    with net.client(28006, "users/cn.gs.lz.cg.b002.operator.key") as b002:
        theirs = next(r for r in b002.records("archive", org_id=B002) if r.status == "FULL")
    move = "UPDATE ol_record SET org_id = ? WHERE state_key = ?"
    with tamper.index(net.directory) as db:
        db.execute(move, (B001, theirs.state_key))
    with net.client(28006, "users/cn.gs.lz.cg.b001.operator.key", timeout_s=5) as branch:
        assert theirs.id not in {r.id for r in branch.records("archive", status="FULL")}
        assert theirs.id not in {r.id for r in branch.records("archive")}
        assert branch.record("archive", theirs.id) is None
        with tamper.index(net.directory) as db:  # moved again (the node repaired it), for the history
            db.execute(move, (B001, theirs.state_key))
        with pytest.raises(NotFoundError):
            branch.member_history(theirs.id)


@pytest.mark.parametrize("leaf_only", [False, True], ids=["entry and map leaf", "map leaf only"])
def test_an_edited_leveldb_state_entry_is_never_returned(net: Net, leaf_only: bool) -> None:
    member = _b001_archive(net, 1)
    with tamper.tampered(net.directory, tamper.edit_state(member.state_key.encode(), leaf_only)) as refused:
        if not leaf_only:  # the start-up check scans the flat state entries
            assert refused is not None and "storage_corrupt" in refused, refused
        with net.client(28006, "users/cn.gs.lz.cg.b001.operator.key", timeout_s=3) as branch:
            seen = {
                "record": tamper.never_edited(lambda: branch.archive(member.id).record["birth_date"]),
                "complete list": tamper.never_edited(
                    lambda: next(r for r in branch.records("archive") if r.id == member.id).record[
                        "birth_date"
                    ]
                ),
                "history": tamper.never_edited(
                    lambda: branch.member_history(member.id).of("archive")[0].record["birth_date"]
                ),
            }
    refusals = {"UnavailableError:storage_corrupt", "UnavailableError:index_inconsistent"}
    assert set(seen.values()) <= {member.record["birth_date"], *refusals}, seen
    assert refusals & set(seen.values()), seen  # the node's own proof check refused to serve it


def test_an_edited_old_block_is_never_returned(net: Net) -> None:
    """The node may serve the edited block (the SDK's certificate and proof checks refuse it) or
    refuse it itself (503 storage_corrupt); the SDK never returns it."""
    with net.client(28006, "admins/cn.key", timeout_s=3) as root:
        height = next(h for h in range(2, 100) if root.block(h)[0].txs)
        block, _ = root.block(height)
    tx_id = SignedTransaction.decode(block.txs[0]).tx_id
    with (
        tamper.tampered(net.directory, lambda data: tamper_block(data, height, decodable=True)) as refused,
        net.client(28006, "admins/cn.key", timeout_s=3) as root,
        net.client(28006, "admins/cn.key", timeout_s=3, verify_reads=False) as trusting,
    ):
        seen = {
            "block": tamper.refusal(lambda: root.block(height)),
            "tx": tamper.refusal(lambda: root.tx(tx_id)),
        }
        try:
            answer = trusting.tx(tx_id)  # what taking the node's word means
        except UnavailableError as exc:
            answer = None
            assert exc.code == "storage_corrupt", exc
    assert refused is None or "storage_corrupt" in refused
    assert set(seen.values()) <= {
        "VerificationError:verification_failed",
        "UnavailableError:storage_corrupt",
    }, seen
    assert answer is None or (not answer["verified"] and answer["tx_bytes"] != block.txs[0].hex())
