"""Calls the CLI refuses before any hook still land in the trail, once, as the CLI's own decisions.

The project's `.claude/settings.json` denies `Read(./.env)`; the model reads `.env` anyway, calls a tool the
CLI does not have, and makes one ordinary call. The real CLI 2.1.330 refuses the first two without running
a hook. The trail must still hold exactly one decision per call the model made: the two refusals attributed
to the CLI (`claude_code`), the ordinary call to the policy. Checked for an SDK run and for plain `claude`
under `magistrate settings`.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from magistrate.sdk import ClaudeCodeOptions, query
from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import run_cli
from tests.e2e._cases import bash, decisions_of, magistrate, trail_records

POLICY = 'from magistrate.broker import RulePolicy\n\npolicy = RulePolicy(default="allow")\n'


@pytest.fixture
def project(workspace: Path) -> Path:
    (workspace / ".env").write_text("SECRET=hunter2\n")
    (workspace / ".claude").mkdir()
    (workspace / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["Read(./.env)"]}}))
    return workspace


@pytest.fixture
def model(project: Path) -> Iterator[ScriptedModel]:
    calls = [
        {"name": "Read", "input": {"file_path": str(project / ".env")}},
        {"name": "NoSuchTool", "input": {"x": 1}},
        bash("echo fine"),
    ]
    scenario = {"rules": [{"turns": [{"tool_calls": calls}, "done"]}]}
    with ScriptedModel(scenario) as scripted:
        yield scripted


def _check(db: Path, project: Path) -> None:
    decisions = decisions_of(trail_records(db))
    by_tool = {r.tool_name: r.decision for r in decisions}
    assert len(decisions) == 3, decisions  # one per call the model made, none twice
    assert set(by_tool) == {"Read", "NoSuchTool", "Bash"}
    assert [r.input for r in decisions if r.tool_name == "Read"] == [{"file_path": str(project / ".env")}]
    env_read = by_tool["Read"]
    assert env_read.behavior == "deny"
    assert env_read.rule is not None
    assert env_read.rule.source.kind == "claude_code"
    assert "permission settings" in env_read.rule.text
    assert "denied by your permission settings" in env_read.message
    assert by_tool["NoSuchTool"].rule is not None
    assert (by_tool["NoSuchTool"].behavior, by_tool["NoSuchTool"].rule.source.kind) == ("deny", "claude_code")
    assert by_tool["Bash"].rule is not None
    assert (by_tool["Bash"].behavior, by_tool["Bash"].rule.source.kind) == ("allow", "default")
    assert magistrate("audit", "verify", "--db", str(db)).returncode == 0


@pytest.mark.anyio
async def test_an_sdk_run_records_the_calls_the_cli_refused_alone(
    project: Path, model: ScriptedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in model.env().items():
        monkeypatch.setenv(key, value)
    (tmp_path / "policy.py").write_text(POLICY)
    db = tmp_path / "trail.sqlite3"
    options = ClaudeCodeOptions(cwd=project, policy=tmp_path / "policy.py", audit=db)
    messages: list[Any] = [m async for m in query(prompt="read the env", options=options)]
    assert messages
    assert "hunter2" not in json.dumps([str(m) for m in messages])
    _check(db, project)


def test_plain_claude_under_magistrate_settings_records_them_too(
    claude_cli: Path, isolated_home: Path, project: Path, model: ScriptedModel, tmp_path: Path
) -> None:
    (tmp_path / "policy.py").write_text(POLICY)
    db = tmp_path / "trail.sqlite3"
    done = magistrate(
        "settings", "--policy", str(tmp_path / "policy.py"), "--db", str(db), "--out", str(tmp_path / "cfg")
    )
    assert done.returncode == 0, done.stderr
    _, *args = shlex.split(done.stdout)
    env = {"XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"], "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}
    run = run_cli("read the env", model=model, home=isolated_home, cwd=project, args=args, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "hunter2" not in json.dumps(run.messages)
    _check(db, project)
