"""Load generation and the Jepsen-style check: submit, record every outcome, read every chain, compare.

Rules (RELIABILITY 5.1, 5.2, 5.5):

- Every submission is recorded as `ok` (a node admitted it: 200/202; not yet durable, so it is
  resubmitted until it is seen committed), `fail` (a node refused it
  with a 4xx: it must never appear) or `info` (no answer, 5xx, timeout: it may appear once).
  A transaction that gets no answer is retried, the same signed bytes, at another node.
- The checker reads blocks through the authenticated read API, signing with a key that may read
  whole blocks (a root-org admin or auditor, or a node key): `signer`.
- The checker reads every reachable node's chain and verifies: agreement (same block hash at every
  height every node has), every `ok` transaction present exactly once, no `fail` present, `info`
  at most once, heights never regress across polls; and counts what is present that this run
  never submitted (`unexpected`).
- Two verdicts: `Report.own_ok`, this run's transactions are sound and the nodes agree, whatever
  else the chain holds (other clients, the nodes' own anchors: what `dev load` needs), and
  `Report.ok`, that and nothing foreign on the chain (the fault tests, which own the chain).
  `why(report, ops)` says in words why a run did not commit all of its transactions cleanly.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from client_sdk.auth import RequestSigner
from wire.types import Block, SignedTransaction

RESUBMIT_AFTER_S = 4.0
RESUBMIT_MAX = 2000


@dataclass
class Op:
    tx: SignedTransaction
    outcome: str = "pending"  # ok | fail | info
    node: str = ""
    attempts: int = 0
    error: str = ""
    submitted_at: float = 0.0


@dataclass
class Chain:
    url: str
    node_id: str = ""  # from its GET /v1/status: the audience of the signed reads
    hashes: list[bytes] = field(default_factory=list)
    tx_ids: list[list[bytes]] = field(default_factory=list)
    statuses: list[list[str]] = field(default_factory=list)
    reasons: list[list[str]] = field(default_factory=list)  # the receipts' reason codes
    reachable: bool = True

    @property
    def height(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class Report:
    submitted: int
    committed: int
    rejected: int
    lost: int
    duplicated: int
    unexpected: int
    failed_present: int
    agree: bool
    heights: dict[str, int]
    problems: tuple[str, ...]
    rejected_reasons: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"submitted={self.submitted} committed={self.committed} rejected={self.rejected} "
            f"lost={self.lost} agree={'true' if self.agree else 'false'}"
        )

    @property
    def own_ok(self) -> bool:
        """This run's transactions are sound (none lost, none applied twice, no refused one
        present) and the nodes agree, whatever else the chain holds."""
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.failed_present == 0
            and self.agree
            and not self.problems
        )

    @property
    def ok(self) -> bool:
        """`own_ok`, and nothing on the chain this run did not submit."""
        return self.own_ok and self.unexpected == 0


def _connector(tls: ssl.SSLContext | None) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(ssl=tls if tls is not None else True)


async def submit_all(
    urls: Sequence[str],
    txs: Sequence[SignedTransaction],
    *,
    rate: float | None = None,
    concurrency: int = 32,
    deadline_s: float = 120.0,
    seed: int = 1,
    progress: Callable[[int], object] | None = None,
    tls: ssl.SSLContext | None = None,
) -> list[Op]:
    """Submit every transaction (retrying unanswered ones at other nodes); return the history.
    `progress(1)` is called as each one is answered (a progress bar); `tls` verifies https URLs."""
    rnd = random.Random(seed)
    ops = [Op(tx=t) for t in txs]
    sem = asyncio.Semaphore(concurrency)
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, connector=_connector(tls)) as session:

        async def one(i: int, op: Op) -> None:
            try:
                await submit_one(i, op)
            finally:
                if progress is not None:
                    progress(1)

        async def submit_one(i: int, op: Op) -> None:
            if rate:
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            async with sem:
                body = op.tx.encode()
                while time.monotonic() - started < deadline_s:
                    url = rnd.choice(urls)
                    op.attempts += 1
                    op.node, op.submitted_at = url, time.monotonic()
                    try:
                        async with session.post(
                            f"{url}/v1/tx", data=body, headers={"content-type": "application/octet-stream"}
                        ) as resp:
                            if resp.status in (200, 202):
                                op.outcome = "ok"
                                return
                            doc = await resp.json(content_type=None)
                            code = str(doc.get("error", {}).get("code", resp.status))
                            if resp.status < 500 and resp.status != 429:
                                op.outcome, op.error = "fail", code
                                return
                            op.outcome, op.error = "info", code
                    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                        op.outcome, op.error = "info", type(exc).__name__
                    await asyncio.sleep(0.2)

        await asyncio.gather(*(one(i, op) for i, op in enumerate(ops)))
    return ops


async def _get(
    session: aiohttp.ClientSession, url: str, path: str, signer: RequestSigner | None, node_id: str
) -> dict[str, Any]:
    """GET a JSON document, signed (for node `node_id`) when a signer is given; waits out a 429
    (rate limit) once."""
    for _ in range(2):
        headers = signer.headers("GET", path, node_id=node_id) if signer is not None else {}
        async with session.get(f"{url}{path}", headers=headers) as resp:
            if resp.status == 429:
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            doc: dict[str, Any] = await resp.json(content_type=None)
            return doc
    raise ValueError(f"{url}{path}: rate limited")


async def read_chain(
    session: aiohttp.ClientSession, chain: Chain, upto: int | None = None, signer: RequestSigner | None = None
) -> None:
    """Extend `chain` with the node's blocks (and receipt statuses) up to its current height."""
    try:
        async with session.get(f"{chain.url}/v1/status") as resp:
            status = await resp.json()
            height = int(status["height"])
            chain.node_id = str(status["node_id"])
        if height < chain.height:
            raise AssertionError(f"{chain.url}: height regressed from {chain.height} to {height}")
        top = height if upto is None else min(height, upto)
        for h in range(chain.height + 1, top + 1):
            doc = await _get(session, chain.url, f"/v1/blocks/{h}", signer, chain.node_id)
            block = Block.decode(bytes.fromhex(doc["block_bytes"]))
            rdoc = await _get(session, chain.url, f"/v1/blocks/{h}/receipts", signer, chain.node_id)
            chain.hashes.append(block.hash)
            chain.tx_ids.append([SignedTransaction.decode(t).tx_id for t in block.txs])
            chain.statuses.append([r["status"] for r in rdoc["receipts"]])
            chain.reasons.append([str(r.get("reason_code") or "") for r in rdoc["receipts"]])
        chain.reachable = True
    except (aiohttp.ClientError, TimeoutError, KeyError, ValueError):
        chain.reachable = False


