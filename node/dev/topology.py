"""Topology files: the TOML that describes an organisation tree and which nodes run where.

Rules (every violation is a TopologyError naming the problem):

- `chain_id` (letters, digits, `.`, `_`, `-`), optional `allow_unsafe_small` (bool) and an optional
  `[consensus]` table overriding `wire.genesis.ConsensusParams` fields.
- `[[org]]`: `id` (a dot path), `level` (CENTRAL, PROVINCE, CITY, COUNTY, BRANCH), `name`,
  optional `founded` (YYYY-MM-DD), optional `approval_authority` (default: COUNTY and above, as
  DOMAIN.md says), optional `parent` (must equal the path prefix if given). Exactly one CENTRAL
  root; every other org's parent exists and is exactly one level up (no level skipped).
- `[[node]]`: `id`, `org`, `role` (validator or observer), `host`, `p2p_port`, `api_port`.
  Ids are unique; no two listeners share a host and port; at least 4 validators (n >= 3f+1 with
  f >= 1) unless `allow_unsafe_small = true`.
- Unknown keys are errors (a typo must not silently become a default).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from node.errors import DevError
from wire.errors import GenesisError
from wire.genesis import LEVELS, NODE_ROLES, ConsensusParams, org_depth, org_parent

DEFAULT_TOPOLOGY = Path(__file__).with_name("topologies") / "default.toml"
APPROVAL_LEVELS = frozenset({"CENTRAL", "PROVINCE", "CITY", "COUNTY"})
_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}(\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TopologyError(DevError):
    """A topology that cannot describe a working network."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgEntry:
    org_id: str
    level: str
    name: str
    founded: str
    approval_authority: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEntry:
    node_id: str
    org_id: str
    role: str
    host: str
    p2p_port: int
    api_port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    chain_id: str
    allow_unsafe_small: bool
    consensus: ConsensusParams
    orgs: tuple[OrgEntry, ...]
    nodes: tuple[NodeEntry, ...]

    @property
    def validators(self) -> tuple[NodeEntry, ...]:
        return tuple(n for n in self.nodes if n.role == "validator")


