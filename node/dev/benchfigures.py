"""The other figures of `orgledger bench --figure ...`: auditor speed, observer catch-up, read API,
and scale (RSS, disk bytes per transaction, throughput with a long history).

Each prints its setup and one summary line `figure=... key=value ...` and returns a JSON-able
dict. Long histories are built offline by `node.dev.chaingen` (real blocks, executed and certified by
the network's own validator keys), so a figure over 200,000 transactions does not need hours of
consensus first.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from tqdm import tqdm

from client_sdk.auth import LedgerAuth, RequestSigner
from node.dev.bench import bench_topology
from node.dev.chaingen import archive_from_store, generate_chain
from node.dev.netinit import set_toml_keys
from wire.families import prefix_end
from wire.files import load_genesis, load_signing_key
from wire.genesis import Genesis


def _network(directory: Path) -> tuple[Path, Genesis]:
    from node.dev.netinit import init_network

    net = directory / "net"
    init_network(bench_topology(directory), net, force=True)
    return net, load_genesis(net / "genesis.json")


def _build(net: Path, data: Path, txs: int, compress: bool = False) -> float:
    started = time.monotonic()
    with tqdm(total=txs, unit="tx", desc="building the chain", leave=False) as bar:
        generate_chain(net, data, txs, progress=bar.update, compress=compress)
    return time.monotonic() - started


def _set_all(net: Path, genesis: Genesis, table: str, values: dict[str, Any]) -> None:
    """Set `values` in `[table]` of every node's node.toml."""
    for spec in genesis.nodes:
        set_toml_keys(net / "nodes" / spec.node_id / "node.toml", table, values)


def _index(genesis: Genesis, data: Path, out: Path) -> int:
    """Build the read index of the chain at `data` into the SQLite file `out` once (a node that
    reached this height has it; six nodes rebuilding it at start would be the measurement)."""
    from node.index import rebuild_from_store

    rebuild_from_store(data, genesis.hash, f"sqlite:///{out}")
    return out.stat().st_size


def _install(net: Path, genesis: Genesis, chain: Path, index: Path) -> None:
    """Every node of the network starts on the built chain and its read index."""
    for spec in genesis.nodes:
        data = net / "nodes" / spec.node_id / "data"
        shutil.copytree(chain, data)
        shutil.copyfile(index, data / "index.sqlite")


