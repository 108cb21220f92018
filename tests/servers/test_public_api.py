"""The servers package publishes exactly what it names, and importing it (or the labels lookup) skips `mcp`."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import magistrate.servers as servers


def test_every_export_resolves() -> None:
    for name in servers.__all__:
        assert getattr(servers, name) is not None


def test_all_is_sorted_and_matches_exports() -> None:
    assert servers.__all__ == sorted(servers._EXPORTS)


def test_type_checking_block_matches_exports() -> None:
    tree = ast.parse(Path(servers.__file__).read_text())
    typed: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("magistrate.servers."):
            for alias in node.names:
                typed[alias.asname or alias.name] = (node.module, alias.name)
    assert typed == servers._EXPORTS


def test_exports_point_at_defining_modules() -> None:
    for module_name, attribute in servers._EXPORTS.values():
        assert hasattr(importlib.import_module(module_name), attribute)


def test_labels_lookup_and_manifests_do_not_import_mcp(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from magistrate.servers import open_documents\n"
        "from magistrate.servers._compliance_tools import manifest as m1\n"
        "from magistrate.servers._documents_tools import manifest as m2\n"
        f"store = open_documents({str(tmp_path / 'd.sqlite3')!r})\n"
        "store.put('a.md', 'x', ['confidential'])\n"
        "assert store.labels('a.md') == {'confidential'}\n"
        "assert len(m1()) == 5 and len(m2()) == 5\n"
        "assert not [m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')], 'mcp was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
