"""The Anthropic Messages API as the scripted model sees it: requests parsed at the boundary, replies encoded.

Request models keep unknown fields and block types (`extra="allow"`), so a newer CLI that sends something
new is logged, not refused. Replies are plain dicts turned into JSON or server-sent events here and nowhere
else.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_REMINDER = "<system-reminder>"


class RequestBlock(BaseModel):
    """A content block in a request; only the fields the scripted model reads are typed."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: str
    """`text`, `tool_use`, `tool_result`, `thinking`, `image`, ... (unknown types are kept)."""
    text: str | None = None
    """For `text` blocks."""
    id: str | None = None
    """For `tool_use` blocks."""
    name: str | None = None
    """For `tool_use` blocks."""
    input: Any = None
    """For `tool_use` blocks."""
    tool_use_id: str | None = None
    """For `tool_result` blocks: the call this is the result of."""
    content: Any = None
    """For `tool_result` blocks: a string or a list of blocks."""
    is_error: bool | None = None
    """For `tool_result` blocks."""


class RequestMessage(BaseModel):
    """One message of the conversation a request carries."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    role: str
    """`user` or `assistant` (the CLI also sends `system` messages mid-conversation)."""
    content: str | list[RequestBlock]
    """A plain string or a list of blocks."""

    def blocks(self) -> list[RequestBlock]:
        if isinstance(self.content, str):
            return [RequestBlock(type="text", text=self.content)]
        return self.content

    def prompt_text(self) -> str:
        """The user's own words: text blocks that are not system reminders, joined by new lines."""
        parts = [
            b.text for b in self.blocks() if b.type == "text" and b.text and not b.text.lstrip().startswith(_REMINDER)
        ]
        return "\n".join(parts)


class MessagesRequest(BaseModel):
    """The body of `POST /v1/messages` (and of `count_tokens`, which lacks `max_tokens`)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    model: str = "claude-scripted"
    """The requested model; echoed in the reply."""
    messages: list[RequestMessage] = Field(default_factory=list)
    """The whole conversation so far."""
    system: str | list[dict[str, Any]] | None = None
    """The system prompt."""
    tools: list[dict[str, Any]] | None = None
    """Tool definitions offered to the model."""
    max_tokens: int | None = None
    """The output budget."""
    stream: bool = False
    """True for server-sent events, false for one JSON body."""


@dataclass(frozen=True)
class ToolResult:
    """A tool_result block the model received: what came back from a tool call."""

    tool_use_id: str
    content: str
    """The result's text (text blocks of a list joined by new lines)."""
    is_error: bool


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the scripted model answered, kept for tests to inspect."""

    method: str
    path: str
    """Without the query string."""
    headers: dict[str, str]
    """Lower-cased names."""
    body: MessagesRequest | None
    """Parsed body; None for other paths, or when it could not be parsed."""
    error: str | None = None
    """Why the body could not be parsed."""


def result_text(content: Any) -> str:
    """Flatten a tool_result's content (a string or a list of blocks) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(item.get("text", "")) if isinstance(item, dict) else str(item)
            for item in content
            if not isinstance(item, dict) or item.get("type") == "text"
        )
    return json.dumps(content)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def estimate_tokens(text: str) -> int:
    """About four characters a token, the usual rule of thumb; never zero."""
    return max(1, len(text) // 4)


def error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 404: "not_found_error", 405: "not_found_error", 500: "api_error"}
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}


def message_body(model: str, content: list[dict[str, Any]], stop_reason: str, usage: dict[str, int]) -> dict[str, Any]:
    """A complete (non-streaming) Messages API reply."""
    return {
        "id": new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def message_start(message: dict[str, Any]) -> bytes:
    """The first event of a stream: the message with no content yet."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    return sse("message_start", {"type": "message_start", "message": start})


def message_end(message: dict[str, Any]) -> bytes:
    """The last events of a stream: why the message stopped, the final output count, the end."""
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": message["usage"]["output_tokens"]}
    return sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}) + sse(
        "message_stop", {"type": "message_stop"}
    )


def _chunks(text: str, size: int = 48, most: int = 64) -> list[str]:
    """Small deltas, as a real model streams them, but at most `most` of them: a 20 MB block in 48-byte deltas
    would spend the test's time on event overhead instead of on what the test is about."""
    size = max(size, -(-len(text) // most))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    """The content_block_start / _delta / _stop events that stream one block."""
    kind = block["type"]
    start: dict[str, Any]
    deltas: list[dict[str, Any]]
    if kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _chunks(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": ""}
        deltas = [{"type": "thinking_delta", "thinking": part} for part in _chunks(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in _chunks(json.dumps(block["input"]))]
    events = [sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
    events.extend(
        sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
    )
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events