def _dir(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="orgledger-figure-"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def auditor(
    txs: int = 200_000, workers: Sequence[int] = (2,), directory: Path | None = None
) -> dict[str, Any]:
    """Full verification speed of `orgledger audit verify --archive` over a chain of `txs`, once per
    worker count in `workers`, in that order. N >= 2 workers audit an archive holding the state
    snapshots that cut the chain into N equal parts for each N, and replay N segments in parallel;
    1 or 0 audit block by block (the worker, if any, checking signatures) the archive without
    snapshots (which would cost it a comparison each). Each line
    has the CPU seconds of this process and its children, the critical path's (the longest
    segment's, or block by block this process's: the wall time on idle cores), and the 1-minute
    load average at the end (the machine is shared)."""
    from auditor.verify import audit_archive

    root = _dir(directory)
    try:
        net, genesis = _network(root)
        build_s = _build(net, root / "chain", txs)
        plain, archive = root / "chain.arc", root / "chain-snapshots.arc"
        archive_from_store(net, root / "chain", plain)
        archive_from_store(net, root / "chain", archive, parts=workers)
        print(
            f"chain: {txs:,} transactions built in {build_s:.0f} s; archive {plain.stat().st_size / 2**20:.1f} MiB, "
            f"{archive.stat().st_size / 2**20:.1f} MiB with the snapshots"
        )
        runs: list[dict[str, Any]] = []
        for n in workers:
            (me0, cpu0), started = _cpu(), time.monotonic()
            report = audit_archive(archive if n >= 2 else plain, genesis, workers=n, progress=True)
            seconds, (me1, cpu1) = time.monotonic() - started, _cpu()
            cpu, load = cpu1 - cpu0, os.getloadavg()[0]
            critical = report.timings.get("critical_cpu_s", me1 - me0)
            run = {
                "workers": n,
                "critical_cpu_s": round(critical, 2),
                "segments": report.segments,
                "seconds": round(seconds, 2),
                "tx_per_s": round(txs / seconds),
                "cpu_s": round(cpu, 2),
                "load1": round(load, 2),
                "ok": report.ok,
            }
            runs.append(run)
            print(
                f"figure=auditor txs={txs} workers={n} segments={report.segments} seconds={seconds:.1f} "
                f"tx_per_s={txs / seconds:,.0f} cpu_s={cpu:.1f} critical_cpu_s={critical:.1f} "
                f"load1={load:.2f} ok={report.ok}"
            )
        out: dict[str, Any] = {"figure": "auditor", "txs": txs, "runs": runs, **runs[-1]}
        if len(runs) > 1:
            out["speedup"] = round(runs[0]["seconds"] / runs[-1]["seconds"], 2)
            for r in runs[1:]:
                print(
                    f"speed-up workers={runs[0]['workers']} -> {r['workers']}: "
                    f"{runs[0]['seconds'] / r['seconds']:.2f}x wall, "
                    f"{runs[0]['critical_cpu_s'] / max(r['critical_cpu_s'], 1e-9):.2f}x critical CPU"
                )
        return out
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and with its children that ended (the audit's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = me.ru_utime + me.ru_stime
    return mine, mine + kids.ru_utime + kids.ru_stime


def executor(txs: int = 20_000, directory: Path | None = None) -> dict[str, Any]:
    """CPU µs per transaction of `Executor.apply` (contracts, state map, one synced batch) over
    2,000-transaction blocks of the benchmark mix; the first two blocks are a warm-up."""
    root = _dir(directory)
    try:
        net, _ = _network(root)
        applied: list[tuple[int, float]] = []
        generate_chain(net, root / "chain", txs, on_apply=lambda n, s: applied.append((n, s)))
        warm = applied[2:] or applied
        n = sum(k for k, _ in warm)
        us = 1e6 * sum(s for _, s in warm) / max(1, n)
        print(
            f"figure=executor txs={n} us_per_tx={us:.0f} blocks={len(warm)} (thread CPU time of Executor.apply)"
        )
        return {"figure": "executor", "txs": n, "us_per_tx": round(us)}
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)


def pipeline(txs: int = 6_000, repeat: int = 3, directory: Path | None = None) -> dict[str, Any]:
    """CPU µs per transaction of a validator's per-transaction stages, in one process: admission
    (the mempool's checks: strict decoding, schema, signatures, signer, duplicates) and
    `Executor.apply` by stage (execution, state map, storage), over 200-transaction blocks of the
    benchmark mix; thread CPU time, the least of `repeat` runs (the machine is shared, and the
    least is the run others disturbed least). Without LevelDB's compaction thread, which a node
    counts under "other"."""
    from prometheus_client import CollectorRegistry, Counter

    from node.metrics import StageClock

    root = _dir(directory)
    try:
        net, _ = _network(root)
        best: dict[str, float] = {}
        for i in range(repeat):
            registry = CollectorRegistry()
            counter = Counter("stage_cpu_seconds", "CPU by stage", ["stage"], registry=registry)
            generate_chain(
                net, root / f"chain{i}", txs, block_txs=200, stages=StageClock(counter), admit=True
            )
            run = {
                k: 1e6 * (registry.get_sample_value("stage_cpu_seconds_total", {"stage": k}) or 0.0) / txs
                for k in ("admission", "execution", "state_map", "storage")
            }
            run["total"] = sum(run.values())
            for k, v in run.items():
                best[k] = min(best.get(k, v), v)
        figures = " ".join(f"{k}={v:.0f}" for k, v in best.items())
        print(f"figure=pipeline txs={txs} {figures} (µs per transaction, thread CPU, least of {repeat})")
        return {"figure": "pipeline", "txs": txs, **{k: round(v, 1) for k, v in best.items()}}
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)


