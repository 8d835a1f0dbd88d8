"""Negative controls (RELIABILITY §5.8, §3.3): each mutant must be caught by the checkers in some
seed, and the same scenario with correct code must stay clean. A checker that passes a mutant is
broken."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.sim.options import derive_options
from consensus.sim.regressions import REJOIN_SEEDS
from consensus.sim.runner import simulate
from consensus.sim.scenarios import MUTANTS, scenario

SEEDS = range(6)


@pytest.mark.parametrize("name", MUTANTS)
def test_the_checkers_catch_the_mutant(name: str) -> None:
    found = [v for seed in SEEDS for v in simulate(scenario(name, seed)).violations[:1]]
    assert found, f"the checkers passed mutant {name}"


@pytest.mark.parametrize("name", ["quorum_f_plus_1", "quorum_2f_plus_1"])
def test_agreement_alone_catches_a_wrong_quorum(name: str) -> None:
    """With the certificate and new-view checkers off, the fork itself is seen."""
    found = []
    for seed in SEEDS:
        opts = replace(scenario(name, seed), skip_checks=frozenset({"certificate", "new_view"}))
        found += [v for v in simulate(opts).violations if v.startswith("agreement")]
    assert found


@pytest.mark.parametrize("name", MUTANTS)
def test_the_same_scenario_with_correct_code_is_clean(name: str) -> None:
    for seed in SEEDS:
        result = simulate(scenario(name, seed, mutant=False))
        assert not result.violations, (name, seed, result.violations[:2])
        assert result.liveness_failure is None, (name, seed, result.liveness_failure)


@pytest.mark.parametrize(("seed", "n"), REJOIN_SEEDS)
def test_the_liveness_checker_sees_a_replica_left_alone_in_another_view(seed: int, n: int) -> None:
    """Issue 18.8: before the fix (the `no_rejoin` mutant) one correct validator stayed in another
    view, or waited for a NEW-VIEW it had missed, while the others committed; every request
    committed, so only the view-convergence check sees it. With the fix the seed is clean."""
    opts = derive_options(seed, validators=n, observers=1, faults="all")
    broken = simulate(replace(opts, mutants=frozenset({"no_rejoin"})))
    assert broken.liveness_failure is not None and "views did not converge" in broken.liveness_failure
    fixed = simulate(opts)
    assert fixed.ok, (fixed.violations[:2], fixed.liveness_failure)
