"""`orgledger sim`: output format, exit code and the reproduce line."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

import consensus.sim.cli as cli
from consensus.sim.options import SimOptions


def test_a_clean_run_prints_the_summary_and_exits_zero() -> None:
    out = io.StringIO()
    assert cli.run(2, 10, None, 4, 1, "all", None, out=out) == 0
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("seeds=2 violations=0 liveness_failures=0 committed_blocks=")


def test_a_failing_seed_prints_its_reproduce_command_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = cli.derive_options

    def broken(seed: int, **kw: object) -> SimOptions:
        opts = real(seed, **kw)  # type: ignore[arg-type]
        return replace(opts, mutants=frozenset({"quorum_f_plus_1"}), faults="network")

    monkeypatch.setattr(cli, "derive_options", broken)
    out = io.StringIO()
    assert cli.run(1, 3, None, 4, 1, "network", None, out=out) == 1
    lines = out.getvalue().splitlines()
    assert "reproduce: orgledger sim --seed 3 --validators 4 --observers 1 --faults network" in lines[0]
    assert lines[-1].startswith("seeds=1 violations=")


def test_the_orgledger_command_runs_the_simulator() -> None:
    from click.testing import CliRunner

    from node.cli import cli as orgledger

    result = CliRunner().invoke(orgledger, ["sim", "--seeds", "1", "--seed-start", "5", "--faults", "none"])
    assert result.exit_code == 0, result.output
    assert "seeds=1 violations=0 liveness_failures=0" in result.output
