"""The genesis document: chain id, consensus parameters, nodes, the organisation tree, first users,
and the rule configuration. Every node and every auditor starts from it.

Rules:

- `genesis.json` is the human-readable form; its identity is `genesis_hash` = SHA-256 of the
  canonical msgpack encoding of the same JSON object (keys sorted), so whitespace or key order in
  the file never changes the hash.
- Organisation ids are dot-separated paths (`cn`, `cn.gs`, `cn.gs.lz`, ...): the parent of an org
  is its path minus the last segment, and its level is the parent's level plus one, from CENTRAL
  (depth 1) to BRANCH (depth 5).
- Validators are the nodes with role `validator`, in document order; that order is the validator
  index used in certificates. Observers are listed too, so their keys can authenticate.
- `from_json` validates everything and raises GenesisError naming the first problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wire import codec
from wire.certificate import ValidatorSet
from wire.crypto import PUBKEY_SIZE, sha256
from wire.errors import EncodeError, GenesisError

LEVELS: tuple[str, ...] = ("CENTRAL", "PROVINCE", "CITY", "COUNTY", "BRANCH")
ROLES: tuple[str, ...] = ("admin", "operator", "approver", "auditor", "integration")
NODE_ROLES: tuple[str, ...] = ("validator", "observer")
_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}(\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$")
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CHAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def org_parent(org_id: str) -> str | None:
    return org_id.rsplit(".", 1)[0] if "." in org_id else None


def org_depth(org_id: str) -> int:
    return org_id.count(".") + 1


def is_ancestor_or_self(ancestor: str, org_id: str) -> bool:
    """True when `org_id` is `ancestor` or lies in its subtree (path prefix on segment boundaries)."""
    return org_id == ancestor or org_id.startswith(ancestor + ".")


_MAY_BE_ZERO = frozenset({"empty_block_interval_ms", "seal_results", "batch_delay_ticks"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsensusParams:
    checkpoint_interval: int = 16
    watermark_window: int = 64
    exec_lag: int = 2
    max_block_txs: int = 2000
    max_block_bytes: int = 8 * 1024 * 1024
    max_tx_bytes: int = 64 * 1024
    timestamp_drift_ms: int = 10_000
    tick_ms: int = 50
    view_change_timeout_ticks: int = 40
    request_timeout_ticks: int = 100
    empty_block_interval_ms: int = 30_000  # 0 = no heartbeat blocks
    seal_results: int = 1  # 1 = propose empty blocks so receipts become provable at once; 0 = off
    batch_delay_ticks: int = 1  # a block that is not full waits until its oldest tx waited this many ticks

    def to_json(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ConsensusParams:
        unknown = set(doc) - set(cls.__slots__)
        if unknown:
            raise GenesisError(f"unknown consensus parameter(s): {', '.join(sorted(unknown))}")
        values = {k: v for k, v in doc.items()}
        for k, v in values.items():
            if type(v) is not int or v < (0 if k in _MAY_BE_ZERO else 1):
                raise GenesisError(f"consensus parameter {k} must be a positive integer")
        if values.get("seal_results", 1) not in (0, 1):
            raise GenesisError("consensus parameter seal_results must be 0 or 1")
        params = cls(**values)
        if params.watermark_window < 2 * params.checkpoint_interval:
            raise GenesisError("watermark_window must be at least twice checkpoint_interval")
        if params.exec_lag > params.checkpoint_interval:
            raise GenesisError("exec_lag must not exceed checkpoint_interval")
        return params


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgSpec:
    org_id: str
    level: str
    name: str
    enc_pubkey: bytes
    approval_authority: bool
    founded_date: str

    @property
    def parent(self) -> str | None:
        return org_parent(self.org_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "level": self.level,
            "parent": self.parent,
            "name": self.name,
            "enc_pubkey": self.enc_pubkey.hex(),
            "approval_authority": self.approval_authority,
            "founded_date": self.founded_date,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    node_id: str
    org_id: str
    role: str
    pubkey: bytes
    host: str
    p2p_port: int
    api_port: int

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "org_id": self.org_id,
            "role": self.role,
            "pubkey": self.pubkey.hex(),
            "host": self.host,
            "p2p_port": self.p2p_port,
            "api_port": self.api_port,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSpec:
    user_id: str
    org_id: str
    pubkey: bytes
    roles: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "org_id": self.org_id,
            "pubkey": self.pubkey.hex(),
            "roles": list(self.roles),
        }


@dataclass(frozen=True, kw_only=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    consensus: ConsensusParams
    nodes: tuple[NodeSpec, ...]
    orgs: tuple[OrgSpec, ...]
    users: tuple[UserSpec, ...]
    rule_config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def root_org(self) -> str:
        return next(o.org_id for o in self.orgs if o.parent is None)

    @property
    def validator_nodes(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "validator")

    @property
    def validators(self) -> ValidatorSet:
        return ValidatorSet(tuple(n.pubkey for n in self.validator_nodes))

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        raise GenesisError(f"no node {node_id!r} in genesis")

    def org(self, org_id: str) -> OrgSpec:
        for o in self.orgs:
            if o.org_id == org_id:
                return o
        raise GenesisError(f"no organisation {org_id!r} in genesis")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "orgledger-genesis/1",
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "consensus": self.consensus.to_json(),
            "nodes": [n.to_json() for n in self.nodes],
            "orgs": [o.to_json() for o in self.orgs],
            "users": [u.to_json() for u in self.users],
            "rule_config": dict(self.rule_config),
        }

    @property
    def hash(self) -> bytes:
        return sha256(codec.encode(self.to_json()))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, doc: Any) -> Genesis:
        if not isinstance(doc, dict):
            raise GenesisError("genesis must be a JSON object")
        if doc.get("format") != "orgledger-genesis/1":
            raise GenesisError("genesis format must be 'orgledger-genesis/1'")
        try:
            chain_id = _str(doc, "chain_id")
            if not _CHAIN_ID.match(chain_id):
                raise GenesisError(f"chain id {chain_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
            genesis_time = doc["genesis_time_ms"]
            if type(genesis_time) is not int or genesis_time <= 0:
                raise GenesisError("genesis_time_ms must be a positive integer")
            consensus = ConsensusParams.from_json(_obj(doc, "consensus"))
            orgs = tuple(_org(o) for o in _list(doc, "orgs"))
            nodes = tuple(_node(n) for n in _list(doc, "nodes"))
            users = tuple(_user(u) for u in _list(doc, "users"))
            rule_config = _obj(doc, "rule_config")
            codec.canonical(rule_config)
        except EncodeError as exc:
            raise GenesisError(f"rule_config is malformed: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise GenesisError(f"genesis field missing or malformed: {exc}") from exc
        genesis = cls(
            chain_id=chain_id,
            genesis_time_ms=genesis_time,
            consensus=consensus,
            nodes=nodes,
            orgs=orgs,
            users=users,
            rule_config=rule_config,
        )
        genesis.check()
        return genesis

    def check(self) -> None:
        """Cross-field consistency: the tree, ids, keys and the validator set."""
        org_ids = [o.org_id for o in self.orgs]
        if len(set(org_ids)) != len(org_ids):
            raise GenesisError("an organisation id appears twice")
        known = set(org_ids)
        for o in self.orgs:
            _check_org_place(o.org_id, o.level, known)
        node_ids = [n.node_id for n in self.nodes]
        if len(set(node_ids)) != len(node_ids):
            raise GenesisError("a node id appears twice")
        for n in self.nodes:
            if n.org_id not in known:
                raise GenesisError(f"node {n.node_id} belongs to unknown organisation {n.org_id}")
        keys = [n.pubkey for n in self.nodes] + [u.pubkey for u in self.users]
        if len(set(keys)) != len(keys):
            raise GenesisError("a public key is used twice")
        if not self.validator_nodes:
            raise GenesisError("genesis needs at least one validator")
        self.validators  # noqa: B018 - validates the set
        for u in self.users:
            if u.org_id not in known:
                raise GenesisError(f"user {u.user_id} belongs to unknown organisation {u.org_id}")
        roots = [o.org_id for o in self.orgs if o.parent is None]
        if len(roots) != 1:
            raise GenesisError(f"the organisation tree needs exactly one CENTRAL root, found {len(roots)}")
        if not any(u.org_id == roots[0] and "admin" in u.roles for u in self.users):
            raise GenesisError("the root organisation needs an admin user")


def _check_org_place(org_id: str, level: str, known: set[str]) -> None:
    if not _ORG_ID.match(org_id):
        raise GenesisError(f"organisation id {org_id!r} is not a dot path of lower-case segments")
    if level not in LEVELS:
        raise GenesisError(f"organisation {org_id}: unknown level {level!r}")
    parent = org_parent(org_id)
    expected = LEVELS[org_depth(org_id) - 1]
    if parent is not None and parent not in known:
        raise GenesisError(f"organisation {org_id}: parent {parent} is not defined")
    if level != expected:
        raise GenesisError(
            f"organisation {org_id}: level {level} does not follow its parent "
            f"(depth {org_depth(org_id)} is {expected}; a level may not be skipped)"
        )


def _str(doc: Mapping[str, Any], key: str, max_len: int = 256) -> str:
    v = doc[key]
    if type(v) is not str or not 0 < len(v) <= max_len:
        raise GenesisError(f"{key} must be a non-empty string of at most {max_len} characters")
    return v


def _obj(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = doc[key]
    if not isinstance(v, dict):
        raise GenesisError(f"{key} must be an object")
    return v


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    v = doc[key]
    if not isinstance(v, list):
        raise GenesisError(f"{key} must be a list")
    return v


def _key(doc: Mapping[str, Any], key: str) -> bytes:
    try:
        raw = bytes.fromhex(_str(doc, key, 64))
    except ValueError as exc:
        raise GenesisError(f"{key} must be hex") from exc
    if len(raw) != PUBKEY_SIZE:
        raise GenesisError(f"{key} must be a 32-byte key")
    return raw


def _port(doc: Mapping[str, Any], key: str) -> int:
    v = doc[key]
    if type(v) is not int or not 1 <= v <= 65535:
        raise GenesisError(f"{key} must be a port number")
    return v


def _org(doc: Any) -> OrgSpec:
    if not isinstance(doc, dict):
        raise GenesisError("each org must be an object")
    founded = _str(doc, "founded_date", 10)
    if not _DATE.match(founded):
        raise GenesisError("founded_date must be YYYY-MM-DD")
    org = OrgSpec(
        org_id=_str(doc, "org_id", 164),
        level=_str(doc, "level", 16),
        name=_str(doc, "name"),
        enc_pubkey=_key(doc, "enc_pubkey"),
        approval_authority=bool(doc["approval_authority"]),
        founded_date=founded,
    )
    if doc.get("parent") != org.parent:
        raise GenesisError(f"organisation {org.org_id}: parent must be {org.parent!r}")
    return org


def _node(doc: Any) -> NodeSpec:
    if not isinstance(doc, dict):
        raise GenesisError("each node must be an object")
    node_id = _str(doc, "node_id", 64)
    if not _NODE_ID.match(node_id):
        raise GenesisError(f"node id {node_id!r} must be letters, digits, '.', '_' or '-'")
    role = _str(doc, "role", 16)
    if role not in NODE_ROLES:
        raise GenesisError(f"node {node_id}: role must be validator or observer")
    return NodeSpec(
        node_id=node_id,
        org_id=_str(doc, "org_id", 164),
        role=role,
        pubkey=_key(doc, "pubkey"),
        host=_str(doc, "host"),
        p2p_port=_port(doc, "p2p_port"),
        api_port=_port(doc, "api_port"),
    )


def _user(doc: Any) -> UserSpec:
    if not isinstance(doc, dict):
        raise GenesisError("each user must be an object")
    roles = doc["roles"]
    if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
        raise GenesisError(f"user roles must be a non-empty subset of {', '.join(ROLES)}")
    return UserSpec(
        user_id=_str(doc, "user_id", 128),
        org_id=_str(doc, "org_id", 164),
        pubkey=_key(doc, "pubkey"),
        roles=tuple(roles),
    )
