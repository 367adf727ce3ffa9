"""The engine's modules import each other without cycles (issue 12): the runner depends on its
steps, the steps on the run's context, never the other way round. Read from the source with ast,
every import counted (module level, inside functions and under TYPE_CHECKING alike)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"
PACKAGE = "syncrules.engine"


def engine_imports(path: Path) -> set[str]:
    """The engine modules that the module at `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module.removeprefix(PACKAGE + ".").split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix(PACKAGE + ".").split(".")[0] for a in node.names
                         if a.name.startswith(PACKAGE + "."))
    return found - {path.stem}


def graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in ENGINE.glob("*.py") if p.stem != "__init__"}
    return {name: engine_imports(path) & set(modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (each reported once, from its first module)."""
    found, done = [], set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            found.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(edges.get(node, ())):
            walk(nxt, path + [node])
        done.add(node)

    for start in sorted(edges):
        walk(start, [])
    return found


def test_the_cycle_finder_finds_a_cycle_it_is_shown():
    assert cycles({"runner": {"deletions"}, "deletions": {"runner"}}) == [["deletions", "runner", "deletions"]]
    assert cycles({"runner": {"steps"}, "steps": {"context"}, "context": set()}) == []


def test_the_engine_modules_import_each_other_without_a_cycle():
    edges = graph()
    assert {"runner", "deletions", "extensions", "associations", "steps", "context"} <= set(edges)
    assert cycles(edges) == []


def test_the_steps_never_import_the_runner():
    edges = graph()
    for step in ("associations", "deletions", "extensions", "values", "resync", "context", "steps"):
        assert "runner" not in edges[step], step


@pytest.mark.parametrize("name", ["runner", "deletions", "extensions", "associations", "steps", "resync", "api"])
def test_each_engine_module_that_once_was_in_a_cycle_imports_alone(name):
    code = f"import django; django.setup(); import {PACKAGE}.{name}"
    env_settings = "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'syncsite.test_settings'); "
    done = subprocess.run([sys.executable, "-c", env_settings + code], capture_output=True, text=True,
                          cwd=ENGINE.parents[1], timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
