"""A node's own configuration: `node.toml` in its directory, typed and validated once.

Rules:

- The file is validated once, on load, against the pydantic models below (`ConfigFile`): every
  table is closed (an unknown key is refused with its dotted name, e.g. `api.rate_per_sec`),
  every value has a type and a range, and a `ConfigError` lists every problem, one a line,
  each naming the key (or the environment variable) at fault. Nothing reads raw TOML elsewhere.
- Tables: top level `node_id`, `genesis`, `key_file`, `data_dir` (and `log_level`, the older
  spelling of `[log] level`); `[p2p]`, `[api]`, `[index]`, `[admission]`, `[privacy]`, `[log]`,
  `[integrity]`, `[state]`, `[store]`, `[peers]`. docs/operations.md ("node.toml") lists every key with its default.
- Environment overrides for container deployments: `ORGLEDGER_<KEY>` for a top-level key and
  `ORGLEDGER_<TABLE>_<KEY>` for a table's key (`ORGLEDGER_DATA_DIR`, `ORGLEDGER_LOG_FORMAT`,
  `ORGLEDGER_INDEX_URL`, `ORGLEDGER_API_HOST`, ...; `[peers]` has none). An override wins over
  the file; its text is converted to the key's type, and a bad value names the variable. Other
  `ORGLEDGER_*` variables (the fail points of tests) are not configuration and are ignored.
- Relative paths, in the file or in an override, are relative to the directory holding node.toml.
- Secrets are never in node.toml itself, only paths to key files with mode 0600.
- The old open `[extra]` table is refused with where each of its keys went.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from node.errors import ConfigError

ENV_PREFIX = "ORGLEDGER_"

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]

#: where each key of the old `[extra]` table lives now
MOVED_FROM_EXTRA = {
    "api_rate_per_s": "[api] rate_per_s",
    "api_burst": "[api] burst",
    "api_window_ms": "[api] window_ms",
    "blob_max_bytes": "[privacy] blob_max_bytes",
    "blob_replicas": "[privacy] blob_replicas",
    "access_anchor_interval_s": "[privacy] access_anchor_interval_s",
    "access_segment_bytes": "[privacy] access_segment_bytes",
    "person_key_rate_per_s": "[privacy] person_key_rate_per_s",
    "person_key_burst": "[privacy] person_key_burst",
    "admission_client_rate_s": "[admission] client_rate_s",
    "admission_client_burst": "[admission] client_burst",
    "admission_rate_s": "[admission] rate_s",
    "admission_burst": "[admission] burst",
    "api_max_connections": "[api] max_connections",
    "api_max_connections_per_client": "[api] max_connections_per_client",
    "api_idle_timeout_s": "[api] idle_timeout_s",
    "api_header_timeout_s": "[api] header_timeout_s",
    "api_body_timeout_s": "[api] body_timeout_s",
    "api_max_header_bytes": "[api] max_header_bytes",
}


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class P2PSettings(_Table):
    """`[p2p]`: where the node listens for its peers, and its TLS (mutual: all three files or none)."""

    host: NonEmpty
    port: Port
    #: the node's certificate and key, and the network CA every peer's certificate must be
    #: signed by (node/tls.py); with them the p2p port speaks only TLS and dials only TLS
    tls_cert_file: NonEmpty | None = None
    tls_key_file: NonEmpty | None = None
    tls_ca_file: NonEmpty | None = None

    @model_validator(mode="after")
    def _tls_all_or_none(self) -> P2PSettings:
        given = [self.tls_cert_file, self.tls_key_file, self.tls_ca_file]
        if any(given) and not all(given):
            raise ValueError(
                "TLS on the p2p port is mutual: give tls_cert_file, tls_key_file and tls_ca_file, or none"
            )
        return self


class ApiSettings(_Table):
    """`[api]`: where the HTTP API listens, per-key rate limits, the clock window, readiness."""

    host: NonEmpty
    port: Port
    #: signed reads per second per key, and the bucket's size (429 `rate_limited` beyond)
    rate_per_s: float = Field(default=500.0, gt=0, le=1e9)
    burst: float = Field(default=1000.0, ge=1, le=1e9)
    #: how far a signed request's timestamp may be from the node's clock
    window_ms: int = Field(default=30_000, ge=1000, le=600_000)
    #: /readyz: at most this many blocks behind the highest height the peers report
    ready_max_behind: int = Field(default=5, ge=0, le=1_000_000)
    #: connections (node/api/server.py): per node (503 `too_many_connections` beyond) and per
    #: client address (429 `client_connection_limit`)
    max_connections: int = Field(default=1024, ge=1, le=1_000_000)
    max_connections_per_client: int = Field(default=128, ge=1, le=1_000_000)
    #: a connection with no request in progress is closed after this long
    idle_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    #: a request's headers must arrive within this of its first byte, its body within
    #: body_timeout_s of its headers (the connection is closed otherwise)
    header_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    #: the largest request head (400 beyond)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1 << 20)
    #: HTTPS: the node's certificate and key (both or neither); without them the API is plain HTTP
    tls_cert_file: NonEmpty | None = None
    tls_key_file: NonEmpty | None = None
    #: client certificates: "none" (not asked for), "optional" (checked when sent) or "required";
    #: checked against tls_ca_file, which the other two need (when given, the node also checks
    #: at start that its own certificate is signed by it)
    tls_client_certs: Literal["none", "optional", "required"] = "none"
    tls_ca_file: NonEmpty | None = None

    @model_validator(mode="after")
    def _tls_pairs(self) -> ApiSettings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("HTTPS needs both tls_cert_file and tls_key_file")
        if self.tls_client_certs != "none" and not (self.tls_cert_file and self.tls_ca_file):
            raise ValueError(
                f'tls_client_certs = "{self.tls_client_certs}" needs tls_cert_file, tls_key_file and tls_ca_file'
            )
        return self


class AdmissionTable(_Table):
    """`[admission]`: transactions per second `POST /v1/tx` and `/v1/txs` admit, per client
    address (429 `client_rate_limited` beyond) and for the whole node (503 `admission_busy`)."""

    client_rate_s: float = Field(default=1000.0, gt=0, le=1e9)
    client_burst: float = Field(default=4000.0, ge=1, le=1e9)
    rate_s: float = Field(default=4000.0, gt=0, le=1e9)
    burst: float = Field(default=16000.0, ge=1, le=1e9)


class IndexSettings(_Table):
    """`[index]`: the read index database and its readiness bound."""

    #: "" = SQLite inside the data directory (`<data_dir>/index.sqlite`)
    url: str = ""
    #: /readyz: the index at most this many blocks behind the store
    ready_max_lag: int = Field(default=100, ge=0, le=1_000_000)


class PrivacySettings(_Table):
    """`[privacy]`: person keys, blobs and the access log (docs/privacy.md)."""

    person_key_secret_file: NonEmpty | None = None
    blob_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=256 << 20)
    blob_replicas: int = Field(default=2, ge=0, le=64)
    access_anchor_interval_s: float = Field(default=900.0, ge=0.2, le=86_400)
    access_segment_bytes: int = Field(default=16 * 1024 * 1024, ge=4096, le=1 << 30)
    person_key_rate_per_s: float = Field(default=20.0, ge=0.01, le=1e6)
    person_key_burst: float = Field(default=200.0, ge=1, le=1e7)


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class LogSettings(_Table):
    """`[log]`: level and format ("text": one readable line; "json": one JSON object a line)."""

    level: LogLevel = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return (
            value.upper()
            if value.lower() in ("debug", "info", "warning", "error", "critical")
            else value.lower()
        )


class IntegritySettings(_Table):
    """`[integrity]`: how much of the store the node checks before it starts."""

    verify_on_start: Literal["full", "recent", "off"] = "recent"


class StateSettings(_Table):
    """`[state]`: how an empty node gets the state, and how much map history it keeps."""

    #: "snapshot": an empty node joins by a verified snapshot of a peer far enough ahead
    #: (node/runtime/statesync.py); "replay": it replays every block from genesis
    sync: Literal["snapshot", "replay"] = "snapshot"
    #: heights whose state map stays provable (older nodes are pruned; at least 2 watermark windows)
    map_retain_blocks: int = Field(default=256, ge=1, le=10_000_000)


class StoreSettings(_Table):
    """`[store]`: how LevelDB writes the block store (node/store/storage.py)."""

    #: "none": tables written uncompressed; "snappy": compressed (LevelDB's default): half the
    #: disk of the block store (3,013 against 6,012 bytes per transaction at 40,000) for roughly
    #: three times LevelDB's compaction CPU (issue 19, docs/benchmarks.md)
    compression: Literal["none", "snappy"] = "none"

    @property
    def compress(self) -> bool:
        """What `BlockStore.open(compress=...)` takes: every writer of the node's store passes it."""
        return self.compression == "snappy"


