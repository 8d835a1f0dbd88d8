"""RELIABILITY rows the seed sweep does not draw, as hand-built simulator scenarios
(`consensus.sim.scenarios.fault_row`); each run also passes every safety checker, the liveness
phase and the view-convergence check of issue 18.8.

- N8: delay 40x (above the view-change timeout) for 300 ticks, then healed: after the heal the
  highest view grows by at most 2 (no view-change storm once the network is synchronous again).
- N10: two swizzle-clog episodes: safety throughout, liveness after the last unclog.
- K2: one validator's clock strobing by up to +-2.5 s every 50 ms to 1 s: no view change at all.
"""

from __future__ import annotations

import pytest

from consensus.sim.runner import Result, simulate
from consensus.sim.scenarios import fault_row

CASES = [(row, seed, 4) for row in ("N8", "N10", "K2") for seed in range(6)] + [
    (row, seed, 7) for row in ("N8", "N10", "K2") for seed in range(2)
]


def _run(row: str, seed: int, n: int) -> Result:
    result = simulate(fault_row(row, seed, n))
    assert result.ok, (row, seed, n, result.violations[:2], result.liveness_failure)
    assert result.committed_blocks > 0
    return result


@pytest.mark.parametrize(("row", "seed", "n"), CASES, ids=[f"{r}-n{n}-seed{s}" for r, s, n in CASES])
def test_fault_row(row: str, seed: int, n: int) -> None:
    result = _run(row, seed, n)
    if row == "N8":
        assert result.view_at_heal > 0, "the delay never exceeded the view-change timeout"
        assert result.max_view - result.view_at_heal <= 2, (result.view_at_heal, result.max_view)
    if row == "K2":
        assert result.max_view == 0 and result.view_changes == 0, "clock strobing caused view changes"
