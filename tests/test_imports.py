"""Every module of recast imports on its own, the package's import graph has no cycle, and the
dependencies pyproject.toml declares are exactly the ones recast imports.

A module that only imports after some other module has been imported (an import cycle hidden by
the order in which the rest of the program happens to import things) fails the first test; the
second names every cycle, lazy imports inside functions included: a cycle through a function-level
import works only until someone moves that import to the top of its module.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"recast": ROOT / "recast", "recast.analyses": ROOT / "analyses"}
"""Import name -> source directory (``analyses/`` is installed as ``recast.analyses``)."""


def _modules() -> dict[str, Path]:
    """Every module of the packages: dotted name -> file."""
    found: dict[str, Path] = {}
    for package, directory in PACKAGES.items():
        for path in sorted(directory.rglob("*.py")):
            parts = path.relative_to(directory).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in the module (functions included), except those under
    ``if TYPE_CHECKING:``, which never run."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The recast modules an import statement of ``module`` runs, its own packages left out.

    ``from P import n`` names the module ``P.n`` when there is one (else a name defined in ``P``).
    Importing a module runs its packages' ``__init__`` first: those count too, except the packages
    ``module`` itself lies in (they are already being imported when it runs).
    """
    named: set[str] = set()
    if isinstance(node, ast.Import):
        named = {alias.name for alias in node.names}
    else:
        if node.level:
            base = module if _is_package(module) else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        named = {source}
        named |= {f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES}
    own = {*_ancestors(module), module}
    targets = set()
    for name in named:
        while name and name not in MODULES:  # ``import recast.x.f`` style names: the longest module prefix
            name = name.rpartition(".")[0]
        if name:
            targets |= {m for m in (*_ancestors(name), name) if m in MODULES and m not in own}
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module -> the recast modules it imports (at the top or inside functions)."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = set().union(*(_targets(name, node) for node in _runtime_imports(tree)))
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each holds a cycle), sorted
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the first module of a component, as a path that returns to its start
    (breadth-first: the shortest one)."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")


def test_the_checker_finds_cycles_and_their_paths():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}, "f": {"g"}, "g": {"f"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["f", "g"]]
    assert a_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_import_statements_resolve_to_modules():
    """The graph reads each spelling of an import as Python runs it (checked on real modules)."""
    def targets(module: str, line: str) -> set[str]:
        return _targets(module, ast.parse(line).body[0])

    assert targets("recast.events.hepmc", "from ..errors import EventFileError") == {"recast.errors"}
    assert targets("recast.events.hepmc", "from . import _isolated") == {"recast.events._isolated"}
    assert targets("recast.events", "from .hepmc import HepMCSource") == {"recast.events.hepmc"}
    assert targets("recast.engine", "from .objects import build") == {"recast.objects", "recast.objects.build"}
    assert targets("recast.engine", "import recast.events.record") == {"recast.events", "recast.events.record"}
    assert targets("recast.analyses", "from recast.analysis import Cut") == {"recast.analysis"}
    assert targets("recast.errors", "import numpy as np") == set()


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    cycles = [f"{', '.join(component)} (e.g. {' -> '.join(a_cycle(graph, component))})"
              for component in strongly_connected(graph)]
    assert not cycles, "modules that import each other:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_in_a_fresh_interpreter(module, tmp_path):
    # from outside the checkout: there, the source tree's recast/ would shadow the installed one,
    # which maps analyses/ and data/ in as recast.analyses and recast.data
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]


NOT_IMPORTED = {"pyarrow": "awkward's to_parquet needs it (--dump-features FILE.parquet)"}
"""Declared dependencies that no module imports, and why they are declared all the same."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies() -> set[str]:
    """The distributions pyproject.toml's ``dependencies`` name, with those of the extras they ask
    for (``dask[distributed]`` brings ``distributed``)."""
    tomllib = pytest.importorskip("tomllib")
    names = set()
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, extras = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^]]*)\])?.*", spec, re.DOTALL).groups()
        names.add(_canonical(name))
        for extra in (extras or "").split(","):
            marker = re.compile(rf"extra\s*==\s*[\"']{re.escape(extra.strip())}[\"']")
            names |= {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requires(name) or []
                      if extra.strip() and marker.search(r)}
    return names


def imported_distributions() -> dict[str, set[str]]:
    """Distribution -> the recast modules that import it (standard library left out)."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]):
                top = name.partition(".")[0]
                if top in sys.stdlib_module_names or top in ("__future__", "recast"):
                    continue
                assert top in owners, f"{module} imports {top}, which no installed distribution provides"
                for dist in owners[top]:
                    found.setdefault(_canonical(dist), set()).add(module)
    return found


def test_declared_dependencies_are_the_imported_ones():
    declared, imported = declared_dependencies(), imported_distributions()
    unused = declared - set(imported) - set(NOT_IMPORTED)
    assert not unused, f"declared in pyproject.toml, imported nowhere: {sorted(unused)}"
    undeclared = {dist: sorted(modules) for dist, modules in imported.items() if dist not in declared}
    assert not undeclared, f"imported without being declared in pyproject.toml: {undeclared}"
    assert set(NOT_IMPORTED) <= declared - set(imported)  # each exception still needed


def test_every_package_is_listed_for_the_wheel():
    """setuptools installs only the packages pyproject.toml lists: an editable install finds the
    others, a wheel leaves them out."""
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name in MODULES if _is_package(name)}
    assert packages - listed == set(), "add them to [tool.setuptools] packages"


def test_the_package_docstring_maps_every_part():
    """``recast/__init__.py`` names every module and subpackage of recast with its role."""
    import pkgutil

    import recast

    parts = {m.name for m in pkgutil.iter_modules(recast.__path__)}
    missing = sorted(p for p in parts if f"``{p}``" not in recast.__doc__)
    assert not missing, f"recast's docstring does not say what these are for: {', '.join(missing)}"