async def wait_and_check(
    urls: Sequence[str],
    ops: Sequence[Op],
    *,
    signer: RequestSigner | None = None,
    timeout_s: float = 120.0,
    quiet_s: float = 2.0,
    progress: Callable[[int], object] | None = None,
    tls: ssl.SSLContext | None = None,
) -> Report:
    """Poll every node until every `ok` transaction is on a chain (or time runs out), then check.

    A 202 means a node admitted the transaction to its memory, not that it is durable: a client
    that has not seen its transaction committed submits the same bytes again (idempotent), as the
    SDK does. So every few seconds the transactions not yet on a chain are resubmitted.
    `progress(n)` is told how many more of them it saw committed (a progress bar); `tls`
    verifies https URLs.
    """
    chains = [Chain(url=u) for u in urls]
    wanted = {op.tx.tx_id for op in ops if op.outcome == "ok"}
    deadline = time.monotonic() + timeout_s
    problems: list[str] = []
    resubmit_at = time.monotonic() + RESUBMIT_AFTER_S
    reported = 0
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10), connector=_connector(tls)
    ) as session:
        while True:
            try:
                await asyncio.gather(*(read_chain(session, c, signer=signer) for c in chains))
            except AssertionError as exc:
                problems.append(str(exc))
                break
            best = max(chains, key=lambda c: c.height)
            present = {t for ids in best.tx_ids for t in ids}
            if progress is not None:
                seen = len(wanted & present)
                progress(seen - reported)
                reported = seen
            if wanted <= present or time.monotonic() > deadline:
                break
            if time.monotonic() > resubmit_at:
                missing = [op for op in ops if op.outcome == "ok" and op.tx.tx_id not in present]
                await _resubmit(session, urls, missing)
                resubmit_at = time.monotonic() + RESUBMIT_AFTER_S
            await asyncio.sleep(0.25)
        # let lagging nodes catch up to the best height before comparing
        target = max(c.height for c in chains)
        settle = time.monotonic() + quiet_s + 10
        while any(c.reachable and c.height < target for c in chains) and time.monotonic() < settle:
            await asyncio.sleep(0.25)
            await asyncio.gather(*(read_chain(session, c, upto=target, signer=signer) for c in chains))
    return check(ops, chains, problems)


