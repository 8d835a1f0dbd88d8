"""`orgledger governance`: propose, approve, withdraw and inspect node changes (issue 17).

Rules:

- Every command talks to one node (`--node`) and verifies what it reads against the genesis
  (`--genesis`); proposals and approvals are signed with `--key` (an org admin) and may carry
  approval signatures of other admins (`--approver`, repeatable): each one counts at once.
- Exit codes: 0 done; 2 the ledger refused the transaction (its reason code is printed, e.g.
  `too_many_changes`, `not_an_approver`); 3 a pre-flight check of this command refused it
  before anything was sent (`unreachable_address`: a node being added must already listen on
  its p2p and API addresses; `--skip-reachability-check` skips that); 1 any other failure.
- `list` and `show` print the proposals with their approvals, what they still need and, once
  executed, the height from which the change is in force.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from node.cli.common import GENESIS_OPTION, fail

EXIT_REFUSED = 2
EXIT_PREFLIGHT = 3
DEFAULT_NODE = "http://127.0.0.1:28001"

NODE_OPTION = click.option(
    "--node", "node_url", default=DEFAULT_NODE, show_default=True, help="A node's API URL."
)
SIGNER = click.option(
    "--key", "key_file", type=click.Path(path_type=Path), required=True, help="The signing admin's key file."
)
APPROVERS = click.option(
    "--approver",
    "approver_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Key file of another admin approving in the same transaction (repeatable).",
)
REASON = click.option("--reason", required=True, help="Why (recorded on the ledger).")


@click.group()
def governance() -> None:
    """Node governance: add, remove, re-key, promote or demote nodes by approved proposals."""


@governance.group()
def propose() -> None:
    """Propose a node change (pre-flight checked by the ledger, and here for addresses)."""


def reachable(host: str, port: int, timeout_s: float = 2.0) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _client(node_url: str, genesis_file: Path, key_file: Path | None) -> Any:
    from client_sdk.client import LedgerClient
    from wire.errors import WireError
    from wire.files import load_genesis, load_signing_key

    try:
        genesis = load_genesis(genesis_file)
        key = load_signing_key(key_file) if key_file is not None else _dev_reader_key(genesis_file)
    except (WireError, OSError) as exc:
        fail(str(exc))
    return LedgerClient(node_url, genesis, key=key)


def _dev_reader_key(genesis_file: Path) -> Any:
    """Reads need a signed request: on a dev network, the root admin's key."""
    from wire.files import load_genesis, load_signing_key

    root = load_genesis(genesis_file).root_org
    path = genesis_file.parent / "keys" / "admins" / f"{root}.key"
    if not path.exists():
        fail("pass --key: a key that may read (e.g. an admin's)")
    return load_signing_key(path)


def _submit(
    node_url: str, genesis_file: Path, key_file: Path, approver_files: tuple[Path, ...], payload: Any
) -> None:
    from client_sdk.errors import LedgerError, TxRejectedError
    from wire.errors import WireError
    from wire.files import load_signing_key

    try:
        approvers = [load_signing_key(p) for p in approver_files]
    except (WireError, OSError) as exc:
        fail(str(exc))
    with _client(node_url, genesis_file, key_file) as client:
        try:
            done = client.submit(payload, approvers=approvers)
        except TxRejectedError as exc:
            click.echo(f"refused ({exc.reason_code}): {exc}", err=True)
            sys.exit(EXIT_REFUSED)
        except LedgerError as exc:
            fail(str(exc))
        pid = payload.proposal_id if hasattr(payload, "proposal_id") else done.tx_id.hex()[:32]
        pid = pid.hex() if isinstance(pid, bytes) else pid
        try:
            proposal = client.proposal(pid)
        except LedgerError as exc:
            fail(f"committed at height {done.height}, but the proposal could not be read: {exc}")
    click.echo(f"committed at height {done.height}")
    if proposal is not None:
        click.echo(describe(proposal))


