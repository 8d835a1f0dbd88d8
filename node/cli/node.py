"""`orgledger node` and `orgledger index`: run one node, rebuild its read index.

Rules: both work on one node's node.toml and data directory. `node run` stays in the foreground
until SIGTERM and exits with the node's own code; `index rebuild` needs the node stopped (its data
directory is locked while it runs). Heavy imports happen inside the commands so `--help` stays
fast.

`node run` owns its process, so it sets the garbage collector once the node is built: what
start-up made (modules, genesis, the app, the store's caches) is frozen out of the collector's
sight (`gc.freeze`), and the youngest generation is collected every GC_GEN0_THRESHOLD
allocations instead of 700. Full collections then no longer walk the start-up heap, and a
block's many short-lived objects are collected in fewer passes (the node's
`orgledger_gc_cpu_seconds_total`; docs/benchmarks.md, issue 19).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.common import fail

GC_GEN0_THRESHOLD = 10_000


def settle_gc() -> None:
    """Freeze the heap built so far and collect the young generation less often."""
    import gc

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


@click.group()
def node() -> None:
    """Run a node."""


@node.command("run")
@click.option("--config", type=click.Path(path_type=Path), required=True, help="The node's node.toml.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Override the data directory of node.toml.",
)
def node_run(config: Path, data_dir: Path | None) -> None:
    """Run one node in the foreground until SIGTERM."""
    import asyncio

    from node.config import NodeConfig
    from node.errors import NodeError
    from wire.errors import WireError

    try:
        cfg = NodeConfig.load(config)
    except NodeError as exc:
        fail(str(exc))
    if data_dir is not None:
        import dataclasses

        cfg = dataclasses.replace(cfg, data_dir=data_dir.resolve())
    from node.app import NodeApp
    from node.cli.logs import configure_logging

    formatter = configure_logging(cfg)

    async def serve() -> int:
        app = NodeApp.build(cfg)
        formatter.bind(height=app.runtime.height)
        settle_gc()
        return await app.run()

    try:
        code = asyncio.run(serve())
    except (NodeError, WireError) as exc:
        fail(str(exc))
    sys.exit(code)


@node.group("config")
def node_config() -> None:
    """Check a node.toml."""


@node_config.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def node_config_check(file: Path) -> None:
    """Validate FILE (a node.toml, with the ORGLEDGER_* overrides of this environment) and the
    files it names: genesis, the node key, the person-key secret, and the TLS certificates (each
    against its key and the network CA, and in its validity period). A node of genesis must hold
    its genesis key, unless the ledger rotated it (checked against the ledger at start); a node
    added later must name its `org_id` and a `bootstrap` peer.

    Exit 0 when all is well (a summary is printed), 1 with one `error:` line per problem."""
    from node.config import NodeConfig
    from node.errors import NodeError
    from node.index import default_url, redact
    from node.privacy.personkeys import PersonKeySecrets
    from node.tls import check_tls_files
    from wire.errors import WireError
    from wire.files import load_genesis, load_signing_key

    try:
        cfg = NodeConfig.load(file)
    except NodeError as exc:
        for line in str(exc).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    problems: list[str] = []
    try:
        genesis = load_genesis(cfg.genesis_file)
        key = load_signing_key(cfg.key_file)
        spec = next((n for n in genesis.nodes if n.node_id == cfg.node_id), None)
        if spec is None and not (cfg.org_id and cfg.bootstrap):
            problems.append(
                f"no node {cfg.node_id!r} in genesis: a node added later names its org_id and a "
                "bootstrap peer's API URL"
            )
        owner = next((n.node_id for n in genesis.nodes if n.pubkey == key.public), None)
        if owner is not None and owner != cfg.node_id:
            problems.append(f"{cfg.key_file} is the key genesis lists for node {owner}, not {cfg.node_id}")
        elif spec is not None and key.public != spec.pubkey:
            click.echo(
                f"note: {cfg.key_file} is not the key genesis lists for node {cfg.node_id}; the node "
                "starts only if the ledger rotated its key to this one",
                err=True,
            )
    except WireError as exc:
        problems.append(f"{file}: {exc}")
    if cfg.person_key_secret_file is not None:
        try:
            PersonKeySecrets.load(cfg.person_key_secret_file)
        except NodeError as exc:
            problems.append(str(exc))
    tls = []
    try:
        if cfg.p2p_tls is not None:
            check_tls_files(cfg.p2p_tls)  # with the CA: p2p TLS always names one
            tls.append("p2p mutual TLS")
        if cfg.api_tls is not None:
            check_tls_files(cfg.api_tls)
            tls.append(f"api HTTPS (client certificates {cfg.api_tls.client_certs})")
    except NodeError as exc:
        problems.append(str(exc))
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(1)
    index_url = redact(cfg.index_url or default_url(cfg.data_dir))
    click.echo(
        f"{file}: ok: node {cfg.node_id}, p2p {cfg.p2p_host}:{cfg.p2p_port}, api {cfg.api_host}:{cfg.api_port}, "
        f"data {cfg.data_dir}, index {index_url}, log {cfg.log.level} {cfg.log.format}, "
        f"{'; '.join(tls) or 'no TLS'}"
    )


@click.group()
def index() -> None:
    """The read index (SQLite or PostgreSQL) the read API queries."""


@index.command("rebuild")
@click.option("--config", type=click.Path(path_type=Path), required=True, help="The node's node.toml.")
@click.option(
    "--url", default=None, help="Index database URL (default: [index] url of node.toml, or SQLite)."
)
def index_rebuild(config: Path, url: str | None) -> None:
    """Rebuild the index from the node's block store (the node must be stopped)."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from node.config import NodeConfig
    from node.errors import NodeError, StorageLockedError
    from node.index import IndexUnavailableError, default_url, rebuild_from_store, redact
    from wire.errors import WireError
    from wire.files import load_genesis

    try:
        cfg = NodeConfig.load(config)
        genesis = load_genesis(cfg.genesis_file)
        target = url or cfg.index_url or default_url(cfg.data_dir)
        started = time.monotonic()
        from tqdm import tqdm

        with tqdm(unit="row", desc="index rebuild", disable=None, leave=False) as bar:
            rows, height = rebuild_from_store(cfg.data_dir, genesis.hash, target, progress=bar.update)
    except StorageLockedError:
        fail(f"node {cfg.node_id} is running (its data directory is locked); stop it, then rebuild")
    except (IndexUnavailableError, SQLAlchemyError) as exc:
        fail(f"index database: {exc}")
    except (NodeError, WireError) as exc:
        fail(str(exc))
    click.echo(
        f"index {redact(target)} rebuilt at height {height}: {rows} rows in {time.monotonic() - started:.1f}s"
    )


