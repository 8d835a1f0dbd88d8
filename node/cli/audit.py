"""`orgledger audit` and `orgledger export`: verify the history without trusting any node.

Rules: the genesis always comes from the caller (`--genesis`), never from the node or archive.
Exit codes: 0 verified, 1 a check failed (height and reason printed), 2 usage, 4 no verdict
(`auditor.verify.EXIT_*`, `auditor.access.EXIT_*`). Heavy imports happen inside the commands so
`--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from node.cli.common import CA_OPTION, GENESIS_OPTION, READER_KEY_OPTION, ca_file_for, fail


def _ca(node_url: str, ca_file: Path | None, genesis_file: Path) -> Path | None:
    """The network CA for an https:// node (`--ca`, else tls/ca.crt beside the genesis), checked."""
    from client_sdk.errors import LedgerError
    from client_sdk.tls import tls_context

    ca = ca_file_for(node_url, ca_file, genesis_file)
    try:
        tls_context(node_url, ca)
    except LedgerError as exc:
        fail(str(exc), 2)
    return ca


@click.group()
def audit() -> None:
    """Verify the history without trusting any node."""


@audit.command("verify")
@click.option("--node", "node_url", default=None, help="A node's API URL.")
@click.option("--archive", type=click.Path(path_type=Path), default=None, help="An exported archive.")
@GENESIS_OPTION
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
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=None,
    help=(
        "Processes (default: one per core). An archive with snapshots is cut into this many "
        "segments replayed in parallel; otherwise they check signatures beside the replay."
    ),
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show a progress bar on stderr (on a terminal).",
)
@READER_KEY_OPTION
@CA_OPTION
def audit_verify(
    node_url: str | None,
    archive: Path | None,
    genesis_file: Path,
    report_file: Path | None,
    proofs: str,
    workers: int | None,
    progress: bool,
    reader_key: Path | None,
    ca_file: Path | None,
) -> None:
    """Verify every block, certificate and signature from genesis and replay the state.

    Exit 0 when everything holds, 1 when a check fails (height and reason printed), 4 when the
    audit could not run to the end (node unreachable, archive or genesis unreadable).
    """
    import json

    from auditor import verify as auditor
    from wire.errors import WireError
    from wire.files import load_genesis

    if (node_url is None) == (archive is None):
        fail("give exactly one of --node URL or --archive FILE", 2)
    try:
        genesis = load_genesis(genesis_file)
    except WireError as exc:
        fail(str(exc), auditor.EXIT_INCOMPLETE)
    if node_url is not None:
        report = auditor.audit_node(
            node_url,
            genesis,
            proofs=proofs,
            workers=workers,
            progress=progress,
            key_file=reader_key,
            ca_file=_ca(node_url, ca_file, genesis_file),
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
        + (f"; {report.segments} segments replayed in parallel" if report.segments > 1 else "")
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
@GENESIS_OPTION
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the receipt root.",
)
@READER_KEY_OPTION
@CA_OPTION
def audit_prove(
    node_url: str,
    tx_hex: str,
    out: Path,
    genesis_file: Path,
    wait_s: float,
    reader_key: Path | None,
    ca_file: Path | None,
) -> None:
    """Write a proof bundle of one transaction and its receipt that verifies with no node.

    Exit 0 when written, 1 when the node cannot prove it (or what it served does not verify).
    """
    import os

    from auditor.archive import signed_reader
    from auditor.errors import SourceError
    from auditor.verify import prove_tx
    from client_sdk.errors import VerificationError
    from wire.errors import WireError
    from wire.files import load_genesis
    from wire.hexid import parse_hex_id

    try:
        tx_id = parse_hex_id(tx_hex.lower(), "--tx")
    except WireError as exc:
        fail(exc.message, 2)
    try:
        genesis = load_genesis(genesis_file)
        with signed_reader(node_url, genesis, reader_key, _ca(node_url, ca_file, genesis_file)) as reader:
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
    from wire.files import load_genesis

    try:
        data = bundle.read_bytes()
        pinned = load_genesis(genesis_file) if genesis_file is not None else None
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
@GENESIS_OPTION
@READER_KEY_OPTION
@CA_OPTION
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
    ca_file: Path | None,
    no_proofs: bool,
    allow_unanchored: bool,
    as_json: bool,
) -> None:
    """List reads of personal data from a node's access log, after verifying its hash chain and
    its anchors on the ledger. Exit 0 verified, 1 not (reason printed), 4 no verdict."""
    import json

    from auditor import access as aa
    from auditor.errors import AuditIncomplete
    from wire.accesslog import AccessLogError
    from wire.errors import WireError
    from wire.files import load_genesis

    if node_url is None and directory is None:
        fail("give --node URL, --dir DIR, or both", 2)
    try:
        since_ms = aa.parse_since(since)
        genesis = load_genesis(genesis_file)
    except ValueError as exc:
        fail(str(exc), 2)
    except WireError as exc:
        fail(str(exc), aa.EXIT_INCOMPLETE)
    try:
        if node_url is not None:
            with aa.http_client(node_url, genesis, reader_key, _ca(node_url, ca_file, genesis_file)) as http:
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
    except (AuditIncomplete, AccessLogError, OSError, WireError) as exc:
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
            "newer": r.newer,
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


@click.command("export")
@click.option("--node", "node_url", required=True, help="A node's API URL.")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Archive to write (.gz compresses)."
)
@GENESIS_OPTION
@click.option("--force", is_flag=True, help="Overwrite an existing archive.")
@click.option(
    "--segments",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help=(
        "Write state snapshots that cut the archive into this many segments of equal length, for "
        "`audit verify --workers N` to replay in parallel (the export replays the chain for them). "
        "1: none."
    ),
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show a progress bar on stderr (on a terminal).",
)
@READER_KEY_OPTION
@CA_OPTION
def export(
    node_url: str,
    out: Path,
    genesis_file: Path,
    force: bool,
    segments: int,
    progress: bool,
    reader_key: Path | None,
    ca_file: Path | None,
) -> None:
    """Export the node's chain (genesis, blocks, certificates, receipts) to an archive file."""
    from auditor.archive import signed_reader
    from auditor.errors import SourceError
    from auditor.export import export_chain
    from wire.errors import WireError
    from wire.files import load_genesis

    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    try:
        genesis = load_genesis(genesis_file)
        with signed_reader(node_url, genesis, reader_key, _ca(node_url, ca_file, genesis_file)) as reader:
            result = export_chain(reader, genesis, out, segments=segments, progress=progress)
    except (WireError, SourceError, OSError) as exc:
        fail(str(exc))
    click.echo(
        f"exported {result.blocks} blocks ({result.txs} transactions, {result.bytes} bytes) "
        f"to {result.path} in {result.seconds:.1f} s"
    )
    if result.snapshots:
        click.echo(f"state snapshots after blocks {', '.join(map(str, result.snapshots))}")
    elif segments > 1:
        click.echo(f"no state snapshots: {result.height} blocks are too few to cut into {segments} segments")