def catchup(txs: int = 50_000, directory: Path | None = None, *, sync: str = "replay") -> dict[str, Any]:
    """How fast an observer started from nothing catches up with validators holding `txs`: by
    replaying every block (`sync="replay"`) or by joining a verified snapshot of their state then
    the blocks after it (`"snapshot"`, node/runtime/statesync.py). `seconds`: until its height is
    the validators'; `index_seconds`: until its read index is too (lists answer from it)."""
    from node.dev.devnet import _nodes, down, healthy, start_node

    root = _dir(directory)
    try:
        net, genesis = _network(root)
        chain = root / "chain"
        _build(net, chain, txs)
        for spec in genesis.validator_nodes:
            shutil.copytree(chain, net / "nodes" / spec.node_id / "data")
        procs = {p.spec.node_id: p for p in _nodes(net)}
        observer = next(n.node_id for n in genesis.nodes if n.role == "observer")
        for spec in genesis.validator_nodes:
            start_node(procs[spec.node_id])
        for spec in genesis.validator_nodes:
            _wait(lambda u=procs[spec.node_id].url: healthy(u), 120)
        with httpx.Client(timeout=5) as http:
            target = int(
                http.get(f"{procs[genesis.validator_nodes[0].node_id].url}/v1/status").json()["height"]
            )
            cfg = procs[observer].config
            cfg.write_text(cfg.read_text() + f'\n[state]\nsync = "{sync}"\n')
            started = time.monotonic()
            start_node(procs[observer])
            url = procs[observer].url
            _wait(lambda: healthy(url), 120)
            _wait(lambda: int(http.get(f"{url}/v1/status").json()["height"]) >= target, 3600)
            seconds = time.monotonic() - started
            _wait(lambda: int(http.get(f"{url}/v1/status").json()["indexed_height"]) >= target, 3600)
            indexed_s = time.monotonic() - started
        down(net, echo=False)
        rate = txs / seconds
        print(
            f"figure=catchup sync={sync} txs={txs} blocks={target} seconds={seconds:.1f} tx_per_s={rate:,.0f}"
            f" index_seconds={indexed_s:.1f} index_tx_per_s={txs / indexed_s:,.0f}"
        )
        return {
            "figure": "catchup",
            "sync": sync,
            "txs": txs,
            "blocks": target,
            "seconds": round(seconds, 2),
            "tx_per_s": round(rate),
            "index_seconds": round(indexed_s, 2),
            "index_tx_per_s": round(txs / indexed_s),
        }
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)


def readapi(
    seconds: float = 10.0, concurrency: int = 16, directory: Path | None = None, txs: int = 0
) -> dict[str, Any]:
    """Requests per second and p99 of a record lookup (`GET /v1/archives/{person_key}`) on one node,
    without and with its state proof (`?proof=true`: the proof against the certified root, the
    anchor header and its commit certificate). `txs`: the nodes start on a built chain of that
    many transactions in blocks of 2,000 (as a loaded network's are) and an archive of it is
    read; else on a fresh network, one archive submitted."""
    from node.dev.devnet import api_urls, down, up

    root = _dir(directory)
    try:
        net, genesis = _network(root)
        # the figure is about serving, not about the per-key rate limit
        _set_all(net, genesis, "api", {"rate_per_s": 1_000_000.0, "burst": 1_000_000.0})
        if txs:
            chain = root / "chain"
            _build(net, chain, txs)
            _index(genesis, chain, root / "index.sqlite")
            _install(net, genesis, chain, root / "index.sqlite")
        up(net, echo=False)
        key = load_signing_key(net / "keys" / "admins" / f"{genesis.root_org}.key")
        url = api_urls(net, genesis)[0]  # the central node's
        if txs:
            person = _stored_archive(root / "chain", genesis)
            _quiet(net, genesis)
        else:
            person = _seed_archive(net, genesis, url)
        with httpx.Client(
            base_url=url, timeout=10, auth=LedgerAuth(RequestSigner(key, genesis.chain_id))
        ) as http:
            token = http.post("/v1/auth/token", json={"ttl_s": 600}).json()["token"]
            _wait(lambda: http.get(f"/v1/archives/{person}").status_code == 200, 60)
        out: dict[str, Any] = {"figure": "readapi", "concurrency": concurrency, "stored_txs": txs}
        for label, path in (
            ("plain", f"/v1/archives/{person}"),
            ("proof", f"/v1/archives/{person}?proof=true"),
        ):
            n, lat, errors = asyncio.run(_hammer(url, path, seconds, concurrency, token))
            q = statistics.quantiles(lat, n=100, method="inclusive")
            rps = n / seconds
            print(
                f"figure=readapi read={label} requests={n} rps={rps:,.0f} p50_ms={q[49] * 1000:.1f} p99_ms={q[98] * 1000:.1f} errors={errors} concurrency={concurrency} stored_txs={txs}"
            )
            out[label] = {
                "rps": round(rps),
                "p50_ms": round(q[49] * 1000, 2),
                "p99_ms": round(q[98] * 1000, 2),
                "errors": errors,
            }
        down(net, echo=False)
        return out
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)


def _quiet(net: Path, genesis: Genesis) -> None:
    """Until every node started on a built chain has settled on its height and gone idle (each
    checks its store at start, `[integrity] verify_on_start`): the figure measures serving."""
    from node.dev.bench import node_procs, settled, wait_idle
    from node.dev.devnet import api_urls

    settled(api_urls(net, genesis, "validator"))
    if not wait_idle(node_procs(net, genesis)):
        print("readapi: the nodes did not go idle within 60 s; the figure is taken on a busy machine")


