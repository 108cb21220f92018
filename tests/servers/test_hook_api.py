"""`POST /hook` in memory: every answer explicit, asks resolved or left to the CLI's prompt, and all recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from magistrate.broker import (
    Approval,
    ApprovalRecord,
    AskRequest,
    Broker,
    CallbackApprover,
    RulePolicy,
    Trail,
    parse_record,
)
from magistrate.servers._hook_api import HookEndpoint

pytestmark = pytest.mark.anyio

POLICY = RulePolicy(default="allow", deny=["Bash(ls:*)"], ask=["Bash(touch:*)"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    trail = Trail.open(tmp_path / "trail.sqlite3")
    try:
        yield Broker(POLICY, trail)
    finally:
        await trail.aclose()


def event(name: str, command: str = "echo hi", tool_use_id: str = "toolu_1", **extra: Any) -> bytes:
    body: dict[str, Any] = {"hook_event_name": name, "session_id": "s1", "cwd": "/tmp", "tool_name": "Bash"}
    body.update(tool_input={"command": command}, tool_use_id=tool_use_id, **extra)
    return json.dumps(body).encode()


def decision_of(answer: dict[str, Any]) -> str:
    return str(answer["hookSpecificOutput"]["permissionDecision"])


async def answer(endpoint: HookEndpoint, raw: bytes) -> dict[str, Any]:
    got, after = await endpoint.answer(raw)
    if after is not None:
        await after()
    return got


def approvals(broker: Broker) -> dict[str | None, Approval]:
    """The trail's approvals by tool_use_id, as an auditor reads them."""
    found: dict[str | None, Approval] = {}
    for stored in broker.trail.records():
        record = parse_record(stored.body)
        if isinstance(record, ApprovalRecord):
            found[stored.tool_use_id] = record.approval
    return found


async def test_every_pre_tool_use_gets_an_explicit_answer(broker: Broker) -> None:
    endpoint = HookEndpoint(broker, broker.trail, None, approval_timeout=5)
    assert decision_of(await answer(endpoint, event("PreToolUse", "echo hi"))) == "allow"
    assert decision_of(await answer(endpoint, event("PreToolUse", "ls", "toolu_2"))) == "deny"
    # What cannot be read is a deny, never the empty answer that would leave the call to the CLI's rules.
    assert decision_of(await answer(endpoint, b"{not json")) == "deny"
    assert decision_of(await answer(endpoint, b'{"hook_event_name": "PreToolUse"}')) == "deny"
    assert await answer(endpoint, b'{"hook_event_name": "PostToolUse"}') == {}


async def test_an_ask_left_to_the_cli_prompt_is_recorded_as_answered_there(broker: Broker) -> None:
    endpoint = HookEndpoint(broker, broker.trail, None, approval_timeout=5)
    assert decision_of(await answer(endpoint, event("PreToolUse", "touch a", "toolu_a"))) == "ask"
    assert decision_of(await answer(endpoint, event("PreToolUse", "touch b", "toolu_b"))) == "ask"
    assert await answer(endpoint, event("PermissionRequest", "touch a", "toolu_a")) == {}  # the CLI's prompt asks
    await answer(endpoint, event("PostToolUse", "touch a", "toolu_a", tool_response={"stdout": ""}))
    stop = {"hook_event_name": "Stop", "session_id": "s1", "transcript_path": "/nonexistent"}
    await answer(endpoint, json.dumps(stop).encode())
    recorded = approvals(broker)
    assert set(recorded) == {"toolu_a", "toolu_b"}
    a, b = recorded["toolu_a"], recorded["toolu_b"]
    assert (a.behavior, a.approver) == ("allow", "cli-prompt")
    assert (b.behavior, b.approver) == ("deny", "cli-prompt")


async def test_with_an_approver_the_ask_is_answered_inside_the_hook_and_recorded(broker: Broker) -> None:
    seen: list[AskRequest] = []

    def approve(ask: AskRequest) -> bool:
        seen.append(ask)
        return "yes" in str(ask.input.get("command"))

    endpoint = HookEndpoint(broker, broker.trail, CallbackApprover(approve, "reviewer"), approval_timeout=5)
    assert decision_of(await answer(endpoint, event("PreToolUse", "touch yes", "toolu_y"))) == "allow"
    assert decision_of(await answer(endpoint, event("PreToolUse", "touch no", "toolu_n"))) == "deny"
    assert [a.tool_use_id for a in seen] == ["toolu_y", "toolu_n"]
    # The CLI's own asks (PermissionRequest) go to the same approver.
    allowed = await answer(endpoint, event("PermissionRequest", "touch yes"))
    assert allowed["hookSpecificOutput"]["decision"] == {"behavior": "allow"}
    recorded = approvals(broker)
    assert (recorded["toolu_y"].approver, recorded["toolu_y"].behavior) == ("callback:reviewer", "allow")
    assert recorded["toolu_n"].behavior == "deny"
    assert recorded[None].behavior == "allow"


async def test_an_approver_that_fails_is_a_deny(broker: Broker) -> None:
    def broken(ask: AskRequest) -> bool:
        raise RuntimeError("the approver is down")

    endpoint = HookEndpoint(broker, broker.trail, CallbackApprover(broken), approval_timeout=5)
    assert decision_of(await answer(endpoint, event("PreToolUse", "touch x", "toolu_x"))) == "deny"
    refused = await answer(endpoint, event("PermissionRequest", "touch x"))
    assert refused["hookSpecificOutput"]["decision"]["behavior"] == "deny"