def load_topology(path: Path | None) -> Topology:
    path = path or DEFAULT_TOPOLOGY
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopologyError(f"cannot read topology {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"topology {path} is not valid TOML: {exc}") from exc
    return parse_topology(doc)


def parse_topology(doc: dict[str, Any]) -> Topology:
    _only(doc, {"chain_id", "allow_unsafe_small", "consensus", "org", "node"}, "the topology")
    chain_id = doc.get("chain_id")
    if not isinstance(chain_id, str) or not _ID.match(chain_id):
        raise TopologyError("chain_id must be 1-64 letters, digits, '.', '_' or '-'")
    unsafe = doc.get("allow_unsafe_small", False)
    if not isinstance(unsafe, bool):
        raise TopologyError("allow_unsafe_small must be true or false")
    consensus = _consensus(doc.get("consensus", {}))
    orgs = _orgs(doc.get("org", []))
    nodes = _nodes(doc.get("node", []), {o.org_id for o in orgs})
    validators = [n for n in nodes if n.role == "validator"]
    if not validators:
        raise TopologyError("the topology has no validator node")
    if len(validators) < 4 and not unsafe:
        raise TopologyError(
            f"{len(validators)} validator(s) cannot tolerate a single fault (BFT needs n >= 4); "
            "add validators or set allow_unsafe_small = true for a test network"
        )
    return Topology(chain_id=chain_id, allow_unsafe_small=unsafe, consensus=consensus, orgs=orgs, nodes=nodes)


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise TopologyError(f"unknown key(s) in {where}: {', '.join(unknown)}")


def _consensus(table: Any) -> ConsensusParams:
    if not isinstance(table, dict):
        raise TopologyError("[consensus] must be a table")
    _only(table, {f.name for f in fields(ConsensusParams)}, "[consensus]")
    try:
        return ConsensusParams.from_json(table)
    except GenesisError as exc:
        raise TopologyError(f"[consensus]: {exc}") from exc


def _orgs(items: Any) -> tuple[OrgEntry, ...]:
    if not isinstance(items, list) or not items:
        raise TopologyError("the topology needs at least one [[org]]")
    orgs: list[OrgEntry] = []
    seen: set[str] = set()
    for i, t in enumerate(items):
        where = f"[[org]] #{i + 1}"
        if not isinstance(t, dict):
            raise TopologyError(f"{where} must be a table")
        _only(t, {"id", "level", "name", "founded", "approval_authority", "parent"}, where)
        org_id = t.get("id")
        if not isinstance(org_id, str) or not _ORG_ID.match(org_id):
            raise TopologyError(
                f"{where}: id {org_id!r} must be a dot path like cn.gs.lz (lower-case segments)"
            )
        where = f"org {org_id}"
        if org_id in seen:
            raise TopologyError(f"duplicate org id {org_id}")
        seen.add(org_id)
        level = t.get("level")
        if level not in LEVELS:
            raise TopologyError(f"{where}: level must be one of {', '.join(LEVELS)}")
        parent = org_parent(org_id)
        if "parent" in t and t["parent"] != parent:
            raise TopologyError(
                f"{where}: parent {t['parent']!r} contradicts the id path (parent is {parent!r})"
            )
        expected = LEVELS[org_depth(org_id) - 1]
        if level != expected:
            raise TopologyError(
                f"{where}: level {level} skips or repeats a level (an org at depth {org_depth(org_id)} is {expected})"
            )
        name = t.get("name", org_id)
        founded = t.get("founded", "1921-07-23")
        if not isinstance(name, str) or not name:
            raise TopologyError(f"{where}: name must be a non-empty string")
        if not isinstance(founded, str) or not _DATE.match(founded):
            raise TopologyError(f"{where}: founded must be a YYYY-MM-DD string")
        authority = t.get("approval_authority", level in APPROVAL_LEVELS)
        if not isinstance(authority, bool):
            raise TopologyError(f"{where}: approval_authority must be true or false")
        orgs.append(
            OrgEntry(org_id=org_id, level=level, name=name, founded=founded, approval_authority=authority)
        )
    roots = [o.org_id for o in orgs if org_parent(o.org_id) is None]
    if len(roots) != 1:
        raise TopologyError(f"the organisation tree needs exactly one CENTRAL root, found {len(roots)}")
    for o in orgs:
        parent = org_parent(o.org_id)
        if parent is not None and parent not in seen:
            raise TopologyError(f"org {o.org_id}: unknown parent {parent}")
    return tuple(orgs)


def _nodes(items: Any, org_ids: set[str]) -> tuple[NodeEntry, ...]:
    if not isinstance(items, list):
        raise TopologyError("[[node]] entries must be tables")
    nodes: list[NodeEntry] = []
    listeners: dict[tuple[str, int], str] = {}
    for i, t in enumerate(items):
        where = f"[[node]] #{i + 1}"
        if not isinstance(t, dict):
            raise TopologyError(f"{where} must be a table")
        _only(t, {"id", "org", "role", "host", "p2p_port", "api_port"}, where)
        node_id = t.get("id")
        if not isinstance(node_id, str) or not _ID.match(node_id):
            raise TopologyError(f"{where}: id must be 1-64 letters, digits, '.', '_' or '-'")
        where = f"node {node_id}"
        if any(n.node_id == node_id for n in nodes):
            raise TopologyError(f"duplicate node id {node_id}")
        org_id = t.get("org")
        if org_id not in org_ids:
            raise TopologyError(f"{where}: unknown org {org_id!r}")
        role = t.get("role")
        if role not in NODE_ROLES:
            raise TopologyError(f"{where}: role must be validator or observer")
        host = t.get("host", "127.0.0.1")
        if not isinstance(host, str) or not host:
            raise TopologyError(f"{where}: host must be a non-empty string")
        ports = []
        for key in ("p2p_port", "api_port"):
            port = t.get(key)
            if type(port) is not int or not 1 <= port <= 65535:
                raise TopologyError(f"{where}: {key} must be a port number (1-65535)")
            other = listeners.get((host, port))
            if other is not None:
                raise TopologyError(f"{where}: {key} {host}:{port} collides with {other}")
            listeners[(host, port)] = f"{node_id}.{key}"
            ports.append(port)
        nodes.append(
            NodeEntry(
                node_id=node_id, org_id=org_id, role=role, host=host, p2p_port=ports[0], api_port=ports[1]
            )
        )
    return tuple(nodes)
