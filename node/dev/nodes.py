"""`orgledger dev add-node / remove-node / rotate-key`: change a local network's nodes through the
ledger, the way a department would, with the dev network's admin keys (issue 17).

Rules:

- `add_node` makes the node's key and directory (`DIR/nodes/<id>`, with `org_id` and a
  `bootstrap` peer in its node.toml), starts it (an unregistered node serves its health and
  status and keeps asking its peers until the ledger admits it, then joins by verified snapshot), proposes `node.propose add` signed by an admin of the
  node's org with the approval signatures of every admin it needs (more as `node.approve` when a
  transaction cannot carry them all), waits for the epoch the change takes effect in, and until
  the node followed (a validator: it is one of the set its replica works with).
- `remove_node` proposes the removal the same way, waits for the epoch and for the process to
  stop by itself (it says why; a process that does not is terminated), and marks the directory
  `REMOVED` so `dev up` leaves it down.
- `rotate_key` makes a new key, proposes the rotation, waits for the epoch, stops the node and
  starts it again with the new key (the old one is kept as `node.key.old`).
- Every wait has a timeout; a `DevNodeError` says what did not happen in time. The network is
  read through the SDK, verifying what it reads against the genesis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_sdk import builders as b
from client_sdk.client import LedgerClient
from client_sdk.errors import LedgerError
from node.config import toml_dumps
from node.dev.devnet import NodeProcess, healthy, node_processes, running_pid, start_node
from node.errors import DevError
from wire.crypto import SigningKey
from wire.files import load_genesis, load_signing_key, write_key_file
from wire.genesis import Genesis, NodeSpec, org_parent

MAX_APPROVALS_PER_TX = 7  # wire.types.MAX_APPROVALS is 8; one tx also has its signer


class DevNodeError(DevError):
    code = "dev_node_failed"


@dataclass(frozen=True, slots=True)
class NodeChange:
    node_id: str
    proposal_id: str
    effective_height: int
    validators: int  # the validator count once the change is in force


Echo = Callable[[str], None]


def _admin(directory: Path, org_id: str) -> SigningKey:
    path = directory / "keys" / "admins" / f"{org_id}.key"
    if not path.exists():
        raise DevNodeError(f"{directory} has no admin key for {org_id}")
    return load_signing_key(path)


def _client(directory: Path, org_id: str) -> tuple[LedgerClient, Genesis]:
    genesis = load_genesis(directory / "genesis.json")
    for proc in node_processes(directory):
        if running_pid(proc) is not None and healthy(proc.url):
            return LedgerClient(proc.url, genesis, key=_admin(directory, org_id), timeout_s=15), genesis
    raise DevNodeError(f"no node of {directory} is running (start it with `orgledger dev up`)")


def _approvers(
    client: LedgerClient, directory: Path, org_id: str, validator_change: bool
) -> list[SigningKey]:
    """The dev admins whose approval a change of a node of `org_id` needs (the signer excluded)."""
    doc = client.validators()
    orgs: set[str] = set()
    if validator_change:
        current = set(_current_keys(doc))
        orgs = {n["org_id"] for n in doc["nodes"] if n["pubkey"] in current}
    parent = org_parent(org_id)
    if parent is not None:
        orgs.add(parent)
    orgs.discard(org_id)
    return [
        _admin(directory, o) for o in sorted(orgs) if (directory / "keys" / "admins" / f"{o}.key").exists()
    ]


def _current_keys(doc: dict[str, Any]) -> list[str]:
    scheduled = doc.get("scheduled") or []
    if scheduled:
        return list(scheduled[-1]["validators"])
    epochs = doc.get("epochs") or []
    if epochs:
        return list(epochs[-1]["validators"])
    return [n["pubkey"] for n in doc["nodes"] if n["role"] == "validator" and n["status"] != "REMOVED"]


def _propose(
    client: LedgerClient, directory: Path, org_id: str, payload: b.NodePropose, validator_change: bool
) -> tuple[str, int]:
    """Propose, approve with every admin needed, wait for the execution; (proposal id, start)."""
    approvers = _approvers(client, directory, org_id, validator_change)
    first, rest = approvers[:MAX_APPROVALS_PER_TX], approvers[MAX_APPROVALS_PER_TX:]
    try:
        done = client.submit(payload, approvers=first)
    except LedgerError as exc:
        raise DevNodeError(f"the proposal was refused: {exc}") from exc
    pid = done.tx_id.hex()[:32]
    for key in rest:
        proposal = client.proposal(pid)
        if proposal is None or proposal["status"] != "OPEN":
            break
        try:
            client.submit(b.NodeApprove(proposal_id=pid), key=key, org_id=_org_of_admin(directory, key))
        except LedgerError as exc:
            raise DevNodeError(f"an approval of {pid} was refused: {exc}") from exc
    proposal = client.proposal(pid)
    if proposal is None or proposal["status"] != "EXECUTED":
        status = "missing" if proposal is None else proposal["status"]
        raise DevNodeError(f"proposal {pid} is {status}, not executed: approvals missing?")
    return pid, int(proposal["effective_height"])


def _org_of_admin(directory: Path, key: SigningKey) -> str:
    for path in (directory / "keys" / "admins").glob("*.key"):
        if load_signing_key(path).public == key.public:
            return path.stem
    raise DevNodeError("an approver key is not a dev admin key")


def _wait(what: str, cond: Callable[[], bool], timeout_s: float, step_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise DevNodeError(f"timed out after {timeout_s:.0f}s waiting until {what}")
        time.sleep(step_s)


def _status(url: str) -> dict[str, Any] | None:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/v1/status", timeout=2) as resp:
            doc = json.loads(resp.read())
            return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _free_port(host: str, used: set[int], start: int) -> int:
    port = start
    while True:
        if port not in used:
            with socket.socket() as s, contextlib.suppress(OSError):
                s.bind((host, port))
                return port
        port += 1


# ------------------------------------------------------------------------------------ add
def add_node(
    directory: Path,
    org_id: str,
    role: str,
    *,
    node_id: str | None = None,
    timeout_s: float = 180.0,
    echo: Echo = print,
) -> NodeChange:
    directory = directory.resolve()
    client, genesis = _client(directory, org_id)
    with client:
        doc = client.validators()
        known = {n["node_id"] for n in doc["nodes"]} | {p.name for p in (directory / "nodes").iterdir()}
        node_id = node_id or _new_id(org_id, role, known)
        if node_id in known:
            raise DevNodeError(f"node id {node_id} is taken")
        used = {n["p2p_port"] for n in doc["nodes"]} | {n["api_port"] for n in doc["nodes"]}
        host = "127.0.0.1"
        p2p = _free_port(host, used, max(n["p2p_port"] for n in doc["nodes"]) + 1)
        api = _free_port(host, used | {p2p}, max(n["api_port"] for n in doc["nodes"]) + 1)
        proc = _make_node_dir(directory, genesis, node_id, org_id, role, host, p2p, api, client.url)
        echo(f"node {node_id}: {role} of {org_id} at {host}:{p2p} (API {proc.url}); starting it")
        start_node(proc)
        _wait(f"{node_id} answers on {proc.url}", lambda: healthy(proc.url), 60)
        key = load_signing_key(directory / "nodes" / node_id / "node.key")
        payload = b.NodePropose(
            action="add",
            node_id=node_id,
            org_id=org_id,
            role=role,  # type: ignore[arg-type]
            pubkey=key.public.hex(),
            host=host,
            p2p_port=p2p,
            api_port=api,
            reason=f"dev add-node: a {role} for {org_id}",
        )
        pid, start = _propose(client, directory, org_id, payload, role == "validator")
        echo(f"proposal {pid} executed: in force from height {start}")
        change = _await_epoch(client, proc, node_id, start, role, timeout_s)
    echo(f"node {node_id} is a {role}; the network has {change.validators} validators")
    return NodeChange(node_id=node_id, proposal_id=pid, effective_height=start, validators=change.validators)


def _new_id(org_id: str, role: str, taken: set[str]) -> str:
    base = f"{org_id.rsplit('.', 1)[-1]}-{role[:3]}"
    k = 1
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


def _make_node_dir(
    directory: Path,
    genesis: Genesis,
    node_id: str,
    org_id: str,
    role: str,
    host: str,
    p2p: int,
    api: int,
    peer: str,
) -> NodeProcess:
    node_dir = directory / "nodes" / node_id
    node_dir.mkdir(parents=True)
    key = SigningKey.generate()
    write_key_file(node_dir / "node.key", "ed25519", key.seed, key.public, node_id)
    secret = next((directory / "nodes").glob("*/person_key.secret"), None)
    if secret is not None:
        shutil.copy(secret, node_dir / "person_key.secret")
        os.chmod(node_dir / "person_key.secret", 0o600)
    config: dict[str, Any] = {
        "node_id": node_id,
        "org_id": org_id,
        "bootstrap": peer,
        "genesis": "../../genesis.json",
        "key_file": "node.key",
        "data_dir": "data",
        "log_level": "INFO",
        "p2p": {"host": host, "port": p2p},
        "api": {"host": host, "port": api},
    }
    if secret is not None:
        config["privacy"] = {"person_key_secret_file": "person_key.secret"}
    (node_dir / "node.toml").write_text(toml_dumps(config), encoding="utf-8")
    spec = NodeSpec(
        node_id=node_id, org_id=org_id, role=role, pubkey=key.public, host=host, p2p_port=p2p, api_port=api
    )
    return NodeProcess(
        spec=spec,
        config=node_dir / "node.toml",
        pid_file=directory / "run" / f"{node_id}.pid",
        log_file=directory / "logs" / f"{node_id}.log",
    )


def _await_epoch(
    client: LedgerClient, proc: NodeProcess, node_id: str, start: int, role: str, timeout_s: float
) -> NodeChange:
    def followed() -> bool:
        st = _status(proc.url)
        if st is None or st.get("height", 0) < start:
            return False
        # an observer changes no validator set: no new epoch begins for it, the height suffices
        return role != "validator" or (st.get("epoch", 0) >= start and st.get("validator_index") is not None)

    _wait(f"{node_id} reaches the epoch from height {start}", followed, timeout_s)
    st = _status(proc.url) or {}
    return NodeChange(
        node_id=node_id, proposal_id="", effective_height=start, validators=int(st.get("validators", 0))
    )


# ------------------------------------------------------------------------------------ remove
def remove_node(directory: Path, node_id: str, *, timeout_s: float = 180.0, echo: Echo = print) -> NodeChange:
    directory = directory.resolve()
    proc = next((p for p in node_processes(directory) if p.spec.node_id == node_id), None)
    if proc is None:
        raise DevNodeError(f"{directory} has no node {node_id}")
    client, _ = _client(directory, proc.spec.org_id)
    with client:
        entry = next((n for n in client.validators()["nodes"] if n["node_id"] == node_id), None)
        if entry is None or entry["status"] == "REMOVED":
            raise DevNodeError(f"the ledger has no node {node_id} (or it was removed)")
        org_id = entry["org_id"]
        payload = b.NodePropose(action="remove", node_id=node_id, reason="dev remove-node")
        pid, start = _propose(client, directory, org_id, payload, entry["role"] == "validator")
        echo(f"proposal {pid} executed: {node_id} leaves at height {start}")
        _wait(
            f"the network passes height {start}", lambda: client.status().get("height", 0) >= start, timeout_s
        )
        validators = int(client.status().get("validators", 0))
    pid_of = running_pid(proc)
    try:
        _wait(f"{node_id} stops by itself", lambda: running_pid(proc) is None, 30)
    except DevNodeError:
        if pid_of is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid_of, signal.SIGTERM)
    (directory / "nodes" / node_id / "REMOVED").write_text(f"removed by proposal {pid} at height {start}\n")
    proc.pid_file.unlink(missing_ok=True)
    echo(f"node {node_id} removed; the network has {validators} validators")
    return NodeChange(node_id=node_id, proposal_id=pid, effective_height=start, validators=validators)


# ------------------------------------------------------------------------------------ rotate
def rotate_key(directory: Path, node_id: str, *, timeout_s: float = 180.0, echo: Echo = print) -> NodeChange:
    directory = directory.resolve()
    proc = next((p for p in node_processes(directory) if p.spec.node_id == node_id), None)
    if proc is None:
        raise DevNodeError(f"{directory} has no node {node_id}")
    node_dir = directory / "nodes" / node_id
    new = SigningKey.generate()
    write_key_file(node_dir / "node.key.new", "ed25519", new.seed, new.public, node_id)
    client, _ = _client(directory, proc.spec.org_id)
    with client:
        entry = next(n for n in client.validators()["nodes"] if n["node_id"] == node_id)
        payload = b.NodePropose(
            action="rotate_key", node_id=node_id, pubkey=new.public.hex(), reason="dev rotate-key"
        )
        pid, start = _propose(client, directory, entry["org_id"], payload, entry["role"] == "validator")
        echo(f"proposal {pid} executed: {node_id} signs with its new key from height {start}")
        _wait(
            f"the network passes height {start}", lambda: client.status().get("height", 0) >= start, timeout_s
        )
    pid_of = running_pid(proc)
    with contextlib.suppress(DevNodeError):
        _wait(f"{node_id} stops (its key was rotated out)", lambda: running_pid(proc) is None, 30)
    pid_of = running_pid(proc)
    if pid_of is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid_of, signal.SIGTERM)
        _wait(f"{node_id} stops", lambda: running_pid(proc) is None, 30)
    (node_dir / "node.key").rename(node_dir / "node.key.old")
    (node_dir / "node.key.new").rename(node_dir / "node.key")
    start_node(proc)
    _wait(f"{node_id} answers again", lambda: healthy(proc.url), 60)
    echo(f"node {node_id} restarted with its new key {new.public.hex()[:16]}…")
    st = _status(proc.url) or {}
    return NodeChange(
        node_id=node_id, proposal_id=pid, effective_height=start, validators=int(st.get("validators", 0))
    )