async def _resubmit(session: aiohttp.ClientSession, urls: Sequence[str], ops: Sequence[Op]) -> None:
    rnd = random.Random(len(ops))
    for op in ops[:RESUBMIT_MAX]:
        op.attempts += 1
        try:
            async with session.post(
                f"{rnd.choice(urls)}/v1/tx",
                data=op.tx.encode(),
                headers={"content-type": "application/octet-stream"},
            ) as resp:
                await resp.read()
        except (aiohttp.ClientError, TimeoutError):
            continue


def check(ops: Sequence[Op], chains: Sequence[Chain], problems: Sequence[str] = ()) -> Report:
    problems = list(problems)
    reachable = [c for c in chains if c.height > 0 or c.reachable]
    agree = True
    for h in range(max((c.height for c in reachable), default=0)):
        hashes = {c.hashes[h] for c in reachable if c.height > h}
        if len(hashes) > 1:
            agree = False
            problems.append(f"height {h + 1}: {len(hashes)} different block hashes")
            break
    best = max(chains, key=lambda c: c.height)
    counts: Counter[bytes] = Counter(t for ids in best.tx_ids for t in ids)
    applied: Counter[bytes] = Counter()
    status: dict[bytes, str] = {}
    for ids, sts in zip(best.tx_ids, best.statuses, strict=True):
        for t, s in zip(ids, sts, strict=True):
            status.setdefault(t, s)
            if s == "ACCEPTED":
                applied[t] += 1
    by_id = {op.tx.tx_id: op for op in ops}
    lost = sum(1 for op in ops if op.outcome == "ok" and counts[op.tx.tx_id] == 0)
    duplicated = sum(1 for n in applied.values() if n > 1)  # applied twice: a violation
    unexpected = sum(1 for t in counts if t not in by_id)
    failed_present = sum(1 for op in ops if op.outcome == "fail" and counts[op.tx.tx_id] > 0)
    committed = sum(1 for op in ops if counts[op.tx.tx_id] and status.get(op.tx.tx_id) == "ACCEPTED")
    rejected = sum(1 for op in ops if counts[op.tx.tx_id] and status.get(op.tx.tx_id) == "REJECTED")
    reason: dict[bytes, str] = {}
    for ids, codes in zip(best.tx_ids, best.reasons, strict=False):
        for t, code in zip(ids, codes, strict=False):
            reason.setdefault(t, code)
    rejected_reasons = Counter(
        reason.get(op.tx.tx_id, "") or "?" for op in ops if status.get(op.tx.tx_id) == "REJECTED"
    )
    return Report(
        submitted=len(ops),
        committed=committed,
        rejected=rejected,
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        failed_present=failed_present,
        agree=agree,
        heights={c.url: c.height for c in chains},
        problems=tuple(problems),
        rejected_reasons=dict(rejected_reasons),
    )


def summary(ops: Sequence[Op]) -> dict[str, Any]:
    return dict(Counter(op.outcome for op in ops))


def why(report: Report, ops: Sequence[Op]) -> list[str]:
    """Why not every one of this run's transactions committed cleanly (empty when they all did)."""
    out: list[str] = []
    if not report.agree:
        out.append("the nodes disagree on the chain")
    out.extend(f"problem: {p}" for p in report.problems)
    if report.lost:
        out.append(f"{report.lost} transactions a node acknowledged never committed (lost)")
    if report.duplicated:
        out.append(f"{report.duplicated} transactions were applied twice")
    if report.failed_present:
        out.append(f"{report.failed_present} transactions refused at submission are on the chain anyway")
    if report.rejected:
        codes = ", ".join(f"{c} {n}" for c, n in sorted(report.rejected_reasons.items()))
        out.append(f"{report.rejected} transactions were committed as REJECTED ({codes})")
    refused = Counter(op.error or "?" for op in ops if op.outcome == "fail")
    if refused:
        codes = ", ".join(f"{c} {n}" for c, n in sorted(refused.items()))
        out.append(f"{sum(refused.values())} transactions were refused at submission ({codes})")
    unknown = sum(1 for op in ops if op.outcome in ("info", "pending"))
    missing = report.submitted - report.committed - report.rejected - sum(refused.values())
    if unknown and missing > 0:
        out.append(f"{min(unknown, missing)} transactions got no answer in time and are not on the chain")
    if report.committed < report.submitted and not out:
        out.append(f"only {report.committed} of {report.submitted} committed before the timeout")
    return out
