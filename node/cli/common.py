"""What every `orgledger` command shares: the one-line failure and the reused options.

Rules: a failure is one `error: ...` line on stderr and a non-zero exit (1 for operational
failures, 2 for usage errors, as click does; the auditor's commands add 4 for "no verdict").
This module imports only click and the standard library, so every command module can use it
without pulling anything heavy into `orgledger --help`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


GENESIS_OPTION = click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=Path(".devnet") / "genesis.json",
    show_default=True,
    help="The genesis to verify against (never taken from the node).",
)
CA_OPTION = click.option(
    "--ca",
    "ca_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The network CA's certificate to verify an https:// node against (default: tls/ca.crt "
    "beside the genesis file, when it exists).",
)


def ca_file_for(node_url: str, ca_file: Path | None, genesis_file: Path | None) -> Path | None:
    """The CA to verify `node_url` against: `--ca`, else the network directory's tls/ca.crt
    (beside genesis.json) for an https:// URL; None for http:// (or a node with a public
    certificate, checked against the system's CAs)."""
    if ca_file is not None:
        if not ca_file.is_file():
            fail(f"--ca {ca_file}: no such file")
        if not node_url.lower().startswith("https://"):
            fail(f"--ca is for an https:// node; {node_url} would be read in clear", 2)
        return ca_file
    if not node_url.lower().startswith("https://"):
        return None
    found = (genesis_file or Path(".devnet") / "genesis.json").parent / "tls" / "ca.crt"
    return found if found.is_file() else None


READER_KEY_OPTION = click.option(
    "--key",
    "reader_key",
    type=click.Path(path_type=Path),
    default=None,
    help="Key that signs the read requests (a root-org auditor or admin; default: a dev network's root admin key).",
)
