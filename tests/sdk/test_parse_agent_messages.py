"""The message types of the claude_agent_sdk generation, read from the CLI's lines."""

from __future__ import annotations

from magistrate.sdk import (
    AssistantMessage,
    ConversationResetMessage,
    DeferredToolUse,
    HookEventMessage,
    RateLimitEvent,
    RateLimitInfo,
    ResultMessage,
    ServerToolResultBlock,
    SystemMessage,
    TaskNotificationMessage,
    TaskStartedMessage,
    TaskUpdatedMessage,
)
from magistrate.sdk._parse import parse_message

BASE = {"uuid": "u1", "session_id": "s1"}


def test_task_events_are_their_own_types_and_still_system_messages() -> None:
    started = parse_message(
        {"type": "system", "subtype": "task_started", "task_id": "t1", "description": "Run tests", **BASE}
    )
    assert isinstance(started, TaskStartedMessage)
    assert isinstance(started, SystemMessage)
    assert (started.task_id, started.description, started.data["subtype"]) == ("t1", "Run tests", "task_started")
    done = parse_message(
        {
            "type": "system",
            "subtype": "task_notification",
            "task_id": "t1",
            "status": "completed",
            "output_file": "/tmp/out",
            "summary": "All passed",
            **BASE,
        }
    )
    assert isinstance(done, TaskNotificationMessage)
    assert done.status == "completed"
    updated = parse_message(
        {"type": "system", "subtype": "task_updated", "task_id": "t1", "patch": {"status": "killed"}}
    )
    assert isinstance(updated, TaskUpdatedMessage)
    assert updated.status == "killed"


def test_hook_events_rate_limits_and_resets_are_read() -> None:
    hook = parse_message({"type": "system", "subtype": "hook_started", "hook_event": "PreToolUse", **BASE})
    assert isinstance(hook, HookEventMessage)
    assert hook.hook_event_name == "PreToolUse"
    info = {"status": "allowed_warning", "resetsAt": 1700, "rateLimitType": "five_hour", "utilization": 0.9}
    limit = parse_message({"type": "rate_limit_event", "rate_limit_info": info, **BASE})
    assert limit == RateLimitEvent(
        rate_limit_info=RateLimitInfo(
            status="allowed_warning", resets_at=1700, rate_limit_type="five_hour", utilization=0.9, raw=info
        ),
        uuid="u1",
        session_id="s1",
    )
    reset = parse_message({"type": "conversation_reset", "new_conversation_id": "c2", **BASE})
    assert reset == ConversationResetMessage(new_conversation_id="c2", uuid="u1", session_id="s1")


def test_a_result_carries_structured_output_usage_by_model_and_a_deferred_call() -> None:
    result = parse_message(
        {
            "type": "result",
            "subtype": "success",
            "duration_ms": 5,
            "duration_api_ms": 4,
            "is_error": False,
            "num_turns": 1,
            "session_id": "s1",
            "structured_output": {"answer": 42},
            "modelUsage": {"claude-x": {"inputTokens": 1}},
            "deferred_tool_use": {"id": "t9", "name": "Bash", "input": {"command": "make"}},
        }
    )
    assert isinstance(result, ResultMessage)
    assert result.structured_output == {"answer": 42}
    assert result.model_usage == {"claude-x": {"inputTokens": 1}}
    assert result.deferred_tool_use == DeferredToolUse(id="t9", name="Bash", input={"command": "make"})


def test_an_assistant_message_keeps_its_id_usage_and_server_tool_results() -> None:
    line = {
        "type": "assistant",
        "message": {
            "id": "msg_1",
            "model": "claude-x",
            "stop_reason": "end_turn",
            "usage": {"output_tokens": 3},
            "content": [{"type": "web_search_tool_result", "tool_use_id": "s1", "content": [{"url": "x"}]}],
        },
        **BASE,
    }
    message = parse_message(line)
    assert isinstance(message, AssistantMessage)
    assert (message.message_id, message.stop_reason, message.usage) == ("msg_1", "end_turn", {"output_tokens": 3})
    assert message.content == [ServerToolResultBlock(tool_use_id="s1", content=[{"url": "x"}])]


def test_an_unknown_message_type_is_still_skipped() -> None:
    assert parse_message({"type": "sparkle_event", **BASE}) is None
