"""The CI entry point is a shell script that must parse and must end by running `make test`, then
`make test-faults` (the process-level fault tests, docs/reliability.md).

A broken `.ci/run` fails CI after 0 s without running a single test (a regression we shipped once:
a comment pasted into the middle of a backquoted sentence left an unterminated backquote).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_ci_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(CI_RUN)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_ci_script_fails_fast_and_runs_make_test() -> None:
    lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    assert "set -euo pipefail" in code
    assert code[-2:] == ["make test", "make test-faults"]


def test_make_test_excludes_and_make_test_faults_selects_the_fault_tests() -> None:
    makefile = (CI_RUN.parents[1] / "Makefile").read_text(encoding="utf-8")
    assert '-m "not slow and not faults"' in makefile
    assert '-m "faults and not slow"' in makefile
