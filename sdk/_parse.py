"""From a decoded stream-json line to the public message types.

The pydantic adapters are imported on the first message, not with the SDK: by then the CLI has been started
and is booting in its own process, so the import overlaps with time the run waits anyway.
"""

from __future__ import annotations

from typing import Any

from magistrate.broker import get_logger
from magistrate.sdk._errors import MessageParseError
from magistrate.sdk._types import ContentBlock, Message, TextBlock

log = get_logger("magistrate.sdk.parse")


def _blocks(content: list[dict[str, Any]]) -> list[ContentBlock]:
    from magistrate.sdk._wire import BLOCKS

    blocks: list[ContentBlock] = []
    for raw in content:
        kind = raw.get("type")
        adapter = BLOCKS.get(kind) if isinstance(kind, str) else None
        if adapter is None:
            log.debug("unknown_block_skipped", block_type=kind)
            continue
        blocks.append(adapter.validate_python(raw))
    return blocks


def parse_message(data: dict[str, Any]) -> Message | None:
    """The public message for one line, or None for a type this SDK does not know (a newer CLI's)."""
    from pydantic import ValidationError

    from magistrate.sdk._wire import ASSISTANT, RESULT, RESULT_DEFAULTS, STREAM_EVENT, SYSTEM, USER, WireConversation

    kind = data.get("type")
    try:
        if kind == "assistant":
            body = WireConversation.model_validate(data).message
            blocks = [TextBlock(text=body.content)] if isinstance(body.content, str) else _blocks(body.content)
            return ASSISTANT.validate_python({**data, "content": blocks, "model": body.model})
        if kind == "user":
            body = WireConversation.model_validate(data).message
            content = body.content if isinstance(body.content, str) else _blocks(body.content)
            return USER.validate_python({**data, "content": content})
        if kind == "system":
            return SYSTEM.validate_python({**data, "data": data})
        if kind == "result":
            return RESULT.validate_python({**RESULT_DEFAULTS, **data})
        if kind == "stream_event":
            return STREAM_EVENT.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MessageParseError(f"{kind} message from the CLI is invalid at {where}: {first['msg']}", data) from exc
    log.debug("unknown_message_skipped", message_type=kind)
    return None