def _stored_archive(chain: Path, genesis: Genesis) -> str:
    """The person key of the first archive in a built chain's state (read before the nodes start)."""
    from node.store.storage import BlockStore

    prefix = b"archive/"
    with BlockStore.open(chain, genesis.hash, create=False) as store:
        for key, _ in store.state_scan(prefix, prefix_end(prefix)):
            return key[len(prefix) :].decode()
    raise RuntimeError("the built chain holds no archive")


def _seed_archive(net: Path, genesis: Genesis, url: str) -> str:
    from client_sdk.client import LedgerClient, build_tx

    branch = next(o.org_id for o in genesis.orgs if o.level == "BRANCH")
    key = load_signing_key(net / "keys" / "admins" / f"{branch}.key")
    person = os.urandom(32).hex()
    tx = build_tx(
        chain_id=genesis.chain_id,
        tx_type="archive.create",
        org_id=branch,
        key=key,
        payload={"person_key": person, "key_version": 1, "id_check_ok": True, "birth_date": "1980-02-02"},
    )
    with LedgerClient(
        url, genesis, key=load_signing_key(net / "keys" / "admins" / f"{genesis.root_org}.key")
    ) as c:
        c.submit(tx)
    return person


async def _hammer(
    url: str, path: str, seconds: float, concurrency: int, token: str
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    headers = {"authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                async with session.get(url + path, headers=headers) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


def scale(
    small: int = 10_000,
    large: int = 1_000_000,
    duration_s: float = 20.0,
    *,
    compress: bool = False,
    directory: Path | None = None,
) -> dict[str, Any]:
    """Throughput with `small` versus `large` transactions already stored; RSS and disk bytes per tx.
    `compress`: the chain and every node's store are written with snappy (a 1,000,000-transaction
    chain takes about 3.8 GB per copy so, against 7.6 GB uncompressed). `directory`: both networks
    and their logs stay there (`small/`, `large/`), else in temporary directories removed after."""
    from node.dev.bench import BenchOptions, run

    out: dict[str, Any] = {"figure": "scale", "compression": "snappy" if compress else "none"}
    for label, txs in (("small", small), ("large", large)):
        if directory is None:
            root = Path(tempfile.mkdtemp(prefix=f"orgledger-scale-{label}-"))
        else:
            root = directory / label
            root.mkdir(parents=True, exist_ok=False)
        try:
            net, genesis = _network(root)
            if compress:  # every node writes its store as the chain was built
                _set_all(net, genesis, "store", {"compression": "snappy"})
            chain = root / "chain"
            _build(net, chain, txs, compress=compress)
            disk = sum(f.stat().st_size for f in chain.rglob("*") if f.is_file())
            index_bytes = _index(genesis, chain, root / "index.sqlite")
            _install(net, genesis, chain, root / "index.sqlite")
            result = run(
                BenchOptions(
                    duration_s=duration_s,
                    # a network started on a built chain has no consensus history: it settles its
                    # view first (view changes, about a minute), which is not what is measured
                    warmup_s=90.0,
                    half_rate_phase=False,
                    directory=root,
                    keep=True,
                    prebuilt=True,
                )
            )
            rss = max(result["phases"][0]["node_rss_mb"].values())
            anon = max(result["phases"][0]["node_anon_mb"].values())
            out[label] = {
                "stored_txs": txs,
                "committed_tps": result["summary"]["committed_tps"],
                "max_node_rss_mb": rss,
                "max_node_anon_mb": anon,
                "disk_bytes_per_tx": round(disk / txs),
                "index_bytes_per_tx": round(index_bytes / txs),
            }
            print(
                f"[scale] {txs:,} stored: {result['summary']['committed_tps']} tx/s, max node RSS {rss} MB "
                f"(anonymous {anon} MB), "
                f"{disk / txs:.0f} disk bytes/tx in the store, {index_bytes / txs:.0f} in the index"
            )
        finally:
            if directory is None:
                shutil.rmtree(root, ignore_errors=True)
    ratio = out["large"]["committed_tps"] / max(out["small"]["committed_tps"], 1e-9)
    out["ratio"] = round(ratio, 3)
    print(
        f"figure=scale small_tps={out['small']['committed_tps']} large_tps={out['large']['committed_tps']} "
        f"ratio={ratio:.2f} rss_mb={out['large']['max_node_rss_mb']} anon_mb={out['large']['max_node_anon_mb']} disk_bytes_per_tx={out['large']['disk_bytes_per_tx']}"
    )
    return out


def _wait(cond: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cond():
                return
        except (httpx.HTTPError, ValueError, KeyError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(0.2)
