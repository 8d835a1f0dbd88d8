"""`orgledger bench`: a benchmark anyone can rerun, with its setup printed next to every figure.

What it does:

1. Measures v, the ed25519 verifications per second of one core with PyNaCl, on this machine now;
   the limit is `C * v / n` (C cores, n validators): every validator checks every signature once.
2. Starts a fresh local network (the default topology on ports 27201-27206 / 28201-28206, so it can
   run beside `make run`), and pre-signs the whole workload (the stated mix of domain transactions
   of `node.dev.workload`) before anything is measured.
3. Phase "saturation": client processes submit in batches (`POST /v1/txs`) as fast as the network
   commits, keeping at most `inflight` transactions outstanding. The measured window opens after
   the warm-up, once the network has committed transactions of the phase (at most
   FIRST_COMMIT_WAIT_S later: a fresh network's first blocks come late on a busy machine). Committed throughput is counted from
   committed blocks (transactions in blocks whose header time falls in the measured window).
4. Phase "half rate": open loop at half the measured throughput; commit latency is submit time to
   the moment a watcher sees the transaction in a block whose commit certificate it verified.
   It starts once the saturation phase has drained (`_drain`): its transactions still queued
   (up to `inflight` of them) committed, every node's read index caught up and every node idle
   (LevelDB compacting the phase's writes). Without that the half-rate window queued behind the
   saturation backlog and measured it, not the latency at half rate (issue 19).
5. Per-node CPU and RSS (psutil), CPU µs per committed transaction for each node and where it
   goes (the node's `orgledger_stage_cpu_seconds_total{stage}` counters over the same window:
   admission, consensus, execution, state_map, storage, index, api, compaction, and "other" for
   the rest of the process: HTTP parsing, the peer links, gossip framing, the event loop; and
   the garbage collector's share of all of them, `orgledger_gc_cpu_seconds_total`, as
   "gc (within)"), then one line:
   `committed_tps=X p50_ms=Y p99_ms=Z limit_tps=L ratio=X/L cpu_us_per_tx_validator=U` (U: the
   validators' mean over the saturation window); `--json FILE` writes everything.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import nacl.signing

from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.errors import VerificationError
from client_sdk.events import SseParser
from client_sdk.proofs import TrustAnchor
from node.dev.stagecpu import per_tx_breakdown, scrape_stages
from wire import codec
from wire.certificate import verify_certificate
from wire.files import load_genesis, load_signing_key
from wire.genesis import Genesis
from wire.types import Block, CommitCertificate, SignedTransaction

if TYPE_CHECKING:
    import psutil

PORT_OFFSET = 200
FIRST_COMMIT_WAIT_S = 120.0  # at most this long after the warm-up for the phase's first commit
WINDOW_SETTLE_S = 30.0  # at most this long after the window for its last blocks to be seen
STREAM_READ_TIMEOUT_S = 60.0  # the event stream sends a keep-alive every 15 s


@dataclass
class BenchOptions:
    duration_s: float = 20.0
    warmup_s: float = 5.0
    clients: int = 2
    batch: int = 200
    inflight: int = 6000
    rate: float | None = None  # open loop only, at this rate
    max_tps: float = 2000.0  # transactions are pre-signed for at most this rate
    half_rate_phase: bool = True
    keep: bool = False
    directory: Path | None = None
    prebuilt: bool = False  # the directory already holds a network (and chains) to start as is


@dataclass
class Phase:
    name: str
    offered_tps: float | None
    committed_tps: float = 0.0
    committed: int = 0
    window_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    samples: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    node_cpu_percent: dict[str, float] = field(default_factory=dict)
    node_rss_mb: dict[str, float] = field(default_factory=dict)
    # RSS without the file pages LevelDB maps (its table files, reclaimable page cache): the heap
    node_anon_mb: dict[str, float] = field(default_factory=dict)
    # CPU µs of each node's process per transaction committed in the window, and by stage
    # (node.metrics.STAGES, "other" = the rest of the process: HTTP parsing, links, the event loop)
    node_cpu_us_per_tx: dict[str, float] = field(default_factory=dict)
    node_stage_us_per_tx: dict[str, dict[str, float]] = field(default_factory=dict)


def verify_rate(seconds: float = 1.5) -> float:
    """ed25519 verifications per second of one core (PyNaCl), best of three short runs."""
    key = nacl.signing.SigningKey.generate()
    msg = b"x" * 200
    sig = key.sign(msg).signature
    vk = key.verify_key
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for _ in range(200):
                vk.verify(msg, sig)
            n += 200
        best = max(best, n / (time.perf_counter() - start))
    return best


def bench_topology(directory: Path) -> Path:
    from node.dev.topology import DEFAULT_TOPOLOGY

    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    for i in range(1, 7):
        text = text.replace(f"p2p_port = {27000 + i}", f"p2p_port = {27000 + PORT_OFFSET + i}")
        text = text.replace(f"api_port = {28000 + i}", f"api_port = {28000 + PORT_OFFSET + i}")
    text = text.replace('chain_id = "orgledger-dev"', 'chain_id = "orgledger-bench"')
    path = directory / "bench-topology.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- client processes
def _client(
    client: int,
    urls: list[str],
    raws: list[bytes],
    batch: int,
    rate: float | None,
    inflight_max: int,
    committed: Any,
    submitted: Any,
    start_at: float,
    stop_at: Any,
    out: Any,
) -> None:
    """Submit `raws` in batches; record (tx index, submit time); respects rate or in-flight bound."""
    times: list[tuple[int, float]] = []
    refused: dict[str, int] = {}
    with httpx.Client(timeout=30) as http:
        while time.time() < start_at:
            time.sleep(0.005)
        i, k = 0, 0
        while i < len(raws) and time.time() < stop_at.value:
            if rate is not None:
                due = start_at + i / rate
                if due > time.time():
                    time.sleep(min(0.05, due - time.time()))
                    continue
            elif submitted.value - committed.value > inflight_max:
                time.sleep(0.005)
                continue
            chunk = raws[i : i + batch]
            now = time.time()
            try:
                resp = http.post(
                    f"{urls[k % len(urls)]}/v1/txs",
                    content=codec.encode_trusted(chunk),
                    headers={"content-type": "application/octet-stream"},
                )
                results = resp.json().get("results", []) if resp.status_code == 200 else []
            except (httpx.HTTPError, ValueError):
                results = []
            k += 1
            if len(results) != len(chunk):
                refused["transport"] = refused.get("transport", 0) + len(chunk)
                time.sleep(0.05)
                continue  # retry the same batch (idempotent)
            retry = False
            for j, r in enumerate(results):
                if "error" in r:
                    code = r["error"]["code"]
                    refused[code] = refused.get(code, 0) + 1
                    retry = retry or code in ("mempool_full", "signer_quota")
                else:
                    times.append((i + j, now))
            if retry:
                time.sleep(0.05)
            with submitted.get_lock():
                submitted.value += len(chunk)
            i += len(chunk)
    out.put((client, times, refused))


# ------------------------------------------------------------------------------- the watcher
class Watcher(threading.Thread):
    """Follows committed blocks on one node, verifying each certificate; records when each was seen.
    It learns of each new height from the node's event stream (`GET /v1/events?kinds=block`), not
    by polling `/v1/status`, then fetches the block with its certificate."""

    def __init__(self, url: str, genesis: Genesis, auth: httpx.Auth, committed: Any) -> None:
        super().__init__(daemon=True)
        self.url, self.genesis, self.auth, self.committed = url, genesis, auth, committed
        self.anchor = TrustAnchor.from_genesis(genesis)  # learns later validator epochs as they come
        self.height = 0
        self.blocks: list[tuple[int, int, float, list[bytes]]] = []  # height, header time, seen, tx ids
        self.stop = threading.Event()
        self.errors = 0

    def run(self) -> None:
        timeout = httpx.Timeout(10.0, read=STREAM_READ_TIMEOUT_S)
        with httpx.Client(base_url=self.url, timeout=timeout, auth=self.auth) as http:
            while not self.stop.is_set():
                try:
                    self._follow(http)
                except (httpx.HTTPError, ValueError, KeyError, VerificationError):
                    self.errors += 1
                self.stop.wait(0.2)

    def _follow(self, http: httpx.Client) -> None:
        """Read the block events from the next height on; fetch every height up to each one."""
        params = {"kinds": "block", "after_height": str(self.height)}
        with http.stream("GET", "/v1/events", params=params) as resp:
            resp.raise_for_status()
            parser = SseParser()
            for text in resp.iter_text():
                for msg in parser.feed(text):
                    if msg.event == "error":
                        raise ValueError(f"event stream ended: {msg.data}")
                    if msg.event == "block" and msg.id is not None:
                        top = int(msg.id)
                        while self.height < top and not self.stop.is_set():
                            self._fetch(http, self.height + 1)
                if self.stop.is_set():
                    return

    def _fetch(self, http: httpx.Client, h: int) -> None:
        doc = http.get(f"/v1/blocks/{h}").json()
        seen = time.time()
        block = Block.decode(bytes.fromhex(doc["block_bytes"]))
        cert = CommitCertificate.decode(bytes.fromhex(doc["certificate_bytes"]))
        if block.header.validators_hash != self.anchor.validators_at(h).hash:  # a later epoch
            self.anchor = self.anchor.from_validators_doc(http.get("/v1/validators").json())
        verify_certificate(
            cert, self.anchor.validators_at(h), self.genesis.chain_id, height=h, block_hash=block.hash
        )
        ids = [SignedTransaction.decode(t).tx_id for t in block.txs]
        self.blocks.append((h, block.header.timestamp_ms, seen, ids))
        self.height = h
        with self.committed.get_lock():
            self.committed.value += len(ids)


# ------------------------------------------------------------------------------- running
def _anon_bytes(proc: psutil.Process) -> int:
    """Resident anonymous memory (Linux `RssAnon`); the full RSS where that is not available."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(proc.memory_info().rss)


