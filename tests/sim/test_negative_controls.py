"""Negative controls (RELIABILITY §5.8, §3.3): each mutant must be caught by the checkers in some
seed, and the same scenario with correct code must stay clean. A checker that passes a mutant is
broken."""

from __future__ import annotations

from dataclasses import replace

import pytest

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
