"""ARCHITECTURE section 2: the pure core imports no IO, clock or randomness, and nothing it must not.

Parses every module of `consensus/` and `contracts/` with `ast` (the simulator under
`consensus/sim/` is the one exemption: it owns the seeded random generator), and checks the
import direction of the other packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_CORE = {
    "asyncio",
    "aiohttp",
    "plyvel",
    "sqlmodel",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "time",
    "random",
    "secrets",
    "os",
    "socket",
    "threading",
    "subprocess",
    "multiprocessing",
    "uuid",
}
# datetime is allowed for calendar arithmetic, but never to read the clock; hash() of str
# depends on PYTHONHASHSEED.
CLOCK_OR_SEED_CALLS = {"__import__", "now", "today", "utcnow", "localtime", "hash", "id"}
PROJECT = {"wire", "consensus", "contracts", "network", "node", "client_sdk"}
ALLOWED_PROJECT_IMPORTS = {
    "wire": {"wire"},
    "consensus": {"wire", "consensus"},
    "contracts": {"wire", "contracts"},
    "client_sdk": {"wire", "client_sdk"},
    "network": {"wire", "network"},
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in CLOCK_OR_SEED_CALLS:
                found.append((f"{name}()", node.lineno))
    return found


@pytest.mark.parametrize("package", ["consensus", "contracts"])
def test_pure_core_imports_no_io_clock_or_randomness(package: str) -> None:
    offences = []
    for path in _modules(package):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("consensus", "sim"):
            continue
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top in FORBIDDEN_IN_CORE or name.endswith("()"):
                offences.append(f"{rel}:{line} imports {name}")
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("package", sorted(ALLOWED_PROJECT_IMPORTS))
def test_import_direction(package: str) -> None:
    offences = []
    for path in _modules(package):
        rel = path.relative_to(ROOT)
        allowed = ALLOWED_PROJECT_IMPORTS[package]
        if rel.parts[:2] == ("consensus", "sim"):
            allowed = allowed | {"contracts"}
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top in PROJECT and top not in allowed and not name.endswith("()"):
                offences.append(f"{rel}:{line} imports {name}")
    assert not offences, "\n".join(offences)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom random import choice\nimport datetime\nx = datetime.date.today()\n")
    names = {n for n, _ in _imports(bad)}
    assert {"time", "random", "today()"} <= names