class ConfigFile(_Table):
    """The whole of node.toml."""

    node_id: NonEmpty
    genesis: NonEmpty
    key_file: NonEmpty
    data_dir: NonEmpty
    log_level: str | None = None  # the older spelling of [log] level
    p2p: P2PSettings
    api: ApiSettings
    index: IndexSettings = Field(default_factory=IndexSettings)
    admission: AdmissionTable = Field(default_factory=AdmissionTable)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    log: LogSettings = Field(default_factory=LogSettings)
    integrity: IntegritySettings = Field(default_factory=IntegritySettings)
    state: StateSettings = Field(default_factory=StateSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    peers: dict[str, NonEmpty] = Field(default_factory=dict)
    #: a node joining after genesis (issue 17): its org until the ledger lists it
    org_id: str = ""
    #: a running peer's API URL to learn the current validators from (verified from genesis)
    bootstrap: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """TLS of one port, paths resolved: the node's certificate and key, the CA (None: the API
    without client certificates), and for the API which client certificates it asks for."""

    cert: Path
    key: Path
    ca: Path | None
    client_certs: Literal["none", "optional", "required"] = "required"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """What the node runs with: node.toml after overrides, paths resolved."""

    node_id: str
    base_dir: Path
    genesis_file: Path
    key_file: Path
    data_dir: Path
    p2p_host: str
    p2p_port: int
    api_host: str
    api_port: int
    api: ApiSettings
    index: IndexSettings = field(default_factory=IndexSettings)
    admission: AdmissionTable = field(default_factory=AdmissionTable)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    log: LogSettings = field(default_factory=LogSettings)
    state: StateSettings = field(default_factory=StateSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    peer_addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    verify_on_start: str = "recent"  # [integrity]: full | recent | off (node/store/integrity.py)
    # a node joining after genesis (issue 17): its org until the ledger says so, and a running
    # peer's API URL to learn the current validators from (verified from genesis)
    org_id: str = ""
    bootstrap: str = ""
    #: [p2p] TLS (mutual, so with the CA) and [api] HTTPS; None: plaintext
    p2p_tls: TlsFiles | None = None
    api_tls: TlsFiles | None = None

    @property
    def log_level(self) -> str:
        return self.log.level

    @property
    def index_url(self) -> str:
        return self.index.url

    @property
    def person_key_secret_file(self) -> Path | None:
        secret = self.privacy.person_key_secret_file
        return None if secret is None else self.base_dir / secret

    @classmethod
    def load(cls, path: Path, env: Mapping[str, str] | None = None) -> NodeConfig:
        """Read, override from `env` (default: the process environment) and validate `path`."""
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path} is not UTF-8 text: {exc}") from exc
        return cls.from_document(doc, Path(path), os.environ if env is None else env)

    @classmethod
    def from_document(cls, doc: dict[str, Any], path: Path, env: Mapping[str, str]) -> NodeConfig:
        if "extra" in doc:
            moved = dict(doc.pop("extra") or {})
            where = "; ".join(f"{k} -> {MOVED_FROM_EXTRA.get(k, 'no such setting')}" for k in sorted(moved))
            raise ConfigError(
                f"{path}: the [extra] table was replaced by typed tables; move its keys: {where or '(empty)'}"
            )
        from_env = _apply_env(doc, env, path)
        try:
            parsed = ConfigFile.model_validate(doc)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, path, from_env)) from None
        log = parsed.log
        if parsed.log_level is not None and "level" not in doc.get("log", {}):
            try:
                level = TypeAdapter(LogLevel).validate_python(parsed.log_level.upper())
            except ValidationError:
                raise ConfigError(
                    f"{path}: log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL"
                ) from None
            log = log.model_copy(update={"level": level})
        base = path.resolve().parent
        p2p_tls, api_tls = _tls_files(parsed, base, path, from_env)
        return cls(
            node_id=parsed.node_id,
            base_dir=base,
            genesis_file=base / parsed.genesis,
            key_file=base / parsed.key_file,
            data_dir=(base / parsed.data_dir).resolve(),
            p2p_host=parsed.p2p.host,
            p2p_port=parsed.p2p.port,
            api_host=parsed.api.host,
            api_port=parsed.api.port,
            api=parsed.api,
            index=parsed.index,
            admission=parsed.admission,
            privacy=parsed.privacy,
            log=log,
            state=parsed.state,
            store=parsed.store,
            peer_addresses=_peers(parsed.peers, path),
            verify_on_start=parsed.integrity.verify_on_start,
            org_id=parsed.org_id,
            bootstrap=parsed.bootstrap,
            p2p_tls=p2p_tls,
            api_tls=api_tls,
        )


