"""Messages and content blocks as the Claude Code SDK defines them, constructible by keyword.

They are plain dataclasses, not pydantic models: user code builds and compares them freely. They are the
wire format too: `_wire` validates a line into them with a pydantic `TypeAdapter` over each (loaded with the
first message, not with the SDK), so their fields are written only here. Each block also answers `.type`
with the Anthropic block type, which the official SDK's own examples test for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass
class TextBlock:
    """Text the model wrote."""

    text: str

    @property
    def type(self) -> Literal["text"]:
        return "text"


@dataclass
class ThinkingBlock:
    """The model's visible thinking."""

    thinking: str
    signature: str

    @property
    def type(self) -> Literal["thinking"]:
        return "thinking"


@dataclass
class ToolUseBlock:
    """A tool call the model made."""

    id: str
    name: str
    input: dict[str, Any]

    @property
    def type(self) -> Literal["tool_use"]:
        return "tool_use"


@dataclass
class ToolResultBlock:
    """The result of a tool call, as it went back to the model."""

    tool_use_id: str
    content: str | list[dict[str, Any]] | None = None
    is_error: bool | None = None

    @property
    def type(self) -> Literal["tool_result"]:
        return "tool_result"


ServerToolName = Literal[
    "advisor",
    "web_search",
    "web_fetch",
    "code_execution",
    "bash_code_execution",
    "text_editor_code_execution",
    "tool_search_tool_regex",
    "tool_search_tool_bm25",
]


@dataclass
class ServerToolUseBlock:
    """A call of a tool the API runs itself (web search, code execution, ...): no permission, no hook."""

    id: str
    name: str
    input: dict[str, Any]

    @property
    def type(self) -> Literal["server_tool_use"]:
        return "server_tool_use"


@dataclass
class ServerToolResultBlock:
    """The result of a server tool call, as the API returned it."""

    tool_use_id: str
    content: Any

    @property
    def type(self) -> str:
        return "server_tool_result"


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock | ServerToolUseBlock | ServerToolResultBlock


@dataclass
class UserMessage:
    """A user turn: a prompt, or the tool results the CLI sends back to the model."""

    content: str | list[ContentBlock]
    uuid: str | None = None
    parent_tool_use_id: str | None = None
    tool_use_result: Any = None
    """What the tool returned, as the CLI reports it (a dict, a list of blocks, or text)."""
    origin: dict[str, Any] | None = None
    """Where the turn came from (a `MessageOrigin`): a person, a task notification, a peer, ..."""


@dataclass
class AssistantMessage:
    """A model turn."""

    content: list[ContentBlock]
    model: str
    parent_tool_use_id: str | None = None
    error: str | None = None
    """Set when the turn is an API error the CLI reports (`rate_limit`, `authentication_failed`, ...)."""
    usage: dict[str, Any] | None = None
    message_id: str | None = None
    stop_reason: str | None = None
    session_id: str | None = None
    uuid: str | None = None
    user_message_uuid: str | None = None
    user_message_uuids: list[str] | None = None


@dataclass
class SystemMessage:
    """A system event from the CLI (`init`, hook events, ...); `data` is the whole message."""

    subtype: str
    data: dict[str, Any]


@dataclass
class DeferredToolUse:
    """A tool call the run stopped at instead of running (a hook answered `defer`)."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass
class ResultMessage:
    """The end of one response: timing, cost, usage and the final text."""

    subtype: str
    duration_ms: int
    duration_api_ms: int
    is_error: bool
    num_turns: int
    session_id: str
    stop_reason: str | None = None
    total_cost_usd: float | None = None
    usage: dict[str, Any] | None = None
    result: str | None = None
    structured_output: Any = None
    """The answer as the `output_format` JSON schema asked for it."""
    model_usage: dict[str, Any] | None = None
    permission_denials: list[Any] | None = None
    deferred_tool_use: DeferredToolUse | None = None
    errors: list[str] | None = None
    api_error_status: int | None = None
    uuid: str | None = None
    terminal_reason: str | None = None
    origin: dict[str, Any] | None = None
    user_message_uuid: str | None = None
    user_message_uuids: list[str] | None = None


@dataclass
class StreamEvent:
    """A raw Anthropic stream event, sent when `include_partial_messages` is on."""

    uuid: str
    session_id: str
    event: dict[str, Any]
    parent_tool_use_id: str | None = None
    user_message_uuid: str | None = None
    user_message_uuids: list[str] | None = None
