"""The distribution installs and runs without the test extras: a fresh virtual environment gets
`pip install .` (the declared dependencies only) and imports every module the wheel ships, then
runs `orgledger --help`. Catches a module that imports a package only the test extras bring."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMPORT_ALL = """
import importlib, importlib.metadata as md, sys
names = []
for f in md.files("orgledger") or []:
    if f.suffix != ".py" or f.parts[0].endswith((".dist-info", ".data")) or f.stem == "__main__":
        continue
    parts = list(f.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    names.append(".".join(parts))
failed = []
for name in sorted(names):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names), "modules")
if failed:
    print("\\n".join(failed))
    sys.exit(1)
"""


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_a_plain_install_imports_every_module(tmp_path: Path) -> None:
    # install from a copy of the tracked files, so nothing is built into (or read from) the checkout
    src = tmp_path / "src"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    for rel in tracked.stdout.split():
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(src)],
        capture_output=True,
        text=True,
        timeout=840,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # run from an empty directory so the checkout is not on sys.path: only the installed wheel counts
    result = subprocess.run(
        [str(py), "-c", IMPORT_ALL], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert int(result.stdout.split()[0]) > 100, result.stdout
    cli = subprocess.run(
        [str(env / "bin" / "orgledger"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0 and "network" in cli.stdout, cli.stderr
    assert sys.prefix not in str(py)
