"""`orgledger audit access`: list the reads of personal data a node logged, after proving the log
was not edited since it was anchored (docs/privacy.md).

Rules:

- The log comes from the node (`--node`, needs a root-org admin or auditor key, or a node key) or
  from a copy of its directory (`--dir`: the node's data directory or its `accesslog/`).
- Anchors come from the ledger through `--node` (`GET /v1/access-log/anchors`); each is checked
  with the proof of its `access.anchor` transaction against the caller's genesis (certified,
  accepted, signed by that node's genesis key, same fields) unless `--no-proofs`. Without a node
  the chain is checked but not the anchors (said so; exit 0 only with `--allow-unanchored`).
- Verification (`node.privacy.accesslog.verify_log`): every line's hash and link, segment to segment,
  each anchored segment's file hash, head and seq range, every anchored segment present.
- Reads race with a running node: from `--node` the anchors are read first and the log is read
  until its list of closed segments is the same before and after; a `--dir` copy is older than
  the ledger, so segments anchored after its newest closed one are a warning, not a failure (a
  segment missing *inside* the copy still fails).
- The listing: lines from `--since` (a date, 00:00 China Standard Time, or an ISO time) that
  concern `--org`: the caller is in the org's subtree, or a record read belongs to it, or (for
  lists, whose record orgs are not looked up) the caller's scope covers part of it.
- Exit 0 the log verifies; 1 it does not (the reason printed); 4 no verdict (node unreachable,
  log unreadable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from auditor.errors import AuditIncomplete
from wire.accesslog import CURRENT, AccessLogError, LogReport, segment_name, verify_log
from wire.genesis import Genesis, is_ancestor_or_self

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 4
CST = timedelta(hours=8)


@dataclass(slots=True)
class AccessAudit:
    report: LogReport
    node_id: str
    anchors_checked: bool
    proofs_checked: int = 0
    selected: list[dict[str, Any]] = field(default_factory=list)


def parse_since(text: str | None) -> int:
    """Epoch ms of `--since`: YYYY-MM-DD (00:00 CST) or an ISO 8601 time (UTC if no zone)."""
    if not text:
        return 0
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC) - CST
            return int(day.timestamp() * 1000)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r} is not a date (YYYY-MM-DD) or ISO time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def concerns(line: Mapping[str, Any], org: str | None) -> bool:
    if org is None:
        return True
    caller = line.get("caller") or {}
    if isinstance(caller, Mapping) and is_ancestor_or_self(org, str(caller.get("org_id", ""))):
        return True
    orgs = [str(o) for o in line.get("orgs") or []]
    if any(is_ancestor_or_self(org, o) for o in orgs):
        return True
    scope = str(caller.get("org_id", "")) if isinstance(caller, Mapping) else ""
    is_list = not orgs and len(line.get("ids") or []) > 1
    return bool(is_list and scope and (is_ancestor_or_self(scope, org) or is_ancestor_or_self(org, scope)))


def http_client(
    url: str, genesis: Genesis, key_file: Path | None, ca_file: Path | None = None
) -> httpx.Client:
    """Requests signed with `key_file`, by default a dev network's root admin key (as `audit verify`);
    an https node verified against `ca_file` (the network CA) when given."""
    from client_sdk.auth import LedgerAuth, RequestSigner
    from client_sdk.tls import tls_context
    from wire.files import load_signing_key

    if key_file is None:
        candidate = Path(".devnet") / "keys" / "admins" / f"{genesis.root_org}.key"
        key_file = candidate if candidate.exists() else None
    auth = (
        None if key_file is None else LedgerAuth(RequestSigner(load_signing_key(key_file), genesis.chain_id))
    )
    tls = tls_context(url, ca_file)
    return httpx.Client(
        base_url=url.rstrip("/"), timeout=30, auth=auth, verify=tls if tls is not None else True
    )


def _get(http: httpx.Client, path: str) -> httpx.Response:
    try:
        resp = http.get(path)
    except httpx.HTTPError as exc:
        raise AuditIncomplete(f"{http.base_url}{path}: {exc}") from exc
    if resp.status_code >= 400:
        try:
            err = resp.json().get("error", {})
        except ValueError:
            err = {}
        raise AuditIncomplete(f"{path}: {resp.status_code} {err.get('code')}: {err.get('message')}")
    return resp


def read_from_node(http: httpx.Client, attempts: int = 5) -> tuple[str, dict[int, bytes], bytes]:
    """The node's closed segments and open one, read consistently: a segment that closes while
    they are read would leave its lines in neither, so the read is repeated until the list of
    closed segments is the same before and after."""
    for _ in range(attempts):
        doc = _get(http, "/v1/access-log/segments").json()
        segments = {int(n): _get(http, f"/v1/access-log/segments/{n}").content for n in doc["segments"]}
        current = _get(http, "/v1/access-log/segments/current").content
        if _get(http, "/v1/access-log/segments").json()["segments"] == doc["segments"]:
            return str(doc["node_id"]), segments, current
    raise AuditIncomplete("the node's access log kept closing segments while it was read; run again")


def read_from_dir(directory: Path) -> tuple[dict[int, bytes], bytes]:
    d = directory / "accesslog" if (directory / "accesslog").is_dir() else directory
    if not d.is_dir():
        raise AuditIncomplete(f"{directory} holds no access log")
    segments: dict[int, bytes] = {}
    for p in d.glob("*.jsonl"):
        stem = p.name.removesuffix(".jsonl")
        if stem.isdigit() and p.name == segment_name(int(stem)):
            segments[int(stem)] = p.read_bytes()
    current = (d / CURRENT).read_bytes() if (d / CURRENT).exists() else b""
    return segments, current


def node_id_of_dir(directory: Path) -> str | None:
    """The node id written on the log's lines (each line names its node)."""
    segments, current = read_from_dir(directory)
    for data in [*(segments[n] for n in sorted(segments)), current]:
        for raw in data.split(b"\n"):
            if raw.strip():
                try:
                    return str(json.loads(raw)["node"])
                except (ValueError, KeyError, TypeError):
                    return None
    return None


