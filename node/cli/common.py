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
READER_KEY_OPTION = click.option(
    "--key",
    "reader_key",
    type=click.Path(path_type=Path),
    default=None,
    help="Key that signs the read requests (a root-org auditor or admin; default: a dev network's root admin key).",
)
