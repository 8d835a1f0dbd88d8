"""docker-compose.yml describes a working network, in the container layout (no Docker engine here).

Reads the compose file and starts exactly the commands, environment, users and mounts it
describes as local processes, laid out as the containers see them:

- every named volume is a directory under a root-owned parent (as `/` is root-owned in a
  container), initialised as Docker does from the image: owned by the image's user (uid 10001);
- each service runs as its compose `user` (init as root) or the image's non-root user, through
  `setpriv` (the test runs as root, as CI does; elsewhere it skips);
- `:ro` mounts are made read-only for the node (no write bit) once init has filled them;
- `$$` in commands is compose's escape for `$`.

It honours `depends_on` (init must complete, twice: compose reruns it), checks each node container
mounts only its own node volume and its data volume (no admin key, no org key, no other node's
key), runs each service's own health check (`/readyz`), commits a workload, checks every node
agrees and answers a list query with 200 (the read index lives in the data volume: with the old
default beside it, `/` in a container, every list answered 503 `index_unavailable`). Shutdown is
by SIGTERM, as compose does.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from client_sdk.auth import LedgerAuth, RequestSigner
from node.dev.loadgen import submit_all, wait_and_check
from node.dev.workload import Workload
from wire.files import load_genesis, load_signing_key

ROOT = Path(__file__).resolve().parents[2]
IMAGE_UID = 10001  # the Dockerfile's `useradd --uid 10001 orgledger`
pytestmark = pytest.mark.integration
NODE_FILES = {"genesis.json", "node.toml", "node.key", "person_key.secret"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture
def container_root() -> Iterator[Path]:
    """A root-owned directory tree the non-root user can traverse but not write (like `/`)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the containers' non-root user")
    base = Path(tempfile.mkdtemp(prefix="orgledger-compose-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _volume(volumes: Path, name: str) -> Path:
    path = volumes / name
    if not path.exists():
        path.mkdir()
        os.chown(path, IMAGE_UID, IMAGE_UID)  # Docker copies the image directory's owner
    return path


def _mounts(service: dict[str, Any], volumes: Path) -> dict[str, tuple[Path, bool]]:
    """container path -> (host directory, read-only)."""
    mounts = {"/app": (ROOT, True)}
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        mounts[parts[1]] = (_volume(volumes, parts[0]), len(parts) > 2 and parts[2] == "ro")
    return mounts


def _filesystem(name: str, mounts: dict[str, tuple[Path, bool]], root: Path) -> Path:
    """The service's view of `/`: a root-owned tree whose mount points link to the volumes."""
    fs = root / "fs" / name
    for target, (host, _) in mounts.items():
        link = fs / target.lstrip("/")
        link.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(host, target_is_directory=True)
    return fs


def _translate(text: str, mounts: dict[str, tuple[Path, bool]], fs: Path) -> str:
    """Container paths in `text` as paths under the service's `fs`."""
    text = text.replace("$$", "$")  # compose's escape
    for top in sorted({"/" + t.strip("/").split("/")[0] for t in mounts}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(top)}(?=/|$|\s|\")", str(fs) + top, text)
    return text


def _user(service: dict[str, Any]) -> list[str]:
    uid = int(str(service.get("user", IMAGE_UID)).split(":")[0])
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def _env(service: dict[str, Any], mounts: dict[str, tuple[Path, bool]], fs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGLEDGER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env["HOME"] = "/nonexistent"  # the container's user has no writable home either
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update({k: _translate(str(v), mounts, fs) for k, v in (service.get("environment") or {}).items()})
    return env


def _make_read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _healthcheck(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert "/readyz" in " ".join(test), "compose must route traffic by readiness, not liveness"
    return [sys.executable if test[1] == "python" else test[1], *test[2:]]


def test_each_node_container_mounts_only_its_own_node_volume_and_data() -> None:
    services = _compose()["services"]
    nodes = [n for n, s in services.items() if "depends_on" in s]
    assert len(nodes) == 6
    for name in nodes:
        volumes = {v.split(":")[0]: v for v in services[name]["volumes"]}
        assert volumes == {f"{name}-node": f"{name}-node:/node:ro", f"{name}-data": f"{name}-data:/data"}
        assert "user" not in services[name], "nodes run as the image's non-root user"
    holders = [n for n, s in services.items() if any(v.startswith("network:") for v in s.get("volumes", []))]
    assert holders == ["init"], "only init sees the admin and org keys"


def test_compose_file_starts_a_working_network(container_root: Path) -> None:
    compose = _compose()
    services: dict[str, dict[str, Any]] = compose["services"]
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert set(compose["volumes"]) >= {v for v in named if not v.startswith((".", "/"))}
    node_services = [n for n, s in services.items() if "depends_on" in s]
    volumes = container_root / "volumes"
    volumes.mkdir(mode=0o755)
    logs = container_root / "logs"
    logs.mkdir(mode=0o777)

    init = services["init"]
    mounts = _mounts(init, volumes)
    fs = _filesystem("init", mounts, container_root)
    cmd = [*_user(init), *(_translate(a, mounts, fs) for a in init["command"])]
    for attempt in ("first run", "rerun (compose reruns init)"):
        done = subprocess.run(cmd, env=_env(init, mounts, fs), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"init {attempt}: {done.stderr}"

    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in node_services:
            svc = services[name]
            assert svc["depends_on"]["init"]["condition"] == "service_completed_successfully"
            m = _mounts(svc, volumes)
            node_dir = m["/node"][0]
            assert {p.name for p in node_dir.iterdir()} == NODE_FILES, "a node gets exactly its own files"
            for host, read_only in m.values():
                if read_only and host != ROOT:
                    _make_read_only(host)
            fs = _filesystem(name, m, container_root)
            argv = [*_user(svc), *(_translate(a, m, fs) for a in svc["command"])]
            with open(logs / f"{name}.log", "wb") as log:
                procs[name] = subprocess.Popen(
                    argv, env=_env(svc, m, fs), stdout=log, stderr=subprocess.STDOUT
                )
        deadline = time.monotonic() + 120
        unready = set(node_services)
        while unready and time.monotonic() < deadline:
            for name in sorted(unready):
                assert procs[name].poll() is None, (logs / f"{name}.log").read_text()[-3000:]
                check = subprocess.run(_healthcheck(services[name]), capture_output=True, timeout=10)
                if check.returncode == 0:
                    unready.discard(name)
            time.sleep(0.3)
        assert not unready, f"not ready: {unready}\n" + "\n".join(
            (logs / f"{n}.log").read_text()[-1500:] for n in sorted(unready)
        )

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
        top = max(report.heights.values())
        for url in urls:  # every node's read index answers lists (it lives in the data volume)
            with httpx.Client(base_url=url, timeout=10, auth=LedgerAuth(signer)) as http:
                resp = http.get(f"/v1/archives?limit=5&min_height={top}")
                assert resp.status_code == 200, (url, resp.text)
        scraped = httpx.get(f"{urls[0]}/metrics", timeout=10).text
        for metric in ("orgledger_tx_commit_latency_seconds_bucket", "orgledger_index_lag_blocks"):
            assert metric in scraped
        for name in node_services:  # ORGLEDGER_LOG_FORMAT=json: one JSON object a line
            lines = [json.loads(line) for line in (logs / f"{name}.log").read_text().splitlines() if line]
            assert lines and all(doc["node_id"] == name and "msg" in doc for doc in lines)
            data = volumes / f"{name}-data"
            assert (data / "CURRENT").exists() and (data / "index.sqlite").exists(), "data not in the volume"
            assert not any(p.name.endswith(".sqlite") for p in volumes.iterdir())
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
