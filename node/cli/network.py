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
@click.option(
    "--tls",
    is_flag=True,
    help="Also make a network CA (OUT/tls) and a certificate per node, and turn on TLS in every "
    "node.toml: mutual TLS between nodes, HTTPS for the API.",
)
@click.option(
    "--san",
    "sans",
    multiple=True,
    metavar="NODE=HOST",
    help="With --tls: another host name or address NODE's certificate names (besides its topology "
    "host, 127.0.0.1 and localhost); repeatable.",
)
def network_init(topology: Path | None, out: Path, force: bool, tls: bool, sans: tuple[str, ...]) -> None:
    """Write node directories, genesis.json and admin keys for a topology; print the genesis hash."""
    from node.dev.netinit import NetInitError, init_network

    try:
        result = init_network(topology, out, force=force, tls=tls, sans=_sans(sans))
    except NetInitError as exc:
        fail(str(exc))
    click.echo(f"chain id:      {result.genesis.chain_id}")
    click.echo(f"validators:    {len(result.genesis.validator_nodes)}")
    click.echo(f"nodes:         {', '.join(n.node_id for n in result.genesis.nodes)}")
    click.echo(f"genesis:       {result.genesis_path}")
    click.echo(f"genesis hash:  {result.genesis.hash.hex()}")
    if tls:
        click.echo(f"network CA:    {result.out / 'tls' / 'ca.crt'} (its key ca.key stays off the nodes)")


def _sans(given: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in given:
        node_id, sep, host = item.partition("=")
        if not sep or not node_id.strip() or not host.strip():
            fail(f"--san {item!r}: expected NODE=HOST, e.g. --san v1=v1.example.org", 2)
        out.setdefault(node_id.strip(), []).append(host.strip())
    return out


@network.command("cert")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="The network directory (made by `network init --tls`; its tls/ca.key signs).",
)
@click.option("--node", "node_id", required=True, help="The node whose certificate to (re)issue.")
@click.option(
    "--san",
    "sans",
    multiple=True,
    metavar="HOST",
    help="Another host name or address the certificate names (besides the node's genesis host, "
    "127.0.0.1 and localhost); repeatable.",
)
def network_cert(directory: Path, node_id: str, sans: tuple[str, ...]) -> None:
    """Issue a new certificate for NODE from the network CA (a rotation: the old one is replaced;
    restart the node to use it)."""
    from node.dev.netinit import NetInitError, issue_node_cert
    from node.tls import NODE_CERT, cert_hosts, load_cert

    try:
        out = issue_node_cert(directory, node_id, sans)
    except NetInitError as exc:
        fail(str(exc))
    cert = load_cert(out / NODE_CERT)
    click.echo(f"{out / NODE_CERT}: node {node_id}, hosts {', '.join(cert_hosts(cert))}")
    click.echo(f"valid until {cert.not_valid_after_utc:%Y-%m-%d} UTC; restart the node to use it")
