"""The stream-json lines the CLI writes, as pydantic models: validated once, here, at the boundary.

Every model allows extra fields: a newer CLI adds fields often, and an older SDK must keep working. A message
type or block type this SDK does not know is skipped by the parser with a debug log, never an error; a known
type missing a field it needs is a `MessageParseError`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class WireTextBlock(_Wire):
    type: Literal["text"]
    text: str


class WireThinkingBlock(_Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str = ""


class WireToolUseBlock(_Wire):
    type: Literal["tool_use", "server_tool_use", "mcp_tool_use"]
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class WireToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[dict[str, Any]] | None = None
    is_error: bool | None = None


class WireMessageBody(_Wire):
    content: str | list[dict[str, Any]]
    """Blocks stay dicts here so that one unknown block type drops that block, not the message."""
    model: str = ""


class WireUser(_Wire):
    type: Literal["user"]
    message: WireMessageBody
    parent_tool_use_id: str | None = None
    session_id: str | None = None


class WireAssistant(_Wire):
    type: Literal["assistant"]
    message: WireMessageBody
    parent_tool_use_id: str | None = None
    session_id: str | None = None


class WireSystem(_Wire):
    type: Literal["system"]
    subtype: str


class WireResult(_Wire):
    type: Literal["result"]
    subtype: str
    duration_ms: int
    duration_api_ms: int = 0
    is_error: bool
    num_turns: int
    session_id: str
    total_cost_usd: float | None = None
    usage: dict[str, Any] | None = None
    result: str | None = None


class WireStreamEvent(_Wire):
    type: Literal["stream_event"]
    uuid: str
    session_id: str
    event: dict[str, Any]
    parent_tool_use_id: str | None = None


class WireControlRequest(_Wire):
    """The CLI asks the SDK something (a permission, a hook callback, an in-process MCP message)."""

    type: Literal["control_request"]
    request_id: str
    request: dict[str, Any]
    """Validated per subtype by the handler that takes it."""


class WireControlResponseBody(_Wire):
    subtype: Literal["success", "error"]
    request_id: str
    response: dict[str, Any] | None = None
    error: str | None = None


class WireControlResponse(_Wire):
    """The CLI answers a request the SDK made."""

    type: Literal["control_response"]
    response: WireControlResponseBody


class CanUseToolRequest(_Wire):
    subtype: Literal["can_use_tool"]
    tool_name: str
    input: dict[str, Any]
    tool_use_id: str | None = None
    permission_suggestions: list[dict[str, Any]] | None = None
    blocked_path: str | None = None
    agent_id: str | None = None


class HookCallbackRequest(_Wire):
    subtype: Literal["hook_callback"]
    callback_id: str
    input: dict[str, Any] = Field(default_factory=dict)
    tool_use_id: str | None = None


class McpMessageRequest(_Wire):
    subtype: Literal["mcp_message"]
    server_name: str
    message: dict[str, Any]
