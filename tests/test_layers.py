"""The parts meet through public names, in layers, without circles.

broker is the base; servers build on broker; sdk builds on both; cli builds on all three.
Every import is read with ``ast`` (inside functions and ``TYPE_CHECKING`` blocks too), so
a lazy import cannot hide a dependency. There is no list of exceptions: a new violation
fails here, and the fix is to export the name from the part that owns it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"broker": 0, "servers": 1, "sdk": 2, "cli": 3}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen from the module that wrote it."""

    importer: str
    target: str
    line: int

    def where(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["magistrate", *parts])


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for part in LAYERS:
        for path in sorted((ROOT / part).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(module, path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("magistrate."):
                    yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("magistrate"):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield Import(module, submodule if submodule in MODULES else source, node.lineno)


IMPORTS = [found for module, path in MODULES.items() for found in _imports(module, path)]


def _part(module: str) -> str:
    return module.split(".")[1]


def _is_private(module: str) -> bool:
    return any(piece.startswith("_") for piece in module.split(".")[2:])


def test_the_walk_sees_every_part() -> None:
    # Guards the test itself: an empty walk would pass every check below.
    assert {_part(module) for module in MODULES} == set(LAYERS)
    assert {_part(found.importer) for found in IMPORTS} == set(LAYERS)


def test_no_part_reaches_into_another_parts_private_modules() -> None:
    reaching = [
        found.where()
        for found in IMPORTS
        if found.target in MODULES and _part(found.importer) != _part(found.target) and _is_private(found.target)
    ]
    assert reaching == []


def test_imports_only_go_down_the_layers() -> None:
    upward = [
        found.where()
        for found in IMPORTS
        if found.target.count(".") >= 1
        and _part(found.target) in LAYERS
        and LAYERS[_part(found.target)] > LAYERS[_part(found.importer)]
    ]
    assert upward == []


def test_a_part_imports_its_siblings_not_its_own_package() -> None:
    # Inside a part, going through the package's __init__ would tie every module to every other.
    through_own_package = [
        found.where()
        for found in IMPORTS
        if found.target == f"magistrate.{_part(found.importer)}" and found.importer != found.target
    ]
    assert through_own_package == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in edges.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    for found in IMPORTS:
        if found.target in MODULES and found.target != found.importer:
            edges[found.importer].add(found.target)
    assert _cycles(edges) == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _cycles(edges) == expected
