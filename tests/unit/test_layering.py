"""ARCHITECTURE section 2: who may import whom, a pure core, no import cycles.

Reads every module with `ast` (tests/support/imports.py): function-local imports and imports under
`if TYPE_CHECKING:` count like any other. Each rule is a function of a source tree, so every
refusal is also proven against a small tree that breaks it (the `test_the_checker_*` tests).

- The pure core: every module `consensus/` (but the simulator, `consensus/sim/`) and `contracts/`
  run, directly or through what they import (the transitive closure, `wire` modules included),
  imports no IO, clock, randomness or process machinery and calls no clock, seed or file builtin;
  the core never reaches `consensus/sim/`.
- Package direction: `wire` imports nothing of the project; the core and `network` only `wire`;
  the SDK only `wire`; the auditor never `node`.
- Inside `node/`: the runtime never imports the API, privacy, the CLI or the dev tools; the API
  never privacy, the CLI or the dev tools; the store and the index none of those nor the runtime;
  only the CLI imports the dev tools; only the CLI and the dev tools import the client SDK.
- No import cycle anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import Module, closure, cycles, load_graph, within

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wire", "consensus", "contracts", "network", "client_sdk", "auditor", "node")
FORBIDDEN_IN_CORE = frozenset(
    {
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
        "io",
        "sys",
        "pathlib",
        "importlib",
        "shutil",
        "tempfile",
        "signal",
    }
)
PURE_ROOTS = ("consensus", "contracts")
SIMULATOR = "consensus.sim"
# package -> the project packages it may import
ALLOWED: dict[str, frozenset[str]] = {
    "wire": frozenset({"wire"}),
    "consensus": frozenset({"wire", "consensus"}),
    "contracts": frozenset({"wire", "contracts"}),
    "network": frozenset({"wire", "network"}),
    "client_sdk": frozenset({"wire", "client_sdk"}),
    "auditor": frozenset({"wire", "consensus", "contracts", "client_sdk", "auditor"}),
}
# node subpackage -> node subpackages it must never import
NODE_NEVER: dict[str, tuple[str, ...]] = {
    "node.runtime": ("node.api", "node.privacy", "node.cli", "node.dev", "node.index", "node.app"),
    "node.api": ("node.privacy", "node.cli", "node.dev", "node.app"),
    "node.store": (
        "node.runtime",
        "node.api",
        "node.privacy",
        "node.cli",
        "node.dev",
        "node.index",
        "node.app",
    ),
    "node.index": ("node.runtime", "node.api", "node.privacy", "node.cli", "node.dev", "node.app"),
    "node.privacy": ("node.cli", "node.dev", "node.app"),
}
DEV_IMPORTERS = ("node.cli", "node.dev")
SDK_IMPORTERS = ("node.cli", "node.dev")


# ------------------------------------------------------------------------------------ the rules
def impure(modules: dict[str, Module], roots: tuple[str, ...] = PURE_ROOTS) -> list[str]:
    offences: set[str] = set()
    for name in sorted(modules):
        if not any(within(name, r) for r in roots) or within(name, SIMULATOR):
            continue
        for dep, path in closure(modules, name).items():
            via = " -> ".join(path)
            if within(dep, SIMULATOR):
                offences.add(f"{via}: the pure core reaches the simulator")
            mod = modules[dep]
            for ext, line in mod.external.items():
                if ext in FORBIDDEN_IN_CORE:
                    offences.add(f"{via}: {mod.path.name}:{line} imports {ext}")
            for call, line in mod.calls.items():
                offences.add(f"{via}: {mod.path.name}:{line} calls {call}()")
    return sorted(offences)


def wrong_direction(modules: dict[str, Module]) -> list[str]:
    offences = []
    for name, mod in sorted(modules.items()):
        top = name.split(".")[0]
        allowed = ALLOWED.get(top)
        for dep in sorted(mod.project):
            dep_top = dep.split(".")[0]
            if within(name, SIMULATOR) and dep_top == "contracts":
                continue  # the simulator executes real blocks
            if allowed is not None and dep_top not in allowed:
                offences.append(f"{name} imports {dep}")
            if top == "node":
                for sub, never in NODE_NEVER.items():
                    if within(name, sub) and any(within(dep, n) for n in never):
                        offences.append(f"{name} imports {dep}")
                if within(dep, "node.dev") and not any(within(name, p) for p in DEV_IMPORTERS):
                    offences.append(f"{name} imports {dep} (only the CLI uses the dev tools)")
                if dep_top == "client_sdk" and not any(within(name, p) for p in SDK_IMPORTERS):
                    offences.append(f"{name} imports {dep} (the node's server side does not use the SDK)")
    return offences


# ------------------------------------------------------------------------------------ this tree
@pytest.fixture(scope="module")
def graph() -> dict[str, Module]:
    return load_graph(ROOT, PACKAGES)


def test_the_pure_core_reaches_no_io_clock_or_randomness(graph: dict[str, Module]) -> None:
    offences = impure(graph)
    assert not offences, "\n".join(offences)


def test_imports_run_one_way(graph: dict[str, Module]) -> None:
    offences = wrong_direction(graph)
    assert not offences, "\n".join(offences)


def test_no_import_cycle_anywhere(graph: dict[str, Module]) -> None:
    found = cycles(graph)
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_node_holds_only_subpackages_and_its_shared_modules() -> None:
    top = sorted(p.name for p in (ROOT / "node").iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "app.py", "config.py", "errors.py", "failpoints.py", "metrics.py", "tls.py"]


def test_no_module_over_600_lines() -> None:
    long = []
    for top in (*PACKAGES, "tests", "scripts"):
        for path in (ROOT / top).rglob("*.py"):
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > 600:
                long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not long, "\n".join(long)


# ------------------------------------------------------------------------------------ the checker
def tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for pkg in {Path(rel).parts[0] for rel in files}:
        for d in [tmp_path / pkg, *(p for p in (tmp_path / pkg).rglob("*") if p.is_dir())]:
            (d / "__init__.py").touch()
    return load_graph(tmp_path, sorted({Path(rel).parts[0] for rel in files}))


@pytest.mark.parametrize("name", ["io", "sys", "pathlib", "importlib", "time", "random", "os"])
def test_the_checker_refuses_an_io_import_in_the_core(tmp_path: Path, name: str) -> None:
    g = tree(tmp_path, {"contracts/rule.py": f"import {name}\n", "wire/x.py": ""})
    assert any(f"imports {name}" in o for o in impure(g))


@pytest.mark.parametrize("call", ["open", "__import__", "now", "hash"])
def test_the_checker_refuses_a_file_clock_or_seed_call_in_the_core(tmp_path: Path, call: str) -> None:
    g = tree(tmp_path, {"consensus/core.py": f"def f(x):\n    return {call}(x)\n"})
    assert any(f"calls {call}()" in o for o in impure(g))


def test_the_checker_follows_the_core_into_what_it_imports(tmp_path: Path) -> None:
    g = tree(
        tmp_path,
        {
            "contracts/engine.py": "from wire.genesis import Genesis\n",
            "wire/genesis.py": "from wire import files\nclass Genesis: ...\n",
            "wire/files.py": "from pathlib import Path\n",
        },
    )
    found = impure(g)
    assert any("contracts.engine -> wire.genesis -> wire.files" in o and "pathlib" in o for o in found), found


def test_the_checker_refuses_the_core_reaching_the_simulator(tmp_path: Path) -> None:
    g = tree(
        tmp_path,
        {
            "consensus/replica.py": "def f():\n    from consensus import helpers\n",
            "consensus/helpers.py": "from consensus.sim.runner import run\n",
            "consensus/sim/runner.py": "import random\ndef run(): ...\n",
        },
    )
    assert any("reaches the simulator" in o for o in impure(g))


def test_the_checker_finds_cycles_hidden_in_functions_and_type_checking(tmp_path: Path) -> None:
    g = tree(
        tmp_path,
        {
            "node/a.py": "from node import b\n",
            "node/b.py": "def f():\n    from node.c import x\n",
            "node/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from node.a import y\nx = 1\n",
        },
    )
    assert cycles(g) == [["node.a", "node.b", "node.c"]]


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("node/runtime/x.py", "node.api.y"),
        ("node/runtime/x.py", "node.privacy.y"),
        ("node/api/x.py", "node.privacy.y"),
        ("node/api/x.py", "node.cli.y"),
        ("node/privacy/x.py", "node.dev.y"),
        ("node/store/x.py", "node.runtime.y"),
        ("auditor/x.py", "node.store.y"),
        ("client_sdk/x.py", "node.api.y"),
        ("node/api/x.py", "client_sdk.y"),
    ],
)
def test_the_checker_refuses_a_wrong_direction(tmp_path: Path, importer: str, imported: str) -> None:
    target = imported.replace(".", "/") + ".py"
    g = tree(tmp_path, {importer: f"def f():\n    import {imported}\n", target: ""})
    assert wrong_direction(g), f"{importer} importing {imported} passed"


def test_the_checker_lets_the_cli_use_the_dev_tools_and_the_sdk(tmp_path: Path) -> None:
    g = tree(
        tmp_path,
        {
            "node/cli/dev.py": "from node.dev import devnet\nfrom client_sdk import auth\n",
            "node/dev/devnet.py": "",
            "client_sdk/auth.py": "",
        },
    )
    assert wrong_direction(g) == []
