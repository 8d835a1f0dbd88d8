"""`orgledger keys` and `orgledger network`: key files and a network's description.

Rules: `keys new` never overwrites a key file without `--force` and writes it 0600 (through
`wire.crypto.write_key_file`); `network init` writes node directories, genesis.json and admin
keys (`node.dev.netinit`) and prints the genesis hash for an out-of-band comparison. Heavy imports
happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from node.cli.common import fail


# --------------------------------------------------------------------------------------------- keys
@click.group()
def keys() -> None:
    """Key files (ed25519 signing keys, X25519 encryption keys)."""


@keys.command("new")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Key file to write (0600)."
)
@click.option(
    "--kind",
    type=click.Choice(["ed25519", "x25519"]),
    default="ed25519",
    show_default=True,
    help="ed25519: a signing key (users, nodes); x25519: an org encryption key.",
)
@click.option("--label", default="", help="A label stored in the key file.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def keys_new(out: Path, kind: str, label: str, force: bool) -> None:
    """Generate a new key pair and print its public key."""
    from wire.crypto import EncryptionKey, SigningKey
    from wire.files import write_key_file

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
@click.group()
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
    from node.dev.netinit import NetInitError, init_network

    try:
        result = init_network(topology, out, force=force)
    except NetInitError as exc:
        fail(str(exc))
    click.echo(f"chain id:      {result.genesis.chain_id}")
    click.echo(f"validators:    {len(result.genesis.validator_nodes)}")
    click.echo(f"nodes:         {', '.join(n.node_id for n in result.genesis.nodes)}")
    click.echo(f"genesis:       {result.genesis_path}")
    click.echo(f"genesis hash:  {result.genesis.hash.hex()}")
