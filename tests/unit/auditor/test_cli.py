"""The commands: `export`, `audit verify`, `audit prove`, `audit check-proof`, their output and exit codes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.archive import ArchiveReader, ArchiveWriter
from node.cli import cli
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain, StoreNode, node_app, serve
from wire.types import SignedTransaction


@pytest.fixture
def url(store: BlockStore, chain: BuiltChain) -> Iterator[str]:
    with StoreNode(store, chain.genesis) as node, serve(node_app(node)) as u:
        yield u


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _genesis(chain: BuiltChain) -> str:
    return str(chain.net / "genesis.json")


def test_export_then_verify_the_archive(url: str, chain: BuiltChain, tmp_path: Path) -> None:
    archive, report = tmp_path / "chain.arc", tmp_path / "report.json"
    code, out = run(
        "export", "--node", url, "--out", str(archive), "--genesis", _genesis(chain), "--no-progress"
    )
    assert code == 0, out
    assert f"exported {chain.height} blocks" in out
    code, out = run("export", "--node", url, "--out", str(archive), "--genesis", _genesis(chain))
    assert code == 1 and "exists" in out
    code, out = run(
        "audit", "verify", "--archive", str(archive), "--genesis", _genesis(chain),
        "--report", str(report), "--no-progress", "--workers", "1",
    )  # fmt: skip
    assert code == 0, out
    assert f"audit OK: chain {chain.genesis.chain_id} verified to height {chain.height}" in out
    doc = json.loads(report.read_text())
    assert doc["ok"] and doc["failure"] is None and doc["blocks"] == chain.height and doc["tx_per_s"] > 0
    assert set(doc["checks"]) >= {"headers", "certificates", "tx_signatures", "replay", "state_roots"}

    data = bytearray(archive.read_bytes())
    block_3 = chain.blocks[2][0].encode()
    pos = bytes(data).index(block_3) + len(block_3) // 2
    data[pos] ^= 0x01
    archive.write_bytes(bytes(data))
    code, out = run(
        "audit", "verify", "--archive", str(archive), "--genesis", _genesis(chain), "--report", str(report)
    )
    assert code == 1 and "audit FAILED at height 3" in out, out
    assert json.loads(report.read_text())["failure"]["height"] == 3


def _verify(archive: Path, chain: BuiltChain, workers: int, report: Path) -> tuple[int, str, dict[str, Any]]:
    code, out = run(
        "audit", "verify", "--archive", str(archive), "--genesis", _genesis(chain),
        "--report", str(report), "--no-progress", "--workers", str(workers),
    )  # fmt: skip
    doc = json.loads(report.read_text())
    return (
        code,
        out,
        {k: v for k, v in doc.items() if k not in ("timings", "tx_per_s", "workers", "segments")},
    )


def test_an_export_with_snapshots_is_audited_in_parallel(url: str, chain: BuiltChain, tmp_path: Path) -> None:
    archive = tmp_path / "chain.arc.gz"
    code, out = run(
        "export", "--node", url, "--out", str(archive), "--genesis", _genesis(chain),
        "--no-progress", "--segments", "3",
    )  # fmt: skip
    assert code == 0, out
    # 8 blocks, exec_lag 2: cut into thirds after blocks 2 and 5 (the exporter's own replay)
    assert "state snapshots after blocks 2, 5" in out
    code, out, one = _verify(archive, chain, 1, tmp_path / "one.json")
    assert code == 0, out
    assert one["checks"]["snapshots"]["passed"] == 2
    code, out, two = _verify(archive, chain, 2, tmp_path / "two.json")
    assert code == 0 and "2 segments replayed in parallel" in out, out
    assert two == one

    # a forged entry in the snapshot after block 5 (where the second segment starts)
    forged = tmp_path / "forged.arc"
    with ArchiveReader(archive) as r:
        w = ArchiveWriter(
            forged, r.genesis(), height=r.header.height, source="t", snapshots=r.header.snapshots
        )
        for b in r.blocks():
            if b.height == 5 and b.state is not None:
                entries = list(b.state)
                entries[len(entries) // 2] = (entries[len(entries) // 2][0], b"forged")
                b = dataclasses.replace(b, state=tuple(entries))
            w.add(b)
        w.finish()
    code, out, one = _verify(forged, chain, 1, tmp_path / "one.json")
    assert code == 1 and "audit FAILED at height 5: snapshots" in out, out
    code, out, two = _verify(forged, chain, 2, tmp_path / "two.json")
    assert code == 1 and "audit FAILED at height 5: snapshots" in out, out
    assert two == one


def test_an_export_has_snapshots_only_where_a_segment_can_start(
    url: str, chain: BuiltChain, tmp_path: Path
) -> None:
    archive = tmp_path / "chain.arc"
    code, out = run(
        "export", "--node", url, "--out", str(archive), "--genesis", _genesis(chain),
        "--no-progress", "--segments", "8",
    )  # fmt: skip
    assert code == 0, out
    # segments of one block cannot certify their start (exec_lag 2): only 2, 3, 4, 5 and 6 qualify
    assert "state snapshots after blocks 2, 3, 4, 5, 6" in out
    code, out = run(
        "export", "--node", url, "--out", str(archive), "--genesis", _genesis(chain),
        "--no-progress", "--segments", "0",
    )  # fmt: skip
    assert code == 2 and "--segments" in out


def test_verify_a_node_and_the_exit_codes(url: str, chain: BuiltChain, tmp_path: Path) -> None:
    code, out = run(
        "audit", "verify", "--node", url, "--genesis", _genesis(chain), "--no-progress", "--workers", "0"
    )
    assert code == 0 and "audit OK" in out, out
    code, out = run("audit", "verify", "--genesis", _genesis(chain))
    assert code == 2 and "exactly one" in out
    code, out = run("audit", "verify", "--node", url, "--archive", "x", "--genesis", _genesis(chain))
    assert code == 2
    code, out = run("audit", "verify", "--node", url, "--genesis", str(tmp_path / "missing.json"))
    assert code == 4 and "error:" in out
    code, out = run(
        "audit", "verify", "--node", "http://127.0.0.1:9", "--genesis", _genesis(chain), "--workers", "0"
    )
    assert code == 4 and "audit incomplete" in out
    code, out = run("audit", "verify", "--archive", str(tmp_path / "nope"), "--genesis", _genesis(chain))
    assert code == 4


def _tx_hex(chain: BuiltChain, height: int, index: int = 0) -> str:
    return SignedTransaction.decode(chain.blocks[height - 1][0].txs[index]).tx_id.hex()


def test_prove_and_check_a_bundle(url: str, chain: BuiltChain, tmp_path: Path) -> None:
    bundle = tmp_path / "tx.bundle"
    tx = _tx_hex(chain, 2, 1)
    code, out = run(
        "audit", "prove", "--node", url, "--tx", tx, "--out", str(bundle), "--genesis", _genesis(chain)
    )
    assert code == 0 and bundle.exists(), out
    code, out = run("audit", "check-proof", str(bundle))
    assert code == 0 and f"bundle OK: transaction {tx}" in out and "compare its hash" in out, out
    code, out = run("audit", "check-proof", str(bundle), "--genesis", _genesis(chain), "--json")
    doc = json.loads(out)
    assert (
        code == 0 and doc["ok"] and doc["genesis_pinned"] and doc["block_height"] == 2 and doc["index"] == 1
    )
    code, out = run("audit", "check-proof", str(bundle), "--genesis-hash", "00" * 32)
    assert code == 1 and "does NOT verify" in out

    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "bad.bundle").write_bytes(bytes(data))
    code, out = run("audit", "check-proof", str(tmp_path / "bad.bundle"))
    assert code == 1 and "does NOT verify" in out
    code, out = run("audit", "check-proof", str(tmp_path / "none.bundle"))
    assert code == 1 and "cannot read" in out


def test_prove_refuses_what_it_cannot_prove(url: str, chain: BuiltChain, tmp_path: Path) -> None:
    out_file = tmp_path / "tx.bundle"
    last = _tx_hex(chain, chain.height)
    code, out = run(
        "audit",
        "prove",
        "--node",
        url,
        "--tx",
        last,
        "--out",
        str(out_file),
        "--genesis",
        _genesis(chain),
        "--wait",
        "0",
    )
    assert code == 1 and "not provable yet" in out and not out_file.exists()
    code, out = run(
        "audit",
        "prove",
        "--node",
        url,
        "--tx",
        "00" * 32,
        "--out",
        str(out_file),
        "--genesis",
        _genesis(chain),
    )
    assert code == 1 and "404" in out
    code, out = run(
        "audit", "prove", "--node", url, "--tx", "zz", "--out", str(out_file), "--genesis", _genesis(chain)
    )
    assert code == 2
