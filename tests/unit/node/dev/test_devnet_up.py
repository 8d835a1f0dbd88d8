"""`dev up` judges the nodes it just started by their exit status, not by /proc.

Regression: a node that had not exec'd yet still showed the parent's command line in /proc, so
`up` reported "exited during start-up" with an empty log and left the other nodes running (seen as
flaky bench and SDK test start-ups)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from node.dev import devnet
from node.dev.netinit import init_network


@pytest.fixture
def net(tmp_path: Path) -> Path:
    out = tmp_path / "net"
    init_network(None, out)
    return out


Start = Callable[[devnet.NodeProcess, "dict[str, str] | None"], "subprocess.Popen[bytes]"]


def _fake_start(script: str, started: list[subprocess.Popen[bytes]]) -> Start:
    def start(proc: devnet.NodeProcess, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # a child whose command line never names the node's config: what /proc shows before exec
        child = subprocess.Popen([sys.executable, "-c", script])
        proc.pid_file.parent.mkdir(parents=True, exist_ok=True)
        proc.pid_file.write_text(f"{child.pid}\n")
        started.append(child)
        return child

    return start


def test_a_started_node_not_yet_recognisable_in_proc_is_not_called_gone(
    net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    monkeypatch.setattr(devnet, "start_node", _fake_start("import time; time.sleep(30)", started))
    polls = {"n": 0}

    def healthy(url: str, timeout_s: float = 1.0, context: object = None) -> bool:
        polls["n"] += 1
        return polls["n"] > 12  # healthy after a few rounds

    monkeypatch.setattr(devnet, "healthy", healthy)
    try:
        procs = devnet.up(net, timeout_s=20, echo=False)
        assert len(procs) == len(started) == 6
    finally:
        for child in started:
            child.kill()
            child.wait()


def test_a_node_that_exits_at_start_is_reported_with_its_status_and_the_rest_stopped(
    net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    script = "import sys, time; sys.exit(3) if len(sys.argv) == 1 and {} else time.sleep(30)"
    calls = {"n": 0}

    def start(proc: devnet.NodeProcess, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        calls["n"] += 1
        first = calls["n"] == 1
        return _fake_start(script.format(first), started)(proc, env)

    monkeypatch.setattr(devnet, "start_node", start)
    monkeypatch.setattr(devnet, "healthy", lambda url, timeout_s=1.0, context=None: False)
    try:
        with pytest.raises(devnet.DevnetError, match=r"exited during start-up \(status 3\)"):
            devnet.up(net, timeout_s=20, echo=False)
        for child in started[1:]:
            assert child.wait(timeout=10) is not None  # terminated, not left running
    finally:
        for child in started:
            if child.poll() is None:
                child.kill()
            child.wait()
