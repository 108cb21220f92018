"""Messages and content blocks as the Claude Code SDK defines them, constructible by keyword.

They are plain dataclasses, not pydantic models: user code builds and compares them freely. They are the
wire format too: `_wire` validates a line into them with a pydantic `TypeAdapter` over each (loaded with the
first message, not with the SDK), so their fields are written only here. Each block also answers `.type`
with the Anthropic block type, which the official SDK's own examples test for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    signature: str = ""

    @property
    def type(self) -> Literal["thinking"]:
        return "thinking"


@dataclass
class ToolUseBlock:
    """A tool call the model made."""

    id: str
    name: str
    input: dict[str, Any] = field(default_factory=dict)

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


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock


@dataclass
class UserMessage:
    """A user turn: a prompt, or the tool results the CLI sends back to the model."""

    content: str | list[ContentBlock]
    parent_tool_use_id: str | None = None


@dataclass
class AssistantMessage:
    """A model turn."""

    content: list[ContentBlock]
    model: str
    parent_tool_use_id: str | None = None


@dataclass
class SystemMessage:
    """A system event from the CLI (`init`, hook events, ...); `data` is the whole message."""

    subtype: str
    data: dict[str, Any]


@dataclass
class ResultMessage:
    """The end of one response: timing, cost, usage and the final text."""

    subtype: str
    duration_ms: int
    duration_api_ms: int
    is_error: bool
    num_turns: int
    session_id: str
    total_cost_usd: float | None = None
    usage: dict[str, Any] | None = None
    result: str | None = None


@dataclass
class StreamEvent:
    """A raw Anthropic stream event, sent when `include_partial_messages` is on."""

    uuid: str
    session_id: str
    event: dict[str, Any]
    parent_tool_use_id: str | None = None


Message = UserMessage | AssistantMessage | SystemMessage | ResultMessage | StreamEvent
