"""The broker's lazy exports must name exactly what it publishes."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import magistrate.broker as broker


def test_every_export_resolves() -> None:
    for name in broker.__all__:
        assert getattr(broker, name) is not None


def test_type_checking_block_matches_exports() -> None:
    source = Path(broker.__file__).read_text()
    tree = ast.parse(source)
    typed: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("magistrate.broker."):
            typed.update(alias.asname or alias.name for alias in node.names)
    assert typed == set(broker.__all__)


def test_all_matches_exports() -> None:
    assert broker.__all__ == sorted(broker._EXPORTS)


def test_exports_point_at_defining_modules() -> None:
    for name, module_name in broker._EXPORTS.items():
        assert hasattr(importlib.import_module(module_name), name)
