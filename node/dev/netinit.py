"""`orgledger network init`: keys, genesis and one directory per node for a topology.

Layout written under OUT (built in a temporary sibling directory and renamed into place, so a
failure never leaves half a network):

    OUT/genesis.json                      the genesis document (its hash is printed)
    OUT/topology.toml                     the topology it was made from
    OUT/nodes/<node_id>/node.toml         the node's configuration
    OUT/nodes/<node_id>/node.key          the node's ed25519 key (0600)
    OUT/nodes/<node_id>/person_key.secret the person-key HMAC secret, version 1 (0600)
    OUT/keys/admins/<org_id>.key          the first admin user key of every org (0600)
    OUT/keys/orgs/<org_id>.x25519.key     every org's encryption key pair (0600)

With `tls` (node/tls.py), also:

    OUT/tls/ca.crt, OUT/tls/ca.key        the network CA (ca.key 0600: keep it off the nodes)
    OUT/nodes/<node_id>/tls/node.crt      the node's certificate, for its host, 127.0.0.1,
                                          localhost and the extra names of `sans[node_id]`
    OUT/nodes/<node_id>/tls/node.key      its key (0600)
    OUT/nodes/<node_id>/tls/ca.crt        a copy of the CA certificate

and each node.toml's `[p2p]` (mutual TLS) and `[api]` (HTTPS) name those files.

Rules: an existing network directory is never overwritten without `force`; with `force` the old
genesis, nodes and keys are replaced (their data belonged to the old chain). Every node of one
network shares the person-key secret (person keys must agree across the tree). `issue_node_cert`
replaces one node's certificate with a new one from the network's CA (a rotation).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from contracts.config import default_rule_config
from node.config import toml_dumps
from node.dev.topology import DEFAULT_TOPOLOGY, Topology, TopologyError, load_topology
from node.errors import DevError
from node.tls import CA_CERT, TLS_DIR, TlsError, issue_node_files, write_ca
from wire.crypto import EncryptionKey, SigningKey
from wire.errors import GenesisError, WireError
from wire.files import load_genesis, write_key_file
from wire.genesis import Genesis, NodeSpec, OrgSpec, UserSpec


class NetInitError(DevError):
    """network init cannot proceed; the message names the problem."""


@dataclass(frozen=True, slots=True)
class InitResult:
    out: Path
    genesis: Genesis
    genesis_path: Path


def init_network(
    topology_path: Path | None,
    out: Path,
    *,
    force: bool = False,
    tls: bool = False,
    sans: Mapping[str, Sequence[str]] | None = None,
) -> InitResult:
    """Write the network of `topology_path` to `out`; with `tls`, its CA and node certificates
    (`sans`: extra host names or addresses per node id)."""
    try:
        topology = load_topology(topology_path)
    except TopologyError as exc:
        raise NetInitError(str(exc)) from exc
    sans = dict(sans or {})
    unknown = sorted(set(sans) - {n.node_id for n in topology.nodes})
    if unknown:
        raise NetInitError(f"--san names node(s) the topology does not have: {', '.join(unknown)}")
    if sans and not tls:
        raise NetInitError("--san names certificate hosts: it needs --tls")
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise NetInitError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not force:
        raise NetInitError(
            f"{out} already holds a network; pass --force to replace it (its node data is discarded)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.init-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        genesis = _write_network(topology, topology_path or DEFAULT_TOPOLOGY, staging, tls, sans)
        _swap_into_place(staging, out)
    except TlsError as exc:
        raise NetInitError(str(exc)) from exc
    except OSError as exc:
        raise NetInitError(f"cannot write the network to {out}: {exc}") from exc
    except GenesisError as exc:
        raise NetInitError(f"the topology gives an invalid genesis: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return InitResult(out=out, genesis=genesis, genesis_path=out / "genesis.json")


def _swap_into_place(staging: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def issue_node_cert(network: Path, node_id: str, sans: Sequence[str] = ()) -> Path:
    """A new certificate for `node_id` from the CA in `network`/tls, for the node's genesis host,
    loopback and `sans`, written over `network`/nodes/<node_id>/tls/ (node.crt, node.key, ca.crt);
    the directory written. The node reads it when it next starts."""
    try:
        genesis = load_genesis(network / "genesis.json")
        spec = genesis.node(node_id)
    except (WireError, KeyError, ValueError) as exc:
        raise NetInitError(f"{network} has no node {node_id!r}: {exc}") from exc
    if not (network / TLS_DIR / CA_CERT).exists():
        raise NetInitError(f"{network / TLS_DIR} holds no network CA (make the network with --tls)")
    out = network / "nodes" / node_id / TLS_DIR
    try:
        issue_node_files(network / TLS_DIR, out, node_id, [spec.host, *sans])
    except TlsError as exc:
        raise NetInitError(str(exc)) from exc
    except OSError as exc:
        raise NetInitError(f"cannot write {out}: {exc}") from exc
    return out


def _tls_settings(table: str) -> dict[str, str]:
    files = {
        "tls_cert_file": f"{TLS_DIR}/node.crt",
        "tls_key_file": f"{TLS_DIR}/node.key",
        "tls_ca_file": f"{TLS_DIR}/{CA_CERT}",
    }
    return {**files, "tls_client_certs": "none"} if table == "api" else files


def _write_network(
    topology: Topology, source: Path, root: Path, tls: bool, sans: Mapping[str, Sequence[str]]
) -> Genesis:
    root.mkdir(parents=True)
    if tls:
        write_ca(root / TLS_DIR, topology.chain_id)
    (root / "topology.toml").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    orgs, users = [], []
    for org in topology.orgs:
        enc = EncryptionKey.generate()
        write_key_file(
            root / "keys" / "orgs" / f"{org.org_id}.x25519.key", "x25519", enc.secret, enc.public, org.org_id
        )
        admin = SigningKey.generate()
        write_key_file(
            root / "keys" / "admins" / f"{org.org_id}.key",
            "ed25519",
            admin.seed,
            admin.public,
            f"admin of {org.org_id}",
        )
        orgs.append(
            OrgSpec(
                org_id=org.org_id,
                level=org.level,
                name=org.name,
                enc_pubkey=enc.public,
                approval_authority=org.approval_authority,
                founded_date=org.founded,
            )
        )
        users.append(
            UserSpec(user_id=f"admin@{org.org_id}", org_id=org.org_id, pubkey=admin.public, roles=("admin",))
        )
    person_secret = secrets.token_bytes(32)
    nodes = []
    for n in topology.nodes:
        key = SigningKey.generate()
        node_dir = root / "nodes" / n.node_id
        write_key_file(node_dir / "node.key", "ed25519", key.seed, key.public, n.node_id)
        _write_secret(node_dir / "person_key.secret", person_secret)
        nodes.append(
            NodeSpec(
                node_id=n.node_id,
                org_id=n.org_id,
                role=n.role,
                pubkey=key.public,
                host=n.host,
                p2p_port=n.p2p_port,
                api_port=n.api_port,
            )
        )
        p2p: dict[str, object] = {"host": n.host, "port": n.p2p_port}
        api: dict[str, object] = {"host": n.host, "port": n.api_port}
        if tls:
            issue_node_files(
                root / TLS_DIR, node_dir / TLS_DIR, n.node_id, [n.host, *sans.get(n.node_id, ())]
            )
            p2p.update(_tls_settings("p2p"))
            api.update(_tls_settings("api"))
        config = {
            "node_id": n.node_id,
            "genesis": "../../genesis.json",
            "key_file": "node.key",
            "data_dir": "data",
            "p2p": p2p,
            "api": api,
            "privacy": {"person_key_secret_file": "person_key.secret"},
            "log": {"level": "INFO", "format": "text"},
        }
        (node_dir / "node.toml").write_text(toml_dumps(config), encoding="utf-8")
    genesis = Genesis(
        chain_id=topology.chain_id,
        genesis_time_ms=int(time.time() * 1000),
        consensus=topology.consensus,
        nodes=tuple(nodes),
        orgs=tuple(orgs),
        users=tuple(users),
        rule_config=default_rule_config(),
    )
    genesis.check()
    (root / "genesis.json").write_text(genesis.dumps(), encoding="utf-8")
    return genesis


def _write_secret(path: Path, secret: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (f"1:{secret.hex()}\n").encode())
    finally:
        os.close(fd)


def set_toml_keys(path: Path, table: str, values: Mapping[str, object]) -> None:
    """Set `values` in `[table]` of the node.toml at `path` (as `network init` writes it: flat
    tables, one key per line), replacing a key the table already has; the table is added when
    missing. The result must still parse."""
    new = toml_dumps(dict(values)).strip().splitlines()
    lines = path.read_text().splitlines()
    header = f"[{table}]"
    if header in lines:
        start = lines.index(header) + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        kept = [ln for ln in lines[start:end] if ln.split("=", 1)[0].strip() not in values]
        lines[start:end] = new + kept
    else:
        lines += ["", header, *new]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # a TOMLDecodeError here is a bug of this function, not of the caller
    path.write_text(text)
