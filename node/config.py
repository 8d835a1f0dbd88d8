"""A node's own configuration: `node.toml` in its directory.

Rules: relative paths are relative to the directory holding node.toml; unknown keys are errors;
every value is checked on load and a ConfigError names the key at fault. Secrets are never in
node.toml itself, only paths to key files with mode 0600.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    node_id: str
    base_dir: Path
    genesis_file: Path
    key_file: Path
    data_dir: Path
    p2p_host: str
    p2p_port: int
    api_host: str
    api_port: int
    log_level: str = "INFO"
    index_url: str = ""
    person_key_secret_file: Path | None = None
    peer_addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    verify_on_start: str = "recent"  # [integrity]: full | recent | off (node/store/integrity.py)
    # a node joining after genesis (issue 17): its org until the ledger says so, and a running
    # peer's API URL to learn the current validators from (verified from genesis)
    org_id: str = ""
    bootstrap: str = ""

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        base = path.resolve().parent
        allowed = {
            "node_id",
            "genesis",
            "key_file",
            "data_dir",
            "p2p",
            "api",
            "log_level",
            "index",
            "privacy",
            "peers",
            "extra",
            "integrity",
            "org_id",
            "bootstrap",
        }
        unknown = sorted(set(doc) - allowed)
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
        p2p, api = _table(doc, "p2p", path), _table(doc, "api", path)
        index, privacy = (
            _table(doc, "index", path, optional=True),
            _table(doc, "privacy", path, optional=True),
        )
        secret = privacy.get("person_key_secret_file")
        return cls(
            node_id=_str(doc, "node_id", path),
            base_dir=base,
            genesis_file=base / _str(doc, "genesis", path),
            key_file=base / _str(doc, "key_file", path),
            data_dir=base / _str(doc, "data_dir", path),
            p2p_host=_str(p2p, "host", path, "p2p."),
            p2p_port=_port(p2p, "port", path, "p2p."),
            api_host=_str(api, "host", path, "api."),
            api_port=_port(api, "port", path, "api."),
            log_level=str(doc.get("log_level", "INFO")).upper(),
            index_url=str(index.get("url", "")),
            person_key_secret_file=(base / secret) if isinstance(secret, str) else None,
            peer_addresses=_peers(_table(doc, "peers", path, optional=True), path),
            extra=dict(_table(doc, "extra", path, optional=True)),
            verify_on_start=_integrity(_table(doc, "integrity", path, optional=True), path),
            org_id=_opt_str(doc, "org_id", path),
            bootstrap=_opt_str(doc, "bootstrap", path),
        )


def _opt_str(doc: dict[str, Any], key: str, path: Path) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key} must be a string")
    return value


def _integrity(table: dict[str, Any], path: Path) -> str:
    """`[integrity] verify_on_start = "full" | "recent" | "off"` (default "recent")."""
    unknown = sorted(set(table) - {"verify_on_start"})
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) integrity.{', integrity.'.join(unknown)}")
    value = table.get("verify_on_start", "recent")
    if value not in ("full", "recent", "off"):
        raise ConfigError(f'{path}: integrity.verify_on_start must be "full", "recent" or "off"')
    return str(value)


def _peers(table: dict[str, Any], path: Path) -> dict[str, tuple[str, int]]:
    """`[peers]` overrides where to dial a peer: `node_id = "host:port"` (e.g. through a proxy)."""
    out: dict[str, tuple[str, int]] = {}
    for node_id, value in table.items():
        host, _, port = str(value).rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f'{path}: peers.{node_id} must be "host:port"')
        out[node_id] = (host, int(port))
    return out


def _table(doc: dict[str, Any], key: str, path: Path, optional: bool = False) -> dict[str, Any]:
    value = doc.get(key)
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{key}] table missing")
    return value


def _str(doc: dict[str, Any], key: str, path: Path, prefix: str = "") -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: {prefix}{key} must be a non-empty string")
    return value


def _port(doc: dict[str, Any], key: str, path: Path, prefix: str = "") -> int:
    value = doc.get(key)
    if type(value) is not int or not 1 <= value <= 65535:
        raise ConfigError(f"{path}: {prefix}{key} must be a port number")
    return value


def toml_dumps(doc: dict[str, Any]) -> str:
    """Write a TOML document of scalars and one level of tables (all node.toml needs)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_scalar(value)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_scalar(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # TOML basic strings share JSON's escapes
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