def describe(p: dict[str, Any]) -> str:
    """A proposal in a few lines: what, who approved, what it still needs, the outcome."""
    c = p["change"]
    what = f"{c['action']} {c['node_id']}"
    if c["action"] == "add":
        what += f" ({c['role']} of {c['org_id']} at {c['host']}:{c['p2p_port']}/{c['api_port']})"
    elif c["action"] == "set_role":
        what += f" -> {c['role']}"
    elif c["action"] == "rotate_key":
        what += f" -> {c['pubkey'][:16]}…"
    req, approved = p["required"], sorted(p["approvals"])
    lines = [
        f"proposal {p['proposal_id']}: {p['status']}",
        f"  change:    {what}",
        f"  reason:    {p['reason']}",
        f"  proposer:  {p['proposer']['user_id']} ({p['proposer']['org_id']}) at height {p['proposed_height']}",
        f"  approvals: {', '.join(approved) or '-'}",
    ]
    if p["status"] == "OPEN":
        pool_left = req["need"] - len(set(approved) & set(req["pool"]))
        must_left = [o for o in req["must"] if o not in approved]
        needs = []
        if pool_left > 0:
            needs.append(f"{pool_left} more of {', '.join(o for o in req['pool'] if o not in approved)}")
        if must_left:
            needs.append(f"{', '.join(must_left)}")
        lines.append(f"  needs:     admins of {' and '.join(needs)}")
    elif p["status"] == "EXECUTED":
        lines.append(f"  in force:  from height {p['effective_height']}")
    else:
        lines.append(
            f"  closed:    {p['closed_reason_code']} at height {p['closed_height']}: {p['closed_reason']}"
        )
    return "\n".join(lines)


@propose.command("node-add")
@NODE_OPTION
@GENESIS_OPTION
@SIGNER
@APPROVERS
@REASON
@click.option("--node-id", required=True, help="The new node's id (never used before).")
@click.option("--org", "org_id", required=True, help="The org running the node.")
@click.option(
    "--role",
    type=click.Choice(["validator", "observer"]),
    required=True,
    help="Validator (votes) or observer (verifies and serves reads).",
)
@click.option("--pubkey", default=None, help="The node's ed25519 public key (hex).")
@click.option(
    "--node-key", "node_key", type=click.Path(path_type=Path), default=None, help="...or its key file."
)
@click.option("--host", required=True, help="The host the node listens on (peers and API).")
@click.option("--p2p-port", type=click.IntRange(1, 65535), required=True, help="Its peer port.")
@click.option("--api-port", type=click.IntRange(1, 65535), required=True, help="Its HTTP API port.")
@click.option(
    "--ttl-hours",
    type=click.IntRange(1, 2160),
    default=None,
    help="Hours until the proposal expires unapproved (default: the ledger's, 7 days).",
)
@click.option("--skip-reachability-check", is_flag=True, help="Do not check that the node already listens.")
def node_add(
    node_url: str,
    genesis_file: Path,
    key_file: Path,
    approver_files: tuple[Path, ...],
    reason: str,
    node_id: str,
    org_id: str,
    role: str,
    pubkey: str | None,
    node_key: Path | None,
    host: str,
    p2p_port: int,
    api_port: int,
    ttl_hours: int | None,
    skip_reachability_check: bool,
) -> None:
    """Propose adding a node (it should already run, so its addresses are checked)."""
    from client_sdk import builders as b

    key_hex = _pubkey(pubkey, node_key)
    if not skip_reachability_check:
        for what, port in (("p2p", p2p_port), ("API", api_port)):
            if not reachable(host, port):
                fail(
                    f"unreachable_address: nothing listens on the {what} address {host}:{port}",
                    EXIT_PREFLIGHT,
                )
    payload = b.NodePropose(
        action="add",
        node_id=node_id,
        org_id=org_id,
        role=role,  # type: ignore[arg-type]
        pubkey=key_hex,
        host=host,
        p2p_port=p2p_port,
        api_port=api_port,
        ttl_ms=None if ttl_hours is None else ttl_hours * 3_600_000,
        reason=reason,
    )
    _submit(node_url, genesis_file, key_file, approver_files, payload)


def _pubkey(pubkey: str | None, key_file: Path | None) -> str:
    from wire.errors import WireError
    from wire.files import load_signing_key

    if (pubkey is None) == (key_file is None):
        fail("give the node's key as --pubkey HEX or --node-key FILE (one of them)", 2)
    if key_file is not None:
        try:
            return load_signing_key(key_file).public.hex()
        except (WireError, OSError) as exc:
            fail(str(exc))
    assert pubkey is not None
    return pubkey.lower()


@propose.command("node-remove")
@NODE_OPTION
@GENESIS_OPTION
@SIGNER
@APPROVERS
@REASON
@click.option("--node-id", required=True, help="The node to remove.")
def node_remove(
    node_url: str,
    genesis_file: Path,
    key_file: Path,
    approver_files: tuple[Path, ...],
    reason: str,
    node_id: str,
) -> None:
    """Propose removing a node (it stops when the change takes effect)."""
    from client_sdk import builders as b

    payload = b.NodePropose(action="remove", node_id=node_id, reason=reason)
    _submit(node_url, genesis_file, key_file, approver_files, payload)


