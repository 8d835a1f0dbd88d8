"""The `orgledger` command line: one entry point, `--help` on every command.

Rules: every failure prints one clear `error: ...` line on stderr and exits non-zero (1 for
operational failures, 2 for usage errors, as click does); commands that are not built yet say so
and exit 3 rather than pretend. Heavy imports happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from node import __version__

EXIT_NOT_BUILT = 3


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def not_built(what: str, issue: int) -> NoReturn:
    fail(f"`{what}` is not built yet (tracked in issue #{issue})", EXIT_NOT_BUILT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """orgledger: a permissioned BFT ledger for five-level organisations."""


@cli.command()
def version() -> None:
    """Print the orgledger version."""
    click.echo(f"orgledger {__version__}")


# --------------------------------------------------------------------------------------------- keys
@cli.group()
def keys() -> None:
    """Key files (ed25519 signing keys, X25519 encryption keys)."""


@keys.command("new")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Key file to write (0600)."
)
@click.option("--kind", type=click.Choice(["ed25519", "x25519"]), default="ed25519", show_default=True)
@click.option("--label", default="", help="A label stored in the key file.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def keys_new(out: Path, kind: str, label: str, force: bool) -> None:
    """Generate a new key pair and print its public key."""
    from wire.crypto import EncryptionKey, SigningKey, write_key_file

    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    if kind == "ed25519":
        sk = SigningKey.generate()
        secret, public = sk.seed, sk.public
    else:
        ek = EncryptionKey.generate()
        secret, public = ek.secret, ek.public
    try:
        write_key_file(out, kind, secret, public, label)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    click.echo(public.hex())


# ------------------------------------------------------------------------------------------ network
@cli.group()
def network() -> None:
    """Describe a network: keys, genesis and node directories."""


@network.command("init")
@click.option(
    "--topology",
    type=click.Path(path_type=Path),
    default=None,
    help="Topology TOML (default: the shipped five-level topology).",
)
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Directory to write.")
@click.option("--force", is_flag=True, help="Replace an existing network directory.")
def network_init(topology: Path | None, out: Path, force: bool) -> None:
    """Write node directories, genesis.json and admin keys for a topology; print the genesis hash."""
    from node.netinit import NetInitError, init_network

    try:
        result = init_network(topology, out, force=force)
    except NetInitError as exc:
        fail(str(exc))
    click.echo(f"chain id:      {result.genesis.chain_id}")
    click.echo(f"validators:    {len(result.genesis.validator_nodes)}")
    click.echo(f"nodes:         {', '.join(n.node_id for n in result.genesis.nodes)}")
    click.echo(f"genesis:       {result.genesis_path}")
    click.echo(f"genesis hash:  {result.genesis.hash.hex()}")


# --------------------------------------------------------------------------------------- the rest
@cli.group()
def node() -> None:
    """Run a node."""


@node.command("run")
@click.option("--config", type=click.Path(path_type=Path), required=True, help="The node's node.toml.")
def node_run(config: Path) -> None:
    """Run one node in the foreground until SIGTERM."""
    not_built("node run", 5)


@cli.group()
def dev() -> None:
    """A whole local network on loopback."""


@dev.command("up")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path(".devnet"), show_default=True
)
def dev_up(directory: Path) -> None:
    """Initialise and start a local five-level network."""
    not_built("dev up", 5)


@dev.command("down")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path(".devnet"), show_default=True
)
def dev_down(directory: Path) -> None:
    """Stop the local network started by `dev up`."""
    not_built("dev down", 5)


@cli.group()
def audit() -> None:
    """Verify the history without trusting any node."""


@audit.command("verify")
@click.option("--node", "node_url", default=None, help="A node's API URL.")
@click.option("--archive", type=click.Path(path_type=Path), default=None, help="An exported archive.")
def audit_verify(node_url: str | None, archive: Path | None) -> None:
    """Verify every block, certificate and signature from genesis and replay the state."""
    not_built("audit verify", 7)


@cli.command()
def bench() -> None:
    """Benchmark a local network (throughput, latency, the signature limit)."""
    not_built("bench", 9)


@cli.command()
@click.option("--seeds", type=int, default=1, show_default=True)
@click.option("--seed-start", type=int, default=0, show_default=True)
@click.option("--seed", type=int, default=None, help="Run exactly this seed.")
@click.option("--validators", type=int, default=4, show_default=True)
@click.option("--observers", type=int, default=1, show_default=True)
@click.option("--faults", type=click.Choice(["none", "crash", "network", "byzantine", "all"]), default="all")
@click.option("--ticks", type=int, default=None)
def sim(
    seeds: int,
    seed_start: int,
    seed: int | None,
    validators: int,
    observers: int,
    faults: str,
    ticks: int | None,
) -> None:
    """Run the deterministic consensus simulator over many seeds."""
    from consensus.sim.cli import run

    sys.exit(run(seeds, seed_start, seed, validators, observers, faults, ticks))


@cli.group()
def rules() -> None:
    """The rule contracts' registry."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rules_list(as_json: bool) -> None:
    """List every rule with its id, colours, disposition and description."""
    not_built("rules list", 4)


def main() -> None:
    cli(prog_name="orgledger")


if __name__ == "__main__":  # pragma: no cover
    main()
