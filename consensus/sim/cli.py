"""`orgledger sim`: run many seeds, print one line per failing seed and a summary line.

Exit code 0 only when no seed had a safety violation or a liveness failure. Every failure line
ends with the exact command that replays it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from consensus.sim.options import derive_options
from consensus.sim.runner import Result, simulate


def reproduce_command(
    seed: int, validators: int, observers: int, faults: str, ticks: int | None, reconfig: bool = False
) -> str:
    cmd = f"orgledger sim --seed {seed} --validators {validators} --observers {observers} --faults {faults}"
    cmd = cmd if ticks is None else f"{cmd} --ticks {ticks}"
    return f"{cmd} --reconfig" if reconfig else cmd


def run_seed(
    seed: int, validators: int, observers: int, faults: str, ticks: int | None, reconfig: bool = False
) -> Result:
    return simulate(
        derive_options(
            seed, validators=validators, observers=observers, faults=faults, ticks=ticks, reconfig=reconfig
        )
    )


def run(
    seeds: int,
    seed_start: int,
    seed: int | None,
    validators: int,
    observers: int,
    faults: str,
    ticks: int | None,
    *,
    out: TextIO | None = None,
    verbose: bool = False,
    progress: Callable[[int], object] | None = None,
    reconfig: bool = False,
) -> int:
    """Run the seeds; return the exit code (0 = no violation and no liveness failure).
    `progress(1)` is called after each seed (the CLI's progress bar)."""
    out = sys.stdout if out is None else out
    chosen = [seed] if seed is not None else list(range(seed_start, seed_start + seeds))
    violations = liveness = blocks = epochs = 0
    started = time.monotonic()
    for s in chosen:
        opts = derive_options(
            s, validators=validators, observers=observers, faults=faults, ticks=ticks, reconfig=reconfig
        )
        if verbose or seed is not None:
            print(f"seed {s}: {opts.describe()}", file=out)
        result = simulate(opts)
        if progress is not None:
            progress(1)
        blocks += result.committed_blocks
        epochs += result.epochs
        if result.ok:
            continue
        violations += len(result.violations)
        liveness += result.liveness_failure is not None
        what = "; ".join(result.violations[:3]) or f"liveness: {result.liveness_failure}"
        print(
            f"FAIL seed={s} {what} reproduce: "
            f"{reproduce_command(s, validators, observers, faults, ticks, reconfig)}",
            file=out,
        )
    elapsed = time.monotonic() - started
    print(f"time={elapsed:.1f}s rate={len(chosen) / max(elapsed, 1e-9):.2f} seeds/s", file=out)
    print(
        f"seeds={len(chosen)} violations={violations} liveness_failures={liveness} committed_blocks={blocks}"
        + (f" epochs={epochs}" if reconfig else ""),
        file=out,
    )
    return 0 if violations == 0 and liveness == 0 else 1
