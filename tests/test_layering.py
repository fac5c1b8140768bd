"""The package's floors: no import cycle between modules, and no import from a higher floor.

Every ``import`` of a ``sensecf`` module is read from the source (lazy imports inside functions
and ``TYPE_CHECKING`` imports included, since each is a dependency a reader must follow). An
import of a package counts as an import of its ``__init__``, which imports its own modules; the
parent packages an import runs on the way are not counted (every module runs ``sensecf``'s).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sensecf

ROOT = Path(sensecf.__file__).parent

# Lowest first. A module may import its own floor and the floors below, never one above.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("sensecf.errors", "sensecf.settings", "sensecf.progress", "sensecf.execution"),
    ("sensecf.data", "sensecf.datasets", "sensecf.runs"),
    ("sensecf.models", "sensecf.results"),
    ("sensecf.llm",),
    ("sensecf.generators",),
    ("sensecf.evaluation", "sensecf.augmentation", "sensecf.finetuning"),
    ("sensecf.interventions", "sensecf.explanation"),
    ("sensecf.report",),
    ("sensecf.cli",),
)


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" for a in node.names]
            targets = [t if t in modules else base for t in targets]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("sensecf") and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def floor_of(module: str) -> int:
    """The floor a module lives on; the package's own ``__init__`` is above them all."""
    for level, rooms in enumerate(FLOORS):
        if any(module == room or module.startswith(f"{room}.") for room in rooms):
            return level
    if module == "sensecf":
        return len(FLOORS)
    raise AssertionError(f"{module} lives on no floor: add its room to FLOORS")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_reader_sees_lazy_and_relative_imports(tmp_path):
    package = tmp_path / "sensecf" / "room"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import x\n")
    (package / "a.py").write_text("def f():\n    from sensecf.room import b\n")
    (package / "b.py").write_text("")
    modules = {
        "sensecf.room": package / "__init__.py",
        "sensecf.room.a": package / "a.py",
        "sensecf.room.b": package / "b.py",
    }
    assert imports_of("sensecf.room", modules["sensecf.room"], modules) == {"sensecf.room.a"}
    assert imports_of("sensecf.room.a", modules["sensecf.room.a"], modules) == {"sensecf.room.b"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_from_a_higher_floor():
    upward = [
        f"{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
        for module, targets in sorted(graph().items())
        for target in sorted(targets)
        if floor_of(target) > floor_of(module)
    ]
    assert not upward, "imports that run up a floor:\n" + "\n".join(upward)


def test_importing_the_package_loads_no_plotting_torch_or_llama_cpp():
    code = (
        "import sys, sensecf; "
        "print(sorted(m for m in ('matplotlib', 'torch', 'llama_cpp', 'transformers') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize(
    "module", sorted(m for m in module_files() if m.startswith("sensecf.data"))
)
def test_each_data_module_imports_alone_in_a_fresh_interpreter(module):
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
