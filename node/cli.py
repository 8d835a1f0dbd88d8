"""The `orgledger` command line: one entry point, `--help` on every command.

Rules: every failure prints one clear `error: ...` line on stderr and exits non-zero (1 for
operational failures, 2 for usage errors, as click does). Heavy imports happen inside the
commands so `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from node import __version__


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


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

    async def main() -> int:
        from node.service import Node

        node = Node(cfg)
        return await node.run()

    try:
        code = asyncio.run(main())
    except (NodeError, WireError) as exc:
        fail(str(exc))
    sys.exit(code)


@cli.group()
def dev() -> None:
    """A whole local network on loopback."""


@dev.command("up")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path(".devnet"), show_default=True
)
def dev_up(directory: Path) -> None:
    """Initialise and start a local five-level network."""
    from node.devnet import DevnetError, up
    from node.netinit import NetInitError

    try:
        up(directory)
    except (DevnetError, NetInitError) as exc:
        fail(str(exc))


@dev.command("down")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path(".devnet"), show_default=True
)
def dev_down(directory: Path) -> None:
    """Stop the local network started by `dev up`."""
    from node.devnet import DevnetError, down

    try:
        down(directory)
    except DevnetError as exc:
        fail(str(exc))


@dev.command("seed")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path(".devnet"), show_default=True
)
def dev_seed(directory: Path) -> None:
    """Fill the running local network with a realistic history through the SDK (run once)."""
    from node.seed import SeedError, seed

    try:
        report = seed(directory, echo=click.echo)
    except SeedError as exc:
        fail(str(exc))
    sys.exit(0 if report.ok else 1)


@dev.command("load")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path(".devnet"), show_default=True
)
@click.option("--txs", type=click.IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option(
    "--rate", type=float, default=None, help="Transactions per second (default: as fast as possible)."
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=180.0, show_default=True)
def dev_load(directory: Path, txs: int, rate: float | None, seed: int, timeout_s: float) -> None:
    """Submit N valid transactions to random nodes, wait, and check every node agrees."""
    import asyncio
    import time

    from client_sdk.auth import RequestSigner
    from node.loadgen import submit_all, summary, wait_and_check
    from node.workload import MIX, Workload
    from wire.crypto import load_signing_key
    from wire.errors import WireError
    from wire.genesis import Genesis

    try:
        genesis = Genesis.load(directory / "genesis.json")
        work = Workload(genesis, directory, seed=seed)
        root = next(o.org_id for o in genesis.orgs if "." not in o.org_id)
        # the checker reads whole blocks: the dev network's root admin may
        signer = RequestSigner(
            load_signing_key(directory / "keys" / "admins" / f"{root}.key"), genesis.chain_id
        )
    except (WireError, ValueError, StopIteration) as exc:
        fail(f"{directory} is not a dev network: {exc}")
    urls = [f"http://{n.host}:{n.api_port}" for n in genesis.nodes]
    now = int(time.time() * 1000)
    batch = [work.next_tx(now) for _ in range(txs)]
    click.echo(f"mix: {', '.join(f'{k} {w}%' for k, w in MIX)}; {txs} transactions to {len(urls)} nodes")
    started = time.monotonic()
    ops = asyncio.run(submit_all(urls, batch, rate=rate, deadline_s=timeout_s, seed=seed))
    click.echo(f"submitted in {time.monotonic() - started:.1f}s: {summary(ops)}")
    report = asyncio.run(wait_and_check(urls, ops, signer=signer, timeout_s=timeout_s))
    elapsed = time.monotonic() - started
    heights = ", ".join(f"{url.rsplit(':', 1)[1]}={h}" for url, h in report.heights.items())
    click.echo(f"heights: {heights}")
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    click.echo(f"elapsed {elapsed:.1f}s, {report.committed / elapsed:.0f} committed tx/s")
    click.echo(report.line())
    sys.exit(0 if report.committed == txs and report.ok else 1)


@cli.group()
def api() -> None:
    """Call a node's read API with a signed request."""


