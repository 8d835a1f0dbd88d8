"""The newcomer's rough edges (issue 20, point 7), each as a new operator meets it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.cli import cli
from node.dev.devnet import commands
from tests.support.cluster import ORGS, Cluster, free_ports

pytestmark = pytest.mark.integration
PAYLOAD = json.dumps(
    {"person_key": "ab" * 32, "key_version": 1, "id_check_ok": True, "birth_date": "1990-05-01"}
)


def _orgledger(*args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, timeout=timeout
    )
    return done, time.monotonic() - started


def test_tx_submit_fails_fast_where_nothing_listens_and_reports_a_rejection_at_once(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "c", validators=1, observers=0, proxies=False)
    try:
        branch, other = ORGS[-2][0], ORGS[-1][0]
        key = c.net / "keys" / "admins" / f"{other}.key"
        common = ["--genesis", str(c.net / "genesis.json"), "--key", str(key), "--type", "archive.create"]
        port = free_ports(1)[0]
        nobody, took = _orgledger(
            "tx", "submit", "--node", f"http://127.0.0.1:{port}", *common, "--payload", PAYLOAD
        )
        assert nobody.returncode == 1 and "no node answers" in nobody.stderr, nobody.stderr
        assert took < 10

        c.start_all()
        # an admin of one branch acting for another branch: admitted, then rejected by the contracts
        done, took = _orgledger(
            "tx",
            "submit",
            "--node",
            c.url("v0"),
            *common,
            "--org",
            branch,
            "--payload",
            PAYLOAD,
            "--timeout",
            "60",
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "rejected at height" in done.stderr
        assert took < 25, f"a rejection must be reported at once, took {took:.1f}s"
    finally:
        c.close()


def test_a_file_that_is_not_a_key_is_named_as_such_before_any_chmod_advice(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    os.chmod(text, 0o644)
    result = CliRunner().invoke(
        cli,
        [
            "api",
            "get",
            "/v1/status",
            "--node",
            "http://127.0.0.1:1",
            "--key",
            str(text),
            "--genesis",
            str(text),
        ],
    )
    assert result.exit_code == 1
    assert "not a key file" in result.output or "not valid JSON" in result.output, result.output
    from wire.errors import KeyFileError
    from wire.files import load_signing_key

    with pytest.raises(KeyFileError, match="is not a key file"):
        load_signing_key(text)


def test_hints_name_the_commands_as_they_can_be_typed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # as after `make run`: the venv is not on PATH
    monkeypatch.chdir(Path(sys.executable).parent.parent.parent)
    ol, py = commands()
    bindir = Path(sys.executable).parent
    assert Path(ol).absolute() == (bindir / "orgledger").absolute() and ol != "orgledger"
    assert Path(py).absolute() == (bindir / "python").absolute()
    monkeypatch.setenv("PATH", str(bindir))
    assert commands()[0] == "orgledger"


def test_dev_down_says_how_many_nodes_it_stopped(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dev", "down", "--dir", str(tmp_path / "none")])
    assert result.exit_code == 0 and "stopped 0 node(s)" in result.output


def test_tx_types_shows_field_types() -> None:
    result = CliRunner().invoke(cli, ["tx", "types"])
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("archive.create "))
    assert "person_key: hex32" in line and "birth_date: date" in line and "gender?: MALE|FEMALE|OTHER" in line
