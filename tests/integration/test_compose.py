"""docker-compose.yml describes a working network (Docker does not run on our machines).

Reads the compose file and starts exactly the commands and environment it describes as local
processes, with each named volume and the image's /app mapped to local directories, honours
`depends_on` (init must complete first), runs each service's own health check, then commits a
workload through the network and checks every node agrees. Shutdown is by SIGTERM, as compose does.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from client_sdk.auth import RequestSigner
from node.dev.loadgen import submit_all, wait_and_check
from node.dev.workload import Workload
from wire.files import load_genesis, load_signing_key

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _mounts(service: dict[str, Any], volumes_root: Path) -> dict[str, Path]:
    mounts = {"/app": ROOT}
    for spec in service.get("volumes", []):
        name, target = spec.split(":")[:2]
        host = volumes_root / name
        host.mkdir(parents=True, exist_ok=True)
        mounts[target] = host
    return mounts


def _translate(arg: str, mounts: dict[str, Path]) -> str:
    # longest container path first, so /network/net/... never matches a shorter mount wrongly
    for target in sorted(mounts, key=len, reverse=True):
        arg = arg.replace(target + "/", str(mounts[target]) + "/")
        if arg == target:
            arg = str(mounts[target])
        arg = arg.replace(" " + target + " ", " " + str(mounts[target]) + " ")
    return arg


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def _healthcheck(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    return [sys.executable if test[1] == "python" else test[1], *test[2:]]


def test_compose_file_starts_a_working_network(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, dict[str, Any]] = compose["services"]
    assert set(compose["volumes"]) >= {
        v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
    }
    node_services = [n for n, s in services.items() if "depends_on" in s]
    assert len(node_services) == 6
    volumes = tmp_path / "volumes"

    init = services["init"]
    mounts = _mounts(init, volumes)
    cmd = [_translate(a, mounts) for a in init["command"]]
    done = subprocess.run(cmd, env=_env(init), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    again = subprocess.run(cmd, env=_env(init), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, "init must be idempotent (compose reruns it)"

    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        for name in node_services:
            svc = services[name]
            assert svc["depends_on"]["init"]["condition"] == "service_completed_successfully"
            m = _mounts(svc, volumes)
            argv = [_translate(a, m) for a in svc["command"]]
            with open(logs / f"{name}.log", "wb") as log:
                procs[name] = subprocess.Popen(argv, env=_env(svc), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        unhealthy = set(node_services)
        while unhealthy and time.monotonic() < deadline:
            for name in sorted(unhealthy):
                assert procs[name].poll() is None, (logs / f"{name}.log").read_text()[-3000:]
                check = subprocess.run(_healthcheck(services[name]), capture_output=True, timeout=10)
                if check.returncode == 0:
                    unhealthy.discard(name)
            time.sleep(0.3)
        assert not unhealthy, f"unhealthy: {unhealthy}"

        net = volumes / "network" / "net"
        genesis = load_genesis(net / "genesis.json")
        urls = [f"http://{n.host}:{n.api_port}" for n in genesis.nodes]
        work = Workload(genesis, net, seed=3)
        now = int(time.time() * 1000)
        ops = asyncio.run(submit_all(urls, [work.next_tx(now) for _ in range(120)], deadline_s=60))
        root = next(o.org_id for o in genesis.orgs if "." not in o.org_id)
        signer = RequestSigner(load_signing_key(net / "keys" / "admins" / f"{root}.key"), genesis.chain_id)
        report = asyncio.run(wait_and_check(urls, ops, signer=signer, timeout_s=60))
        assert report.ok and report.committed == 120, report
        assert all((volumes / f"{n}-data" / "CURRENT").exists() for n in node_services), (
            "data not in the named volume"
        )
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in procs.items():
            try:
                code = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                code = p.wait()
            assert code == 0, (
                f"{name} did not stop cleanly on SIGTERM ({code}): {shlex.join(map(str, p.args))}"
            )
