"""Every `from magistrate... import ...` in the README's Python samples names what that package exports."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _imports() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL):
        for line in block.splitlines():
            if line.startswith("from magistrate"):
                node = ast.parse(line).body[0]
                assert isinstance(node, ast.ImportFrom)
                found.extend((str(node.module), alias.name) for alias in node.names)
    return found


def test_the_readme_imports_exported_names() -> None:
    imports = _imports()
    assert ("magistrate.sdk", "ClaudeCodeOptions") in imports
    assert ("magistrate.broker", "Verdict") in imports
    missing = [f"{module}.{name}" for module, name in imports if name not in importlib.import_module(module).__all__]
    assert missing == []