@api.command("get")
@click.argument("path")
@click.option("--node", "node_url", required=True, help="A node's API URL, e.g. http://127.0.0.1:28001.")
@click.option(
    "--key", "key_file", type=click.Path(path_type=Path), required=True, help="Your ed25519 key file."
)
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=None,
    help="genesis.json for the chain id (default: .devnet/genesis.json).",
)
def api_get(path: str, node_url: str, key_file: Path, genesis_file: Path | None) -> None:
    """GET PATH (e.g. /v1/alerts?colour=RED) signed with KEY and print the JSON answer.

    Exit 0 on 2xx, 1 otherwise (the error is printed)."""
    import json

    import httpx

    from client_sdk.auth import LedgerAuth, RequestSigner
    from wire.crypto import load_signing_key
    from wire.errors import WireError
    from wire.genesis import Genesis

    try:
        genesis = Genesis.load(genesis_file or Path(".devnet") / "genesis.json")
        signer = RequestSigner(load_signing_key(key_file), genesis.chain_id)
    except WireError as exc:
        fail(str(exc))
    try:
        with httpx.Client(base_url=node_url.rstrip("/"), timeout=10, auth=LedgerAuth(signer)) as http:
            resp = http.get(path if path.startswith("/") else "/" + path)
    except httpx.HTTPError as exc:
        fail(f"{node_url}: {exc}")
    try:
        click.echo(json.dumps(resp.json(), indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(resp.text)
    sys.exit(0 if resp.status_code < 300 else 1)


@cli.group()
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
    from node.index import IndexDb, IndexUnavailableError, default_url, redact
    from node.storage import BlockStore
    from wire.errors import WireError
    from wire.genesis import Genesis

    try:
        cfg = NodeConfig.load(config)
        genesis = Genesis.load(cfg.genesis_file)
        target = url or cfg.index_url or default_url(cfg.data_dir, cfg.node_id)
        started = time.monotonic()
        with BlockStore.open(cfg.data_dir, genesis.hash, create=False) as store, store.snapshot() as snap:
            db = IndexDb(target)
            try:
                rows = db.rebuild(snap, snap.height, genesis.hash)
            finally:
                db.close()
            height = snap.height
    except StorageLockedError:
        fail(f"node {cfg.node_id} is running (its data directory is locked); stop it, then rebuild")
    except (IndexUnavailableError, SQLAlchemyError) as exc:
        fail(f"index database: {exc}")
    except (NodeError, WireError) as exc:
        fail(str(exc))
    click.echo(
        f"index {redact(target)} rebuilt at height {height}: {rows} rows in {time.monotonic() - started:.1f}s"
    )


@cli.group()
def tx() -> None:
    """Build, sign and submit transactions."""


@tx.command("submit")
@click.option("--node", "node_url", required=True, help="A node's API URL, e.g. http://127.0.0.1:28001.")
@click.option(
    "--key", "key_file", type=click.Path(path_type=Path), required=True, help="The signer's ed25519 key file."
)
@click.option("--type", "tx_type", required=True, help="Transaction type (see `orgledger tx types`).")
@click.option("--payload", required=True, help="The payload as JSON (or @FILE to read it from a file).")
@click.option(
    "--org",
    "org_id",
    default=None,
    help="The org the transaction acts for (default: the signer's org in genesis).",
)
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=None,
    help="genesis.json to verify against (default: .devnet/genesis.json).",
)
@click.option(
    "--approver",
    "approver_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Approver key file (repeatable).",
)
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True)
def tx_submit(
    node_url: str,
    key_file: Path,
    tx_type: str,
    payload: str,
    org_id: str | None,
    genesis_file: Path | None,
    approver_files: tuple[Path, ...],
    timeout_s: float,
) -> None:
    """Sign and submit one transaction and wait for its verified receipt.

    Exit 0 when committed and accepted, 2 when rejected (the reason is printed), 1 on any other failure.
    """
    import json

    from client_sdk.client import LedgerClient, build_tx
    from client_sdk.errors import LedgerError, TxRejectedError
    from contracts import TxRejected, check_tx
    from wire.crypto import load_signing_key
    from wire.errors import WireError
    from wire.genesis import Genesis

    try:
        genesis = Genesis.load(genesis_file or Path(".devnet") / "genesis.json")
        key = load_signing_key(key_file)
        approvers = tuple(load_signing_key(p) for p in approver_files)
    except WireError as exc:
        fail(str(exc))
    try:
        text = Path(payload[1:]).read_text(encoding="utf-8") if payload.startswith("@") else payload
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        fail(f"--payload is not valid JSON: {exc}")
    if org_id is None:
        org_id = next((u.org_id for u in genesis.users if u.pubkey == key.public), None)
        if org_id is None:
            fail("the key is not a genesis user; pass --org")
    try:
        signed = build_tx(
            chain_id=genesis.chain_id,
            tx_type=tx_type,
            org_id=org_id,
            payload=body,
            key=key,
            approvers=approvers,
        )
        check_tx(signed)
    except TxRejected as exc:
        fail(f"invalid transaction ({exc.code}): {exc}", 2)
    except WireError as exc:
        fail(f"invalid transaction: {exc}", 2)
    click.echo(f"tx {signed.tx_id.hex()}")
    try:
        with LedgerClient(node_url, genesis, key=key) as client:
            done = client.submit(signed, timeout_s=timeout_s)
    except TxRejectedError as exc:
        click.echo(f"rejected at height {exc.height}: {exc}", err=True)
        sys.exit(2)
    except LedgerError as exc:
        fail(str(exc))
    alerts = ", ".join(f"{a['rule_id']} {a['colour']}" for a in done.receipt.get("alerts", []))
    click.echo(
        f"committed at height {done.height} (certificate verified, {len(done.certificate.signatures)} signatures)"
    )
    if alerts:
        click.echo(f"alerts: {alerts}")


