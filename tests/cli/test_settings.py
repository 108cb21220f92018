"""`magistrate settings`: the files and the command line that put a plain `claude` run under a policy."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

POLICY = 'from magistrate.broker import RulePolicy\npolicy = RulePolicy(default="allow", deny=["Bash(ls:*)"])\n'


def settings(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "settings", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def written(tmp_path: Path) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    (tmp_path / "policy.py").write_text(POLICY)
    done = settings("--policy", "policy.py", "--db", "trail.sqlite3", "--out", "cfg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    mcp = json.loads((tmp_path / "cfg" / "magistrate-mcp.json").read_text())
    hooks = json.loads((tmp_path / "cfg" / "magistrate-settings.json").read_text())
    return argv, mcp, hooks


def test_the_printed_command_uses_both_files_and_the_prompt_tool(
    written: tuple[list[str], dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    argv, _, _ = written
    assert argv == [
        "claude",
        "--mcp-config",
        str(tmp_path / "cfg" / "magistrate-mcp.json"),
        "--settings",
        str(tmp_path / "cfg" / "magistrate-settings.json"),
        "--permission-prompt-tool",
        "mcp__magistrate__approval_prompt",
    ]


def test_the_mcp_config_serves_the_approval_prompt_with_absolute_paths(
    written: tuple[list[str], dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    _, mcp, _ = written
    server = mcp["mcpServers"]["magistrate"]
    assert server["type"] == "stdio"
    assert Path(server["command"]).is_absolute()
    assert server["command"] == str(Path(sys.executable).absolute())
    assert server["args"] == ["-m", "magistrate.cli", "serve", "approval", "--db", str(tmp_path / "trail.sqlite3")]
    assert server["env"] == {"MAGISTRATE_POLICY": str(tmp_path / "policy.py")}


def hook_commands(hooks: dict[str, Any]) -> dict[str, str]:
    commands = {}
    for event, matchers in hooks["hooks"].items():
        [matcher] = matchers
        # The tool events match every tool; the session events take no matcher.
        assert matcher.get("matcher") == ("*" if event.endswith(("ToolUse", "Failure")) else None)
        [hook] = matcher["hooks"]
        assert hook["type"] == "command"
        assert hook["timeout"] == 60
        commands[event] = hook["command"]
    return commands


def shell(command: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    # The CLI runs the command through a shell, from wherever the session is.
    return subprocess.run(
        command, shell=True, input=json.dumps(payload), capture_output=True, text=True, cwd="/", timeout=60, check=False
    )


PAYLOAD = {
    "hook_event_name": "PreToolUse",
    "session_id": "s",
    "cwd": "/",
    "tool_name": "Bash",
    "tool_input": {"command": "ls"},
    "tool_use_id": "t1",
}


def test_every_tool_event_runs_the_hook_and_the_hook_command_works(
    written: tuple[list[str], dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    _, _, hooks = written
    commands = hook_commands(hooks)
    assert set(commands) == {"PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd"}
    assert commands["PreToolUse"].endswith(" --timeout 30 || exit 2")
    assert commands["PostToolUse"] == commands["PostToolUseFailure"] == commands["Stop"] == commands["SessionEnd"]
    done = shell(commands["PreToolUse"], PAYLOAD)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    post = {**PAYLOAD, "hook_event_name": "PostToolUse", "tool_response": "a.txt"}
    done = shell(commands["PostToolUse"], post)
    assert done.returncode == 0, done.stderr
    assert trail_kinds(tmp_path / "trail.sqlite3") == ["decision", "outcome"]


def trail_kinds(db: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "audit", "export", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line)["record"]["kind"] for line in done.stdout.splitlines()]


def test_a_hook_that_cannot_even_start_blocks_the_call(
    written: tuple[list[str], dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    _, _, hooks = written
    command = hook_commands(hooks)["PreToolUse"].replace(sys.executable, str(tmp_path / "gone" / "python"))
    done = shell(command, PAYLOAD)
    assert done.returncode == 2  # the CLI's "block"; 1 or 127 would let the call through


def test_an_approval_queue_and_a_database_url_are_passed_on(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text(POLICY)
    url = "postgresql://reviewer@db.internal/trail"
    done = settings("--policy", "policy.py", "--db", url, "--approval-queue", "asks.sqlite3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    server = json.loads((tmp_path / "magistrate-mcp.json").read_text())["mcpServers"]["magistrate"]
    assert server["args"][-2:] == ["--db", url]
    assert server["env"]["MAGISTRATE_APPROVAL_QUEUE"] == str(tmp_path / "asks.sqlite3")
    hooks = json.loads((tmp_path / "magistrate-settings.json").read_text())["hooks"]
    assert shlex.split(hooks["PostToolUse"][0]["hooks"][0]["command"])[-2:] == ["--db", url]


def test_without_a_database_the_default_trail_is_left_to_each_process(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text(POLICY)
    assert settings("--policy", "policy.py", cwd=tmp_path).returncode == 0
    server = json.loads((tmp_path / "magistrate-mcp.json").read_text())["mcpServers"]["magistrate"]
    assert "--db" not in server["args"]


def test_a_policy_that_does_not_load_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text("policy = None\n")
    done = settings("--policy", "policy.py", cwd=tmp_path)
    assert done.returncode == 2
    assert "policy" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "magistrate-mcp.json").exists()
