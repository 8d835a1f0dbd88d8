"""Scale on paper: messages and bytes per committed block, commit latency and view-change time
against the number of validators (docs/consensus.md has the table this prints).

    python -m consensus.sim.scale                       # every n of the table
    python -m consensus.sim.scale --validators 7        # one row

Each row is two deterministic runs with fixed parameters (seed 1, one observer, no faults, 10 ms
mean one-way delay, tick 50 ms): a steady run with a constant workload, and the same run with the
primary crashed at tick 100: ticks from the crash to the next commit (dominated by the timer that
makes backups suspect the primary: with requests pending and nothing committing, the request
timer of 40 ticks), and from the first VIEW-CHANGE sent to that commit (the protocol itself).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from consensus.messages import TAG_VIEW_CHANGE, message_tag
from consensus.sim.node import SimNode
from consensus.sim.options import SimOptions
from consensus.sim.runner import Simulation
from wire.genesis import ConsensusParams

SIZES = (4, 5, 7, 10, 16, 31)
CRASH_TICK = 100
PARAMS = ConsensusParams(
    checkpoint_interval=16,
    watermark_window=64,
    exec_lag=2,
    max_block_txs=64,
    timestamp_drift_ms=3_000,
    tick_ms=50,
    view_change_timeout_ticks=20,
    request_timeout_ticks=40,
    empty_block_interval_ms=0,
    seal_results=0,
    batch_delay_ticks=0,  # the table in docs/consensus.md measures the protocol, not batching
)


def options(n: int, *, crash_primary: bool) -> SimOptions:
    opts = SimOptions(
        seed=1,
        validators=n,
        observers=1,
        faults="none",
        params=PARAMS,
        delay_min_ms=2,
        delay_mean_ms=10,
        tx_every_ticks=2,
        txs_per_burst=4,
        safety_ticks=300,
        liveness_ticks=600,
    )
    if crash_primary:
        opts = replace(opts, crashes=((CRASH_TICK, 0, False, 10_000),))
    return opts


def row(n: int) -> dict[str, float | int | str]:
    started = time.monotonic()
    steady = Simulation(options(n, crash_primary=False))
    result = steady.run()
    crashed = Simulation(options(n, crash_primary=True))
    first_view_change: list[int] = []
    broadcast = crashed.broadcast

    def watch(src: SimNode, data: bytes) -> None:
        if message_tag(data) == TAG_VIEW_CHANGE and not first_view_change:
            first_view_change.append(crashed.tick)
        broadcast(src, data)

    crashed.broadcast = watch  # type: ignore[method-assign]
    crashed.run()
    crash_tick = crashed.crash_log[0][0] if crashed.crash_log else CRASH_TICK
    after = [t for t in crashed.first_commit_tick.values() if t > crash_tick]
    protocol = (min(after) - first_view_change[0]) if after and first_view_change else -1
    blocks = max(result.committed_blocks, 1)
    latency = sorted(result.commit_latency_ms)
    return {
        "n": n,
        "q": steady.validators.quorum,
        "blocks": result.committed_blocks,
        "msgs_per_block": round(result.messages / blocks),
        "kib_per_block": round(result.bytes / blocks / 1024, 1),
        "latency_mean": round(statistics.fmean(latency)) if latency else -1,
        "latency_p95": round(latency[int(0.95 * (len(latency) - 1))]) if latency else -1,
        "view_change_ticks": (min(after) - crash_tick) if after else -1,
        "protocol_ticks": protocol,
        "wall_s": round(time.monotonic() - started, 1),
        "command": f"python -m consensus.sim.scale --validators {n}",
    }


HEADER = (
    "| n | q | blocks | messages / block | KiB / block | tx commit latency (ms, mean / p95) "
    "| primary crash → next commit (ticks) | first VIEW-CHANGE → next commit (ticks) | wall (s) | command |"
)


def format_row(r: dict[str, float | int | str]) -> str:
    return (
        f"| {r['n']} | {r['q']} | {r['blocks']} | {r['msgs_per_block']} | {r['kib_per_block']} "
        f"| {r['latency_mean']} / {r['latency_p95']} | {r['view_change_ticks']} | {r['protocol_ticks']} "
        f"| {r['wall_s']} | `{r['command']}` |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--validators", type=int, action="append", help="n (repeatable; default: every n)")
    args = parser.parse_args(argv)
    print(HEADER)
    print("|" + "---|" * 10)
    for n in args.validators or SIZES:
        print(format_row(row(n)), flush=True)


if __name__ == "__main__":  # pragma: no cover
    main()