def env_names() -> dict[str, tuple[str, ...]]:
    """Every override variable and the key it sets: `ORGLEDGER_API_PORT` -> ("api", "port")."""
    out: dict[str, tuple[str, ...]] = {}
    for name, info in ConfigFile.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, _Table):
            for key in sub.model_fields:
                out[f"{ENV_PREFIX}{name}_{key}".upper()] = (name, key)
        elif name not in ("peers", "log_level"):
            out[f"{ENV_PREFIX}{name}".upper()] = (name,)
    return out


def _field_type(loc: tuple[str, ...]) -> Any:
    model: type[BaseModel] = ConfigFile
    for part in loc[:-1]:
        sub = model.model_fields[part].annotation
        assert isinstance(sub, type) and issubclass(sub, BaseModel)
        model = sub
    return model.model_fields[loc[-1]].annotation


def _apply_env(doc: dict[str, Any], env: Mapping[str, str], path: Path) -> dict[tuple[str, ...], str]:
    """Write the overrides in `env` into `doc`, converted to each key's type; {key path: variable}."""
    applied: dict[tuple[str, ...], str] = {}
    for var, loc in env_names().items():
        if var not in env:
            continue
        kind = _field_type(loc)
        value: Any = env[var]
        if kind in (int, float) or getattr(kind, "__origin__", None) is Annotated:
            try:  # numbers arrive as text: convert them here, the model checks the range
                value = TypeAdapter(kind).validate_python(env[var], strict=False)
            except ValidationError as exc:
                raise ConfigError(f"{var}={env[var]!r}: {exc.errors()[0]['msg']}") from None
        target = doc
        for part in loc[:-1]:
            table = target.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: [{part}] must be a table")
            target = table
        target[loc[-1]] = value
        applied[loc] = var
    return applied


