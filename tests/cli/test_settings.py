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


# -- --install / --uninstall ------------------------------------------------------------------------------


def install(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "settings", *args],
        cwd=cwd,
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


EXISTING = '{"model": "opus",\n "permissions": {"allow": ["Bash(npm test:*)"]},\n "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]}}\n'  # noqa: E501


@pytest.mark.parametrize(
    ("scope", "where"),
    [
        ("user", "home/.claude/settings.json"),
        ("project", "proj/.claude/settings.json"),
        ("local", "proj/.claude/settings.local.json"),
    ],
)
def test_install_merges_into_the_scope_keeping_what_is_there_and_uninstall_restores_the_very_text(
    tmp_path: Path, scope: str, where: str
) -> None:
    home, project = tmp_path / "home", tmp_path / "proj"
    project.mkdir()
    target = tmp_path / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(EXISTING)
    (tmp_path / "policy.py").write_text(POLICY)
    done = install(
        "--install", scope, "--policy", str(tmp_path / "policy.py"), "--port", "8799", cwd=project, home=home
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"--- {target} (before)")  # the change, as a diff
    assert '+            "onFailure": "block"' in done.stdout
    doc = json.loads(target.read_text())
    assert doc["model"] == "opus"
    assert doc["permissions"] == {"allow": ["Bash(npm test:*)"]}  # nothing added to, nothing taken away
    pre = doc["hooks"]["PreToolUse"]
    assert pre[0] == {"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}
    [ours] = pre[1]["hooks"]
    assert ours["type"] == "http"
    assert ours["url"].startswith("http://127.0.0.1:8799/hook?")
    assert "magistrate-broker-start" in ours["url"]
    assert ours["onFailure"] == "block"
    assert doc["hooks"]["PermissionRequest"][0]["hooks"][0]["onFailure"] == "block"
    for event in ("PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd"):
        assert doc["hooks"][event][0]["hooks"][0]["url"] == ours["url"]
    [start] = doc["hooks"]["SessionStart"][0]["hooks"]
    assert start["type"] == "command"
    assert "broker start --port 8799 --policy" in start["command"]

    again = install(
        "--install", scope, "--policy", str(tmp_path / "policy.py"), "--port", "8799", cwd=project, home=home
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""  # installing twice changes nothing
    assert json.loads(target.read_text()) == doc

    removed = install("--uninstall", scope, cwd=project, home=home)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"--- {target} (before)")
    assert target.read_text() == EXISTING
    assert not target.with_name(target.name + ".magistrate.json").exists()


def test_uninstall_keeps_what_was_added_after_the_install(tmp_path: Path) -> None:
    target = tmp_path / "home" / ".claude" / "settings.json"
    done = install("--install", "user", cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("--- ")
    doc = json.loads(target.read_text())
    doc["theme"] = "dark"
    doc["hooks"]["PreToolUse"].append({"matcher": "Read", "hooks": [{"type": "command", "command": "true"}]})
    target.write_text(json.dumps(doc))
    removed = install("--uninstall", "user", cwd=tmp_path, home=tmp_path / "home")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(target.read_text()) == {
        "hooks": {"PreToolUse": [{"matcher": "Read", "hooks": [{"type": "command", "command": "true"}]}]},
        "theme": "dark",
    }


def test_install_into_a_file_that_did_not_exist_and_uninstall_removes_it(tmp_path: Path) -> None:
    target = tmp_path / "home" / ".claude" / "settings.json"
    assert install("--install", "user", cwd=tmp_path, home=tmp_path / "home").returncode == 0
    assert target.exists()
    assert install("--uninstall", "user", cwd=tmp_path, home=tmp_path / "home").returncode == 0
    assert not target.exists()
    nothing = install("--uninstall", "user", cwd=tmp_path, home=tmp_path / "home")
    assert nothing.returncode == 0
    assert "nothing of magistrate is installed" in nothing.stderr


def test_a_team_broker_url_gets_the_token_header_and_no_autostart(tmp_path: Path) -> None:
    target = tmp_path / "managed-settings.json"
    target.write_text('{"allowedHttpHookUrls": ["https://hooks.example.com/*"]}')
    done = install(
        "--install", "managed", "--file", str(target), "--url", "https://broker.internal:8765",
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(target.read_text())
    [hook] = doc["hooks"]["PreToolUse"][0]["hooks"]
    assert hook["url"] == "https://broker.internal:8765/hook"
    assert hook["headers"] == {"Authorization": "Bearer ${MAGISTRATE_BROKER_TOKEN}"}
    assert hook["allowedEnvVars"] == ["MAGISTRATE_BROKER_TOKEN"]
    assert "SessionStart" not in doc["hooks"]
    # An allow-list of hook URLs that left the broker out would block every call: the broker joins it.
    assert doc["allowedHttpHookUrls"] == ["https://hooks.example.com/*", "https://broker.internal:8765/hook*"]
    assert install("--uninstall", "managed", "--file", str(target), cwd=tmp_path, home=tmp_path).returncode == 0
    assert json.loads(target.read_text()) == {"allowedHttpHookUrls": ["https://hooks.example.com/*"]}


def test_a_settings_file_that_is_not_json_is_refused_clearly(tmp_path: Path) -> None:
    target = tmp_path / "home" / ".claude" / "settings.json"
    target.parent.mkdir(parents=True)
    target.write_text("{not json")
    done = install("--install", "user", cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert "cannot be read as JSON" in done.stderr
    assert "Traceback" not in done.stderr
    assert target.read_text() == "{not json"


def test_dry_run_shows_the_change_without_writing(tmp_path: Path) -> None:
    done = install("--install", "user", "--dry-run", cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert '"onFailure": "block"' in done.stdout
    assert not (tmp_path / "home" / ".claude" / "settings.json").exists()
