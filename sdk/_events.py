"""The messages besides the conversation: background tasks, hook events, rate limits, resets, and `init`.

`claude_agent_sdk` gives the CLI's lifecycle events their own types; each task or hook event is still a
`SystemMessage` (its `subtype` and the whole line in `data`), so code that only knows `SystemMessage` keeps
working. The `init` message's `data` is described by `SystemInitData`.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from magistrate.sdk._types import AssistantMessage, ResultMessage, StreamEvent, SystemMessage, UserMessage

TaskNotificationStatus = Literal["completed", "failed", "stopped"]
TaskUpdatedStatus = Literal["pending", "running", "paused", "completed", "failed", "killed"]
TERMINAL_TASK_STATUSES: frozenset[str] = frozenset({"completed", "failed", "killed", "stopped"})
"""Task statuses after which a task does nothing more."""

RateLimitStatus = Literal["allowed", "allowed_warning", "rejected"]
RateLimitType = Literal["five_hour", "seven_day", "seven_day_opus", "seven_day_sonnet", "overage"]

MessageOriginKind = Literal[
    "human",
    "channel",
    "peer",
    "task-notification",
    "coordinator",
    "auto-continuation",
    "observer",
    "observer-activity",
    "unclassified",
]
TaskNotificationOriginSubkind = Literal["scheduled-trigger", "peer-send-message"]
FastModeState = Literal["off", "cooldown", "on"]
FastModeDisabledReason = Literal[
    "free",
    "preference",
    "extra_usage_disabled",
    "network_error",
    "unknown",
    "model_not_allowed",
    "not_first_party",
    "disabled_by_env",
    "pending",
    "sdk_opt_in_required",
]

# `from` is a keyword, so this TypedDict is written in the functional form.
MessageOrigin = TypedDict(
    "MessageOrigin",
    {
        "kind": MessageOriginKind,
        "subkind": NotRequired[str],
        "from": NotRequired[str],
        "fromSession": NotRequired[str],
        "name": NotRequired[str],
        "server": NotRequired[str],
        "body": NotRequired[str],
        "senderTaskId": NotRequired[str],
        "verifiedPeerPid": NotRequired[int],
    },
)
"""Where a user turn or a result came from."""


class TaskUsage(TypedDict):
    total_tokens: int
    tool_uses: int
    duration_ms: int


class ModelUsage(TypedDict):
    """One model's share of a result's usage (`ResultMessage.model_usage`)."""

    inputTokens: int
    outputTokens: int
    cacheReadInputTokens: int
    cacheCreationInputTokens: int
    webSearchRequests: int
    costUSD: float
    contextWindow: int
    maxOutputTokens: int
    canonicalModel: NotRequired[str]
    provider: NotRequired[str]


@dataclass
class TaskStartedMessage(SystemMessage):
    """A background task (a sub-agent, a shell) started."""

    task_id: str
    description: str
    uuid: str
    session_id: str
    tool_use_id: str | None = None
    task_type: str | None = None


@dataclass
class TaskProgressMessage(SystemMessage):
    task_id: str
    description: str
    usage: TaskUsage
    uuid: str
    session_id: str
    tool_use_id: str | None = None
    last_tool_name: str | None = None


@dataclass
class TaskNotificationMessage(SystemMessage):
    """A background task finished, failed or was stopped."""

    task_id: str
    status: TaskNotificationStatus
    output_file: str
    summary: str
    uuid: str
    session_id: str
    tool_use_id: str | None = None
    usage: TaskUsage | None = None


@dataclass
class TaskUpdatedMessage(SystemMessage):
    """A change to a task; `status` is the patch's, None when the patch has none."""

    task_id: str
    patch: dict[str, Any]
    status: TaskUpdatedStatus | None = None
    session_id: str | None = None
    uuid: str | None = None


@dataclass
class MirrorErrorMessage(SystemMessage):
    """Mirroring the transcript to the `session_store` failed; the run itself goes on."""

    key: dict[str, Any] | None = None
    error: str = ""


@dataclass
class HookEventMessage(SystemMessage):
    """A hook started or answered (with `include_hook_events`)."""

    hook_event_name: str = ""
    session_id: str | None = None
    uuid: str | None = None


@dataclass
class RateLimitInfo:
    status: RateLimitStatus
    resets_at: int | None = None
    rate_limit_type: RateLimitType | None = None
    utilization: float | None = None
    overage_status: str | None = None
    overage_resets_at: int | None = None
    overage_disabled_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    """The CLI's whole `rate_limit_info`."""


@dataclass
class RateLimitEvent:
    """The account's rate limit changed state."""

    rate_limit_info: RateLimitInfo
    uuid: str
    session_id: str


@dataclass
class ConversationResetMessage:
    """The conversation was cleared (`/clear`) and goes on under a new id."""

    new_conversation_id: str
    uuid: str
    session_id: str


class SystemInitMcpServer(TypedDict):
    name: str
    status: str
    source: NotRequired[str]


class SystemInitPlugin(TypedDict):
    name: str
    path: str
    version: NotRequired[str]


class SystemInitPluginError(TypedDict):
    type: str
    plugin: str
    message: str
    path: NotRequired[str]


class SystemInitData(TypedDict):
    """The `data` of the `init` system message: what the CLI started with."""

    type: str
    subtype: str
    uuid: str
    session_id: str
    cwd: str
    model: str
    tools: list[str]
    mcp_servers: list[SystemInitMcpServer]
    permissionMode: str
    apiKeySource: str
    claude_code_version: str
    output_style: str
    slash_commands: list[str]
    skills: list[Any]
    plugins: list[SystemInitPlugin]
    agents: NotRequired[list[str]]
    betas: NotRequired[list[str]]
    capabilities: NotRequired[list[str]]
    fast_mode_state: NotRequired[FastModeState]
    fast_mode_disabled_reason: NotRequired[FastModeDisabledReason]
    plugin_errors: NotRequired[list[SystemInitPluginError]]
    terminal_slash_commands: NotRequired[list[str]]


Message = (
    UserMessage
    | AssistantMessage
    | SystemMessage
    | ResultMessage
    | StreamEvent
    | RateLimitEvent
    | ConversationResetMessage
)
"""Every message `query()` and `ClaudeSDKClient` yield; the task and hook events are `SystemMessage`s."""
