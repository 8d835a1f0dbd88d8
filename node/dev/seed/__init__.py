"""`orgledger dev seed --dir DIR`: fill a running local network with a realistic history, through
the SDK, and say what it made and where to look.

Rules:

- The history is planned first (node/dev/seed/plan.py: the scenario run on a shadow ledger from the
  network's genesis), then replayed through `client_sdk.AsyncLedgerClient`: every transaction is
  validated against the schema, signed by its user's key, submitted, and counted only once its
  certificate, inclusion proof and receipt proof verify against the genesis. Phases run in
  order, the next once every node has executed the last (admission reads the node's own state);
  the lanes of a phase (one per branch, mostly) run concurrently, each lane in order, and
  lanes are spread over the network's nodes.
- Users the seed registers get key files under DIR/keys/users/ (0600), written before they are
  registered; new orgs get their X25519 keys under DIR/keys/orgs/ like `network init`'s.
- Run twice: the seed records a start marker and a done marker (materials `seed-v1/started`,
  `seed-v1/done` of the root org). With the done marker it prints the summary of what is on the
  ledger and changes nothing; with only the start marker (an interrupted run) it refuses, since a
  replay would collide with what the first run wrote: start from a fresh network.
- The summary: transactions per family (accepted, rejected), alerts per colour and rule (read
  back from the ledger), whether each fraud attempt did what it was meant to, the run time, and
  what to try next. Exit status 0 when every intended outcome happened and every other
  transaction went as planned.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client_sdk import AsyncLedgerClient, LedgerError, TxRejectedError
from client_sdk.models import Committed
from contracts.testing import person
from node.dev.devnet import api_url, api_urls, commands, network_ca
from node.dev.seed.plan import BRANCHES, MARKER_DONE, MARKER_STARTED, NEW_ORGS, Plan, PlannedTx, make_plan
from node.errors import DevError
from wire.crypto import SigningKey
from wire.errors import WireError
from wire.files import load_genesis, load_signing_key, write_key_file
from wire.genesis import Genesis

BACKFILL_RULES = {
    "MTG-04": "minutes registered after the meeting (the year was recorded today)",
    "MAT-05": "documents registered after their date",
}
DEADLINE_NOTE = "deadlines that had passed before the step was recorded (backfilled pipelines)"
Echo = Callable[[str], None]


class SeedError(DevError):
    """The seed cannot run (not a dev network, nodes down, an interrupted earlier run)."""


@dataclass
class Outcome:
    tx: PlannedTx
    receipt: dict[str, Any]
    height: int
    error: str = ""
    tx_id: bytes = b""
    url: str = ""


@dataclass
class SeedReport:
    already: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    start_height: int = 0
    end_height: int = 0

    @property
    def intents(self) -> list[tuple[PlannedTx, bool]]:
        return [(o.tx, o.tx.intent.met(o.receipt, self.alerts)) for o in self.outcomes if o.tx.intent]

    @property
    def unexpected(self) -> list[Outcome]:
        """Transactions without an intent that did not end as the shadow ledger said they would."""
        return [
            o
            for o in self.outcomes
            if o.tx.intent is None and (o.error or o.receipt.get("status") != o.tx.shadow.status)
        ]

    @property
    def ok(self) -> bool:
        return self.already or (all(met for _, met in self.intents) and not self.unexpected)

    def alert_counts(self) -> tuple[Counter[str], Counter[tuple[str, str]]]:
        colours = Counter(a["colour"] for a in self.alerts)
        rules = Counter((a["rule_id"], a["colour"]) for a in self.alerts)
        return colours, rules


# ------------------------------------------------------------------------------------ the network
@dataclass
class DevNetwork:
    directory: Path
    genesis: Genesis
    admins: dict[str, SigningKey]
    urls: list[str]
    #: the network CA when the network has TLS (`dev up --tls`): the clients verify against it
    ca: Path | None = None

    @classmethod
    def load(cls, directory: Path) -> DevNetwork:
        try:
            genesis = load_genesis(directory / "genesis.json")
            admins = {
                o.org_id: load_signing_key(directory / "keys" / "admins" / f"{o.org_id}.key")
                for o in genesis.orgs
            }
        except (OSError, WireError) as exc:
            raise SeedError(
                f"{directory} is not a dev network (orgledger dev up --dir {directory}): {exc}"
            ) from exc
        orgs = {o.org_id for o in genesis.orgs}
        missing = sorted({b.rsplit(".", 1)[0] for b in BRANCHES} - orgs - {o for o, *_ in NEW_ORGS})
        if missing:
            raise SeedError(
                f"{directory} was not made from the default topology (no {', '.join(missing)}); "
                "dev seed writes the history of that tree"
            )
        urls = api_urls(directory, genesis, "validator")
        return cls(directory.resolve(), genesis, admins, urls, network_ca(directory.resolve()))

    @property
    def root(self) -> str:
        return next(o.org_id for o in self.genesis.orgs if "." not in o.org_id)


def _write_keys(net: DevNetwork, plan: Plan) -> None:
    for name, key in plan.keys.items():
        path = net.directory / "keys" / "users" / f"{name.replace('/', '.')}.key"
        write_key_file(path, "ed25519", key.seed, key.public, name)
    for org, enc in plan.enc_keys.items():
        path = net.directory / "keys" / "orgs" / f"{org}.x25519.key"
        write_key_file(path, "x25519", enc.secret, enc.public, org)


# ------------------------------------------------------------------------------------ replay
class Replayer:
    def __init__(self, net: DevNetwork, plan: Plan, echo: Echo) -> None:
        self.net, self.plan, self.echo = net, plan, echo
        self.keys: dict[str, SigningKey] = {f"{o}/admin": k for o, k in net.admins.items()} | plan.keys
        self.clients: dict[tuple[str, str], AsyncLedgerClient] = {}

    def client(self, user: str, url: str) -> AsyncLedgerClient:
        found = self.clients.get((user, url))
        if found is None:
            found = self.clients[(user, url)] = AsyncLedgerClient(
                url, self.net.genesis, key=self.keys[user], submit_timeout_s=60.0, ca_file=self.net.ca
            )
        return found

    async def close(self) -> None:
        for c in self.clients.values():
            await c.close()

    async def one(self, tx: PlannedTx, url: str) -> Outcome:
        client = self.client(tx.user, url)
        try:
            signed = await client.sign(
                tx.payload,
                tx_type=tx.tx_type,
                org_id=tx.org_id,
                approvers=[self.keys[a] for a in tx.approvers],
            )
            # committed with its certificate and inclusion verified; the receipt's own proof needs
            # two more blocks, so it is verified for the whole phase at its end (`verify`)
            done: Committed = await client.submit(signed, wait_receipt=False)
            return Outcome(tx, done.receipt, done.height, tx_id=signed.tx_id, url=url)
        except TxRejectedError as exc:
            return Outcome(tx, exc.receipt, exc.height, tx_id=signed.tx_id, url=url)
        except LedgerError as exc:
            return Outcome(tx, {}, 0, f"{type(exc).__name__}: {exc}")

    async def verify(self, outcomes: list[Outcome]) -> None:
        """Replace each unproven receipt by the one its receipt proof establishes."""
        gate = asyncio.Semaphore(16)

        async def one(o: Outcome) -> None:
            async with gate:
                try:
                    proven = await self.client(o.tx.user, o.url).proof(
                        o.tx_id, wait_receipt=True, timeout_s=60
                    )
                except LedgerError as exc:
                    o.error = f"receipt not verified: {type(exc).__name__}: {exc}"
                    return
                if proven.receipt is None:
                    o.error = "receipt not provable in time"
                    return
                receipt = proven.receipt.to_json()
                if receipt["status"] != o.receipt.get("status"):
                    o.error = "the node's receipt differs from the proven one"
                o.receipt = receipt

        await asyncio.gather(*(one(o) for o in outcomes if not o.error))

    async def settle(self, outcomes: list[Outcome]) -> None:
        """Wait until every node has executed the phase's last block: the next phase's lanes go
        to other nodes, whose admission must already know the users and keys this phase
        registered (else it refuses them as `unknown_signer`, rightly, from its own state)."""
        top = max((o.height for o in outcomes if not o.error), default=0)
        if top == 0:
            return
        user = next(o.tx.user for o in outcomes if not o.error)
        pubkey = self.keys[user].public
        await asyncio.gather(*(self.client(user, url).user(pubkey, min_height=top) for url in self.net.urls))

    async def lane(self, txs: list[PlannedTx], url: str) -> list[Outcome]:
        out = []
        for tx in txs:
            result = await self.one(tx, url)
            out.append(result)
            if result.error:  # a lane stops at a failure it cannot judge; later steps depend on it
                break
        return out

    async def run(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        nodes = itertools.cycle(self.net.urls)
        for phase, lanes in self.plan.phases():
            started = time.monotonic()
            results = await asyncio.gather(*(self.lane(txs, next(nodes)) for txs in lanes.values()))
            done = [o for r in results for o in r]
            await self.verify(done)
            await self.settle(done)
            outcomes.extend(done)
            rejected = sum(1 for o in done if o.receipt.get("status") == "REJECTED")
            failed = sum(1 for o in done if o.error)
            extra = f", {rejected} rejected" if rejected else ""
            extra += f", {failed} FAILED" if failed else ""
            self.echo(
                f"  {phase:<10} {len(done):>4} transactions in {len(lanes)} lane(s), "
                f"{time.monotonic() - started:5.1f}s{extra}"
            )
            if failed and phase in ("start", "setup"):
                break
        return outcomes


# ------------------------------------------------------------------------------------ reading back
async def _read_alerts(client: AsyncLedgerClient, min_height: int) -> list[dict[str, Any]]:
    out = []
    async for rec in client.alerts(min_height=min_height, limit=500):
        if rec.record is not None:
            out.append(rec.record)
    return out


async def _marker(client: AsyncLedgerClient, doc_id: str) -> bool:
    return await client.record("material", doc_id, min_height=0) is not None


async def _seed(net: DevNetwork, echo: Echo, *, now_ms: int | None) -> SeedReport:
    report = SeedReport()
    root_key = net.admins[net.root]
    async with AsyncLedgerClient(net.urls[0], net.genesis, key=root_key, ca_file=net.ca) as root:
        try:
            status = await root.status()
        except LedgerError as exc:
            raise SeedError(
                f"no node answers at {net.urls[0]} (start it: orgledger dev up --dir ...): {exc}"
            ) from exc
        if await _marker(root, MARKER_DONE):
            report.already = True
            report.end_height = int(status["height"])
            report.alerts = await _read_alerts(root, 0)
            return report
        if await _marker(root, MARKER_STARTED):
            raise SeedError(
                "an earlier `dev seed` on this network did not finish (its start marker is on the "
                "ledger, its done marker is not); its transactions cannot be replayed over "
                "themselves. Start from a fresh network: orgledger dev down --dir DIR; remove DIR; "
                "make run"
            )
        report.start_height = int(status["height"])
        started = time.monotonic()
        plan = make_plan(net.genesis, net.admins, now_ms)
        _write_keys(net, plan)
        echo(
            f"planned {len(plan.txs)} transactions on a shadow ledger "
            f"({len(plan.phases())} phases); replaying through the SDK to {len(net.urls)} node(s):"
        )
        replayer = Replayer(net, plan, echo)
        try:
            report.outcomes = await replayer.run()
        finally:
            await replayer.close()
        report.end_height = max((o.height for o in report.outcomes), default=report.start_height)
        report.alerts = await _read_alerts(root, report.end_height)
        report.seconds = time.monotonic() - started
    return report


def seed(directory: Path, *, echo: Echo = print, now_ms: int | None = None) -> SeedReport:
    """Seed the dev network in `directory` (see the module rules); print progress with `echo`."""
    net = DevNetwork.load(directory)
    report = asyncio.run(_seed(net, echo, now_ms=now_ms))
    for line in summary(net, report):
        echo(line)
    return report


# ------------------------------------------------------------------------------------ the summary
def summary(net: DevNetwork, report: SeedReport) -> list[str]:
    lines: list[str] = []
    colours, rules = report.alert_counts()
    if report.already:
        lines.append(
            f"already seeded: the done marker is on the ledger (height {report.end_height}); nothing sent"
        )
    else:
        fams: dict[str, Counter[str]] = {}
        for o in report.outcomes:
            status = "failed" if o.error else str(o.receipt.get("status", "?")).lower()
            fams.setdefault(o.tx.family, Counter())[status] += 1
        lines.append("")
        lines.append(
            f"seeded {len(report.outcomes)} transactions in {report.seconds:.1f}s "
            f"(heights {report.start_height + 1}..{report.end_height}), each verified (certificate, "
            "inclusion and receipt proofs):"
        )
        for fam in sorted(fams):
            c = fams[fam]
            parts = [f"{c['accepted']} accepted"] + [f"{c[k]} {k}" for k in ("rejected", "failed") if c[k]]
            lines.append(f"  {fam:<10} {', '.join(parts)}")
    lines.append("")
    lines.append(
        f"alerts on the ledger: {len(report.alerts)} (RED {colours['RED']}, YELLOW {colours['YELLOW']}, "
        f"BLUE {colours['BLUE']})"
    )
    by_rule: dict[str, Counter[str]] = {}
    for (rule, colour), n in rules.items():
        by_rule.setdefault(rule, Counter())[colour] = n
    intended = {t.intent.rule_id for t, _ in report.intents if t.intent is not None}
    for rule in sorted(by_rule):
        c = by_rule[rule]
        counts = ", ".join(f"{col} {c[col]}" for col in ("RED", "YELLOW", "BLUE") if c[col])
        note = ""
        if rule in BACKFILL_RULES:
            note = f"  backfill: {BACKFILL_RULES[rule]}"
        elif rule.startswith("JOIN-") and rule not in intended:
            note = f"  backfill: {DEADLINE_NOTE}"
        lines.append(f"  {rule:<8} {counts}{note}")
    if report.intents:
        lines.append("")
        lines.append("fraud attempts (what each was meant to do):")
        for tx, met in report.intents:
            assert tx.intent is not None
            what = tx.intent.outcome + (f" {'+'.join(tx.intent.colours)}" if tx.intent.colours else "")
            mark = "ok  " if met else "MISS"
            lines.append(f"  {mark} {tx.intent.rule_id:<8} {what:<20} {tx.intent.what}")
    for o in report.unexpected[:10]:
        why = o.error or f"{o.receipt.get('status')} {o.receipt.get('rule_id')} {o.receipt.get('reason')}"
        lines.append(f"  UNEXPECTED {o.tx.lane}: {o.tx.label}: {why}")
    lines.extend(_what_to_try(net))
    return lines


def _what_to_try(net: DevNetwork) -> list[str]:
    d = net.directory
    url = net.urls[0]
    ol, py = commands()
    tls = net.ca is not None
    branch_url = next((api_url(n, tls) for n in net.genesis.nodes if n.org_id.endswith("b001")), url)
    ca = f" --ca {net.ca}" if tls else ""
    return [
        "",
        "where to look and what to try:",
        f"  curl{f' --cacert {net.ca}' if tls else ''} {url}/v1/status",
        f"  {ol} api get '/v1/alerts?colour=RED&type=DEC-06' --node {url} --key {d}/keys/admins/cn.key{ca}",
        f"  {ol} api get /v1/members/{person('applicant-liu')}/history --node {branch_url} "
        f"--key {d}/keys/users/cn.gs.lz.cg.b001.operator.key{ca}   # a member's whole pipeline",
        f"  {ol} audit verify --node {url} --genesis {d}/genesis.json",
        f"  {py} - <<'EOF'",
        "  from client_sdk import LedgerClient",
        f"  c = LedgerClient('{url}', '{d}/genesis.json', key='{d}/keys/users/cn.gs.operator.key'"
        + (f", ca_file='{net.ca}')" if tls else ")"),
        "  for a in c.alerts(colour='RED'): print(a.kind, a.org_id, a.record['reason'])",
        "  for ev in c.events(after_height=0, timeout_s=3): print(ev.kind, ev.height, ev.rule_id or '')",
        "  EOF",
        f"  keys of the seeded users: {d}/keys/users/ (org admins: {d}/keys/admins/); guide: docs/sdk.md",
    ]