@tx.command("types")
@click.option("--json", "as_json", is_flag=True, help="Print the payload schemas as JSON.")
def tx_types(as_json: bool) -> None:
    """List the transaction types and their payload fields."""
    import json

    from contracts import tx_types_json

    specs = tx_types_json()
    if as_json:
        click.echo(json.dumps(specs, indent=2, ensure_ascii=False))
        return
    for spec in specs:
        fields = ", ".join(f["name"] + ("" if f["required"] else "?") for f in spec["payload"]["fields"])
        click.echo(f"{spec['tx_type']:<22} {fields}")


@cli.group()
def audit() -> None:
    """Verify the history without trusting any node."""


_GENESIS_OPTION = click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=Path(".devnet") / "genesis.json",
    show_default=True,
    help="The genesis to verify against (never taken from the node).",
)
_READER_KEY_OPTION = click.option(
    "--key",
    "reader_key",
    type=click.Path(path_type=Path),
    default=None,
    help="Key that signs the read requests (a root-org auditor or admin; default: a dev network's root admin key).",
)


@audit.command("verify")
@click.option("--node", "node_url", default=None, help="A node's API URL.")
@click.option("--archive", type=click.Path(path_type=Path), default=None, help="An exported archive.")
@_GENESIS_OPTION
@click.option(
    "--report", "report_file", type=click.Path(path_type=Path), default=None, help="Write a JSON report."
)
@click.option(
    "--proofs",
    type=click.Choice(["sample", "all", "none"]),
    default="sample",
    show_default=True,
    help="With --node: check the node's proof of one transaction per block, of every one, or none.",
)
@click.option("--workers", type=click.IntRange(0, 64), default=None, help="Processes for signature checks.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@_READER_KEY_OPTION
def audit_verify(
    node_url: str | None,
    archive: Path | None,
    genesis_file: Path,
    report_file: Path | None,
    proofs: str,
    workers: int | None,
    progress: bool,
    reader_key: Path | None,
) -> None:
    """Verify every block, certificate and signature from genesis and replay the state.

    Exit 0 when everything holds, 1 when a check fails (height and reason printed), 4 when the
    audit could not run to the end (node unreachable, archive or genesis unreadable).
    """
    import json

    from node import audit as auditor
    from wire.errors import WireError
    from wire.genesis import Genesis

    if (node_url is None) == (archive is None):
        fail("give exactly one of --node URL or --archive FILE", 2)
    try:
        genesis = Genesis.load(genesis_file)
    except WireError as exc:
        fail(str(exc), auditor.EXIT_INCOMPLETE)
    if node_url is not None:
        report = auditor.audit_node(
            node_url, genesis, proofs=proofs, workers=workers, progress=progress, key_file=reader_key
        )
    else:
        assert archive is not None
        report = auditor.audit_archive(archive, genesis, workers=workers, progress=progress)
    doc = report.to_json()
    if report_file is not None:
        report_file.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    click.echo(
        f"{report.blocks} blocks, {report.txs} transactions ({report.accepted} accepted, "
        f"{report.rejected} rejected) from {report.source} in {doc['timings'].get('total_s', 0)} s "
        f"({doc['tx_per_s']} tx/s)"
    )
    for name, reason in report.skipped.items():
        click.echo(f"skipped {name}: {reason}")
    if report.failure is not None:
        f = report.failure
        fail(f"audit FAILED at height {f.height}: {f.check}: {f.reason}", auditor.EXIT_FAILED)
    if report.incomplete is not None:
        fail(f"audit incomplete: {report.incomplete}", auditor.EXIT_INCOMPLETE)
    click.echo(
        f"audit OK: chain {genesis.chain_id} verified to height {report.verified_height} "
        f"(roots confirmed to {report.roots_confirmed_height})"
    )


@audit.command("prove")
@click.option("--node", "node_url", required=True, help="A node's API URL.")
@click.option("--tx", "tx_hex", required=True, help="The transaction id (64 hex characters).")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="The bundle file to write."
)
@_GENESIS_OPTION
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the receipt root.",
)
@_READER_KEY_OPTION
def audit_prove(
    node_url: str, tx_hex: str, out: Path, genesis_file: Path, wait_s: float, reader_key: Path | None
) -> None:
    """Write a proof bundle of one transaction and its receipt that verifies with no node.

    Exit 0 when written, 1 when the node cannot prove it (or what it served does not verify).
    """
    import os

    from client_sdk.errors import VerificationError
    from node.audit import prove_tx
    from node.export import SourceError, signed_reader
    from wire.errors import WireError
    from wire.genesis import Genesis

    try:
        tx_id = bytes.fromhex(tx_hex)
        if len(tx_id) != 32:
            raise ValueError
    except ValueError:
        fail("--tx must be 64 hex characters", 2)
    try:
        genesis = Genesis.load(genesis_file)
        with signed_reader(node_url, genesis, reader_key) as reader:
            data = prove_tx(reader, genesis, tx_id, wait_s=wait_s)
        tmp = out.with_name(out.name + ".partial")
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except (WireError, SourceError, VerificationError, OSError) as exc:
        fail(str(exc))
    click.echo(f"wrote {out} ({len(data)} bytes): transaction {tx_hex} of chain {genesis.chain_id}")


