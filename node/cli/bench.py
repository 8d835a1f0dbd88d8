"""`orgledger bench` and `orgledger sim`: measure a local network, run the consensus simulator.

Rules: any failure of a benchmark is reported as one `error:` line, never a traceback; `sim`
exits with the simulator's own code. Heavy imports happen inside the commands so `--help` stays
fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.common import fail


@click.command()
@click.option(
    "--duration",
    "duration_s",
    type=float,
    default=20.0,
    show_default=True,
    help="Measured seconds per phase.",
)
@click.option(
    "--warmup",
    "warmup_s",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds of load before measuring.",
)
@click.option("--clients", type=click.IntRange(1, 16), default=2, show_default=True, help="Client processes.")
@click.option(
    "--batch", type=click.IntRange(1, 2000), default=200, show_default=True, help="Transactions per request."
)
@click.option(
    "--inflight",
    type=click.IntRange(1, 100_000),
    default=6000,
    show_default=True,
    help="Outstanding transactions when saturating.",
)
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Open loop at this rate only (default: saturate, then half rate).",
)
@click.option(
    "--json", "json_file", type=click.Path(path_type=Path), default=None, help="Write every figure as JSON."
)
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=None, help="Keep the network here."
)
@click.option(
    "--figure",
    type=click.Choice(
        ["throughput", "auditor", "catchup", "snapshot", "executor", "pipeline", "readapi", "scale"]
    ),
    default="throughput",
    show_default=True,
    help=(
        "Which figure: throughput and latency, auditor speed, observer catch-up by replay or by "
        "snapshot, executor CPU per transaction, admission and execution CPU by stage (pipeline), "
        "read API, or scale."
    ),
)
@click.option(
    "--txs",
    type=click.IntRange(1, 10_000_000),
    default=None,
    help="History size for auditor/catchup/scale; readapi: read a built chain of this many.",
)
@click.option(
    "--workers",
    default="2",
    show_default=True,
    help="Auditor figure: worker counts to measure in turn on one chain, comma-separated (e.g. 0,1,2).",
)
@click.option(
    "--store-compression",
    type=click.Choice(["none", "snappy"]),
    default="none",
    show_default=True,
    help="Scale figure: how the chain and the nodes' stores write LevelDB tables ([store] compression).",
)
def bench(
    duration_s: float,
    warmup_s: float,
    clients: int,
    batch: int,
    inflight: int,
    rate: float | None,
    json_file: Path | None,
    directory: Path | None,
    figure: str,
    txs: int | None,
    workers: str,
    store_compression: str,
) -> None:
    """Benchmark a local network: committed throughput, commit latency, the signature limit.

    `--figure auditor|catchup|snapshot|executor|pipeline|readapi|scale` measures the other figures of
    docs/benchmarks.md."""
    import json

    from node.dev import benchfigures
    from node.dev.bench import BenchOptions, run

    if figure != "throughput":
        try:
            counts = [int(w) for w in workers.split(",")]
        except ValueError:
            fail("--workers takes worker counts separated by commas, e.g. 1,2", 2)
        if not counts or any(not 0 <= n <= 64 for n in counts):
            fail("--workers: each count must be within 0..64", 2)
        try:
            if figure == "auditor":
                other = benchfigures.auditor(txs or 200_000, counts, directory=directory)
            elif figure == "catchup":
                other = benchfigures.catchup(txs or 50_000, directory=directory)
            elif figure == "snapshot":
                other = benchfigures.catchup(txs or 1_000_000, directory=directory, sync="snapshot")
            elif figure == "executor":
                other = benchfigures.executor(txs or 20_000, directory=directory)
            elif figure == "pipeline":
                other = benchfigures.pipeline(txs or 6_000, directory=directory)
            elif figure == "readapi":
                other = benchfigures.readapi(duration_s, directory=directory, txs=txs or 0)
            else:
                other = benchfigures.scale(
                    large=txs or 1_000_000,
                    duration_s=duration_s,
                    compress=store_compression == "snappy",
                    directory=directory,
                )
        except Exception as exc:  # reported as one line, never a traceback
            fail(f"bench {figure} failed: {exc}")
        if json_file is not None:
            json_file.write_text(json.dumps(other, indent=2) + "\n")
        return

    opts = BenchOptions(
        duration_s=duration_s,
        warmup_s=warmup_s,
        clients=clients,
        batch=batch,
        inflight=inflight,
        rate=rate,
        directory=directory,
    )
    try:
        result = run(opts)
    except Exception as exc:  # the bench reports any failure as one line, never a traceback
        fail(f"bench failed: {exc}")
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2) + "\n")
    if not result.get("summary", {}).get("committed_tps"):
        fail("no transaction was committed in the measured window")


@click.command()
@click.option("--seeds", type=int, default=1, show_default=True, help="How many seeds to run.")
@click.option("--seed-start", type=int, default=0, show_default=True, help="The first seed.")
@click.option("--seed", type=int, default=None, help="Run exactly this seed.")
@click.option(
    "--validators", type=int, default=4, show_default=True, help="Validators in the simulated network."
)
@click.option(
    "--observers", type=int, default=1, show_default=True, help="Observers in the simulated network."
)
@click.option(
    "--faults",
    type=click.Choice(["none", "crash", "network", "byzantine", "all"]),
    default="all",
    show_default=True,
    help="Which faults the seeds may inject.",
)
@click.option("--ticks", type=int, default=None, help="Ticks to simulate (default: derived from each seed).")
@click.option(
    "--reconfig", is_flag=True, help="Also add, remove and rotate validators (validator-set epochs)."
)
def sim(
    seeds: int,
    seed_start: int,
    seed: int | None,
    validators: int,
    observers: int,
    faults: str,
    ticks: int | None,
    reconfig: bool,
) -> None:
    """Run the deterministic consensus simulator over many seeds."""
    from tqdm import tqdm

    from consensus.sim.cli import run

    total = 1 if seed is not None else seeds
    with tqdm(total=total, unit="seed", desc="sim", disable=None, leave=False) as bar:
        code = run(
            seeds,
            seed_start,
            seed,
            validators,
            observers,
            faults,
            ticks,
            progress=bar.update,
            reconfig=reconfig,
        )
    sys.exit(code)
