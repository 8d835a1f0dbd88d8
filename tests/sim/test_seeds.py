"""Tier S: seed sweeps of the deterministic simulator (RELIABILITY §3.2), the pinned regression
seeds, and the long sweeps (behind `-m slow`, and `make sim-long` / `make sim-reconfig`).

The default share: 200 seeds mixed over n = 4, 5, 7 with every fault kind, 30 seeds with
validator-set changes (adds, removes, rotations: `--reconfig`), plus the regression seeds. A
failure message carries the exact `orgledger sim` command that replays it. The issue-17 sweeps run
2,000 reconfiguration seeds per n in {4, 5, 7} (slow).
"""

from __future__ import annotations

import pytest

from consensus.sim.cli import reproduce_command, run_seed
from consensus.sim.options import derive_options
from consensus.sim.regressions import REGRESSION_SEEDS

DEFAULT_SWEEP = (
    [(s, 4) for s in range(0, 140)]
    + [(s, 5) for s in range(1000, 1040)]
    + [(s, 7) for s in range(2000, 2020)]
)


RECONFIG_SWEEP = (
    [(s, 4) for s in range(5000, 5016)]
    + [(s, 5) for s in range(6000, 6008)]
    + [(s, 7) for s in range(7000, 7006)]
)


def _check(seed: int, n: int, faults: str = "all", reconfig: bool = False) -> None:
    result = run_seed(seed, n, 1, faults, None, reconfig)
    cmd = reproduce_command(seed, n, 1, faults, None, reconfig)
    assert result.ok, f"{result.violations[:3]} {result.liveness_failure} reproduce: {cmd}"
    assert result.committed_blocks > 0, f"nothing committed; reproduce: {cmd}"


@pytest.mark.parametrize(("seed", "n"), DEFAULT_SWEEP, ids=[f"n{n}-seed{s}" for s, n in DEFAULT_SWEEP])
def test_seed(seed: int, n: int) -> None:
    _check(seed, n)


@pytest.mark.parametrize(
    ("seed", "n"), RECONFIG_SWEEP, ids=[f"reconfig-n{n}-seed{s}" for s, n in RECONFIG_SWEEP]
)
def test_reconfig_seed(seed: int, n: int) -> None:
    _check(seed, n, reconfig=True)


def test_the_reconfig_sweep_adds_removes_and_rotates_under_every_fault() -> None:
    """The reconfiguration seeds of the default sweep plan every kind of change, some with a
    spare that starts late, a byzantine validator leaving, and a crash of the primary."""
    actions: set[str] = set()
    late = byzantine_leaves = primary_crashes = 0
    for seed, n in RECONFIG_SWEEP:
        o = derive_options(seed, validators=n, observers=1, faults="all", reconfig=True)
        actions |= {step.action for step in o.reconfig}
        late += sum(1 for t in o.spare_starts if t > 0)
        bad = {i for i, _ in o.byzantine}
        byzantine_leaves += sum(1 for s in o.reconfig if s.action == "remove" and s.target in bad)
        primary_crashes += sum(1 for c in o.crashes if c[1] < 0)
    assert actions == {"add", "remove", "rotate"}
    assert late and byzantine_leaves and primary_crashes


@pytest.mark.parametrize(("seed", "n", "faults"), REGRESSION_SEEDS)
def test_regression_seed(seed: int, n: int, faults: str) -> None:
    _check(seed, n, faults)


def test_the_sweep_covers_every_fault_kind_and_real_crypto() -> None:
    """The options the default sweep derives include each fault kind at least once."""
    kinds: set[str] = set()
    behaviours: set[str] = set()
    for seed, n in DEFAULT_SWEEP:
        o = derive_options(seed, validators=n, observers=1, faults="all")
        kinds |= {e.mode for e in o.episodes}
        kinds |= {"power_loss" for c in o.crashes if c[2]} | {"crash" for _ in o.crashes}
        kinds |= {"skew" for _ in o.skew_ms} | {"twins" for _ in o.twins}
        if o.real_crypto:
            kinds.add("real_crypto")
        behaviours |= {b for _, bs in o.byzantine for b in bs}
    from consensus.sim.options import BYZANTINE_BEHAVIOURS, PARTITION_MODES

    assert set(PARTITION_MODES) <= kinds
    assert {"power_loss", "crash", "skew", "twins", "real_crypto"} <= kinds
    assert set(BYZANTINE_BEHAVIOURS) == behaviours


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("n", [4, 5, 7])
def test_done_when_500_seeds_all_faults(n: int) -> None:
    """The issue's acceptance run: `orgledger sim --seeds 500 --validators n --faults all`."""
    import io

    from consensus.sim.cli import run

    out = io.StringIO()
    code = run(500, 0, None, n, 1, "all", None, out=out)
    assert code == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("seeds=500 violations=0 liveness_failures=0")


@pytest.mark.slow
@pytest.mark.timeout(14400)
@pytest.mark.parametrize("n", [4, 5, 7])
def test_reconfig_2000_seeds(n: int) -> None:
    """Issue 17's acceptance run: `orgledger sim --seeds 2000 --validators n --faults all --reconfig`."""
    import io

    from consensus.sim.cli import run

    out = io.StringIO()
    code = run(2000, 0, None, n, 1, "all", None, out=out, reconfig=True)
    assert code == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("seeds=2000 violations=0 liveness_failures=0")
