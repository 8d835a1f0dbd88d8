"""The distributions install and run without the test extras.

- `orgledger`: a fresh virtual environment gets `pip install .` (the declared dependencies only,
  no extras: no psycopg, no psutil) and imports every module the wheel ships, then runs
  `orgledger --help`. Catches a module that imports a package only the test extras bring.
- `orgledger-sdk` (`sdk/`): a fresh virtual environment gets `pip install ./sdk` and imports every
  module of `client_sdk` and `wire`, without any of the node's server dependencies installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVER_ONLY = {"plyvel", "fastapi", "uvicorn", "sqlmodel", "sqlalchemy", "starlette", "psycopg", "psutil"}
IMPORT_ALL = """
import importlib, importlib.metadata as md, sys
names = []
for f in md.files(sys.argv[1]) or []:
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


def _install(tmp_path: Path, what: str) -> Path:
    """A fresh venv with `pip install <copy of the checkout>/<what>`; its python."""
    # install from a copy of the checkout's files (tracked or new, not ignored), so nothing is
    # built into (or read from) the checkout itself
    src = tmp_path / "src"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for rel in listed.stdout.split():
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(src / what)],
        capture_output=True,
        text=True,
        timeout=840,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return py


def _installed(py: Path) -> set[str]:
    listing = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.metadata as md; print(' '.join(d.metadata['Name'] for d in md.distributions()))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=py.parent,  # not the checkout: its egg-info would count as installed
    )
    return {n.lower().replace("_", "-") for n in listing.stdout.split()}


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_a_plain_install_imports_every_module(tmp_path: Path) -> None:
    py = _install(tmp_path, ".")
    assert not {"psycopg", "psutil"} & _installed(py), "psycopg and psutil are extras"
    # run from an empty directory so the checkout is not on sys.path: only the installed wheel counts
    result = subprocess.run(
        [str(py), "-c", IMPORT_ALL, "orgledger"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert int(result.stdout.split()[0]) > 100, result.stdout
    env = py.parent.parent
    cli = subprocess.run(
        [str(env / "bin" / "orgledger"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0 and "network" in cli.stdout, cli.stderr
    assert sys.prefix not in str(py)


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_the_sdk_installs_without_the_node_server_dependencies(tmp_path: Path) -> None:
    py = _install(tmp_path, "sdk")
    installed = _installed(py)
    assert "orgledger-sdk" in installed and "orgledger" not in installed
    assert not SERVER_ONLY & installed, SERVER_ONLY & installed
    result = subprocess.run(
        [str(py), "-c", IMPORT_ALL, "orgledger-sdk"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert int(result.stdout.split()[0]) > 40, result.stdout
    use = subprocess.run(
        [str(py), "-c", "from client_sdk import LedgerClient, builders; print(LedgerClient.__name__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert use.returncode == 0 and "LedgerClient" in use.stdout, use.stderr