@audit.command("check-proof")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Pin the bundle to this genesis.",
)
@click.option(
    "--genesis-hash", "genesis_hash", default=None, help="Pin the bundle to this genesis hash (hex)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the verified record as JSON.")
def audit_check_proof(
    bundle: Path, genesis_file: Path | None, genesis_hash: str | None, as_json: bool
) -> None:
    """Verify a proof bundle offline: exit 0 when it holds, 1 with the reason when it does not."""
    import json

    from client_sdk.errors import VerificationError
    from client_sdk.proofs import check_bundle
    from wire.errors import WireError
    from wire.genesis import Genesis

    try:
        data = bundle.read_bytes()
        pinned = Genesis.load(genesis_file) if genesis_file is not None else None
        pinned_hash = bytes.fromhex(genesis_hash) if genesis_hash is not None else None
        checked = check_bundle(data, genesis=pinned, genesis_hash=pinned_hash)
    except OSError as exc:
        fail(f"cannot read {bundle}: {exc.strerror}")
    except ValueError:
        fail("--genesis-hash must be hex", 2)
    except (VerificationError, WireError) as exc:
        fail(f"the bundle does NOT verify: {exc}")
    v = checked.verified
    receipt = v.receipt
    assert receipt is not None
    doc = {
        "ok": True,
        "chain_id": checked.genesis.chain_id,
        "genesis_hash": checked.genesis.hash.hex(),
        "genesis_pinned": pinned is not None or pinned_hash is not None,
        "tx_id": v.tx_id.hex(),
        "block_height": v.block_height,
        "index": v.index,
        "block_hash": v.header.hash.hex(),
        "block_time_ms": v.header.timestamp_ms,
        "tx_type": None if v.tx is None else v.tx.body.tx_type,
        "org_id": None if v.tx is None else v.tx.body.org_id,
        "status": receipt.status,
        "rule_id": receipt.rule_id,
        "reason_code": receipt.reason_code,
        "alerts": [a.rule_id + " " + a.colour for a in receipt.alerts],
        "signatures": len(v.certificate.signatures),
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(
        f"bundle OK: transaction {doc['tx_id']} ({doc['tx_type']}, org {doc['org_id']}) is at index "
        f"{v.index} of block {v.block_height} of chain {doc['chain_id']}, receipt {receipt.status}"
        + (f" [{receipt.rule_id} {receipt.reason_code}]" if receipt.reason_code else "")
    )
    click.echo(f"genesis hash {doc['genesis_hash']}")
    if not doc["genesis_pinned"]:
        click.echo("the genesis was taken from the bundle: compare its hash with the network's published one")


@audit.command("access")
@click.option("--org", "org_id", default=None, help="Only reads concerning this org's subtree.")
@click.option("--since", default=None, help="From this date (YYYY-MM-DD, CST) or ISO time.")
@click.option("--node", "node_url", default=None, help="A node's API URL: its log and the ledger's anchors.")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=None, help="A copy of a node's data dir."
)
@_GENESIS_OPTION
@_READER_KEY_OPTION
@click.option("--no-proofs", is_flag=True, help="Do not verify the anchors' transaction proofs.")
@click.option("--allow-unanchored", is_flag=True, help="Exit 0 without a node to check the anchors.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict and the lines as JSON.")
def audit_access(
    org_id: str | None,
    since: str | None,
    node_url: str | None,
    directory: Path | None,
    genesis_file: Path,
    reader_key: Path | None,
    no_proofs: bool,
    allow_unanchored: bool,
    as_json: bool,
) -> None:
    """List reads of personal data from a node's access log, after verifying its hash chain and
    its anchors on the ledger. Exit 0 verified, 1 not (reason printed), 4 no verdict."""
    import json

    from node import accessaudit as aa
    from node.accesslog import AccessLogError
    from wire.errors import WireError
    from wire.genesis import Genesis

    if node_url is None and directory is None:
        fail("give --node URL, --dir DIR, or both", 2)
    try:
        since_ms = aa.parse_since(since)
        genesis = Genesis.load(genesis_file)
    except ValueError as exc:
        fail(str(exc), 2)
    except WireError as exc:
        fail(str(exc), aa.EXIT_INCOMPLETE)
    try:
        if node_url is not None:
            with aa.http_client(node_url, genesis, reader_key) as http:
                result = aa.audit_access(
                    genesis=genesis,
                    http=http,
                    directory=directory,
                    org=org_id,
                    since_ms=since_ms,
                    proofs=not no_proofs,
                )
        else:
            result = aa.audit_access(
                genesis=genesis, http=None, directory=directory, org=org_id, since_ms=since_ms
            )
    except (aa.AuditIncomplete, AccessLogError, OSError, WireError) as exc:
        fail(f"no verdict: {exc}", aa.EXIT_INCOMPLETE)
    r = result.report
    if as_json:
        doc = {
            "ok": r.ok,
            "node_id": result.node_id,
            "problems": r.problems,
            "warnings": r.warnings,
            "anchored": r.anchored,
            "unanchored": r.unanchored,
            "anchors_checked": result.anchors_checked,
            "proofs_checked": result.proofs_checked,
            "lines": result.selected,
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for line in result.selected:
            click.echo(aa.render_line(line))
        click.echo(
            f"{len(result.selected)} of {len(r.lines)} lines shown; segments anchored {len(r.anchored)}, "
            f"not yet {len(r.unanchored)}; anchor proofs verified {result.proofs_checked}"
        )
        for warning in r.warnings:
            click.echo(f"warning: {warning}")
    if not r.ok:
        fail(f"access log of {result.node_id or '?'} does NOT verify: {r.problems[0]}", aa.EXIT_FAILED)
    if not result.anchors_checked and not allow_unanchored:
        fail("the chain verifies, but the anchors were not checked (give --node)", aa.EXIT_FAILED)
    if not as_json:
        click.echo(f"access log of {result.node_id} verifies")


@cli.command("export")
@click.option("--node", "node_url", required=True, help="A node's API URL.")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Archive to write (.gz compresses)."
)
@_GENESIS_OPTION
@click.option("--force", is_flag=True, help="Overwrite an existing archive.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@_READER_KEY_OPTION
def export(
    node_url: str, out: Path, genesis_file: Path, force: bool, progress: bool, reader_key: Path | None
) -> None:
    """Export the node's chain (genesis, blocks, certificates, receipts) to an archive file."""
    from node.export import SourceError, export_chain, signed_reader
    from wire.errors import WireError
    from wire.genesis import Genesis

    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    try:
        genesis = Genesis.load(genesis_file)
        with signed_reader(node_url, genesis, reader_key) as reader:
            result = export_chain(reader, genesis, out, progress=progress)
    except (WireError, SourceError, OSError) as exc:
        fail(str(exc))
    click.echo(
        f"exported {result.blocks} blocks ({result.txs} transactions, {result.bytes} bytes) "
        f"to {result.path} in {result.seconds:.1f} s"
    )


@cli.command()
@click.option(
    "--duration",
    "duration_s",
    type=float,
    default=20.0,
    show_default=True,
    help="Measured seconds per phase.",
)
@click.option("--warmup", "warmup_s", type=float, default=5.0, show_default=True)
@click.option("--clients", type=click.IntRange(1, 16), default=2, show_default=True, help="Client processes.")
@click.option(
    "--batch", type=click.IntRange(1, 2000), default=200, show_default=True, help="Transactions per request."
)
@click.option(
    "--inflight",
    type=click.IntRange(1, 100_000),
    default=6000,
    show_default=True,
    help="Outstanding transactions when saturating.",
)
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Open loop at this rate only (default: saturate, then half rate).",
)
@click.option(
    "--json", "json_file", type=click.Path(path_type=Path), default=None, help="Write every figure as JSON."
)
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=None, help="Keep the network here."
)
@click.option(
    "--figure",
    type=click.Choice(["throughput", "auditor", "catchup", "readapi", "scale"]),
    default="throughput",
    show_default=True,
    help="Which figure: throughput and latency, auditor speed, observer catch-up, read API, or scale.",
)
@click.option(
    "--txs", type=click.IntRange(1, 10_000_000), default=None, help="History size for auditor/catchup/scale."
)
def bench(
    duration_s: float,
    warmup_s: float,
    clients: int,
    batch: int,
    inflight: int,
    rate: float | None,
    json_file: Path | None,
    directory: Path | None,
    figure: str,
    txs: int | None,
) -> None:
    """Benchmark a local network: committed throughput, commit latency, the signature limit.

    `--figure auditor|catchup|readapi|scale` measures the other figures of docs/benchmarks.md."""
    import json

    from node import benchfigures
    from node.bench import BenchOptions, run

    if figure != "throughput":
        try:
            if figure == "auditor":
                other = benchfigures.auditor(txs or 200_000, directory=directory)
            elif figure == "catchup":
                other = benchfigures.catchup(txs or 50_000, directory=directory)
            elif figure == "readapi":
                other = benchfigures.readapi(duration_s, directory=directory)
            else:
                other = benchfigures.scale(large=txs or 1_000_000, duration_s=duration_s)
        except Exception as exc:  # reported as one line, never a traceback
            fail(f"bench {figure} failed: {exc}")
        if json_file is not None:
            json_file.write_text(json.dumps(other, indent=2) + "\n")
        return

    opts = BenchOptions(
        duration_s=duration_s,
        warmup_s=warmup_s,
        clients=clients,
        batch=batch,
        inflight=inflight,
        rate=rate,
        directory=directory,
    )
    try:
        result = run(opts)
    except Exception as exc:  # the bench reports any failure as one line, never a traceback
        fail(f"bench failed: {exc}")
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2) + "\n")
    if not result.get("summary", {}).get("committed_tps"):
        fail("no transaction was committed in the measured window")


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
    import json

    from contracts.rules import registry

    rows = [r.to_json() for r in registry()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(f"{'id':<9} {'colours':<18} {'disposition':<12} description")
    for r in rows:
        click.echo(f"{r['id']:<9} {'/'.join(r['colours']):<18} {r['disposition']:<12} {r['description']}")


def main() -> None:
    cli(prog_name="orgledger")


if __name__ == "__main__":  # pragma: no cover
    main()
