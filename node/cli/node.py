"""`orgledger node` and `orgledger index`: run one node, rebuild its read index.

Rules: both work on one node's node.toml and data directory. `node run` stays in the foreground
until SIGTERM and exits with the node's own code; `index rebuild` needs the node stopped (its data
directory is locked while it runs). Heavy imports happen inside the commands so `--help` stays
fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.common import fail


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
    import logging

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
    logging.basicConfig(
        level=getattr(logging, cfg.log_level, logging.INFO),
        format=f"%(asctime)s %(levelname)s {cfg.node_id} %(name)s: %(message)s",
    )

    from node.app import run_node

    try:
        code = asyncio.run(run_node(cfg))
    except (NodeError, WireError) as exc:
        fail(str(exc))
    sys.exit(code)


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
        target = url or cfg.index_url or default_url(cfg.data_dir, cfg.node_id)
        started = time.monotonic()
        rows, height = rebuild_from_store(cfg.data_dir, genesis.hash, target)
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
        target = url or cfg.index_url or default_url(cfg.data_dir, cfg.node_id)
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
