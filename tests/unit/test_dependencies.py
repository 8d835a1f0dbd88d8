"""Every third-party package the distribution imports is one it declares (pyproject.toml
`[project].dependencies` or a feature's extra), not one that happens to arrive with the test extras or through another
package. The slow half of the proof, an install without the test extras that imports every module,
is tests/integration/test_install.py."""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

from tests.support.imports import load_graph

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wire", "consensus", "contracts", "network", "client_sdk", "auditor", "node")


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared() -> set[str]:
    """The dependencies, and the extras a feature needs (`postgres`, `bench`; not `test`): code
    using an extra imports it inside the function that needs it and says which extra is missing."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = [
        r for name, reqs in doc["project"]["optional-dependencies"].items() if name != "test" for r in reqs
    ]
    return {_name(r) for r in [*doc["project"]["dependencies"], *extras]}


def undeclared(imports: dict[str, list[str]], deps: set[str]) -> list[str]:
    dists = md.packages_distributions()
    out = []
    for top, users in sorted(imports.items()):
        names = {d.lower().replace("_", "-") for d in dists.get(top, [])}
        if not names & deps:
            out.append(f"{top} (distribution {sorted(names) or '?'}) imported by {', '.join(users[:3])}")
    return out


def third_party(root: Path) -> dict[str, list[str]]:
    graph = load_graph(root, PACKAGES)
    found: dict[str, list[str]] = {}
    for mod in graph.values():
        for top in mod.external:
            if top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, []).append(mod.name)
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    missing = undeclared(third_party(ROOT), declared())
    assert not missing, "\n".join(missing)


def test_the_check_sees_an_undeclared_import() -> None:
    assert undeclared({"sortedcontainers": ["auditor.replay"]}, declared() - {"sortedcontainers"})
    assert not undeclared({"nacl": ["wire.crypto"]}, {"pynacl"})


def _locked(name: str) -> set[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return {_name(line) for line in lines if "==" in line and not line.startswith(("#", " "))}


def test_the_lock_files_pin_every_declared_dependency() -> None:
    """`make lock` was run after the last change to the dependencies (pip-tools, pinned in the Makefile)."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = doc["project"]["optional-dependencies"]
    runtime = {_name(r) for r in [*doc["project"]["dependencies"], *extras["postgres"], *extras["bench"]]}
    missing = runtime - _locked("requirements.lock")
    assert not missing, f"run `make lock`: requirements.lock lacks {sorted(missing)}"
    test = {_name(r) for r in extras["test"]} - {"orgledger"}
    missing = (runtime | test) - _locked("requirements-dev.lock")
    assert not missing, f"run `make lock`: requirements-dev.lock lacks {sorted(missing)}"


def test_requires_python_has_no_upper_cap() -> None:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert doc["project"]["requires-python"] == ">=3.11"
    sdk = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text(encoding="utf-8"))
    assert sdk["project"]["requires-python"] == ">=3.11"


def test_the_lock_files_pin_only_published_packages() -> None:
    """A lock naming orgledger itself (`orgledger @ file:///<the checkout that ran make lock>`)
    makes `pip install -c` fail on every other machine: pip-compile is told it is unsafe."""
    for name in ("requirements.lock", "requirements-dev.lock"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            assert " @ " not in line or line.startswith("#"), f"{name}: {line} (run `make lock`)"
