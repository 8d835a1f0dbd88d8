"""`orgledger audit access --dir`: the chain of a log copy, the org and date filters, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auditor.access import concerns, parse_since
from contracts.testing import make_genesis
from node.cli import cli
from node.privacy.accesslog import AccessLog


def _log(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    lg = AccessLog(data / "accesslog", "v0")
    lg.append(
        {
            "at_ms": parse_since("2025-05-01"),
            "outcome": "read",
            "caller": {"org_id": "cn.p1"},
            "ids": ["a"],
            "orgs": ["cn.p1.c1.x1.b1"],
            "what": "archive",
        }
    )
    lg.close_segment()
    lg.append(
        {
            "at_ms": parse_since("2025-05-03"),
            "outcome": "denied",
            "caller": {"org_id": "cn.p2"},
            "ids": ["b"],
            "orgs": ["cn.p1.c1.x1.b2"],
            "what": "attempt",
        }
    )
    lg.close()
    return data


def test_filters() -> None:
    line = {"caller": {"org_id": "cn.p2"}, "orgs": ["cn.p1.c1.x1.b2"], "ids": ["b"]}
    assert concerns(line, "cn.p2") and concerns(line, "cn.p1.c1") and concerns(line, None)
    assert not concerns(line, "cn.p1.c1.x1.b1")
    listing = {"caller": {"org_id": "cn.p1"}, "orgs": [], "ids": ["a", "b"]}
    assert concerns(listing, "cn.p1.c1.x1.b1") and concerns(listing, "cn") and not concerns(listing, "cn.p2")
    assert parse_since("2025-05-01") == parse_since("2025-04-30T16:00:00+00:00")


def test_dir_only_verifies_the_chain_but_says_the_anchors_were_not_checked(tmp_path: Path) -> None:
    data = _log(tmp_path)
    genesis = tmp_path / "genesis.json"
    genesis.write_text(make_genesis().dumps())
    runner = CliRunner()
    base = ["audit", "access", "--dir", str(data), "--genesis", str(genesis)]
    strict = runner.invoke(cli, base)
    assert strict.exit_code == 1 and "anchors were not checked" in strict.output
    ok = runner.invoke(cli, [*base, "--allow-unanchored", "--org", "cn.p1.c1.x1.b2", "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["ok"] and [line["outcome"] for line in doc["lines"]] == ["denied"] and doc["unanchored"] == [1]
    since = runner.invoke(cli, [*base, "--allow-unanchored", "--since", "2025-05-02"])
    assert since.exit_code == 0 and "1 of 2 lines shown" in since.output
    seg = data / "accesslog" / "00000001.jsonl"
    seg.write_text(seg.read_text().replace('"a"', '"z"'))
    bad = runner.invoke(cli, [*base, "--allow-unanchored"])
    assert bad.exit_code == 1 and "does NOT verify" in bad.output and "segment 1" in bad.output
    assert runner.invoke(cli, ["audit", "access", "--genesis", str(genesis)]).exit_code == 2