def _describe(exc: ValidationError, path: Path, from_env: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key {key}")
        elif err["type"] == "missing":
            lines.append(
                f"{path}: missing {'[' + key + '] table' if len(loc) == 1 and loc[0] in ('p2p', 'api') else 'key ' + key}"
            )
        elif err["type"] == "value_error" and len(loc) == 1:  # a table's own check (TLS files)
            lines.append(f"{path}: [{key}]: {err['msg'].removeprefix('Value error, ')}")
        elif loc in from_env:
            lines.append(f"{from_env[loc]} ({key}): {err['msg']}")
        else:
            lines.append(f"{path}: {key}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def _tls_files(
    parsed: ConfigFile, base: Path, path: Path, from_env: Mapping[tuple[str, ...], str]
) -> tuple[TlsFiles | None, TlsFiles | None]:
    """The TLS files of [p2p] and [api], resolved; each must exist (what is in them is checked
    when the node builds its TLS contexts, node/tls.py, and by `orgledger node config check`)."""
    missing: list[str] = []

    def resolve(table: str, key: str, value: str | None) -> Path | None:
        if value is None:
            return None
        file = base / value
        if not file.is_file():
            var = from_env.get((table, key))
            where = f"{var} ({table}.{key})" if var else f"{path}: {table}.{key}"
            missing.append(f"{where}: {file} does not exist")
        return file

    p2p, api = parsed.p2p, parsed.api
    p2p_files = [resolve("p2p", k, getattr(p2p, k)) for k in ("tls_cert_file", "tls_key_file", "tls_ca_file")]
    api_files = [resolve("api", k, getattr(api, k)) for k in ("tls_cert_file", "tls_key_file", "tls_ca_file")]
    if missing:
        raise ConfigError("\n".join(missing))
    p2p_tls = api_tls = None
    if p2p_files[0] is not None and p2p_files[1] is not None:
        p2p_tls = TlsFiles(cert=p2p_files[0], key=p2p_files[1], ca=p2p_files[2])
    if api_files[0] is not None and api_files[1] is not None:
        api_tls = TlsFiles(
            cert=api_files[0], key=api_files[1], ca=api_files[2], client_certs=api.tls_client_certs
        )
    return p2p_tls, api_tls


def _peers(table: Mapping[str, str], path: Path) -> dict[str, tuple[str, int]]:
    """`[peers]` overrides where to dial a peer: `node_id = "host:port"` (e.g. through a proxy)."""
    out: dict[str, tuple[str, int]] = {}
    for node_id, value in table.items():
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f'{path}: peers.{node_id} must be "host:port"')
        out[node_id] = (host, int(port))
    return out


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
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # TOML basic strings share JSON's escapes
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
