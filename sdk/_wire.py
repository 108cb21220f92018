"""The stream-json lines the CLI writes, validated once, here, at the boundary.

The public message and block types (`_types`) are the wire format: a pydantic `TypeAdapter` over each
dataclass reads a line into it, so their fields are written once. Models here describe only what has no
public type: the `message` a user or assistant line nests its content in, and the control protocol.

Unknown fields are ignored (a newer CLI adds fields often, and an older SDK must keep working). A message
type or block type this SDK does not know is skipped by the parser with a debug log, never an error; a known
type missing a field it needs is a `MessageParseError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from magistrate.sdk._events import (
    ConversationResetMessage,
    HookEventMessage,
    MirrorErrorMessage,
    RateLimitEvent,
    TaskNotificationMessage,
    TaskProgressMessage,
    TaskStartedMessage,
    TaskUpdatedMessage,
)
from magistrate.sdk._types import (
    AssistantMessage,
    ResultMessage,
    ServerToolResultBlock,
    ServerToolUseBlock,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

_T = TypeVar("_T")


class LazyAdapter(Generic[_T]):
    """A `TypeAdapter` built on its first use. Building one costs a schema's worth of CPU and memory, and a
    run reads only a few of the line types there are (most never see a task or rate-limit event), so each
    is built when the first line of its type arrives."""

    __slots__ = ("_adapter", "_type")

    def __init__(self, type_: type[_T]) -> None:
        self._type = type_
        self._adapter: TypeAdapter[_T] | None = None

    def build(self) -> TypeAdapter[_T]:
        adapter = self._adapter
        if adapter is None:
            adapter = self._adapter = TypeAdapter(self._type)
        return adapter

    def validate_python(self, data: Any) -> _T:
        return self.build().validate_python(data)


BLOCKS: dict[str, LazyAdapter[Any]] = {
    "text": LazyAdapter(TextBlock),
    "thinking": LazyAdapter(ThinkingBlock),
    "tool_use": LazyAdapter(ToolUseBlock),
    "tool_result": LazyAdapter(ToolResultBlock),
    "server_tool_use": LazyAdapter(ServerToolUseBlock),
}
"""By the block's `type`; MCP tool calls read as tool calls, any other `*_tool_result` as a server tool result."""
BLOCKS["mcp_tool_use"] = BLOCKS["tool_use"]
SERVER_TOOL_RESULT: LazyAdapter[ServerToolResultBlock] = LazyAdapter(ServerToolResultBlock)
BLOCK_DEFAULTS: dict[str, dict[str, Any]] = {
    "thinking": {"signature": ""},
    "tool_use": {"input": {}},
    "server_tool_use": {"input": {}},
    "mcp_tool_use": {"input": {}},
}
"""What a block may leave out although its type requires it."""

_HOOK_EVENT: LazyAdapter[HookEventMessage] = LazyAdapter(HookEventMessage)
SYSTEM_SUBTYPES: dict[str, LazyAdapter[Any]] = {
    "task_started": LazyAdapter(TaskStartedMessage),
    "task_progress": LazyAdapter(TaskProgressMessage),
    "task_notification": LazyAdapter(TaskNotificationMessage),
    "task_updated": LazyAdapter(TaskUpdatedMessage),
    "mirror_error": LazyAdapter(MirrorErrorMessage),
    "hook_started": _HOOK_EVENT,
    "hook_progress": _HOOK_EVENT,
    "hook_response": _HOOK_EVENT,
}
"""System messages with a type of their own, by `subtype`; any other subtype is a plain `SystemMessage`."""
RATE_LIMIT: LazyAdapter[RateLimitEvent] = LazyAdapter(RateLimitEvent)
CONVERSATION_RESET: LazyAdapter[ConversationResetMessage] = LazyAdapter(ConversationResetMessage)

USER: LazyAdapter[UserMessage] = LazyAdapter(UserMessage)
ASSISTANT: LazyAdapter[AssistantMessage] = LazyAdapter(AssistantMessage)
SYSTEM: LazyAdapter[SystemMessage] = LazyAdapter(SystemMessage)
RESULT: LazyAdapter[ResultMessage] = LazyAdapter(ResultMessage)
STREAM_EVENT: LazyAdapter[StreamEvent] = LazyAdapter(StreamEvent)

RESULT_DEFAULTS: dict[str, Any] = {"duration_api_ms": 0}
"""What a result line may leave out although `ResultMessage` requires it."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class WireMessageBody(_Wire):
    content: str | list[dict[str, Any]]
    """Blocks stay dicts here so that one unknown block type drops that block, not the message."""
    model: str = ""


class WireConversation(_Wire):
    """A user or assistant line: the public type's fields beside a `message` that holds the content."""

    message: WireMessageBody


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
    decision_reason: str | None = None
    title: str | None = None
    display_name: str | None = None
    description: str | None = None


class HookCallbackRequest(_Wire):
    subtype: Literal["hook_callback"]
    callback_id: str
    input: dict[str, Any] = Field(default_factory=dict)
    tool_use_id: str | None = None


class McpMessageRequest(_Wire):
    subtype: Literal["mcp_message"]
    server_name: str
    message: dict[str, Any]


def prepare(answers: Iterable[str] = ()) -> None:
    """Build what every run reads (the control protocol, the four conversation line types and their common
    blocks), and the requests of the subtypes in `answers` the run will be asked, now: a run calls this while
    the CLI boots, so its first lines need no schema built on their way."""
    for adapter in (SYSTEM, ASSISTANT, USER, RESULT, BLOCKS["text"], BLOCKS["tool_use"], BLOCKS["tool_result"]):
        adapter.build()
    requests: dict[str, type[_Wire]] = {
        "hook_callback": HookCallbackRequest,
        "mcp_message": McpMessageRequest,
        "can_use_tool": CanUseToolRequest,
    }
    models: list[type[_Wire]] = [WireConversation, WireControlRequest, WireControlResponse]
    for model in models + [requests[a] for a in answers if a in requests]:
        model.model_rebuild()
