"""Validator-set changes on real processes (issue 17, tier P).

A dev network (the default five-level topology on free ports) runs a client workload while nodes
are added, removed and re-keyed through the ledger (`orgledger dev add-node / remove-node /
rotate-key`, whose library is `node.dev.nodes`). Then the Jepsen-style check of `node.dev.loadgen`
(lost = 0, agree = true, nothing applied twice), `orgledger audit verify` from genesis across every
epoch, and proof bundles made before and after the changes, checked offline.

The default suite adds one county validator and removes it again under load, and checks the
governance CLI's exit codes; the whole scenario of the issue (add a county validator, remove the
branch validator, rotate the city's key, add an observer) is `@pytest.mark.slow`.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sdk.auth import RequestSigner
from client_sdk.client import LedgerClient
from client_sdk.proofs import check_bundle
from node.dev import devnet
from node.dev.loadgen import Op, Report, submit_all, wait_and_check
from node.dev.netinit import init_network
from node.dev.nodes import add_node, remove_node, rotate_key
from node.dev.topology import DEFAULT_TOPOLOGY
from node.dev.workload import Workload
from tests.support.cluster import free_ports
from wire.files import load_genesis, load_signing_key
from wire.types import SignedTransaction

pytestmark = pytest.mark.integration


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Path]:
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    ports = iter(free_ports(12))
    text = re.sub(r"(p2p_port|api_port) = \d+", lambda m: f"{m.group(1)} = {next(ports)}", text)
    topology = tmp_path / "topology.toml"
    topology.write_text(text, encoding="utf-8")
    directory = tmp_path / "net"
    init_network(topology, directory)
    devnet.up(directory, echo=False)
    try:
        yield directory
    finally:
        devnet.down(directory, echo=False)


def orgledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


class Load(threading.Thread):
    """`dev load` in the background: signed domain transactions to the genesis nodes at a rate."""

    def __init__(self, directory: Path, txs: int, rate: float, seed: int) -> None:
        super().__init__(daemon=True)
        genesis = load_genesis(directory / "genesis.json")
        work = Workload(genesis, directory, seed=seed)
        now = int(time.time() * 1000)
        self.txs = [work.next_tx(now) for _ in range(txs)]
        self.urls = [f"http://{n.host}:{n.api_port}" for n in genesis.nodes]
        self.rate = rate
        self.ops: list[Op] = []
        self.start()

    def run(self) -> None:
        self.ops = asyncio.run(submit_all(self.urls, self.txs, rate=self.rate, deadline_s=300))

    def check(self, directory: Path) -> Report:
        self.join(timeout=400)
        genesis = load_genesis(directory / "genesis.json")
        signer = RequestSigner(load_signing_key(directory / "keys" / "admins" / "cn.key"), genesis.chain_id)
        report = asyncio.run(wait_and_check(self.urls, self.ops, signer=signer, timeout_s=180))
        assert report.lost == 0 and report.agree, report
        assert report.duplicated == 0 and report.failed_present == 0, report
        assert report.committed + report.rejected == len(self.ops), report
        # what the load did not send: governance, the bundle's transaction, access-log anchors
        ours = {op.tx.tx_id for op in self.ops}
        with _client(directory, org="cn") as client:  # whole blocks: a root-org admin
            top = client.status()["height"]
            others = {
                tx.body.tx_type
                for h in range(1, top + 1)
                for tx in map(SignedTransaction.decode, client.block(h)[0].txs)
                if tx.tx_id not in ours
            }
        assert others <= {"node.propose", "node.approve", "archive.create", "access.anchor"}, others
        assert report.unexpected >= 2, report
        return report


def _client(directory: Path, port_of: str = "central", org: str = "cn.gs.lz.cg.b001") -> LedgerClient:
    genesis = load_genesis(directory / "genesis.json")
    node = next(n for n in genesis.nodes if n.node_id == port_of)
    return LedgerClient(
        f"http://{node.host}:{node.api_port}",
        genesis,
        key=directory / "keys" / "admins" / f"{org}.key",
        timeout_s=30,
    )


def _bundle_before(directory: Path) -> bytes:
    """A proof bundle of a transaction committed before any set change."""
    from client_sdk import builders as b

    with _client(directory, "branch") as client:
        done = client.submit(
            b.ArchiveCreate(
                person_key=bytes(range(32)), key_version=1, id_check_ok=True, birth_date="1990-05-01"
            )
        )
        return client.bundle(done.tx_id, timeout_s=60)


def _audit(directory: Path, node: str) -> None:
    genesis = load_genesis(directory / "genesis.json")
    spec = next(n for n in genesis.nodes if n.node_id == node)
    done = orgledger(
        "audit",
        "verify",
        "--node",
        f"http://{spec.host}:{spec.api_port}",
        "--genesis",
        str(directory / "genesis.json"),
        "--key",
        str(directory / "keys" / "admins" / "cn.key"),
    )
    assert done.returncode == 0 and "audit OK" in done.stdout, done.stdout + done.stderr


def test_a_county_validator_joins_and_leaves_under_load(net: Path) -> None:
    before = _bundle_before(net)
    load = Load(net, txs=400, rate=40, seed=3)
    added = add_node(net, "cn.gs.lz.cg", "validator", timeout_s=240, echo=lambda _: None)
    assert added.validators == 6
    with _client(net) as client:
        status = client.status()
        assert status["validators"] == 6 and status["epoch"] >= added.effective_height
        header, _cert = client.header(client.status()["height"])  # verified across the epoch
        assert header.validators_hash == client.anchor.validators_at(header.height).hash
    # the governance CLI: listing, refusals and the pre-flight check of addresses
    shown = orgledger(
        "governance", "show", added.proposal_id, "--node", client.url, "--genesis", str(net / "genesis.json")
    )
    assert shown.returncode == 0 and "EXECUTED" in shown.stdout, shown.stderr
    listed = orgledger("governance", "list", "--node", client.url, "--genesis", str(net / "genesis.json"))
    assert added.proposal_id in listed.stdout
    offline = orgledger(
        "governance",
        "propose",
        "node-add",
        "--node",
        client.url,
        "--genesis",
        str(net / "genesis.json"),
        "--key",
        str(net / "keys" / "admins" / "cn.gs.lz.cg.key"),
        "--node-id",
        "nowhere",
        "--org",
        "cn.gs.lz.cg",
        "--role",
        "observer",
        "--pubkey",
        "ab" * 32,
        "--host",
        "127.0.0.1",
        "--p2p-port",
        "1",
        "--api-port",
        "2",
        "--reason",
        "test",
    )
    assert offline.returncode == 3 and "unreachable_address" in offline.stderr, offline.stderr
    refused = orgledger(
        "governance",
        "approve",
        added.proposal_id,
        "--node",
        client.url,
        "--genesis",
        str(net / "genesis.json"),
        "--key",
        str(net / "keys" / "admins" / "cn.key"),
    )
    assert refused.returncode == 2 and "proposal_closed" in refused.stderr, refused.stderr
    removed = remove_node(net, added.node_id, timeout_s=240, echo=lambda _: None)
    assert removed.validators == 5
    load.check(net)
    _audit(net, "observer")
    checked = check_bundle(before, genesis=load_genesis(net / "genesis.json"))
    assert checked.verified.receipt is not None


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_network_changes_under_load_and_every_epoch_audits(net: Path) -> None:
    """The issue's scenario: add a county validator, remove the branch validator, rotate the
    city's key and add an observer while the load runs."""
    before = _bundle_before(net)
    load = Load(net, txs=1500, rate=40, seed=4)
    county = add_node(net, "cn.gs.lz.cg", "validator", timeout_s=300, echo=lambda _: None)
    assert county.validators == 6
    gone = remove_node(net, "branch", timeout_s=300, echo=lambda _: None)
    assert gone.validators == 5
    rotated = rotate_key(net, "city", timeout_s=300, echo=lambda _: None)
    observer = add_node(net, "cn.gs.lz.cg.b002", "observer", timeout_s=300, echo=lambda _: None)
    load.check(net)
    _audit(net, "central")
    with _client(net, "county") as client:
        doc = client.validators()
        assert len(client.anchor.epochs) >= 4, doc
        assert [n["status"] for n in doc["nodes"] if n["node_id"] == "branch"] == ["REMOVED"]
        assert rotated.effective_height > gone.effective_height > county.effective_height
        assert any(n["node_id"] == observer.node_id and n["status"] == "ACTIVE" for n in doc["nodes"])
    genesis = load_genesis(net / "genesis.json")
    assert check_bundle(before, genesis=genesis).verified.receipt is not None
    with _client(net, "county") as client:
        from client_sdk import builders as b

        done = client.submit(
            b.ArchiveCreate(
                person_key=bytes(range(1, 33)), key_version=1, id_check_ok=True, birth_date="1991-05-01"
            )
        )
        after = client.bundle(done.tx_id, timeout_s=60)
    assert check_bundle(after, genesis=genesis).anchor.epochs[-1].from_height == rotated.effective_height
