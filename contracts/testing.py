"""Test helpers (pure): an in-memory state, a small five-level genesis with deterministic keys, and
a `Ledger` that runs blocks through `execute_block`. Shared by the contract tests and usable by
node tests.

Rules: everything deterministic: keys are derived from names (`key("cn/admin")`), persons from
names (`person("alice")`), block times from CST dates (`ms("2020-05-01")`, 10:00 CST). Users are
named `<org>/<role>`: every org has an admin and an operator; COUNTY and higher orgs also an
approver. `Ledger.submit` runs one transaction in its own block and returns its receipt.
Procedure-level helpers (whole pipelines that pass the full rulebook, meetings and decisions) are
in `contracts.testing_procedure` (which builds on this module; import them from there).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from contracts.base import BlockContext, BlockOutcome
from contracts.bootstrap import genesis_state
from contracts.calendar import day_start_ms, parse_date
from contracts.config import default_rule_config
from contracts.engine import execute_block
from contracts.state import decode_record
from wire.crypto import SigningKey, sha256
from wire.families import prefix_end
from wire.genesis import LEVELS, ConsensusParams, Genesis, NodeSpec, OrgSpec, UserSpec, org_depth
from wire.types import Receipt, SignedTransaction, TxBody

DEFAULT_ORGS: tuple[str, ...] = (
    "cn",
    "cn.p1",
    "cn.p1.c1",
    "cn.p1.c1.x1",
    "cn.p1.c1.x1.b1",
    "cn.p1.c1.x1.b2",
    "cn.p1.c1.x2",
    "cn.p1.c1.x2.b1",
    "cn.p2",
    "cn.p2.c1",
    "cn.p2.c1.x1",
    "cn.p2.c1.x1.b1",
)
CHAIN_ID = "test-chain"


def key(name: str) -> SigningKey:
    return SigningKey(sha256(b"orgledger-test-key\x00" + name.encode("utf-8")))


def person(name: str) -> str:
    """A person key (hex) for a test person's name."""
    return sha256(b"orgledger-test-person\x00" + name.encode("utf-8")).hex()


def digest(name: str) -> str:
    """A content or text hash (hex) named for a test."""
    return sha256(b"orgledger-test-hash\x00" + name.encode("utf-8")).hex()


def ms(day: str, hour: int = 10) -> int:
    """UTC epoch ms of `hour`:00 CST on `day`."""
    return day_start_ms(parse_date(day)) + hour * 3_600_000


