"""The `orgledger` command line: one entry point, `--help` on every command.

Rules: every failure prints one clear `error: ...` line on stderr and exits non-zero (1 for
operational failures, 2 for usage errors, as click does; `node/cli/common.py`). Heavy imports
happen inside the commands so `--help` stays fast.

May import anything of the project; it is the only package that imports `node.dev`. This module is
the root group, `version` and `main` (the `orgledger` entry point, also `python -m node.cli`). The
commands live in one module per group and are added here:

- `node/cli/network.py`: `keys`, `network` (key files, network init)
- `node/cli/node.py`: `node`, `index` (run one node, check its config, rebuild its read index)
- `node/cli/backup.py`: `node backup`, `node restore` (online backup, restore)
- `node/cli/dev.py`: `dev` (the local network: up, down, seed, load, console)
- `node/cli/client.py`: `api`, `tx`, `rules` (signed reads, transactions, the contracts' catalogue)
- `node/cli/audit.py`: `audit`, `export` (verify the history without trusting any node)
- `node/cli/bench.py`: `bench`, `sim` (measure a local network, the consensus simulator)
- `node/cli/governance.py`: `governance` (propose, approve, withdraw, list, show node changes)
"""

from __future__ import annotations

import click

from node import __version__
from node.cli import audit as cli_audit
from node.cli import backup as cli_backup
from node.cli import bench as cli_bench
from node.cli import client as cli_client
from node.cli import dev as cli_dev
from node.cli import governance as cli_governance
from node.cli import network as cli_network
from node.cli import node as cli_node
from node.cli.common import fail

__all__ = ["cli", "fail", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """orgledger: a permissioned BFT ledger for five-level organisations."""


@cli.command()
def version() -> None:
    """Print the orgledger version."""
    click.echo(f"orgledger {__version__}")


cli.add_command(cli_network.keys)
cli.add_command(cli_network.network)
cli.add_command(cli_node.node)
cli_node.node.add_command(cli_backup.backup)
cli_node.node.add_command(cli_backup.restore)
cli.add_command(cli_node.index)
cli.add_command(cli_dev.dev)
cli.add_command(cli_client.api)
cli.add_command(cli_client.tx)
cli.add_command(cli_client.rules)
cli.add_command(cli_audit.audit)
cli.add_command(cli_audit.export)
cli.add_command(cli_bench.bench)
cli.add_command(cli_bench.sim)
cli.add_command(cli_governance.governance)


def main() -> None:
    cli(prog_name="orgledger")


if __name__ == "__main__":  # pragma: no cover
    main()
