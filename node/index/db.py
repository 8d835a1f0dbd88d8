"""The index database: engines for SQLite (default) and PostgreSQL, the schema, and applying changes.

Rules:

- The index URL is `[index] url` from node.toml, or SQLite at `<data_dir>/index.sqlite`: inside the
  node's data directory (a container's data volume), so it needs no other writable place.
  `postgresql://` URLs use psycopg 3 (`postgresql+psycopg://`), the extra `orgledger[postgres]`;
  without it the index says so (`index_unavailable`, and in the node's log).
- SQLite runs in WAL mode with real transactions (SQLAlchemy's pysqlite recipe), PostgreSQL
  reads run REPEATABLE READ: one query's rows and the height it reports come from one snapshot.
- Every change to the index is one transaction that also moves `indexed_height`, so the index
  always equals the ledger state at its height for every key it keeps (all or nothing).
- The index is bound to one chain (`genesis_hash`) and one schema version; a mismatch empties it
  and it is rebuilt from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, delete, event, insert
from sqlalchemy import select as sa_select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, col

from node.errors import IndexUnavailableError
from node.index.models import SCHEMA_VERSION, IndexMeta, OrgRow, PersonLink, RecordRow, UserRow
from wire.records import SCAN_PREFIXES, Projection, classify, project

log = logging.getLogger("orgledger.index")

CHUNK = 500
K_HEIGHT, K_GENESIS, K_SCHEMA = "indexed_height", "genesis_hash", "schema_version"
TABLES = (RecordRow, PersonLink, OrgRow, UserRow)


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


INDEX_FILE = "index.sqlite"


def default_url(data_dir: Path) -> str:
    """SQLite inside the data directory (LevelDB leaves files it did not write alone)."""
    return f"sqlite:///{Path(data_dir).resolve() / INDEX_FILE}"


def normalise_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable url>"


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _: Any) -> None:
                dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN")

            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4, pool_timeout=5)
    except ImportError as exc:
        hint = " (pip install 'orgledger[postgres]')" if "psycopg" in str(exc) else ""
        raise IndexUnavailableError(f"cannot use index database {redact(url)}: {exc}{hint}") from exc
    except (ArgumentError, SQLAlchemyError) as exc:
        raise IndexUnavailableError(f"cannot use index database {redact(url)}: {exc}") from exc


class IndexDb:
    """One index database: schema, progress marker, changes and full rebuilds."""

    def __init__(self, url: str, *, single_connection: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url) if not single_connection else self._nullpool(self.url)
        is_pg = self.engine.dialect.name == "postgresql"
        self.reader = (
            self.engine.execution_options(isolation_level="REPEATABLE READ") if is_pg else self.engine
        )
        try:
            SQLModel.metadata.create_all(self.engine, tables=[_table(t) for t in (*TABLES, IndexMeta)])
        except SQLAlchemyError as exc:
            raise IndexUnavailableError(f"cannot open index database {redact(self.url)}: {exc}") from exc
        self.height = self._read_height()

    @staticmethod
    def _nullpool(url: str) -> Engine:
        return create_engine(url, poolclass=NullPool)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ meta
    def meta(self, key: str) -> str | None:
        with Session(self.engine) as s:
            row = s.get(IndexMeta, key)
            return None if row is None else row.value

    def _read_height(self) -> int:
        value = self.meta(K_HEIGHT)
        return int(value) if value is not None and value.isdigit() else -1

    def bound_to(self, genesis_hash: bytes) -> bool:
        """True when the index holds this chain at this schema version (else it must be rebuilt)."""
        return self.meta(K_GENESIS) == genesis_hash.hex() and self.meta(K_SCHEMA) == SCHEMA_VERSION

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session over one snapshot of the index."""
        with Session(self.reader) as s, s.begin():
            yield s

    # ------------------------------------------------------------------ writes
    def apply(self, state: Any, keys: Iterable[bytes], height: int, genesis_hash: bytes) -> int:
        """Re-project `keys` from `state` (a store snapshot at `height`) in one transaction."""
        wanted: list[str] = []
        for k in keys:
            try:
                text = k.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if classify(text) is not None:
                wanted.append(text)
        with Session(self.engine) as s, s.begin():
            self._delete_keys(s, wanted)
            projections = []
            for key in wanted:
                raw = state.state_get(key.encode("utf-8"))
                if raw is not None and (p := project(key, raw, height)) is not None:
                    projections.append(p)
            self._insert(s, projections)
            self._set_meta(s, height, genesis_hash)
        self.height = height
        return len(wanted)

    def rebuild(
        self, state: Any, height: int, genesis_hash: bytes, stop: Any = None, progress: Any = None
    ) -> int:
        """Replace the whole index by the projection of `state` at `height` (one transaction);
        `progress(n)` hears of every CHUNK rows written (a progress bar)."""
        count = 0
        with Session(self.engine) as s, s.begin():
            for table in TABLES:
                s.execute(delete(table))
            batch: list[Projection] = []
            for prefix in SCAN_PREFIXES:
                start = prefix.encode()
                end = start[:-1] + bytes((start[-1] + 1,))
                for k, raw in state.state_scan(start, end):
                    p = project(k.decode("utf-8", "replace"), raw, height)
                    if p is None:
                        continue
                    batch.append(p)
                    count += 1
                    if len(batch) >= CHUNK:
                        self._insert(s, batch)
                        if progress is not None:
                            progress(len(batch))
                        batch = []
                        if stop is not None and stop():
                            raise InterruptedError("index rebuild interrupted by shutdown")
            self._insert(s, batch)
            self._set_meta(s, height, genesis_hash)
        self.height = height
        return count

    def _delete_keys(self, s: Session, keys: Sequence[str]) -> None:
        orgs = [k.split("/", 1)[1] for k in keys if k.startswith("org/")]
        users = [k.split("/", 1)[1] for k in keys if k.startswith("user/")]
        records = [k for k in keys if not k.startswith(("org/", "user/"))]
        for i in range(0, len(records), CHUNK):
            chunk = records[i : i + CHUNK]
            s.execute(delete(RecordRow).where(col(RecordRow.state_key).in_(chunk)))
            s.execute(delete(PersonLink).where(col(PersonLink.state_key).in_(chunk)))
        for i in range(0, len(orgs), CHUNK):
            s.execute(delete(OrgRow).where(col(OrgRow.org_id).in_(orgs[i : i + CHUNK])))
        for i in range(0, len(users), CHUNK):
            s.execute(delete(UserRow).where(col(UserRow.pubkey).in_(users[i : i + CHUNK])))

    @staticmethod
    def _insert(s: Session, projections: Sequence[Projection]) -> None:
        by_table: dict[str, list[dict[str, Any]]] = {"org": [], "user": [], "record": []}
        links: list[dict[str, Any]] = []
        for p in projections:
            by_table[p.table].append(p.row)
            if p.table == "record":
                links.extend(
                    {"state_key": p.row["state_key"], "person_key": pk, "family": p.row["family"]}
                    for pk in p.persons
                )
        conn = s.connection()  # Core executemany: one statement for all rows of a table
        for name, model in (("org", OrgRow), ("user", UserRow), ("record", RecordRow)):
            if by_table[name]:
                conn.execute(insert(_table(model)), by_table[name])
        if links:
            conn.execute(insert(_table(PersonLink)), links)

    @staticmethod
    def _set_meta(s: Session, height: int, genesis_hash: bytes) -> None:
        for key, value in (
            (K_HEIGHT, str(height)),
            (K_GENESIS, genesis_hash.hex()),
            (K_SCHEMA, SCHEMA_VERSION),
        ):
            s.merge(IndexMeta(key=key, value=value))

    # ------------------------------------------------------------------ tests and rebuild checks
    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted, without `updated_height` (which depends on batching)."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.read() as s:
            for table in TABLES:
                t = _table(table)
                cols = [c for c in t.columns if c.name != "updated_height"]
                out[t.name] = sorted(tuple(r) for r in s.execute(sa_select(*cols)).all())
        return out
