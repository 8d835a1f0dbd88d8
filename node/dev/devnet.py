"""`orgledger dev up / down`: a whole local network, each node its own process on loopback.

Rules:

- `up` initialises DIR with the default topology when it holds no network yet (`tls`: with a
  network CA and certificates, so the nodes link by mutual TLS and serve HTTPS), starts every node
  not already running as a detached process (`orgledger node run --config ...`, its own session,
  output to DIR/logs/<node>.log, pid in DIR/run/<node>.pid), waits until every node answers
  /healthz (over HTTPS checked against DIR/tls/ca.crt when the network has TLS), and prints each
  API URL. A node that exits or stays unhealthy past the timeout fails
  `up` with the tail of its log.
- `down` sends SIGTERM to every recorded node, waits, then SIGKILLs stragglers. A pid is only
  signalled if its command line still names that node's config (pids get reused). It says how
  many nodes it stopped (0 when none ran).
- Commands printed as hints (`commands()`) are spelled as the user can paste them where they
  stand: `orgledger` when that is what the shell finds, else the path of the one running
  (`.venv/bin/orgledger` after `make run`).
- The network's nodes are those of genesis and those `dev add-node` added (a directory under
  `DIR/nodes` with its node.toml), less those `dev remove-node` marked `REMOVED`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from node.config import NodeConfig
from node.dev.netinit import init_network
from node.errors import DevError
from node.tls import CA_CERT, TLS_DIR
from wire.files import load_genesis, load_signing_key
from wire.genesis import Genesis, NodeSpec


class DevnetError(DevError):
    pass


def commands() -> tuple[str, str]:
    """How to type `orgledger` and `python` from the current directory for this installation."""
    bindir = Path(sys.executable).parent
    out = []
    for name in ("orgledger", "python"):
        exe = bindir / name
        found = shutil.which(name)
        if found is not None and Path(found).absolute() == exe.absolute():
            out.append(name)
            continue
        try:
            out.append(str(exe.absolute().relative_to(Path.cwd())))
        except ValueError:
            out.append(str(exe.absolute()))
    return out[0], out[1]


def network_ca(directory: Path) -> Path | None:
    """The network CA's certificate when the network in `directory` was made with TLS."""
    ca = directory / TLS_DIR / CA_CERT
    return ca if ca.is_file() else None


def api_url(spec: NodeSpec, tls: bool) -> str:
    return f"{'https' if tls else 'http'}://{spec.host}:{spec.api_port}"


def api_urls(directory: Path, genesis: Genesis, role: str | None = None) -> list[str]:
    """The API URLs of the network in `directory` (of the nodes of `role`, if given)."""
    tls = network_ca(directory) is not None
    return [api_url(n, tls) for n in genesis.nodes if role is None or n.role == role]


def client_ssl(directory: Path) -> ssl.SSLContext | None:
    """A client context trusting the network's CA (None for a network without TLS)."""
    ca = network_ca(directory)
    return None if ca is None else ssl.create_default_context(cafile=str(ca))


@dataclass(frozen=True, slots=True)
class NodeProcess:
    spec: NodeSpec
    config: Path
    pid_file: Path
    log_file: Path
    ssl: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return api_url(self.spec, self.ssl is not None)


def node_processes(directory: Path) -> list[NodeProcess]:
    """Every node of the local network in DIR (see the module rules)."""
    genesis = load_genesis(directory / "genesis.json")
    specs = list(genesis.nodes)
    known = {n.node_id for n in specs}
    for config in sorted((directory / "nodes").glob("*/node.toml")):
        node_id = config.parent.name
        if node_id in known:
            continue
        cfg = NodeConfig.load(config)
        specs.append(
            NodeSpec(
                node_id=node_id,
                org_id=cfg.org_id,
                role="added",
                pubkey=load_signing_key(cfg.key_file).public,
                host=cfg.api_host,
                p2p_port=cfg.p2p_port,
                api_port=cfg.api_port,
            )
        )
    ctx = client_ssl(directory)
    return [
        NodeProcess(
            spec=n,
            config=directory / "nodes" / n.node_id / "node.toml",
            pid_file=directory / "run" / f"{n.node_id}.pid",
            log_file=directory / "logs" / f"{n.node_id}.log",
            ssl=ctx,
        )
        for n in specs
        if not (directory / "nodes" / n.node_id / "REMOVED").exists()
    ]


