"""A real multi-process cluster on loopback for fault tests (RELIABILITY 3.4, tier P).

Every node is its own `orgledger node run` process with its own LevelDB directory and ports.
With `proxies=True` every directed peer link A->B goes through its own TCP fault proxy (A's
node.toml `[peers]` points B's address at the proxy), so partitions of any shape are made by
blackholing the proxies of the links that cross them. With `tls=True` the network is made by
`network init --tls` (mutual TLS between the nodes, HTTPS for the API): the cluster's URLs are
https:// and its own reads and load verify the network CA (`self.ca`, `self.tls`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from client_sdk.auth import RequestSigner
from node.config import toml_dumps
from node.dev.loadgen import Op, Report, submit_all, wait_and_check
from node.dev.netinit import init_network, set_toml_keys
from node.dev.workload import Workload
from tests.support.faultproxy import Blackhole, Pass, ProxyHarness
from wire.files import load_signing_key
from wire.genesis import Genesis

ORGS = [
    ("cn", "CENTRAL"),
    ("cn.p1", "PROVINCE"),
    ("cn.p1.c1", "CITY"),
    ("cn.p1.c1.x1", "COUNTY"),
    ("cn.p1.c1.x1.b1", "BRANCH"),
    ("cn.p1.c1.x1.b2", "BRANCH"),
]


def free_ports(n: int) -> list[int]:
    """n ports free now, below the kernel's ephemeral range: a port from that range could be taken
    by an outgoing connection's source port while its node is down, and the restart would fail."""
    low, _ = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    rnd = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        port = rnd.randrange(10_000, min(low, 32_000))
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
    return ports


