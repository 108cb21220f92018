"""The real Claude Code CLI, offline, against the scripted model: what the rest of the suite relies on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from magistrate.sdk.scripted_model import Rule, Scenario, ScriptedModel, Text, ToolCall, Turn
from tests._harness import cli_env, run_cli

ModelFactory = Callable[[Scenario | dict[str, Any]], ScriptedModel]


def test_greeting(claude_cli: Path, isolated_home: Path, tmp_path: Path) -> None:
    scenario = Scenario(rules=(Rule(contains="hello", turns=(Turn(text="Hello from the scripted model."),)),))
    with ScriptedModel(scenario) as model:
        run = run_cli("hello there", model=model, home=isolated_home, cwd=tmp_path, claude=claude_cli)
    assert run.returncode == 0, run.stderr
    assert run.result["subtype"] == "success"
    assert run.text == "Hello from the scripted model."
    [request] = model.message_requests()
    assert request.stream
    assert model.requests[0].headers["x-api-key"] == "scripted-model"
    assert run.result["usage"]["input_tokens"] > 0


def test_allowed_bash_call_result_reaches_the_model(claude_cli: Path, isolated_home: Path, tmp_path: Path) -> None:
    # A command that writes a file is not read-only, so it runs only because --allowedTools allows it.
    command = "printf scripted-%s $((6*7)) | tee made.txt"
    scenario = {
        "rules": [
            {
                "contains": "make the file",
                "turns": [
                    {"text": "Making it.", "tool_calls": [{"name": "Bash", "input": {"command": command}}]},
                    "The tool said: {last_tool_result}",
                ],
            }
        ]
    }
    with ScriptedModel(scenario) as model:
        run = run_cli(
            "please make the file",
            model=model,
            home=isolated_home,
            cwd=tmp_path,
            args=["--allowedTools", "Bash"],
            claude=claude_cli,
        )
    assert run.returncode == 0, run.stderr
    [call] = run.calls("Bash")
    assert not call.denied
    assert call.output == "scripted-42"
    assert (tmp_path / "made.txt").read_text() == "scripted-42"
    [result] = model.tool_results()
    assert (result.tool_use_id, result.content, result.is_error) == (call.id, "scripted-42", False)
    assert run.text == "The tool said: scripted-42"


def test_unallowed_bash_call_is_denied(scripted_model: ModelFactory, isolated_home: Path, tmp_path: Path) -> None:
    turns = ({"tool_calls": [{"name": "Bash", "input": {"command": "touch made.txt"}}]}, "Got: {last_tool_result}")
    model = scripted_model({"default": {"turns": turns}})
    run = run_cli("go", model=model, home=isolated_home, cwd=tmp_path)
    assert run.denied("Bash")
    assert not (tmp_path / "made.txt").exists()
    [result] = model.tool_results()
    assert result.is_error


def test_several_blocks_in_one_turn(claude_cli: Path, isolated_home: Path, tmp_path: Path) -> None:
    turn = Turn(
        thinking="Two things to check.",
        text="Checking both.",
        tool_calls=(
            ToolCall(name="Bash", input={"command": "echo one"}),
            ToolCall(name="Bash", input={"command": "echo two"}),
        ),
    )
    scenario = Scenario(default=Rule(turns=(turn, Turn(blocks=(Text(text="Both done."),)))))
    with ScriptedModel(scenario) as model:
        run = run_cli("check", model=model, home=isolated_home, cwd=tmp_path, args=["--allowedTools", "Bash"])
    assert run.returncode == 0, run.stderr
    assert [c.output for c in run.calls("Bash")] == ["one", "two"]
    assert run.assistant_blocks("thinking")[0]["thinking"] == "Two things to check."
    # Both results came back to the model together, in the one request that followed the turn.
    requests = model.message_requests()
    assert len(requests) == 2
    last = requests[1].messages[-1]
    assert [b.type for b in last.blocks() if b.type == "tool_result"] == ["tool_result", "tool_result"]
    assert run.text == "Both done."


def test_delay(claude_cli: Path, isolated_home: Path, tmp_path: Path) -> None:
    with ScriptedModel({"default": {"turns": [{"text": "Slow hello.", "delay": 1.0}]}}) as model:
        started = time.monotonic()
        run = run_cli("hi", model=model, home=isolated_home, cwd=tmp_path, claude=claude_cli)
        elapsed = time.monotonic() - started
    assert run.text == "Slow hello."
    assert elapsed >= 1.0


def test_settings_reach_the_cli(claude_cli: Path, isolated_home: Path, tmp_path: Path) -> None:
    turns = ({"tool_calls": [{"name": "Bash", "input": {"command": "touch made.txt"}}]}, "Done.")
    with ScriptedModel({"default": {"turns": turns}}) as model:
        run = run_cli(
            "go",
            model=model,
            home=isolated_home,
            cwd=tmp_path,
            settings={"permissions": {"allow": ["Bash(touch:*)"]}},
            claude=claude_cli,
        )
    [call] = run.calls("Bash")
    assert not call.denied
    assert not call.is_error
    assert (tmp_path / "made.txt").exists()


def test_environment_is_scrubbed(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_MODEL", "leaked")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", "/leaked")
    with ScriptedModel({}) as model:
        env = cli_env(model, isolated_home, EXTRA="1")
    assert env["HOME"] == str(isolated_home)
    assert env["ANTHROPIC_BASE_URL"] == model.base_url
    assert env["EXTRA"] == "1"
    assert "ANTHROPIC_MODEL" not in env
    assert "CLAUDE_CONFIG_DIR" not in env
    assert "PATH" in env
