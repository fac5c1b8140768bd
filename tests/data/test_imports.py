"""The modules of ``sensecf.data`` import one another without a cycle."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import sensecf.data

PACKAGE = "sensecf.data"
ROOT = Path(sensecf.data.__file__).parent


def _modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages([str(ROOT)], prefix=f"{PACKAGE}.") if m.name
    ) + [PACKAGE]


def _path(module: str) -> Path:
    relative = Path(*module.split(".")[2:])
    package = ROOT / relative / "__init__.py"
    return package if package.is_file() else ROOT / relative.with_suffix(".py")


def _imports(module: str, modules: set[str]) -> set[str]:
    """The ``sensecf.data`` modules ``module`` imports anywhere (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(_path(module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            names = [f"{base}.{a.name}" for a in node.names]
            found.update(n for n in [base, *names] if n in modules)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
    # A package's own __init__ is run by any import of its modules; it is not an edge.
    return {m for m in found if m != module and not module.startswith(f"{m}.")}


def test_the_data_modules_form_no_import_cycle():
    modules = set(_modules())
    graph = {m: _imports(m, modules) for m in modules}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
    assert graph["sensecf.data.loaders"] >= {"sensecf.data.heart", "sensecf.data.tabular"}


@pytest.mark.slow
@pytest.mark.parametrize("module", _modules())
def test_each_data_module_imports_alone_in_a_fresh_interpreter(module):
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
