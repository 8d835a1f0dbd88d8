"""`orgledger api`, `orgledger tx`, `orgledger rules`: a client of a node and of the contracts.

Rules: requests and transactions are signed with the key file given, for the chain id of the
genesis given (default `.devnet/genesis.json`); a transaction is checked locally before it is
sent and only reported committed with a verified certificate. `tx types` and `rules list` print
the contracts' own catalogue. Heavy imports happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from node.cli.common import CA_OPTION, GENESIS_OPTION, ca_file_for, fail

T = TypeVar("T")

NODE_URL_OPTION = click.option(
    "--node", "node_url", required=True, help="A node's API URL, e.g. http://127.0.0.1:28001."
)
KEY_FILE_OPTION = click.option(
    "--key", "key_file", type=click.Path(path_type=Path), required=True, help="The signing ed25519 key file."
)


@click.group()
def api() -> None:
    """Call a node's read API with a signed request."""


@api.command("get")
@click.argument("path")
@NODE_URL_OPTION
@KEY_FILE_OPTION
@GENESIS_OPTION
@click.option(
    "--node-id",
    default=None,
    help="The node's id (the audience the request is signed for; default: the genesis node at --node's "
    "address, else the node's GET /v1/status).",
)
@CA_OPTION
def api_get(
    path: str,
    node_url: str,
    key_file: Path,
    genesis_file: Path,
    node_id: str | None,
    ca_file: Path | None,
) -> None:
    """GET PATH (e.g. /v1/alerts?colour=RED) signed with KEY and print the JSON answer.

    Exit 0 on 2xx, 1 otherwise (the error is printed)."""
    import json

    resp = _signed_request(node_url, key_file, genesis_file, node_id, ca_file, "GET", path)
    try:
        click.echo(json.dumps(resp.json(), indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(resp.text)
    sys.exit(0 if resp.status_code < 300 else 1)


@api.command("token")
@NODE_URL_OPTION
@KEY_FILE_OPTION
@GENESIS_OPTION
@click.option(
    "--ttl",
    "ttl_s",
    type=click.IntRange(1, 3600),
    default=3600,
    show_default=True,
    help="Seconds the token lives (at most 3600; it lives in that node's memory only).",
)
@click.option("--quiet", is_flag=True, help="Print the token only (for scripts).")
@CA_OPTION
def api_token(
    node_url: str, key_file: Path, genesis_file: Path, ttl_s: int, quiet: bool, ca_file: Path | None
) -> None:
    """A bearer token for NODE, obtained with a request signed by KEY, and the console link that
    opens the console signed in with it (`/console/#token=...`: the fragment never reaches a server).

    The token reads as your key, on that node only, until it expires. Exit 1 when the node refuses."""
    base = node_url.rstrip("/")
    resp = _signed_request(
        node_url, key_file, genesis_file, None, ca_file, "POST", "/v1/auth/token", {"ttl_s": ttl_s}
    )
    try:
        doc = resp.json()
    except ValueError:
        doc = {}
    if resp.status_code != 200 or not isinstance(doc.get("token"), str):
        err = doc.get("error", {}) if isinstance(doc, dict) else {}
        fail(
            f"{node_url} refused a token ({resp.status_code} {err.get('code', '')}): {err.get('message', resp.text)}"
        )
    token = doc["token"]
    if quiet:
        click.echo(token)
        return
    click.echo(f"token (valid {doc.get('expires_in_s', ttl_s)} s on this node only): {token}")
    click.echo(f"console, signed in:  {base}/console/#token={token}")


@click.group()
def tx() -> None:
    """Build, sign and submit transactions."""


@tx.command("submit")
@NODE_URL_OPTION
@KEY_FILE_OPTION
@click.option("--type", "tx_type", required=True, help="Transaction type (see `orgledger tx types`).")
@click.option("--payload", required=True, help="The payload as JSON (or @FILE to read it from a file).")
@click.option(
    "--org",
    "org_id",
    default=None,
    help="The org the transaction acts for (default: the signer's org in genesis).",
)
@GENESIS_OPTION
@click.option(
    "--approver",
    "approver_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Approver key file (repeatable).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the verified receipt.",
)
@CA_OPTION
def tx_submit(
    node_url: str,
    key_file: Path,
    tx_type: str,
    payload: str,
    org_id: str | None,
    genesis_file: Path,
    approver_files: tuple[Path, ...],
    timeout_s: float,
    ca_file: Path | None,
) -> None:
    """Sign and submit one transaction and wait for its verified receipt.

    Exit 0 when committed and accepted, 2 when rejected (the reason is printed), 1 on any other failure.
    """
    import json

    from client_sdk.client import LedgerClient, build_tx
    from client_sdk.errors import LedgerError, TxRejectedError
    from contracts import TxRejected, check_tx
    from wire.errors import WireError
    from wire.files import load_genesis, load_signing_key

    try:
        genesis = load_genesis(genesis_file)
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
    ca = ca_file_for(node_url, ca_file, genesis_file)
    reachable(node_url, ca)
    click.echo(f"tx {signed.tx_id.hex()}")
    try:
        with LedgerClient(node_url, genesis, key=key, ca_file=ca) as client:
            done = _with_progress(lambda: client.submit(signed, timeout_s=timeout_s), timeout_s)
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


def reachable(node_url: str, ca_file: Path | None = None, timeout_s: float = 3.0) -> None:
    """Fail at once, in seconds, when nothing answers at `node_url` (rather than retry until the
    submit timeout), or when its certificate does not verify against `ca_file`."""
    import httpx

    from client_sdk.errors import LedgerError
    from client_sdk.tls import certificate_error, certificate_failure, tls_context

    try:
        tls = tls_context(node_url, ca_file)
        httpx.get(
            node_url.rstrip("/") + "/healthz", timeout=timeout_s, verify=tls if tls is not None else True
        )
    except LedgerError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        failure = certificate_failure(exc)
        if failure is not None:
            fail(str(certificate_error(node_url, failure, "--ca")))
        fail(
            f"no node answers at {node_url} ({type(exc).__name__}: {exc}); is it running, is the URL right?"
            f"{_https_hint(node_url)}"
        )


def _signed_request(
    node_url: str,
    key_file: Path,
    genesis_file: Path,
    node_id: str | None,
    ca_file: Path | None,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
) -> Any:
    """One request to `node_url` signed with the key for the genesis' chain and the node's id
    (`node_id`, else the genesis node at that address, else the node's /v1/status), over TLS
    verified against the network CA for an https:// URL: the httpx response, or exit 1 with why."""
    import httpx

    from client_sdk.auth import LedgerAuth, RequestSigner, node_in_genesis
    from client_sdk.errors import LedgerError
    from client_sdk.tls import certificate_error, certificate_failure, tls_context
    from wire.errors import WireError
    from wire.files import load_genesis, load_signing_key

    try:
        genesis = load_genesis(genesis_file)
        tls = tls_context(node_url, ca_file_for(node_url, ca_file, genesis_file))
        audience = node_id or node_in_genesis(genesis, node_url)
        signer = RequestSigner(load_signing_key(key_file), genesis.chain_id, audience)
    except (WireError, LedgerError) as exc:
        fail(str(exc))
    try:
        with httpx.Client(
            base_url=node_url.rstrip("/"),
            timeout=10,
            auth=LedgerAuth(signer),
            verify=tls if tls is not None else True,
        ) as http:
            return http.request(method, path if path.startswith("/") else "/" + path, json=body)
    except httpx.HTTPError as exc:
        failure = certificate_failure(exc)
        if failure is not None:
            fail(str(certificate_error(node_url, failure, "--ca")))
        fail(f"{node_url}: {exc}{_https_hint(node_url)}")
    except LedgerError as exc:
        fail(f"{node_url}: {exc}")


def _https_hint(node_url: str) -> str:
    if node_url.lower().startswith("http://"):
        return " (a node with TLS answers only https:// URLs)"
    return ""


def _with_progress(work: Callable[[], T], timeout_s: float) -> T:
    """Run `work` while a progress bar (on a terminal) shows the seconds waited."""
    import threading
    import time

    from tqdm import tqdm

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    fmt = "{desc}: {elapsed} of up to {total:.0f}s"
    with tqdm(
        total=timeout_s, desc="waiting for the verified receipt", bar_format=fmt, disable=None, leave=False
    ) as bar:
        while thread.is_alive():
            thread.join(0.2)
            bar.n = min(timeout_s, time.monotonic() - started)
            bar.refresh()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


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
        fields = ", ".join(
            f"{f['name']}{'' if f['required'] else '?'}: {type_text(f['schema'])}"
            for f in spec["payload"]["fields"]
        )
        click.echo(f"{spec['tx_type']:<22} {fields}")
    click.echo("(name?: optional; --json prints the full schemas with ranges and descriptions)")


def type_text(schema: dict[str, Any]) -> str:
    """A payload field's type in a few characters: str, int, hex32, date, A|B|C, [str], {a, b}."""
    kind = str(schema.get("type"))
    if kind == "hex" and schema.get("bytes"):
        return f"hex{schema['bytes']}"
    if kind == "enum":
        values = [str(v) for v in schema.get("values", [])]
        return "|".join(values) if len(values) <= 4 else f"enum({len(values)}: {'|'.join(values[:3])}|...)"
    if kind == "list":
        return f"[{type_text(schema.get('item') or {})}]"
    if kind == "object":
        names = [str(f["name"]) for f in schema.get("fields", [])]
        return "{" + ", ".join(names[:4]) + (", ..." if len(names) > 4 else "") + "}"
    return kind


@click.group()
def rules() -> None:
    """The rule contracts' registry."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="zh: titles from the message catalogue (contracts/messages.py, the console's too), in Chinese.",
)
def rules_list(as_json: bool, lang: str) -> None:
    """List every rule with its id, colours, disposition and description."""
    import json

    from contracts.messages import rule_title
    from contracts.rules import registry

    rows = [r.to_json() for r in registry()]
    if lang == "zh":
        for r in rows:
            r["description"] = rule_title(r["id"], "zh") or r["description"]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(f"{'id':<9} {'colours':<18} {'disposition':<12} description")
    for r in rows:
        click.echo(f"{r['id']:<9} {'/'.join(r['colours']):<18} {r['disposition']:<12} {r['description']}")