def settled(urls: list[str], timeout_s: float = 7200.0) -> int:
    """Wait until every validator reports the same height with its read index at that height
    (a node started on a stored chain rebuilds its index first); return the height."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10) as http:
        while True:
            try:
                docs = [http.get(f"{u}/v1/status").json() for u in urls]
                heights = {int(d["height"]) for d in docs}
                if len(heights) == 1 and all(int(d["indexed_height"]) == int(d["height"]) for d in docs):
                    return heights.pop()
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the nodes did not settle on the stored chain")
            time.sleep(1.0)


def _drain(
    urls: list[str],
    committed: Any,
    procs: dict[str, psutil.Process],
    quiet_s: float = 3.0,
    idle_share: float = 0.05,
    idle_wait_s: float = 60.0,
    timeout_s: float = 600.0,
    sample_s: float = 2.0,
) -> float:
    """Wait until the benchmark's transactions stop committing for `quiet_s`, the validators have
    settled (`settled`: one height, indexes caught up) and every node process is idle (under
    `idle_share` of a core over `sample_s`: LevelDB's compaction of the phase's writes runs on
    after the index is done; at most `idle_wait_s`, a busy machine may never look idle); the
    seconds it took."""
    started = time.monotonic()
    deadline = started + timeout_s
    last, since = committed.value, time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise TimeoutError("the saturation phase's transactions did not finish committing")
        time.sleep(0.25)
        if committed.value != last:
            last, since = committed.value, time.monotonic()
    settled(urls, timeout_s=max(1.0, deadline - time.monotonic()))
    wait_idle(procs, idle_share=idle_share, idle_wait_s=idle_wait_s, sample_s=sample_s)
    return time.monotonic() - started


def wait_idle(
    procs: dict[str, psutil.Process],
    *,
    idle_share: float = 0.05,
    idle_wait_s: float = 60.0,
    sample_s: float = 2.0,
) -> bool:
    """Until every process uses under `idle_share` of a core over `sample_s`, for at most
    `idle_wait_s` (a busy machine may never look idle); whether they went idle."""
    idle_by = time.monotonic() + idle_wait_s
    while time.monotonic() < idle_by:
        before = {n: sum(p.cpu_times()[:2]) for n, p in procs.items()}
        time.sleep(sample_s)
        busy = {n: (sum(p.cpu_times()[:2]) - before[n]) / sample_s for n, p in procs.items()}
        if all(share < idle_share for share in busy.values()):
            return True
    return False


def node_procs(directory: Path, genesis: Genesis) -> dict[str, psutil.Process]:
    try:
        import psutil
    except ImportError:
        raise RuntimeError(
            "orgledger bench measures CPU and memory with psutil: pip install 'orgledger[bench]'"
        ) from None

    from node.dev.devnet import _nodes, running_pid

    out = {}
    for p in _nodes(directory):
        pid = running_pid(p)
        if pid is not None:
            out[p.spec.node_id] = psutil.Process(pid)
    return out


def _phase(
    name: str,
    urls: list[str],
    raws: list[bytes],
    ids: list[bytes],
    opts: BenchOptions,
    rate: float | None,
    watcher: Watcher,
    procs: dict[str, psutil.Process],
    committed: Any,
    metric_urls: dict[str, str],
) -> Phase:
    ctx = mp.get_context("spawn")
    submitted = ctx.Value("q", 0)
    out: Any = ctx.Queue()
    start_at = time.time() + 1.0
    # the clients stop at stop_at, moved to the end of the window once the window is placed
    stop_at = ctx.Value("d", start_at + opts.warmup_s + FIRST_COMMIT_WAIT_S + opts.duration_s)
    committed_before = committed.value
    shares = [raws[c :: opts.clients] for c in range(opts.clients)]
    index_maps = [list(range(c, len(raws), opts.clients)) for c in range(opts.clients)]
    per_rate = None if rate is None else rate / opts.clients
    workers = [
        ctx.Process(
            target=_client,
            args=(
                c,
                urls,
                shares[c],
                opts.batch,
                per_rate,
                opts.inflight // opts.clients,
                committed,
                submitted,
                start_at,
                stop_at,
                out,
            ),
        )
        for c in range(opts.clients)
    ]
    for w in workers:
        w.start()
    time.sleep(max(0.0, start_at + opts.warmup_s - time.time()))
    # The window opens once the network commits this phase's transactions: on a slow or busy
    # machine the first blocks of a fresh network come late, and a window before them is empty.
    waited_until = time.time() + FIRST_COMMIT_WAIT_S
    while committed.value == committed_before and time.time() < waited_until:
        time.sleep(0.1)
    stages0 = scrape_stages(metric_urls)
    cpu0 = {n: p.cpu_times() for n, p in procs.items()}
    t0 = time.time()
    stop_at.value = t0 + opts.duration_s
    time.sleep(max(0.0, stop_at.value - time.time()))
    t1 = time.time()
    cpu1 = {n: p.cpu_times() for n, p in procs.items()}
    stages1 = scrape_stages(metric_urls)
    phase = Phase(name=name, offered_tps=rate, window_s=t1 - t0)
    used_by: dict[str, float] = {}
    for n in procs:
        used = (cpu1[n].user + cpu1[n].system) - (cpu0[n].user + cpu0[n].system)
        used_by[n] = used
        phase.node_cpu_percent[n] = round(100 * used / (t1 - t0), 1)
        phase.node_rss_mb[n] = round(procs[n].memory_info().rss / 2**20, 1)
        phase.node_anon_mb[n] = round(_anon_bytes(procs[n]) / 2**20, 1)
    submit_times: dict[bytes, float] = {}
    for _ in workers:
        c, times, refused = out.get(timeout=120)
        for k, v in refused.items():
            phase.refused[k] = phase.refused.get(k, 0) + v
        for i, t in times:
            submit_times[ids[index_maps[c][i]]] = t
    for w in workers:
        w.join(timeout=30)
    # count the window once the watcher has seen a block proposed after it (the blocks of the
    # window's last submissions), or after WINDOW_SETTLE_S on a network that went quiet
    settle_until = time.time() + WINDOW_SETTLE_S
    while time.time() < settle_until and not any(b[1] >= t1 * 1000 for b in watcher.blocks[-8:]):
        time.sleep(0.2)
    in_window = [b for b in watcher.blocks if t0 * 1000 <= b[1] < t1 * 1000]
    phase.committed = sum(len(b[3]) for b in in_window)
    phase.committed_tps = round(phase.committed / (t1 - t0), 1)
    lat = [
        (seen - submit_times[i]) * 1000
        for _, ts, seen, tx_ids in in_window
        for i in tx_ids
        if i in submit_times
    ]
    if lat:
        q = statistics.quantiles(lat, n=100, method="inclusive")
        phase.p50_ms, phase.p99_ms, phase.samples = round(q[49], 1), round(q[98], 1), len(lat)
    for n, used in used_by.items():
        total, by_stage = per_tx_breakdown(used, stages0.get(n, {}), stages1.get(n, {}), phase.committed)
        phase.node_cpu_us_per_tx[n] = total
        phase.node_stage_us_per_tx[n] = by_stage
    return phase


def run(opts: BenchOptions) -> dict[str, Any]:
    from node.dev.devnet import down, up
    from node.dev.netinit import init_network
    from node.dev.workload import MIX, Workload

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    v = verify_rate()
    directory = opts.directory or Path(tempfile.mkdtemp(prefix="orgledger-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    net = directory / "net"
    if not (opts.prebuilt and (net / "genesis.json").exists()):
        init_network(bench_topology(directory), net, force=True)
    genesis = load_genesis(net / "genesis.json")
    n = len(genesis.validator_nodes)
    limit = cores * v / n
    print(
        f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, {platform.platform()}"
    )
    print(
        f"ed25519 verify (PyNaCl, one core): {v:,.0f}/s -> limit C*v/n = {cores}*{v:,.0f}/{n} = {limit:,.0f} tx/s"
    )
    print(
        f"network: {n} validators, {len(genesis.nodes) - n} observer(s), exec_lag {genesis.consensus.exec_lag}, max_block_txs {genesis.consensus.max_block_txs}"
    )
    print(
        f"mix: {', '.join(f'{k} {w}%' for k, w in MIX)}; {opts.clients} client processes, batches of {opts.batch}"
    )
    work = Workload(genesis, net, seed=7)
    ceiling = opts.rate or opts.max_tps
    total = int(ceiling * (opts.warmup_s + opts.duration_s) * (1.6 if opts.half_rate_phase else 1.0)) + 1000
    print(f"signing {total:,} transactions before the run ...", flush=True)
    now = int(time.time() * 1000)
    txs = [work.next_tx(now) for _ in range(total)]
    raws = [t.encode() for t in txs]
    ids = [t.tx_id for t in txs]
    sizes = [len(r) for r in raws]
    print(f"transaction size: mean {statistics.mean(sizes):.0f} B, max {max(sizes)} B")
    result: dict[str, Any] = {
        "machine": {
            "cores": cores,
            "arch": platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "verify_per_s": round(v),
        "validators": n,
        "observers": len(genesis.nodes) - n,
        "limit_tps": round(limit),
        "mix": dict(MIX),
        "options": {k: str(x) for k, x in asdict(opts).items()},
        "tx_bytes_mean": round(statistics.mean(sizes)),
    }
    try:
        # nodes on a stored chain check it before they serve (integrity.py): allow for that
        up(net, echo=False, timeout_s=3600.0 if opts.prebuilt else 90.0)
        urls = [f"http://{s.host}:{s.api_port}" for s in genesis.validator_nodes]
        root = load_signing_key(net / "keys" / "admins" / f"{genesis.root_org}.key")
        committed = mp.get_context("spawn").Value("q", 0)
        watcher = Watcher(urls[0], genesis, LedgerAuth(RequestSigner(root, genesis.chain_id)), committed)
        if opts.prebuilt:
            # A stored history is the setting, not the measurement: wait until every node serves it
            # with its index caught up, and follow blocks from there.
            watcher.height = settled(urls)
        watcher.start()
        procs = node_procs(net, genesis)
        metric_urls = {s.node_id: f"http://{s.host}:{s.api_port}" for s in genesis.nodes}
        phases: list[Phase] = []
        half = len(raws) // (2 if opts.half_rate_phase and opts.rate is None else 1)
        first = _phase(
            "saturation" if opts.rate is None else "open-loop",
            urls,
            raws[:half],
            ids[:half],
            opts,
            opts.rate,
            watcher,
            procs,
            committed,
            metric_urls,
        )
        phases.append(first)
        _report(first)
        if opts.rate is None and opts.half_rate_phase and first.committed_tps > 0:
            result["drain_s"] = round(_drain(urls, committed, procs), 1)
            print(f"[bench] the saturation backlog drained in {result['drain_s']} s", flush=True)
            second = _phase(
                "half-rate",
                urls,
                raws[half:],
                ids[half:],
                opts,
                first.committed_tps / 2,
                watcher,
                procs,
                committed,
                metric_urls,
            )
            phases.append(second)
            _report(second)
        watcher.stop.set()
        result["phases"] = [asdict(p) for p in phases]
        tps = first.committed_tps
        lat = phases[-1]
        validators = {s.node_id for s in genesis.validator_nodes}
        per_validator = [v for k, v in first.node_cpu_us_per_tx.items() if k in validators]
        result["summary"] = {
            "committed_tps": tps,
            "cpu_us_per_tx_validator": round(statistics.mean(per_validator), 1) if per_validator else None,
            "p50_ms": lat.p50_ms,
            "p99_ms": lat.p99_ms,
            "limit_tps": round(limit),
            "ratio": round(tps / limit, 3),
        }
    finally:
        down(net, echo=False)
        if not opts.keep and opts.directory is None:
            shutil.rmtree(directory, ignore_errors=True)
    s = result["summary"]
    print(
        f"committed_tps={s['committed_tps']} p50_ms={s['p50_ms']} p99_ms={s['p99_ms']} limit_tps={s['limit_tps']} ratio={s['ratio']} cpu_us_per_tx_validator={s['cpu_us_per_tx_validator']}"
    )
    return result


def _report(p: Phase) -> None:
    offered = "saturating" if p.offered_tps is None else f"offered {p.offered_tps:,.0f} tx/s"
    print(
        f"[{p.name}] {offered}: committed {p.committed:,} in {p.window_s:.1f} s = {p.committed_tps:,.1f} tx/s; "
        f"latency p50 {p.p50_ms} ms, p99 {p.p99_ms} ms ({p.samples} samples); refused {p.refused or 'none'}"
    )
    print(
        f"[{p.name}] node CPU %: {p.node_cpu_percent}; RSS MB: {p.node_rss_mb}; of it anonymous: {p.node_anon_mb}"
    )
    for node_id, total in p.node_cpu_us_per_tx.items():
        stages = ", ".join(f"{k} {v:,.0f}" for k, v in p.node_stage_us_per_tx.get(node_id, {}).items())
        print(f"[{p.name}] {node_id}: {total:,.0f} CPU µs per committed tx ({stages})")


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - used through the CLI
    result = run(BenchOptions())
    print(json.dumps(result["summary"]))
