"""`orgledger dev`: a whole local network on loopback (up, down, seed, load, add-node, remove-node,
rotate-key, console).

Rules: every command takes `--dir` (default `.devnet`) and works only on the network found
there; `seed` and `load` exit 0 only when what they sent is committed and checked (`load`:
whatever else the chain holds), and say why when they exit non-zero. Heavy imports
happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.common import fail
from node.errors import DevError

# the options every dev command shares
DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path(".devnet"),
    show_default=True,
    help="The local network's directory.",
)
EPOCH_TIMEOUT_OPTION = click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds to wait for the change to commit and its epoch to begin.",
)


@click.group()
def dev() -> None:
    """A whole local network on loopback."""


@dev.command("up")
@DIR_OPTION
@click.option(
    "--tls",
    is_flag=True,
    help="Make the network with TLS (a network CA in DIR/tls, mutual TLS between the nodes, HTTPS "
    "for the API); a network already in DIR keeps what it was made with.",
)
def dev_up(directory: Path, tls: bool) -> None:
    """Initialise and start a local five-level network."""
    from node.dev.devnet import DevnetError, up
    from node.dev.netinit import NetInitError

    try:
        up(directory, tls=tls)
    except (DevnetError, NetInitError) as exc:
        fail(str(exc))


@dev.command("down")
@DIR_OPTION
def dev_down(directory: Path) -> None:
    """Stop the local network started by `dev up`."""
    from node.dev.devnet import DevnetError, down

    try:
        down(directory)
    except DevnetError as exc:
        fail(str(exc))


@dev.command("seed")
@DIR_OPTION
def dev_seed(directory: Path) -> None:
    """Fill the running local network with a realistic history through the SDK (run once)."""
    from node.dev.seed import SeedError, seed

    try:
        report = seed(directory, echo=click.echo)
    except SeedError as exc:
        fail(str(exc))
    sys.exit(0 if report.ok else 1)


@dev.command("load")
@DIR_OPTION
@click.option(
    "--txs",
    type=click.IntRange(1, 10_000_000),
    default=1000,
    show_default=True,
    help="Transactions to submit.",
)
@click.option(
    "--rate", type=float, default=None, help="Transactions per second (default: as fast as possible)."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated workload.")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds to wait for submitting, then for every commit.",
)
def dev_load(directory: Path, txs: int, rate: float | None, seed: int, timeout_s: float) -> None:
    """Submit N valid transactions to random nodes, wait, and check every node agrees."""
    import asyncio
    import time

    from client_sdk.auth import RequestSigner
    from node.dev.loadgen import submit_all, summary, wait_and_check, why
    from node.dev.workload import MIX, Workload
    from wire.errors import WireError
    from wire.files import load_genesis, load_signing_key

    try:
        genesis = load_genesis(directory / "genesis.json")
        work = Workload(genesis, directory, seed=seed)
        root = next(o.org_id for o in genesis.orgs if "." not in o.org_id)
        # the checker reads whole blocks: the dev network's root admin may
        signer = RequestSigner(
            load_signing_key(directory / "keys" / "admins" / f"{root}.key"), genesis.chain_id
        )
    except (WireError, ValueError, StopIteration) as exc:
        fail(f"{directory} is not a dev network: {exc}")
    from node.dev.devnet import api_urls, client_ssl

    urls = api_urls(directory, genesis)
    tls = client_ssl(directory)
    now = int(time.time() * 1000)
    batch = [work.next_tx(now) for _ in range(txs)]
    click.echo(f"mix: {', '.join(f'{k} {w}%' for k, w in MIX)}; {txs} transactions to {len(urls)} nodes")
    from tqdm import tqdm

    started = time.monotonic()
    with tqdm(total=txs, unit="tx", desc="submitted", disable=None, leave=False) as bar:
        ops = asyncio.run(
            submit_all(urls, batch, rate=rate, deadline_s=timeout_s, seed=seed, progress=bar.update, tls=tls)
        )
    click.echo(f"submitted in {time.monotonic() - started:.1f}s: {summary(ops)}")
    accepted = sum(1 for op in ops if op.outcome == "ok")
    with tqdm(total=accepted, unit="tx", desc="committed", disable=None, leave=False) as bar:
        report = asyncio.run(
            wait_and_check(urls, ops, signer=signer, timeout_s=timeout_s, progress=bar.update, tls=tls)
        )
    elapsed = time.monotonic() - started
    heights = ", ".join(f"{url.rsplit(':', 1)[1]}={h}" for url, h in report.heights.items())
    click.echo(f"heights: {heights}")
    click.echo(f"elapsed {elapsed:.1f}s, {report.committed / elapsed:.0f} committed tx/s")
    if report.unexpected:
        click.echo(
            f"the chain also holds {report.unexpected} transactions this run did not send (not checked)"
        )
    click.echo(report.line())
    reasons = why(report, ops)
    for reason in reasons:
        click.echo(f"not ok: {reason}", err=True)
    # exit 0 when this run's transactions all committed and the nodes agree, whatever else the
    # chain holds (an earlier seed, other clients, the nodes' access-log anchors)
    sys.exit(0 if report.committed == txs and report.own_ok and not reasons else 1)


@dev.command("add-node")
@DIR_OPTION
@click.option("--org", "org_id", required=True, help="The org that runs the new node.")
@click.option(
    "--role",
    type=click.Choice(["validator", "observer"]),
    required=True,
    help="Validator (votes, counts toward the quorum) or observer (verifies and serves reads).",
)
@click.option("--node-id", default=None, help="Its id (default: made from the org and role).")
@EPOCH_TIMEOUT_OPTION
def dev_add_node(directory: Path, org_id: str, role: str, node_id: str | None, timeout_s: float) -> None:
    """Add a node: make its key, start it, propose and approve it with the dev admin keys, wait
    for the epoch it joins in."""
    from node.dev.nodes import add_node

    try:
        add_node(directory, org_id, role, node_id=node_id, timeout_s=timeout_s, echo=click.echo)
    except DevError as exc:
        fail(str(exc))


@dev.command("remove-node")
@DIR_OPTION
@click.option("--node", "node_id", required=True, help="The id of the node to remove.")
@EPOCH_TIMEOUT_OPTION
def dev_remove_node(directory: Path, node_id: str, timeout_s: float) -> None:
    """Remove a node: propose and approve it with the dev admin keys, wait for the epoch, check the
    node stopped (it says why in its log)."""
    from node.dev.nodes import remove_node

    try:
        remove_node(directory, node_id, timeout_s=timeout_s, echo=click.echo)
    except DevError as exc:
        fail(str(exc))


@dev.command("rotate-key")
@DIR_OPTION
@click.option("--node", "node_id", required=True, help="The id of the node whose key to replace.")
@EPOCH_TIMEOUT_OPTION
def dev_rotate_key(directory: Path, node_id: str, timeout_s: float) -> None:
    """Replace a node's key: make a new one, propose and approve the rotation, wait for the
    epoch, restart the node with the new key."""
    from node.dev.nodes import rotate_key

    try:
        rotate_key(directory, node_id, timeout_s=timeout_s, echo=click.echo)
    except DevError as exc:
        fail(str(exc))


@dev.command("console")
@DIR_OPTION
def dev_console(directory: Path) -> None:
    """Print where the console of each node is and how to sign in (docs/console.md)."""
    from node.dev.devnet import api_url, commands, network_ca
    from wire.errors import WireError
    from wire.files import load_genesis

    try:
        genesis = load_genesis(directory / "genesis.json")
    except WireError as exc:
        fail(f"{exc} (start the network first: make run)")
    ol, _ = commands()
    tls = network_ca(directory) is not None
    urls = [(n.node_id, api_url(n, tls)) for n in genesis.nodes]
    first = urls[0][1]
    key = directory / "keys" / "users" / "cn.gs.lz.cg.auditor.key"
    click.echo("")
    click.echo(f"console (every node serves one; Chinese, English on switch): {first}/console/")
    for node_id, url in urls[1:]:
        click.echo(f"  {node_id:<10} {url}/console/")
    click.echo(f"  sign in with a key file, e.g. {key} (a county auditor), or a token link:")
    click.echo(f"  {ol} api token --node {first} --key {key} --genesis {directory}/genesis.json")