class MemoryState:
    """A dict-backed StateReader with sorted keys."""

    def __init__(self, entries: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []
        for k, v in entries:
            self._set(k, v)

    def _set(self, k: bytes, v: bytes | None) -> None:
        if v is None:
            if k in self._data:
                del self._data[k]
                self._keys.pop(bisect_left(self._keys, k))
            return
        if k not in self._data:
            insort(self._keys, k)
        self._data[k] = v

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        lo, hi = bisect_left(self._keys, start), bisect_left(self._keys, end)
        for k in self._keys[lo:hi]:
            yield k, self._data[k]

    def apply(self, writes: Iterable[tuple[bytes, bytes | None]]) -> None:
        for k, v in writes:
            self._set(k, v)

    def items(self) -> list[tuple[bytes, bytes]]:
        return [(k, self._data[k]) for k in self._keys]


def make_genesis(
    orgs: Sequence[str] = DEFAULT_ORGS,
    *,
    chain_id: str = CHAIN_ID,
    genesis_time_ms: int | None = None,
    rule_config: Mapping[str, Any] | None = None,
    nodes: Sequence[tuple[str, str, str]] = (),
    consensus: ConsensusParams | None = None,
) -> Genesis:
    """A genesis of `orgs` with an admin and operator (and approver at COUNTY and up) per org;
    `nodes` = (node_id, org_id, role) (default: one validator `v0` of the root), keys from
    `key("node/<node_id>")`, p2p port 7000 + i and API port 8000 + i."""
    org_specs = []
    users = []
    for org_id in orgs:
        level = LEVELS[org_depth(org_id) - 1]
        org_specs.append(
            OrgSpec(
                org_id=org_id,
                level=level,
                name=f"org {org_id}",
                enc_pubkey=sha256(b"enc\x00" + org_id.encode()),
                approval_authority=level == "COUNTY",
                founded_date="2000-01-01",
            )
        )
        roles = ["admin", "operator"] + (
            ["approver"] if LEVELS.index(level) <= LEVELS.index("COUNTY") else []
        )
        for role in roles:
            name = f"{org_id}/{role}"
            users.append(UserSpec(user_id=name, org_id=org_id, pubkey=key(name).public, roles=(role,)))
    config = default_rule_config()
    config.update(rule_config or {})
    genesis = Genesis(
        chain_id=chain_id,
        genesis_time_ms=genesis_time_ms if genesis_time_ms is not None else ms("2015-01-01"),
        consensus=consensus or ConsensusParams(),
        nodes=tuple(
            NodeSpec(
                node_id=node_id,
                org_id=org_id,
                role=role,
                pubkey=key(f"node/{node_id}").public,
                host="127.0.0.1",
                p2p_port=7000 + i,
                api_port=8000 + i,
            )
            for i, (node_id, org_id, role) in enumerate(nodes or (("v0", orgs[0], "validator"),))
        ),
        orgs=tuple(org_specs),
        users=tuple(users),
        rule_config=config,
    )
    genesis.check()
    return genesis


class Ledger:
    """Runs blocks through the engine over a MemoryState, like a node would."""

    def __init__(self, genesis: Genesis | None = None, *, start: str = "2015-01-02") -> None:
        self.genesis = genesis or make_genesis()
        self.state = MemoryState(genesis_state(self.genesis))
        self.height = 0
        self.time_ms = ms(start)
        self.nonce = 0
        self.outcomes: list[BlockOutcome] = []
        self.blocks: list[tuple[BlockContext, tuple[SignedTransaction, ...]]] = []  # for replays
        self.mark: int | None = None  # tests: the height before the action under test

    def tx(
        self,
        user: str,
        tx_type: str,
        payload: Any,
        *,
        org_id: str | None = None,
        approvers: Sequence[str] = (),
        client_time_ms: int | None = None,
        chain_id: str | None = None,
        nonce: int | None = None,
        signer_key: SigningKey | None = None,
    ) -> SignedTransaction:
        self.nonce += 1
        sk = signer_key or key(user)
        body = TxBody(
            chain_id=chain_id or self.genesis.chain_id,
            tx_type=tx_type,
            org_id=org_id or user.rsplit("/", 1)[0],
            signer=sk.public,
            nonce=self.nonce if nonce is None else nonce,
            client_time_ms=self.time_ms if client_time_ms is None else client_time_ms,
            payload=payload,
        )
        return SignedTransaction.create(body, sk.signer(), [key(a).signer() for a in approvers])

    def block(self, *txs: SignedTransaction, at: str | int | None = None) -> BlockOutcome:
        """Execute one block at time `at` (a CST date, or epoch ms; default: one minute later)."""
        if at is None:
            self.time_ms += 60_000
        else:
            self.time_ms = ms(at) if isinstance(at, str) else at
        self.height += 1
        ctx = BlockContext(chain_id=self.genesis.chain_id, height=self.height, time_ms=self.time_ms)
        outcome = execute_block(self.state, ctx, txs)
        self.state.apply(outcome.writes)
        self.outcomes.append(outcome)
        self.blocks.append((ctx, tuple(txs)))
        return outcome

    def submit(
        self, user: str, tx_type: str, payload: Any, *, at: str | int | None = None, **kw: Any
    ) -> Receipt:
        if at is not None:
            self.time_ms = ms(at) if isinstance(at, str) else at
        tx = self.tx(user, tx_type, payload, **kw)
        return self.block(tx, at=self.time_ms + 1 if at is not None else None).receipts[0]

    def get(self, key_: str) -> dict[str, Any] | None:
        raw = self.state.get(key_.encode())
        return None if raw is None else decode_record(key_.encode(), raw)

    def scan(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        start = prefix.encode()
        return [(k.decode(), decode_record(k, v)) for k, v in self.state.scan(start, prefix_end(start))]

    def alerts(self, rule_id: str | None = None) -> list[dict[str, Any]]:
        out = [a for _, a in self.scan("alert/")]
        out = [a for a in out if rule_id is None or a["rule_id"] == rule_id]
        return sorted(out, key=lambda a: (a["raised_height"], a["alert_id"]))


# ------------------------------------------------------------------------------ payload builders
def archive_payload(name: str, birth_date: str, **fields: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "person_key": person(name),
        "key_version": 1,
        "id_check_ok": True,
        "birth_date": birth_date,
    }
    p.update(fields)
    return p


def doc_payload(
    doc_id: str, doc_type: str, subjects: Sequence[str], doc_date: str, issuer: str, **fields: Any
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "doc_id": doc_id,
        "doc_version": 1,
        "doc_type": doc_type,
        "subject_keys": [person(s) for s in subjects],
        "content_hash": digest("content:" + doc_id),
        "doc_date": doc_date,
        "issuer_org_id": issuer,
    }
    p.update(fields)
    return p


def step_payload(pipeline_id: str, name: str, step: str, event_date: str, **fields: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "pipeline_id": pipeline_id,
        "person_key": person(name),
        "step": step,
        "event_date": event_date,
    }
    p.update(fields)
    return p


# ------------------------------------------------------------------------------- whole histories
def county_of(org_id: str) -> str:
    return ".".join(org_id.split(".")[:4])


class StepFailed(RuntimeError):
    """A helper's transaction was not accepted (carries the receipt)."""

    def __init__(self, what: str, receipt: Receipt) -> None:
        super().__init__(
            f"{what}: {receipt.status} {receipt.rule_id} {receipt.reason_code}: {receipt.reason}"
        )
        self.receipt = receipt


def ok(receipt: Receipt, what: str = "transaction") -> Receipt:
    if not receipt.accepted:
        raise StepFailed(what, receipt)
    return receipt


def import_member(
    ledger: Ledger,
    name: str,
    branch: str,
    *,
    birth: str = "1970-01-01",
    join: str = "2000-01-01",
    full: str = "2001-01-01",
    status: str = "FULL",
    **fields: Any,
) -> Receipt:
    """Create the archive of an existing member (no pipeline on the ledger)."""
    payload = archive_payload(name, birth, status=status, join_date=join, full_date=full, **fields)
    return ok(ledger.submit(f"{branch}/operator", "archive.create", payload), f"import {name}")


def apply_for(
    ledger: Ledger,
    name: str,
    branch: str,
    pipeline_id: str,
    day: str,
    *,
    doc_date: str | None = None,
    received: str | None = None,
) -> Receipt:
    """Register an application document for `name` at `branch` and submit S01 (receipt returned)."""
    doc = doc_payload(f"{pipeline_id}/APPLICATION", "APPLICATION", [name], doc_date or day, branch)
    ok(ledger.submit(f"{branch}/operator", "material.register", doc, at=day), f"{name} application")
    payload = step_payload(pipeline_id, name, "S01", day, extra={"received_date": received or day})
    return ledger.submit(f"{branch}/operator", "join.step", payload, at=day)


def outcome(receipt: Receipt, rule_id: str) -> str:
    """How `rule_id` showed on a receipt: REJECT, FLAG:<colours>, PASS, or OTHER:<rule>:<code>."""
    if not receipt.accepted:
        return "REJECT" if receipt.rule_id == rule_id else f"OTHER:{receipt.rule_id}:{receipt.reason_code}"
    colours = sorted(a.colour for a in receipt.alerts if a.rule_id == rule_id)
    return "FLAG:" + "+".join(colours) if colours else "PASS"


def submit_step(
    ledger: Ledger, branch: str, pipeline_id: str, name: str, step: str, day: str, **fields: Any
) -> Receipt:
    """Submit one join.step at `day`, signed as the real procedure would: branch steps by the
    branch operator, committee steps by the county operator, approvals by the county approver."""
    from contracts.records import APPROVAL_STEPS, COMMITTEE_STEPS

    county = county_of(branch)
    payload = step_payload(pipeline_id, name, step, day, **fields)
    if step in APPROVAL_STEPS:
        user = f"{county}/approver"
    elif step in COMMITTEE_STEPS:
        user = f"{county}/operator"
    else:
        user = f"{branch}/operator"
    return ledger.submit(user, "join.step", payload, at=day)


__all__ = [
    "CHAIN_ID",
    "DEFAULT_ORGS",
    "Ledger",
    "MemoryState",
    "StepFailed",
    "apply_for",
    "archive_payload",
    "county_of",
    "digest",
    "doc_payload",
    "import_member",
    "key",
    "make_genesis",
    "ms",
    "ok",
    "outcome",
    "person",
    "step_payload",
    "submit_step",
]
