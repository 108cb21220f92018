"""Every example program of the claude_agent_sdk generation runs on magistrate.sdk, against the real CLI.

examples/agent_sdk/ holds this project's own versions of the official SDK's example programs, each using
`from magistrate.sdk import ...`. Each runs governed (the default) on the scripted model, in a folder of its
own with its own Claude config, and the test checks what it prints for the scripted answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from magistrate.sdk.scripted_model import ScriptedModel
from tests.e2e._cases import bash

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agent_sdk"
NOTEBOOK = Path(__file__).with_name("notebook.py")


def rule(contains: str, call: dict[str, Any], reply: str) -> dict[str, Any]:
    """The model makes one tool call when the prompt contains `contains`, then answers `reply`."""
    return {"contains": contains, "turns": [{"tool_calls": [call]}, reply]}


def write(path: str) -> dict[str, Any]:
    return {"name": "Write", "input": {"file_path": path, "content": "remember"}}


SCENARIO = {
    "rules": [
        rule("add 15 and 27", {"name": "mcp__calc__add", "input": {"a": 15, "b": 27}}, "The sum is {last_tool_result}"),
        rule("clean up", bash("rm -rf scratch"), "After cleanup: {last_tool_result}"),
        rule("say hi with bash", bash("echo hi"), "Bash said: {last_tool_result}"),
        rule("save a note", write("{cwd}/note.txt"), "Saved: {last_tool_result}"),
        rule("system file", write("/etc/magistrate-example.conf"), "Result: {last_tool_result}"),
    ],
    "default": {"turns": ["Scripted answer to: {prompt}"]},
}

# example -> fragments of what it prints for the scripted answers
PRINTS: dict[str, tuple[str, ...]] = {
    "quick_start": (
        "Claude: Scripted answer to: How many legs does a spider have?",
        "Claude: Scripted answer to: Explain recursion in a sentence.",
        "Claude: Scripted answer to: Put a greeting into greeting.txt",
    ),
    "system_prompt": ("--- the preset with an addition", "Claude: Scripted answer to: What is the capital of France?"),
    "agents": ("--- two agents", "Claude: Scripted answer to: Have the writer document what the reviewer found"),
    "filesystem_agents": ("greeter is available", "Claude: Scripted answer to: Greet me in three words"),
    "hooks": (
        "hook: blocking 'rm -rf scratch'",
        "Claude: After cleanup: PreToolUse:Bash hook error: Recursive deletes are not allowed here.",
        "Claude: Bash said: hi",
        "hook: the agent stopped",
    ),
    "tool_permission_callback": ("Claude: Saved: File created", "deny Write /etc/magistrate-example.conf"),
    "mcp_calculator": ("Tool result: [{'type': 'text', 'text': '42'}]", "Claude: The sum is 42"),
    "include_partial_messages": ("delta: 'Scripted answer to: Write a haiku about rivers'", "'content_block_delta': 1"),
    "max_budget_usd": ("Status: success", "The budget was used up.", "Stopped: error_max_budget_usd"),
    "plugin_example": ("Plugins loaded: ['hello-plugin'", "Claude: Scripted answer to: Hello there"),
    "session_store": (
        "Sessions in the store: 1",
        "Claude: Scripted answer to: What is my favourite colour?",
        "Messages in the resumed session: 4",
    ),
    "setting_sources": (
        "default: /ship available",
        "none: /ship not available",
        "user only: /ship not available",
        "project: /ship available",
    ),
    "stderr_callback_example": ("Claude: Scripted answer to: What is 2 + 2?", "stderr lines"),
    "tools_option": ("Built-in tools: ['Glob', 'Grep', 'Read']", "Built-in tools: []", "--- the default set"),
    "streaming_mode": (
        "Claude: Scripted answer to: Now double it",
        "First, hello",
        "MCP servers: ['compliance_db', 'documents', 'magistrate']",
        "Interrupted",
        "Not connected yet",
        "Claude: Scripted answer to: Now it works",
    ),
    "streaming_mode_ipython": ("Claude: Scripted answer to: And the deepest lake?", "Turns so far:"),
    "streaming_mode_trio": ("Claude: Scripted answer to: Divide that by 7", "Conversation complete"),
}


def _is_notebook(path: Path) -> bool:
    try:
        compile(path.read_text(), str(path), "exec")
    except SyntaxError:
        return True
    return False


def test_every_example_is_covered() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.py")} == set(PRINTS)


@pytest.mark.parametrize("name", sorted(PRINTS))
def test_example_runs(name: str, tmp_path: Path) -> None:
    path = EXAMPLES / f"{name}.py"
    command = [sys.executable, str(NOTEBOOK), str(path)] if _is_notebook(path) else [sys.executable, str(path)]
    scenario = json.loads(json.dumps(SCENARIO).replace("{cwd}", str(tmp_path)))
    with ScriptedModel(scenario) as model:
        env = {**os.environ, **model.env(), "CLAUDE_CONFIG_DIR": str(tmp_path / "config")}
        env.pop("MAGISTRATE_POLICY", None)
        env["MAGISTRATE_AUDIT"] = str(tmp_path / "trail.sqlite3")
        done = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    for fragment in PRINTS[name]:
        assert fragment in done.stdout, (fragment, done.stdout)