_nodes = node_processes


def running_pid(proc: NodeProcess) -> int | None:
    """The pid of this node's process if it is alive and still ours."""
    try:
        pid = int(proc.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\x00", b" ")
    except (OSError, ValueError):
        return None
    return pid if str(proc.config).encode() in cmdline else None


def healthy(url: str, timeout_s: float = 1.0, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout_s, context=context) as resp:
            return bool(resp.status == 200 and json.loads(resp.read()).get("ok"))
    except (OSError, ValueError, urllib.error.URLError):
        return False


def start_node(proc: NodeProcess, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc.pid_file.parent.mkdir(parents=True, exist_ok=True)
    proc.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(proc.log_file, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "run", "--config", str(proc.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    proc.pid_file.write_text(f"{child.pid}\n")
    return child


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(
    directory: Path, *, timeout_s: float = 90.0, echo: bool = True, tls: bool = False
) -> list[NodeProcess]:
    directory = directory.resolve()
    if not (directory / "genesis.json").exists():
        result = init_network(None, directory, tls=tls)
        if echo:
            with_tls = f", TLS: CA {directory / TLS_DIR / CA_CERT}" if tls else ""
            print(f"initialised {directory} (genesis {result.genesis.hash.hex()[:16]}…{with_tls})")
    elif tls and network_ca(directory) is None:
        raise DevnetError(
            f"{directory} holds a network made without TLS; stop it (dev down), remove the directory "
            "and run dev up --tls again, or use another --dir"
        )
    procs = _nodes(directory)
    started: dict[str, subprocess.Popen[bytes]] = {}
    for proc in procs:
        if running_pid(proc) is None:
            started[proc.spec.node_id] = start_node(proc)
    deadline = time.monotonic() + timeout_s
    pending = {p.spec.node_id: p for p in procs}
    while pending:
        for node_id, proc in list(pending.items()):
            # A node started just now is judged by its exit status: until it has exec'd, /proc
            # shows this process's command line and running_pid() would call it gone.
            child = started.get(node_id)
            code = child.poll() if child is not None else (None if running_pid(proc) else -1)
            if code is not None:
                for other in started.values():  # leave nothing half-started behind
                    if other.poll() is None:
                        other.terminate()
                raise DevnetError(
                    f"node {node_id} exited during start-up (status {code}); last log lines:\n"
                    f"{_log_tail(proc.log_file)}"
                )
            if healthy(proc.url, context=proc.ssl):
                del pending[node_id]
        if pending and time.monotonic() > deadline:
            names = ", ".join(sorted(pending))
            tails = "\n".join(f"--- {n}:\n{_log_tail(pending[n].log_file)}" for n in sorted(pending))
            raise DevnetError(f"node(s) {names} not healthy after {timeout_s:.0f}s\n{tails}")
        if pending:
            time.sleep(0.2)
    if echo:
        print(f"{len(procs)} nodes running ({len(started)} started now):")
        for p in procs:
            print(f"  {p.spec.node_id:<10} {p.spec.role:<9} org {p.spec.org_id:<18} {p.url}")
        print(f"logs in {directory / 'logs'}; stop with: {commands()[0]} dev down --dir {directory}")
    return procs


def down(directory: Path, *, timeout_s: float = 20.0, echo: bool = True) -> int:
    """Stop the network's running nodes; how many were running."""
    directory = directory.resolve()
    if not (directory / "genesis.json").exists():
        if echo:
            print(f"stopped 0 node(s): {directory} holds no network")
        return 0
    procs = _nodes(directory)
    live = {p.spec.node_id: (p, pid) for p in procs if (pid := running_pid(p)) is not None}
    stopping = len(live)
    for _, pid in live.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while live and time.monotonic() < deadline:
        live = {k: v for k, v in live.items() if running_pid(v[0]) is not None}
        time.sleep(0.1)
    for _, pid in live.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for p in procs:
        p.pid_file.unlink(missing_ok=True)
    if echo:
        killed = f" ({len(live)} killed after {timeout_s:.0f}s)" if live else ""
        print(f"stopped {stopping} node(s){killed}" + ("" if stopping else ": none was running"))
    return stopping
