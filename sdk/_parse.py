"""From a decoded stream-json line to the public message types.

The pydantic wire models are imported on the first message, not with the SDK: by then the CLI has been
started and is booting in its own process, so the import overlaps with time the run waits anyway.
"""

from __future__ import annotations

from typing import Any

from magistrate.broker import get_logger
from magistrate.sdk._errors import MessageParseError
from magistrate.sdk._types import (
    AssistantMessage,
    ContentBlock,
    Message,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

log = get_logger("magistrate.sdk.parse")


def _block(raw: dict[str, Any]) -> ContentBlock | None:
    from magistrate.sdk._wire import WireTextBlock, WireThinkingBlock, WireToolResultBlock, WireToolUseBlock

    kind = raw.get("type")
    if kind == "text":
        text = WireTextBlock.model_validate(raw)
        return TextBlock(text=text.text)
    if kind == "thinking":
        thinking = WireThinkingBlock.model_validate(raw)
        return ThinkingBlock(thinking=thinking.thinking, signature=thinking.signature)
    if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        use = WireToolUseBlock.model_validate(raw)
        return ToolUseBlock(id=use.id, name=use.name, input=use.input)
    if kind == "tool_result":
        result = WireToolResultBlock.model_validate(raw)
        return ToolResultBlock(tool_use_id=result.tool_use_id, content=result.content, is_error=result.is_error)
    log.debug("unknown_block_skipped", block_type=kind)
    return None


def _blocks(content: list[dict[str, Any]]) -> list[ContentBlock]:
    return [block for raw in content if (block := _block(raw)) is not None]


def parse_message(data: dict[str, Any]) -> Message | None:
    """The public message for one line, or None for a type this SDK does not know (a newer CLI's)."""
    from pydantic import ValidationError

    from magistrate.sdk._wire import WireAssistant, WireResult, WireStreamEvent, WireSystem, WireUser

    kind = data.get("type")
    try:
        if kind == "assistant":
            assistant = WireAssistant.model_validate(data)
            content = assistant.message.content
            blocks: list[ContentBlock] = [TextBlock(text=content)] if isinstance(content, str) else _blocks(content)
            return AssistantMessage(
                content=blocks, model=assistant.message.model, parent_tool_use_id=assistant.parent_tool_use_id
            )
        if kind == "user":
            user = WireUser.model_validate(data)
            body = user.message.content
            return UserMessage(
                content=body if isinstance(body, str) else _blocks(body),
                parent_tool_use_id=user.parent_tool_use_id,
            )
        if kind == "system":
            system = WireSystem.model_validate(data)
            return SystemMessage(subtype=system.subtype, data=data)
        if kind == "result":
            result = WireResult.model_validate(data)
            return ResultMessage(
                subtype=result.subtype,
                duration_ms=result.duration_ms,
                duration_api_ms=result.duration_api_ms,
                is_error=result.is_error,
                num_turns=result.num_turns,
                session_id=result.session_id,
                total_cost_usd=result.total_cost_usd,
                usage=result.usage,
                result=result.result,
            )
        if kind == "stream_event":
            event = WireStreamEvent.model_validate(data)
            return StreamEvent(
                uuid=event.uuid,
                session_id=event.session_id,
                event=event.event,
                parent_tool_use_id=event.parent_tool_use_id,
            )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MessageParseError(f"{kind} message from the CLI is invalid at {where}: {first['msg']}", data) from exc
    log.debug("unknown_message_skipped", message_type=kind)
    return None
