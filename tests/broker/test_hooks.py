"""The one hook path: hook input parsed once, decided or recorded, answered as the CLI expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from magistrate.broker import (
    Approval,
    CallContext,
    Decision,
    HookInput,
    HookSession,
    RulePolicy,
    ToolCall,
    ToolOutcome,
    permission_mode_of,
)


@dataclass
class RecordingGovernor:
    """A governor over a real policy that keeps what it was asked, instead of a trail."""

    policy: RulePolicy
    calls: list[tuple[ToolCall, CallContext]] = field(default_factory=list)
    outcomes: list[ToolOutcome] = field(default_factory=list)
    cli_decisions: list[tuple[ToolCall, Decision]] = field(default_factory=list)
    fail: bool = False

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        if self.fail:
            raise RuntimeError("the trail is gone")
        self.calls.append((call, context))
        return await self.policy.decide(call, context)

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        self.outcomes.append(outcome)

    async def record_approval(self, approval: Approval) -> None:
        raise AssertionError("no approval is asked for in these tests")

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        self.cli_decisions.append((call, decision))


def _session(governor: RecordingGovernor) -> HookSession:
    return HookSession(governor=governor, approver=None, cwd="/work", permission_mode="acceptEdits")


def _event(**fields: Any) -> HookInput:
    base: dict[str, Any] = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"}}
    return HookInput.model_validate({**base, **fields})


def test_hook_input_keeps_unknown_fields_and_refuses_other_events() -> None:
    event = _event(transcript_path="/tmp/t.jsonl")
    assert event.model_extra == {"transcript_path": "/tmp/t.jsonl"}
    with pytest.raises(ValidationError):
        _event(hook_event_name="Stop")
    with pytest.raises(ValidationError):
        _event(tool_name="")


def test_pre_tool_use_is_decided_with_the_hooks_context() -> None:
    governor = RecordingGovernor(RulePolicy(default="allow", deny=["Bash(rm:*)"]))
    session = _session(governor)

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        with anyio.fail_after(10):
            allowed = await session.answer(_event(tool_use_id="t1", session_id="s1", cwd="/repo", agent_id="a1"))
            denied = await session.answer(_event(tool_use_id="t2", tool_input={"command": "rm -rf /"}))
        return allowed, denied

    allowed, denied = anyio.run(main)
    assert allowed["hookSpecificOutput"]["permissionDecision"] == "allow"
    assert allowed["hookSpecificOutput"]["updatedInput"] == {"command": "ls"}
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "updatedInput" not in denied["hookSpecificOutput"]
    first, second = governor.calls
    assert (first[1].session_id, first[1].cwd, first[1].agent_id) == ("s1", "/repo", "a1")
    assert first[1].permission_mode == "acceptEdits"
    # The session id sticks; the cwd falls back to the session's own.
    assert (second[1].session_id, second[1].cwd) == ("s1", "/work")


def test_a_failing_governor_is_a_deny() -> None:
    session = _session(RecordingGovernor(RulePolicy(default="allow"), fail=True))

    async def main() -> dict[str, Any]:
        with anyio.fail_after(10):
            return await session.answer(_event())

    answer = anyio.run(main)
    assert answer["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "RuntimeError" in answer["hookSpecificOutput"]["permissionDecisionReason"]


def test_outcomes_are_written_after_the_answer_and_unrun_calls_at_close() -> None:
    governor = RecordingGovernor(RulePolicy(default="allow"))
    session = _session(governor)

    async def main() -> list[ToolOutcome]:
        with anyio.fail_after(10):
            for tool_use_id in ("t1", "t2", "t3"):
                await session.answer(_event(tool_use_id=tool_use_id, session_id="s1"))
            post = _event(hook_event_name="PostToolUse", tool_use_id="t1", tool_response="ok")
            assert await session.answer(post) == {}
            failure = _event(hook_event_name="PostToolUseFailure", tool_use_id="t2", error="x" * 5000)
            assert await session.answer(failure) == {}
            assert governor.outcomes == []  # queued: the CLI does not wait for them
            await session.close()
        return governor.outcomes

    success, error, not_run = anyio.run(main)
    assert (success.tool_use_id, success.status, success.session_id) == ("t1", "success", "s1")
    assert (error.tool_use_id, error.status, len(error.error or "")) == ("t2", "error", 2000)
    assert (not_run.tool_use_id, not_run.status) == ("t3", "not_run")


@pytest.mark.parametrize(
    ("given", "expected"), [("plan", "plan"), ("dontAsk", "dontAsk"), ("yolo", "default"), (None, "default")]
)
def test_an_unknown_permission_mode_counts_as_default(given: str | None, expected: str) -> None:
    assert permission_mode_of(given) == expected


def _assistant(*uses: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    blocks = [{"type": "tool_use", "id": i, "name": n, "input": x} for i, n, x in uses]
    return {"type": "assistant", "message": {"role": "assistant", "content": blocks}}


def _results(*results: tuple[str, bool, str], meta: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    blocks = [{"type": "tool_result", "tool_use_id": i, "is_error": e, "content": c} for i, e, c in results]
    message: dict[str, Any] = {"type": "user", "message": {"role": "user", "content": blocks}}
    if meta is not None:
        message["tool_result_meta"] = meta
    return message


def test_calls_the_cli_decided_before_the_hook_are_recorded_once_as_the_clis() -> None:
    # As CLI 2.1.330 streams them: a settings deny and an unknown tool never reach the hook.
    governor = RecordingGovernor(RulePolicy(default="allow"))
    session = _session(governor)
    env = {"file_path": "/repo/.env"}
    meta = [{"id": "t1", "permission_decision": {"decision": "reject", "source": "config", "reason_type": "rule"}}]

    async def main() -> None:
        await session.observe(_assistant(("t1", "Read", env), ("t2", "FooTool", {}), ("t3", "Bash", {"command": "ls"})))
        await session.answer(_event(tool_use_id="t3", session_id="s1"))
        denied = "<tool_use_error>File is in a directory that is denied by your permission settings.</tool_use_error>"
        unknown = "<tool_use_error>Error: No such tool available: FooTool</tool_use_error>"
        await session.observe(_results(("t1", True, denied), ("t2", True, unknown), ("t3", False, "a.txt"), meta=meta))
        await session.observe(_results(("t1", True, denied), meta=meta))  # seen again: not recorded twice

    anyio.run(main)
    assert [call.tool_use_id for call, _ in governor.cli_decisions] == ["t1", "t2"]
    (read, read_decision), (_, unknown_decision) = governor.cli_decisions
    assert (read.tool_name, dict(read.tool_input)) == ("Read", env)
    assert read_decision.behavior == "deny"
    assert read_decision.rule is not None
    assert read_decision.rule.source.kind == "claude_code"
    assert "permission settings" in read_decision.rule.text
    assert read_decision.message == "File is in a directory that is denied by your permission settings."
    assert unknown_decision.rule is not None
    assert "no such tool" in unknown_decision.rule.text
    assert [call.tool_use_id for call, _ in governor.calls] == ["t3"]  # the policy decided only the hooked call
