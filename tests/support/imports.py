"""The project's import graph, read with `ast` (tests/unit/test_layering.py checks it).

Every `import` and `from ... import` counts, wherever it is: at module level, inside a function,
under `if TYPE_CHECKING:`. `from a.b import c` is an edge to the module `a.b.c` when that is a
module, else to `a.b`. Calls of clock, seed and file builtins (`open`, `__import__`, `now`, ...)
are recorded beside the imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# calls that read the clock, depend on PYTHONHASHSEED or touch files
FORBIDDEN_CALLS = frozenset({"__import__", "open", "now", "today", "utcnow", "localtime", "hash", "id"})


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    project: set[str] = field(default_factory=set)  # project modules imported (resolved)
    external: dict[str, int] = field(default_factory=dict)  # top-level external name -> line
    calls: dict[str, int] = field(default_factory=dict)  # forbidden call -> line


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def load_graph(root: Path, packages: Iterable[str]) -> dict[str, Module]:
    """Every module of `packages` under `root`, with what it imports."""
    tops = set(packages)
    modules: dict[str, Module] = {}
    for top in sorted(tops):
        for path in sorted((root / top).rglob("*.py")):
            name = module_name(root, path)
            modules[name] = Module(name, path, path.name == "__init__.py")
    for mod in modules.values():
        tree = ast.parse(mod.path.read_text(encoding="utf-8"), filename=str(mod.path))
        package = mod.name if mod.is_package else mod.name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    _add(mod, modules, tops, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1] if node.level > 1 else anchor
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    full = f"{base}.{alias.name}" if base else alias.name
                    _add(mod, modules, tops, full if full in modules else base, node.lineno)
            elif isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in FORBIDDEN_CALLS:
                    mod.calls.setdefault(name, node.lineno)
    return modules


def _add(mod: Module, modules: dict[str, Module], tops: set[str], name: str, line: int) -> None:
    top = name.split(".")[0]
    if top in tops:
        while name and name not in modules:  # `import a.b.c` of a name that is not a module
            name = name.rpartition(".")[0]
        if name and name != mod.name:
            mod.project.add(name)
    else:
        mod.external.setdefault(top, line)


def parents(name: str) -> Iterator[str]:
    """The packages Python runs before `name` (`a.b.c` -> `a`, `a.b`)."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def closure(modules: dict[str, Module], start: str) -> dict[str, list[str]]:
    """Every module importing `start` runs (with the packages above each), each with one import path."""
    paths: dict[str, list[str]] = {start: [start]}
    todo = [start]
    while todo:
        name = todo.pop()
        mod = modules[name]
        for dep in sorted({*mod.project, *parents(mod.name)}):
            if dep in modules and dep not in paths:
                paths[dep] = [*paths[name], dep]
                todo.append(dep)
    return paths


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # Tarjan, iterative over the edges of v
        nonlocal counter
        work = [(v, iter(sorted(modules[v].project)))]
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, edges = work[-1]
            for w in edges:
                if w not in modules:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(modules[w].project))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")