@index.command("verify")
@click.option("--config", type=click.Path(path_type=Path), required=True, help="The node's node.toml.")
@click.option(
    "--url", default=None, help="Index database URL (default: [index] url of node.toml, or SQLite)."
)
@click.option("--dry-run", is_flag=True, help="Report the differences without repairing them.")
def index_verify(config: Path, url: str | None, dry_run: bool) -> None:
    """Check the whole index against the node's ledger state and repair what differs (the node must
    be stopped). Exit status 0 when the index was right, 1 when differences were found."""
    from sqlalchemy.exc import SQLAlchemyError

    from node.config import NodeConfig
    from node.errors import NodeError, StorageLockedError
    from node.index import IndexDb, IndexUnavailableError, default_url, redact
    from node.index.verify import repair_index, verify_index
    from node.store.storage import BlockStore
    from wire.errors import WireError
    from wire.files import load_genesis

    try:
        cfg = NodeConfig.load(config)
        genesis = load_genesis(cfg.genesis_file)
        target = url or cfg.index_url or default_url(cfg.data_dir)
        with BlockStore.open(cfg.data_dir, genesis.hash, create=False) as store, store.snapshot() as snap:
            db = IndexDb(target)
            try:
                report = verify_index(snap, db)
                if not report.ok and not dry_run:
                    repair_index(snap, db, report, genesis.hash)
            finally:
                db.close()
    except StorageLockedError:
        fail(f"node {cfg.node_id} is running (its data directory is locked); stop it, then verify")
    except (IndexUnavailableError, SQLAlchemyError) as exc:
        fail(f"index database: {exc}")
    except (NodeError, WireError) as exc:
        fail(str(exc))
    click.echo(
        f"index {redact(target)} at height {report.index_height}, state at height {report.height}: "
        f"{report.rows} rows checked, {report.missing} missing, {report.extra} extra, {report.differ} differing"
    )
    for line in report.examples:
        click.echo(f"  {line}")
    if report.ok:
        click.echo("the index agrees with the ledger state")
        return
    if dry_run:
        click.echo("not repaired (--dry-run)")
    elif report.rebuilt:
        click.echo("the index was at another height or of another chain: rebuilt from the state")
    else:
        click.echo(f"repaired {len(report.keys)} row(s) from the state")
    sys.exit(1)
