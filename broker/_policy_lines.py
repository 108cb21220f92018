"""Where in a policy file each rule string was written, so a decision can name the line of its rule.

Kept apart from `_policy_sources` (which builds policies) because `RulePolicy` itself needs it to explain
the rule strings passed to its constructor.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from pathlib import Path

from magistrate.broker._decision import RuleSource
from magistrate.broker._rules import ListName
from magistrate.broker._settings import RuleSpec


def _string_lines(origin: Path) -> dict[str, list[int]]:
    try:
        tree = ast.parse(origin.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    lines: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            lines.setdefault(node.value, []).append(node.lineno)
    for found in lines.values():
        found.sort()
    return lines


def python_rule_specs(origin: Path | None, lists: Mapping[ListName, Sequence[str]], *, near: int = 0) -> list[RuleSpec]:
    """Rule strings written in a policy file, each with the line it was written on when it can be found.

    A string written more than once is attributed to the occurrence nearest `near`, the line of the call.
    """
    lines = _string_lines(origin) if origin is not None else {}
    path = str(origin) if origin is not None else None
    root = str(origin.parent) if origin is not None else str(Path.cwd())
    specs: list[RuleSpec] = []
    for list_name in ("deny", "ask", "allow"):
        rules = lists.get(list_name, ())
        if isinstance(rules, str):
            rules = [rules]
        for text in rules:
            found = lines.get(text) if isinstance(text, str) else None
            line = None
            if found:
                line = min(found, key=lambda n: abs(n - near))
                found.remove(line)
            specs.append(RuleSpec(text, list_name, RuleSource("python", path, line), root))
    return specs


def keyword_line(origin: Path | None, name: str, *, near: int = 0) -> int | None:
    """The line of a `name=` keyword argument in a policy file, the occurrence nearest `near` (None: not found).

    Points a bad value (`default="allwo"`) at the line it was written on, not only at the file.
    """
    if origin is None:
        return None
    try:
        tree = ast.parse(origin.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    found = [node.value.lineno for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == name]
    return min(found, key=lambda n: abs(n - near)) if found else None
