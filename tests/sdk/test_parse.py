"""From a decoded stream-json line to the public message types: what is kept, what is skipped, what fails."""

from __future__ import annotations

from typing import Any

import pytest

from magistrate.sdk import (
    AssistantMessage,
    MessageParseError,
    ResultMessage,
    ServerToolUseBlock,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)
from magistrate.sdk._parse import parse_message

RESULT: dict[str, Any] = {
    "type": "result",
    "subtype": "success",
    "duration_ms": 12,
    "duration_api_ms": 10,
    "is_error": False,
    "num_turns": 2,
    "session_id": "s1",
    "total_cost_usd": 0.01,
    "usage": {"input_tokens": 3},
    "result": "done",
}


def test_a_result_keeps_every_field() -> None:
    assert parse_message(RESULT) == ResultMessage(
        subtype="success",
        duration_ms=12,
        duration_api_ms=10,
        is_error=False,
        num_turns=2,
        session_id="s1",
        total_cost_usd=0.01,
        usage={"input_tokens": 3},
        result="done",
    )


def test_a_result_without_api_time_counts_zero_and_optional_fields_default() -> None:
    line = {k: v for k, v in RESULT.items() if k not in ("duration_api_ms", "total_cost_usd", "usage", "result")}
    parsed = parse_message(line)
    assert isinstance(parsed, ResultMessage)
    assert (parsed.duration_api_ms, parsed.total_cost_usd, parsed.usage, parsed.result) == (0, None, None, None)


def test_fields_a_newer_cli_adds_are_ignored() -> None:
    parsed = parse_message({**RESULT, "stop_reason": "end_turn", "fast_mode": "off", "sparkles": 3})
    assert isinstance(parsed, ResultMessage)
    assert parsed.stop_reason == "end_turn"
    assert not hasattr(parsed, "fast_mode")
    assert not hasattr(parsed, "sparkles")


def test_an_assistant_message_keeps_known_blocks_in_order_and_skips_unknown_ones() -> None:
    line = {
        "type": "assistant",
        "message": {
            "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "hello", "citations": None},
                {"type": "sparkle", "x": 1},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "server_tool_use", "id": "t2", "name": "web_search"},
                {"type": "mcp_tool_use", "id": "t3", "name": "lookup", "input": {"q": 1}},
            ],
        },
        "parent_tool_use_id": "p1",
        "session_id": "s1",
    }
    assert parse_message(line) == AssistantMessage(
        content=[
            ThinkingBlock(thinking="hmm", signature="sig"),
            TextBlock(text="hello"),
            ToolUseBlock(id="t1", name="Bash", input={"command": "ls"}),
            ServerToolUseBlock(id="t2", name="web_search", input={}),
            ToolUseBlock(id="t3", name="lookup", input={"q": 1}),
        ],
        model="claude-x",
        parent_tool_use_id="p1",
        session_id="s1",
    )


def test_assistant_text_given_as_a_string_is_one_text_block() -> None:
    parsed = parse_message({"type": "assistant", "message": {"content": "plain"}})
    assert parsed == AssistantMessage(content=[TextBlock(text="plain")], model="")


def test_a_user_message_keeps_a_prompt_or_its_tool_results() -> None:
    assert parse_message({"type": "user", "message": {"role": "user", "content": "hi"}}) == UserMessage(content="hi")
    results = {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok", "is_error": True}]},
        "parent_tool_use_id": "p1",
    }
    assert parse_message(results) == UserMessage(
        content=[ToolResultBlock(tool_use_id="t1", content="ok", is_error=True)], parent_tool_use_id="p1"
    )


def test_a_system_message_keeps_the_whole_line() -> None:
    line = {"type": "system", "subtype": "init", "tools": ["Bash"], "data": "shadowed"}
    assert parse_message(line) == SystemMessage(subtype="init", data=line)


def test_a_stream_event_keeps_the_raw_event() -> None:
    line = {"type": "stream_event", "uuid": "u1", "session_id": "s1", "event": {"type": "message_start"}}
    assert parse_message(line) == StreamEvent(uuid="u1", session_id="s1", event={"type": "message_start"})


def test_a_message_type_this_sdk_does_not_know_is_skipped() -> None:
    assert parse_message({"type": "hologram", "payload": 1}) is None


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ({k: v for k, v in RESULT.items() if k != "session_id"}, "session_id"),
        ({**RESULT, "num_turns": "many"}, "num_turns"),
        ({"type": "assistant", "message": {"model": "m"}}, "message.content"),
        ({"type": "assistant", "message": {"content": [{"type": "tool_use", "name": "Bash"}]}}, "id"),
        ({"type": "user"}, "message"),
        ({"type": "system"}, "subtype"),
        ({"type": "stream_event", "uuid": "u1", "session_id": "s1"}, "event"),
    ],
)
def test_a_known_type_missing_what_it_needs_is_a_parse_error_naming_where(line: dict[str, Any], where: str) -> None:
    with pytest.raises(MessageParseError, match=f"invalid at {where}:") as raised:
        parse_message(line)
    assert raised.value.data == line
