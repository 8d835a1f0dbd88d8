"""`orgledger tx submit` checks a payload locally before anything is sent (issue 18.6): a personal
number in a clear field exits 2 with the reason code that says to seal the field."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from node.cli import cli
from node.dev.netinit import init_network


def test_a_personal_number_in_clear_is_refused_before_sending(tmp_path: Path) -> None:
    genesis = init_network(None, tmp_path / "net").genesis
    branch = next(o.org_id for o in genesis.orgs if o.level == "BRANCH")
    args = [
        "tx",
        "submit",
        "--node",
        "http://127.0.0.1:9",  # nothing listens: the refusal must come before any request
        "--genesis",
        str(tmp_path / "net" / "genesis.json"),
        "--key",
        str(tmp_path / "net" / "keys" / "admins" / f"{branch}.key"),
        "--type",
        "alert.ack",
        "--payload",
        json.dumps({"alert_id": "0" * 32, "note": "his phone: 138 1234 5678"}),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "personal_data_in_clear" in result.output and "seal the field" in result.output
