"""From a decoded stream-json line to the public message types.

The pydantic adapters are imported on the first message, not with the SDK: by then the CLI has been started
and is booting in its own process, so the import overlaps with time the run waits anyway.
"""

from __future__ import annotations

from typing import Any

from magistrate.broker import get_logger
from magistrate.sdk._errors import MessageParseError
from magistrate.sdk._events import Message
from magistrate.sdk._types import ContentBlock, TextBlock

log = get_logger("magistrate.sdk.parse")


def _blocks(content: list[dict[str, Any]]) -> list[ContentBlock]:
    from magistrate.sdk._wire import BLOCK_DEFAULTS, BLOCKS, SERVER_TOOL_RESULT

    blocks: list[ContentBlock] = []
    for raw in content:
        kind = raw.get("type")
        adapter = BLOCKS.get(kind) if isinstance(kind, str) else None
        if adapter is None and isinstance(kind, str) and kind.endswith("_tool_result"):
            blocks.append(SERVER_TOOL_RESULT.validate_python({"content": None, **raw}))
            continue
        if adapter is None:
            log.debug("unknown_block_skipped", block_type=kind)
            continue
        blocks.append(adapter.validate_python({**BLOCK_DEFAULTS.get(str(kind), {}), **raw}))
    return blocks


def _system(data: dict[str, Any]) -> Message:
    from magistrate.sdk._wire import SYSTEM, SYSTEM_SUBTYPES

    subtype = data.get("subtype")
    adapter = SYSTEM_SUBTYPES.get(subtype) if isinstance(subtype, str) else None
    if adapter is None:
        return SYSTEM.validate_python({**data, "data": data})
    fields: dict[str, Any] = {**data, "data": data}
    if subtype == "task_updated":
        raw_patch = data.get("patch")
        patch: dict[str, Any] = raw_patch if isinstance(raw_patch, dict) else {}
        fields.update(patch=patch, status=patch.get("status"), task_id=data.get("task_id", ""))
    elif subtype in ("hook_started", "hook_progress", "hook_response"):
        name = data.get("hook_event") or data.get("hook_name") or data.get("hook_event_name") or ""
        fields["hook_event_name"] = name
    return adapter.validate_python(fields)  # type: ignore[no-any-return]


def _rate_limit(data: dict[str, Any]) -> Message:
    from magistrate.sdk._wire import RATE_LIMIT

    info = data.get("rate_limit_info")
    if not isinstance(info, dict):
        info = {}
    names = {
        "resetsAt": "resets_at",
        "rateLimitType": "rate_limit_type",
        "overageStatus": "overage_status",
        "overageResetsAt": "overage_resets_at",
        "overageDisabledReason": "overage_disabled_reason",
    }
    fields = {names[key]: value for key, value in info.items() if key in names}
    known = ("status", "utilization")
    fields.update({key: info[key] for key in known if key in info}, raw=info)
    return RATE_LIMIT.validate_python({**data, "rate_limit_info": fields})


def parse_message(data: dict[str, Any]) -> Message | None:
    """The public message for one line, or None for a type this SDK does not know (a newer CLI's)."""
    from pydantic import ValidationError

    from magistrate.sdk._wire import (
        ASSISTANT,
        CONVERSATION_RESET,
        RESULT,
        RESULT_DEFAULTS,
        STREAM_EVENT,
        USER,
        WireConversation,
    )

    kind = data.get("type")
    try:
        if kind == "assistant":
            body = WireConversation.model_validate(data).message
            blocks = [TextBlock(text=body.content)] if isinstance(body.content, str) else _blocks(body.content)
            extra = body.model_extra or {}
            details = {
                "usage": extra.get("usage"),
                "message_id": extra.get("id"),
                "stop_reason": extra.get("stop_reason"),
            }
            return ASSISTANT.validate_python({**data, **details, "content": blocks, "model": body.model})
        if kind == "user":
            body = WireConversation.model_validate(data).message
            content = body.content if isinstance(body.content, str) else _blocks(body.content)
            return USER.validate_python({**data, "content": content})
        if kind == "system":
            return _system(data)
        if kind == "result":
            renamed = {"model_usage": data["modelUsage"]} if "modelUsage" in data else {}
            return RESULT.validate_python({**RESULT_DEFAULTS, **data, **renamed})
        if kind == "stream_event":
            return STREAM_EVENT.validate_python(data)
        if kind == "rate_limit_event":
            return _rate_limit(data)
        if kind == "conversation_reset":
            return CONVERSATION_RESET.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MessageParseError(f"{kind} message from the CLI is invalid at {where}: {first['msg']}", data) from exc
    log.debug("unknown_message_skipped", message_type=kind)
    return None
