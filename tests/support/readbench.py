"""Read API throughput of one node: `python -m tests.support.readbench [--seconds 10] [--concurrency 16]`.

Starts a single-validator network in a temp dir (per-key rate limit raised out of the way),
commits a few hundred transactions, then looks up one member archive by id over and over from a
separate asyncio client, with a bearer token and with per-request signatures, and prints
requests/s and latency percentiles for each. Loopback only; bounded in time."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from client_sdk.auth import LedgerAuth, RequestSigner
from tests.support.cluster import Cluster


async def _load(
    url: str, path: str, seconds: float, concurrency: int, signer: RequestSigner | None, token: str
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                headers = (
                    signer.headers("GET", path, node_id="v0")
                    if signer
                    else {"authorization": f"Bearer {token}"}
                )
                t0 = time.perf_counter()
                async with session.get(url + path, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        c = Cluster(Path(tmp), validators=1, observers=0, proxies=False)
        cfg = c.config("v0")
        cfg.write_text(
            cfg.read_text().replace("[api]\n", "[api]\nrate_per_s = 1000000.0\nburst = 1000000.0\n", 1)
        )
        try:
            c.start_all()
            ops = c.load_in_background(300, rate=300).result()
            c.check(ops)
            url = c.url("v0")
            with httpx.Client(base_url=url, timeout=10, auth=LedgerAuth(c.signer)) as http:
                pk = http.get("/v1/archives", params={"limit": 1, "min_height": c.height("v0")}).json()[
                    "items"
                ][0]["id"]
                token = http.post("/v1/auth/token", json={"ttl_s": 3600}).json()["token"]
            path = f"/v1/archives/{pk}"
            for name, signer in (("bearer token", None), ("signed requests", c.signer)):
                n, lat, errors = asyncio.run(_load(url, path, args.seconds, args.concurrency, signer, token))
                q = statistics.quantiles(lat, n=100)
                print(
                    f"GET {path[:24]}… ({name}, concurrency {args.concurrency}, {args.seconds:.0f} s): "
                    f"{n / args.seconds:.0f} req/s, p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, "
                    f"errors {errors}"
                )
        finally:
            c.close()


if __name__ == "__main__":
    main()