@propose.command("node-rotate-key")
@NODE_OPTION
@GENESIS_OPTION
@SIGNER
@APPROVERS
@REASON
@click.option("--node-id", required=True, help="The node whose key to replace.")
@click.option("--pubkey", default=None, help="The new ed25519 public key (hex).")
@click.option(
    "--new-key", "new_key", type=click.Path(path_type=Path), default=None, help="...or its key file."
)
def node_rotate_key(
    node_url: str,
    genesis_file: Path,
    key_file: Path,
    approver_files: tuple[Path, ...],
    reason: str,
    node_id: str,
    pubkey: str | None,
    new_key: Path | None,
) -> None:
    """Propose replacing a node's key (restart the node with the new key once it is in force)."""
    from client_sdk import builders as b

    payload = b.NodePropose(
        action="rotate_key", node_id=node_id, pubkey=_pubkey(pubkey, new_key), reason=reason
    )
    _submit(node_url, genesis_file, key_file, approver_files, payload)


@propose.command("node-set-role")
@NODE_OPTION
@GENESIS_OPTION
@SIGNER
@APPROVERS
@REASON
@click.option("--node-id", required=True, help="The node to promote or demote.")
@click.option(
    "--role",
    type=click.Choice(["validator", "observer"]),
    required=True,
    help="Its new role.",
)
def node_set_role(
    node_url: str,
    genesis_file: Path,
    key_file: Path,
    approver_files: tuple[Path, ...],
    reason: str,
    node_id: str,
    role: str,
) -> None:
    """Propose promoting an observer to validator, or demoting a validator to observer."""
    from client_sdk import builders as b

    payload = b.NodePropose(action="set_role", node_id=node_id, role=role, reason=reason)  # type: ignore[arg-type]
    _submit(node_url, genesis_file, key_file, approver_files, payload)


@governance.command("approve")
@click.argument("proposal_id")
@NODE_OPTION
@GENESIS_OPTION
@SIGNER
@APPROVERS
def approve(
    proposal_id: str, node_url: str, genesis_file: Path, key_file: Path, approver_files: tuple[Path, ...]
) -> None:
    """Approve proposal PROPOSAL_ID (the approval that completes it executes the change)."""
    from client_sdk import builders as b

    _submit(node_url, genesis_file, key_file, approver_files, b.NodeApprove(proposal_id=_pid(proposal_id)))


@governance.command("withdraw")
@click.argument("proposal_id")
@NODE_OPTION
@GENESIS_OPTION
@SIGNER
@REASON
def withdraw(proposal_id: str, node_url: str, genesis_file: Path, key_file: Path, reason: str) -> None:
    """Withdraw an open proposal (its proposer, or an admin of the proposer's org)."""
    from client_sdk import builders as b

    _submit(
        node_url, genesis_file, key_file, (), b.NodeWithdraw(proposal_id=_pid(proposal_id), reason=reason)
    )


def _pid(text: str) -> str:
    text = text.strip().lower()
    if len(text) != 32 or any(ch not in "0123456789abcdef" for ch in text):
        fail(f"{text!r} is not a proposal id (32 hex digits)", 2)
    return text


@governance.command("list")
@NODE_OPTION
@GENESIS_OPTION
@click.option("--key", "key_file", type=click.Path(path_type=Path), default=None, help="Reader key.")
@click.option(
    "--status",
    type=click.Choice(["OPEN", "EXECUTED", "WITHDRAWN", "EXPIRED"]),
    default=None,
    help="Only proposals of this status.",
)
def list_(node_url: str, genesis_file: Path, key_file: Path | None, status: str | None) -> None:
    """List node proposals (oldest first)."""
    from client_sdk.errors import LedgerError

    with _client(node_url, genesis_file, key_file) as client:
        try:
            items = client.proposals(status=status)
        except LedgerError as exc:
            fail(str(exc))
    for p in items:
        c = p["change"]
        click.echo(
            f"{p['proposal_id']}  {p['status']:<9}  {c['action']:<10} {c['node_id']:<16} {p['reason'][:60]}"
        )
    if not items:
        click.echo("no proposals")


@governance.command("show")
@click.argument("proposal_id")
@NODE_OPTION
@GENESIS_OPTION
@click.option("--key", "key_file", type=click.Path(path_type=Path), default=None, help="Reader key.")
def show(proposal_id: str, node_url: str, genesis_file: Path, key_file: Path | None) -> None:
    """Show one proposal: the change, approvals, what it needs, the outcome."""
    from client_sdk.errors import LedgerError

    with _client(node_url, genesis_file, key_file) as client:
        try:
            p = client.proposal(_pid(proposal_id))
        except LedgerError as exc:
            fail(str(exc))
    if p is None:
        fail(f"no proposal {proposal_id}")
    click.echo(describe(p))
