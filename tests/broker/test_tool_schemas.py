"""The built-in tools' input models are the CLI's own schemas, held to the `sdk-tools.d.ts` the CLI ships.

A drift between the two would let a malformed input through, or deny a good one; every field of each model's
interface must be in the model, required exactly when the interface requires it, of the same primitive type.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import CallContext, RulePolicy, ToolCall
from magistrate.broker._tool_inputs import INPUT_MODELS, SCHEMA_NAMES

_DTS = Path(__file__).resolve().parents[2] / "node_modules" / "@anthropic-ai" / "claude-code" / "sdk-tools.d.ts"
_FIELD = re.compile(r'^  (?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*))(\??): (.*)$')


def _interfaces(text: str) -> dict[str, dict[str, tuple[bool, str]]]:
    """Each top-level interface's fields: name -> (required, the first line of its TypeScript type)."""
    found: dict[str, dict[str, tuple[bool, str]]] = {}
    current: dict[str, tuple[bool, str]] | None = None
    for line in text.splitlines():
        start = re.match(r"^export interface (\w+) \{(\})?$", line)
        if start:
            current = found.setdefault(start.group(1), {})
            if start.group(2):
                current = None
            continue
        if line == "}":
            current = None
            continue
        field = _FIELD.match(line) if current is not None else None
        if field and current is not None:
            current[field.group(1) or field.group(2)] = (field.group(3) != "?", field.group(4).rstrip(";"))
    return found


def _primitive(ts: str) -> str | None:
    if ts in {"string", "number", "boolean"}:
        return ts
    if ts.endswith("[]"):
        return "array"
    if re.fullmatch(r'\(?"[^"]*"(?: \| "[^"]*")*\)?(?: \| "[^"]*")*', ts):
        return "literal"
    return None


def _python_kinds(annotation: Any) -> set[str]:
    kinds: set[str] = set()
    args = (
        typing.get_args(annotation)
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
        else (annotation,)
    )
    for arg in args:
        if arg is type(None):
            continue
        inner = typing.get_args(arg)
        base = inner[0] if typing.get_origin(arg) is typing.Annotated else arg
        origin = typing.get_origin(base)
        if origin is tuple or origin is list:
            kinds.add("array")
        elif origin is typing.Literal:
            kinds.add("literal")
        elif base is str:
            kinds.add("string")
        elif base is bool:
            kinds.add("boolean")
        elif base in {int, float}:
            kinds.add("number")
    return kinds


@pytest.mark.skipif(not _DTS.is_file(), reason="the pinned CLI is not installed (./dev setup)")
@pytest.mark.parametrize("tool", sorted(SCHEMA_NAMES))
def test_each_model_follows_the_cli_schema(tool: str) -> None:
    interface = _interfaces(_DTS.read_text())[SCHEMA_NAMES[tool]]
    model = INPUT_MODELS[tool]
    by_name = {(info.alias or name): info for name, info in model.model_fields.items()}
    for name, (required, ts) in interface.items():
        assert name in by_name, f"{tool}: the CLI's schema has {name!r}; the model does not"
        info = by_name[name]
        assert info.is_required() is required, f"{tool}.{name}: required is {required} in the CLI's schema"
        kind = _primitive(ts)
        if kind is not None:
            assert kind in _python_kinds(info.annotation), f"{tool}.{name}: {ts} in the CLI's schema"
    for name, info in by_name.items():
        assert name in interface or not info.is_required(), f"{tool}: {name!r} is required but not the CLI's"


_MALFORMED = [
    ("Bash", {"command": ["curl", "x"]}),
    ("Bash", {"command": None}),
    ("Bash", {}),
    ("Bash", {"command": "ls", "timeout": "5"}),
    ("Bash", {"command": "ls", "timeout": True}),
    ("Bash", {"command": "ls", "run_in_background": "true"}),
    ("Read", {"file_path": None}),
    ("Read", {"file_path": ["/etc/passwd"]}),
    ("Read", {"file_path": "/x", "offset": "1"}),
    ("Write", {"file_path": "/tmp/x"}),
    ("Write", {"file_path": {"a": 1}, "content": "x"}),
    ("Edit", {"file_path": "a", "old_string": 1, "new_string": "b"}),
    ("Glob", {"pattern": 3}),
    ("Grep", {"pattern": "x", "-n": 1}),
    ("Grep", {"pattern": "x", "glob": ["*.py"]}),
    ("WebFetch", {"url": "https://example.com", "prompt": None}),
    ("WebFetch", {"url": ["https://example.com"], "prompt": "p"}),
    ("NotebookEdit", {"notebook_path": "a.ipynb", "new_source": "x", "edit_mode": "append"}),
    ("TaskStop", {"task_id": 3}),
    ("ExitWorktree", {"action": "delete"}),
]


@pytest.mark.parametrize(("tool", "tool_input"), _MALFORMED)
def test_a_malformed_input_is_denied_under_any_policy(tool: str, tool_input: dict[str, Any]) -> None:
    context = CallContext(cwd="/proj", permission_mode="bypassPermissions")
    for policy in (RulePolicy(default="allow"), RulePolicy(default="ask", allow=[tool])):
        decision = anyio.run(policy.decide, ToolCall(tool, tool_input), context)
        assert decision.behavior == "deny", (tool, tool_input)
        assert "schema" in decision.message


def test_a_well_formed_input_is_not_denied_for_its_form() -> None:
    policy = RulePolicy(default="allow")
    context = CallContext(cwd="/proj")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("Bash", {"command": "ls", "timeout": 1000, "run_in_background": False}),
        ("Read", {"file_path": "/proj/a", "offset": 1, "limit": 2}),
        ("Grep", {"pattern": "x", "-n": True, "-A": 2}),
        ("TaskStop", {"task_id": "t1"}),
    ]
    for tool, tool_input in cases:
        assert anyio.run(policy.decide, ToolCall(tool, tool_input), context).behavior == "allow"
