"""The package map of docs/architecture.md, checked: imports flow one way, and no module imports itself
back through another, not even lazily inside a function.

Imports are read from the source (every ``import``/``from`` statement, inside functions too; type-only
imports under ``if TYPE_CHECKING:`` do not count, as they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "grader"

#: Lowest first. A module may import its own package and any package of a LOWER layer; never a higher one
#: nor another package of its own layer. Keep this table and docs/architecture.md saying the same.
LAYERS: list[set[str]] = [
    {"grader.errors", "grader.version", "grader.paths", "grader.exports"},
    {"grader.registry"},
    {"grader.spec"},
    {"grader.data", "grader.submission", "grader.sandbox", "grader.runtime"},
    {"grader.sandbox.docker", "grader.sandbox.local"},
    {"grader.evaluate"},
    {"grader.report"},
    {"grader.rubric"},
    {"grader.integrations"},
    {"grader.grading"},
    {"grader.compare", "grader.authoring", "grader.queue"},
    {"grader.service"},
    {"grader.cli", "grader"},
    {"grader.__main__"},
]

#: The sanctioned upward lookups, each with its reason. A task file names its rubric and its metrics, so
#: loading a task resolves those names (lazily, inside the loader).
UPWARD = {
    ("grader.spec.task", "grader.rubric.spec"): "a task's rubric is resolved when the task is loaded",
    ("grader.spec.task", "grader.evaluate.metrics"): "a task's metric names are checked when it is loaded",
}


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        if "templates" in path.relative_to(ROOT).parts:
            continue
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _target(name: str) -> str | None:
    """The grader module an imported dotted name refers to (``grader.x.y.Name`` -> ``grader.x.y``)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports(module: str) -> frozenset[str]:
    """The grader modules ``module`` imports at run time."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    type_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                 and "TYPE_CHECKING" in ast.unparse(branch.test) for stmt in branch.body for node in ast.walk(stmt)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("grader"):
            assert node.module is not None
            for alias in node.names:
                target = _target(f"{node.module}.{alias.name}")
                if target:
                    out.add(target)
        elif isinstance(node, ast.Import):
            out |= {t for alias in node.names if alias.name.startswith("grader") and (t := _target(alias.name))}
    out.discard(module)
    return frozenset(out)


def package(module: str) -> str:
    """The package of the map that ``module`` belongs to (the deepest one listed in LAYERS)."""
    listed = set().union(*LAYERS)
    name = module
    while name not in listed:
        name = name.rpartition(".")[0]
        assert name, f"{module} is in no package of the map: add its package to LAYERS and docs/architecture.md"
    return name


def layer(pkg: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if pkg in names)


def test_every_module_is_on_the_map():
    for module in modules():
        package(module)


def test_imports_flow_one_way():
    wrong = []
    for module in sorted(modules()):
        for target in sorted(imports(module)):
            src, dst = package(module), package(target)
            if src == dst or layer(dst) < layer(src) or (module, target) in UPWARD:
                continue
            wrong.append(f"{module} ({src}) imports {target} ({dst})")
    assert wrong == [], "imports against the package map:\n" + "\n".join(wrong)


def test_no_module_imports_itself_back():
    graph = {m: imports(m) for m in modules()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", ["grader", "grader.cli"])
def test_importing_the_package_or_the_cli_stays_light(module):
    """The public API and the CLI import their heavy parts on first use, not when imported."""
    heavy = ["sklearn", "pandas", "matplotlib", "mlflow", "docker", "scipy"]
    code = f"import sys, {module}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