def check_anchor_proofs(
    http: httpx.Client, genesis: Genesis, node_id: str, anchors: Mapping[int, Mapping[str, Any]]
) -> int:
    """Verify each anchor's transaction proof; raise AccessLogError naming the first that fails.

    Proofs are checked against the validator set in force at their height: a proof of a later
    validator epoch makes the check learn the node's `/v1/validators` once, verified from genesis.
    The signer is not compared with a key list: the proven ACCEPTED receipt of an `access.anchor`
    shows the contracts found its signer to be the key node `node_id` had in force then (a
    genesis key, a rotated-in key, an added node's key; `contracts/privacy.py`)."""
    from client_sdk.errors import UnknownEpochError, VerificationError
    from client_sdk.proofs import TrustAnchor, verify_proof_response
    from wire.types import RECEIPT_ACCEPTED

    trust = TrustAnchor.from_genesis(genesis)
    fields = ("node_id", "segment", "first_seq", "last_seq", "prev_head", "head_hash", "file_hash")
    for number, anchor in sorted(anchors.items()):
        tx_id = bytes.fromhex(str(anchor["tx_id"]))
        doc = _get(http, f"/v1/proofs/tx/{tx_id.hex()}").json()
        try:
            try:
                v = verify_proof_response(doc, genesis, tx_id, anchor=trust)
            except UnknownEpochError:
                trust = trust.from_validators_doc(_get(http, "/v1/validators").json())
                v = verify_proof_response(doc, genesis, tx_id, anchor=trust)
        except VerificationError as exc:
            raise AccessLogError(f"anchor of segment {number}: its proof does not verify: {exc}") from exc
        if v.tx is None or v.receipt is None or v.receipt.status != RECEIPT_ACCEPTED:
            raise AccessLogError(f"anchor of segment {number}: not a provably accepted transaction (yet)")
        body = v.tx.body
        p = body.payload if isinstance(body.payload, dict) else {}
        if body.tx_type != "access.anchor":
            raise AccessLogError(f"anchor of segment {number}: not an access.anchor of node {node_id}")
        if any(p.get(f) != anchor.get(f) for f in fields) or bool(p.get("restart")) != bool(
            anchor.get("restart")
        ):
            raise AccessLogError(
                f"anchor of segment {number}: the node serves other fields than the ledger holds"
            )
    return len(anchors)


def _anchors(http: httpx.Client, node_id: str) -> dict[int, dict[str, Any]]:
    doc = _get(http, f"/v1/access-log/anchors?node_id={node_id}").json()
    return {int(a["segment"]): a for a in doc.get("anchors", [])}


def audit_access(
    *,
    genesis: Genesis,
    http: httpx.Client | None,
    directory: Path | None,
    org: str | None,
    since_ms: int,
    proofs: bool = True,
) -> AccessAudit:
    if http is None and directory is None:
        raise ValueError("give a node, a directory, or both")
    anchors: dict[int, dict[str, Any]] = {}
    checked = 0
    if directory is not None:
        # A copy is older than the ledger it is checked against: segments anchored after it was
        # taken are reported, not failed (a gap inside the copy still fails).
        segments, current = read_from_dir(directory)
        node_id = node_id_of_dir(directory) or ""
        if http is not None and not node_id:
            node_id = str(_get(http, "/v1/status").json()["node_id"])
        if http is not None and node_id:
            anchors = _anchors(http, node_id)
        report = verify_log(segments, current, anchors, copy=True)
    else:
        # Anchors first, then the log: every segment anchored by then is closed and served.
        assert http is not None
        anchors = _anchors(http, str(_get(http, "/v1/status").json()["node_id"]))
        node_id, segments, current = read_from_node(http)
        report = verify_log(segments, current, anchors)
    if http is not None and proofs and report.ok:
        try:
            checked = check_anchor_proofs(http, genesis, node_id, anchors)
        except AccessLogError as exc:
            report.fail(str(exc))
    audit = AccessAudit(
        report=report, node_id=node_id, anchors_checked=http is not None, proofs_checked=checked
    )
    audit.selected = [
        line for line in report.lines if int(line.get("at_ms", 0)) >= since_ms and concerns(line, org)
    ]
    return audit


def render_line(line: Mapping[str, Any]) -> str:
    when = datetime.fromtimestamp(int(line.get("at_ms", 0)) / 1000, UTC) + CST
    caller = line.get("caller") or {}
    who = f"{caller.get('user_id') or '?'}@{caller.get('org_id') or '?'}" if caller else "(unauthenticated)"
    ids = line.get("ids") or []
    shown = ",".join(str(i)[:16] for i in ids[:3]) + (f" +{len(ids) - 3}" if len(ids) > 3 else "")
    orgs = ",".join(line.get("orgs") or []) or "-"
    return (
        f"{when:%Y-%m-%d %H:%M:%S} CST  seq {line.get('seq')}  {line.get('outcome'):<12} {who:<36} "
        f"from {line.get('remote') or '-':<15} {line.get('method')} {line.get('path')}  {line.get('what')} "
        f"[{shown}] orgs {orgs}"
    )
