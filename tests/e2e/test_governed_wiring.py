"""How governance composes with what a user already passes: sub-agents, can_use_tool, mcp_servers, failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import CallContext, Decision, ToolCall, ToolOutcome
from magistrate.broker._interfaces import Approval
from magistrate.sdk import (
    ClaudeCodeOptions,
    OptionsError,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
    create_sdk_mcp_server,
    query,
)
from magistrate.sdk.scripted_model import ScriptedModel


class RecordingGovernor:
    """A Governor that decides by command and remembers everything it was told."""

    def __init__(self, rules: dict[str, str], *, fail: bool = False) -> None:
        self.rules = rules
        self.fail = fail
        self.calls: list[tuple[ToolCall, CallContext]] = []
        self.outcomes: list[ToolOutcome] = []
        self.approvals: list[Approval] = []
        self.cli_decisions: list[tuple[ToolCall, Decision]] = []

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        self.calls.append((call, context))
        if self.fail:
            raise RuntimeError("broker is down")
        command = str(call.tool_input.get("command", ""))
        behavior = next((b for prefix, b in self.rules.items() if command.startswith(prefix)), "allow")
        return Decision(behavior, call.tool_input, message=f"{behavior} by test rule")  # type: ignore[arg-type]

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        self.outcomes.append(outcome)

    async def record_approval(self, approval: Approval) -> None:
        self.approvals.append(approval)

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        self.cli_decisions.append((call, decision))


def _bash(command: str) -> dict[str, Any]:
    return {"name": "Bash", "input": {"command": command}}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedModel]:
    scenario = {
        "rules": [
            {"contains": "subagent:", "turns": [{"tool_calls": [_bash("ls /")]}, "sub-agent finished"]},
            {
                "contains": "delegate",
                "turns": [
                    {
                        "tool_calls": [
                            {
                                "name": "Task",
                                "input": {
                                    "description": "list the root",
                                    "prompt": "subagent: list the root folder",
                                    "subagent_type": "general-purpose",
                                    # in the foreground: the main agent waits for it, so the run cannot end first
                                    "run_in_background": False,
                                },
                            }
                        ]
                    },
                    "main agent finished",
                ],
            },
            {
                "contains": "three calls",
                "turns": [
                    {"tool_calls": [_bash("touch denied.txt"), _bash("touch asked.txt"), _bash("echo ok")]},
                    "done",
                ],
            },
        ],
        "default": {"turns": ["nothing"]},
    }
    with ScriptedModel(scenario) as scripted:
        for key, value in scripted.env().items():
            monkeypatch.setenv(key, value)
        yield scripted


async def _run(prompt: str, options: ClaudeCodeOptions) -> list[Any]:
    with anyio.fail_after(90):
        return [m async for m in query(prompt=prompt, options=options)]


@pytest.mark.anyio
async def test_a_sub_agents_calls_are_decided_too(model: ScriptedModel, tmp_path: Path) -> None:
    governor = RecordingGovernor({"ls": "deny"})
    await _run("delegate this", ClaudeCodeOptions(cwd=tmp_path, governor=governor))
    decided = [call.tool_name for call, _ in governor.calls]
    assert decided[:2] == ["Agent", "Bash"]  # this CLI reports its Task tool to hooks as Agent
    ls_call, ls_context = governor.calls[1]
    assert ls_call.tool_input["command"] == "ls /"
    assert ls_context.agent_id
    results = {r.content for r in model.tool_results()}
    assert any("deny by test rule" in content for content in results)


@pytest.mark.anyio
async def test_can_use_tool_answers_asks_but_never_overturns_a_deny(model: ScriptedModel, tmp_path: Path) -> None:
    asked: list[str] = []

    async def yes_to_everything(
        name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        asked.append(str(tool_input.get("command")))
        return PermissionResultAllow()

    governor = RecordingGovernor({"touch denied": "deny", "touch asked": "ask"})
    options = ClaudeCodeOptions(cwd=tmp_path, governor=governor, can_use_tool=yes_to_everything)
    await _run("three calls", options)
    assert asked == ["touch asked.txt"]
    assert not (tmp_path / "denied.txt").exists()
    assert (tmp_path / "asked.txt").exists()
    assert [(a.behavior, a.approver) for a in governor.approvals] == [
        ("allow", "callback:" + yes_to_everything.__qualname__)
    ]
    assert sorted(o.status for o in governor.outcomes) == ["success", "success"]


@pytest.mark.anyio
async def test_a_failing_broker_denies_every_call(model: ScriptedModel, tmp_path: Path) -> None:
    governor = RecordingGovernor({}, fail=True)
    await _run("three calls", ClaudeCodeOptions(cwd=tmp_path, governor=governor))
    results = model.tool_results()
    assert len(results) == 3
    assert all(r.is_error and "broker failed" in r.content for r in results)
    assert not (tmp_path / "asked.txt").exists()


@pytest.mark.anyio
async def test_a_server_named_like_a_bundled_one_is_refused(tmp_path: Path) -> None:
    options = ClaudeCodeOptions(cwd=tmp_path, mcp_servers={"documents": create_sdk_mcp_server("documents")})
    with pytest.raises(OptionsError, match="documents"):
        await _run("hi", options)