class Cluster:
    def __init__(
        self,
        root: Path,
        *,
        validators: int = 4,
        observers: int = 1,
        proxies: bool = True,
        consensus: dict[str, int] | None = None,
        tls: bool = False,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.names = [f"v{i}" for i in range(validators)] + [f"o{i}" for i in range(observers)]
        self.validators = self.names[:validators]
        ports = free_ports(2 * len(self.names))
        lines = ['chain_id = "fault-test"', "allow_unsafe_small = true"]
        if consensus:
            lines.append("[consensus]")
            lines += [f"{k} = {v}" for k, v in consensus.items()]
        for org, level in ORGS:
            lines += ["[[org]]", f'id = "{org}"', f'level = "{level}"', f'name = "{org}"']
        for i, name in enumerate(self.names):
            org = ORGS[min(i, len(ORGS) - 2)][0] if name.startswith("v") else ORGS[-1][0]
            role = "validator" if name.startswith("v") else "observer"
            lines += [
                "[[node]]",
                f'id = "{name}"',
                f'org = "{org}"',
                f'role = "{role}"',
                'host = "127.0.0.1"',
                f"p2p_port = {ports[2 * i]}",
                f"api_port = {ports[2 * i + 1]}",
            ]
        topo = root / "topology.toml"
        topo.write_text("\n".join(lines) + "\n")
        self.net = root / "net"
        self.genesis: Genesis = init_network(topo, self.net, tls=tls).genesis
        self.ca: Path | None = self.net / "tls" / "ca.crt" if tls else None
        self.tls: ssl.SSLContext | None = (
            None if self.ca is None else ssl.create_default_context(cafile=str(self.ca))
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.proxies: ProxyHarness | None = ProxyHarness() if proxies else None
        if self.proxies is not None:
            self._install_proxies()
        self.work = Workload(self.genesis, self.net, seed=11)
        # the root org's admin: reads whole blocks for the checker, and registers test users
        self.root_admin = load_signing_key(self.net / "keys" / "admins" / f"{ORGS[0][0]}.key")
        self.signer = RequestSigner(self.root_admin, self.genesis.chain_id)

    # ------------------------------------------------------------------ set-up
    def _install_proxies(self) -> None:
        assert self.proxies is not None
        for a in self.names:
            peers = {}
            for b in self.names:
                if a == b:
                    continue
                spec = self.genesis.node(b)
                port = self.proxies.add(f"{a}->{b}", spec.host, spec.p2p_port)
                peers[b] = f"127.0.0.1:{port}"
            cfg_path = self.config(a)
            text = cfg_path.read_text() + "\n" + toml_dumps({"peers": peers}).strip() + "\n"
            cfg_path.write_text(text)

    def config(self, name: str) -> Path:
        return self.net / "nodes" / name / "node.toml"

    def set_config(self, name: str, table: str, values: dict[str, Any]) -> None:
        """Set keys of one table of a node's node.toml (the table is added when missing)."""
        set_toml_keys(self.config(name), table, values)

    def url(self, name: str) -> str:
        spec = self.genesis.node(name)
        return f"{'https' if self.tls else 'http'}://{spec.host}:{spec.api_port}"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in self.names]

    # ------------------------------------------------------------------ processes
    def start(self, name: str, env: dict[str, str] | None = None) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "run", "--config", str(self.config(name))],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        log.close()

    def start_all(self, names: Iterable[str] | None = None, timeout_s: float = 180) -> None:
        """Start the nodes and wait until each answers (a loaded 2-core machine needs a minute);
        a whole network is also left settled (`wait_settled`) so a test starts from one height."""
        for name in names or self.names:
            self.start(name)
        self.wait_healthy(names or self.names, timeout_s=timeout_s)
        if names is None:
            self.wait_settled(self.names, timeout_s=timeout_s)

    def wait_settled(self, names: Iterable[str], timeout_s: float = 60) -> None:
        """Wait until every node reports the same height twice, half a second apart. A fresh
        network commits its first blocks while the nodes come up; a node cut off before it has
        them knows it is behind, so it catches up instead of suspecting the primary (a fault test
        that partitioned it then waited a minute for a view change that could not come)."""
        names = list(names)
        deadline = time.monotonic() + timeout_s
        last: dict[str, int] | None = None
        while True:
            heights = {n: self.height(n) for n in names}
            if len(set(heights.values())) == 1 and heights == last:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the nodes did not settle at one height: {heights}")
            last = heights
            time.sleep(0.5)

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].send_signal(sig)

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def stop(self, name: str, timeout_s: float = 30) -> int:
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        return p.wait(timeout=timeout_s)

    def wait_exit(self, name: str, timeout_s: float = 60) -> int:
        return self.procs[name].wait(timeout=timeout_s)

    def status(self, name: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.url(name)}/v1/status", timeout=2, context=self.tls) as resp:
                doc: dict[str, Any] = json.loads(resp.read())
                return doc
        except (OSError, ValueError):
            return None

    def wait_healthy(self, names: Iterable[str], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(names)
        while pending:
            for name in list(pending):
                if not self.alive(name):
                    raise AssertionError(f"{name} exited: {self.log_tail(name)}")
                if self.status(name) is not None:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise AssertionError(f"not healthy: {pending}")
            time.sleep(0.2)

    def wait_height(self, names: Iterable[str], height: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        names = list(names)
        while True:
            heights = {n: (self.status(n) or {}).get("height", -1) for n in names}
            if all(h >= height for h in heights.values()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"heights {heights} did not reach {height}")
            time.sleep(0.2)

    def height(self, name: str) -> int:
        return int((self.status(name) or {}).get("height", -1))

    def views(self, names: Iterable[str]) -> dict[str, tuple[int, bool] | None]:
        """(view, active) per node from its STATUS; None for a node that does not answer."""
        out: dict[str, tuple[int, bool] | None] = {}
        for name in names:
            s = self.status(name)
            out[name] = None if s is None else (int(s["view"]), bool(s["view_active"]))
        return out

    def wait_one_view(self, names: Iterable[str], timeout_s: float) -> tuple[int, float]:
        """Wait until every node in `names` is active in one view: (that view, seconds waited)."""
        names = list(names)
        started = time.monotonic()
        while True:
            views = self.views(names)
            states = set(views.values())
            if len(states) == 1 and None not in states:
                view, active = next(iter(states))  # type: ignore[misc]
                if active:
                    return view, time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"no single active view within {timeout_s:.0f} s: {views}")
            time.sleep(0.25)

    def certificate_views(self, name: str, first: int, last: int) -> dict[int, int]:
        """The view of the commit certificate of each block first..last on node `name`."""
        node_id = (self.status(name) or {})["node_id"]
        out = {}
        for h in range(first, last + 1):
            path = f"/v1/blocks/{h}"
            for _ in range(5):
                req = urllib.request.Request(
                    self.url(name) + path, headers=self.signer.headers("GET", path, node_id=node_id)
                )
                try:
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        out[h] = int(json.loads(resp.read())["certificate"]["view"])
                    break
                except urllib.error.HTTPError as exc:  # the read rate limit: wait it out
                    if exc.code != 429:
                        raise
                    time.sleep(float(exc.headers.get("Retry-After", "1")))
        return out

    def primary(self) -> str:
        views = [s["view"] for n in self.validators if self.alive(n) and (s := self.status(n)) is not None]
        view = max(set(views), key=views.count)
        return self.validators[view % len(self.validators)]

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.root / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # ------------------------------------------------------------------ network faults
    def partition(self, *groups: Sequence[str]) -> None:
        """Cut every link between different groups (nodes in no group keep all their links)."""
        assert self.proxies is not None
        side = {n: i for i, g in enumerate(groups) for n in g}
        for a in self.names:
            for b in self.names:
                if a != b and a in side and b in side and side[a] != side[b]:
                    self.proxies.set_mode(f"{a}->{b}", Blackhole("both"))

    def heal(self) -> None:
        assert self.proxies is not None
        for a in self.names:
            for b in self.names:
                if a != b:
                    self.proxies.set_mode(f"{a}->{b}", Pass())

    # ------------------------------------------------------------------ workload
    def transactions(self, n: int) -> list[Any]:
        now = int(time.time() * 1000)
        return [self.work.next_tx(now) for _ in range(n)]

    def load_in_background(self, n: int, rate: float, urls: Sequence[str] | None = None) -> LoadThread:
        thread = LoadThread(list(urls or self.urls), self.transactions(n), rate, self.tls)
        thread.start()
        return thread

    def check(self, ops: Sequence[Op], names: Iterable[str] | None = None, timeout_s: float = 90) -> Report:
        urls = [self.url(n) for n in (names or self.names)]
        return asyncio.run(wait_and_check(urls, ops, signer=self.signer, timeout_s=timeout_s, tls=self.tls))

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
        for p in self.procs.values():
            p.wait(timeout=30)
        if self.proxies is not None:
            self.proxies.close()


class LoadThread(threading.Thread):
    """Runs `submit_all` on its own event loop so the test can inject faults meanwhile."""

    def __init__(
        self, urls: list[str], txs: list[Any], rate: float, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.urls, self.txs, self.rate, self.tls = urls, txs, rate, tls
        self.ops: list[Op] = []

    def run(self) -> None:
        self.ops = asyncio.run(submit_all(self.urls, self.txs, rate=self.rate, deadline_s=120, tls=self.tls))

    def result(self, timeout_s: float = 180) -> list[Op]:
        self.join(timeout_s)
        assert not self.is_alive(), "the load did not finish"
        return self.ops
