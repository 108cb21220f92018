"""Hook events with typed inputs and outputs, as `claude_agent_sdk` declares them.

The CLI sends a hook callback its input as JSON; these TypedDicts say which keys each event carries, so a
user's callback can be typed (`input: PreToolUseHookInput`). They describe dicts, nothing is converted: an
input holds every key the CLI sent, known here or not. Outputs are what a callback returns; `async_` and
`continue_` are the Python spellings of the CLI's `async` and `continue`.
"""

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

HookEvent = Literal[
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "Stop",
    "SubagentStop",
    "PreCompact",
    "Notification",
    "SubagentStart",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolBatch",
    "SessionStart",
    "CwdChanged",
    "FileChanged",
    "Elicitation",
    "ElicitationResult",
    "MessageDisplay",
    "PreModelSwitch",
    "PostModelSwitch",
    "UserPromptExpansion",
    "WorktreeCreate",
]
"""The events a hook can be registered for."""


class HookEffort(TypedDict):
    level: str


class BackgroundTaskSummary(TypedDict):
    agent_type: NotRequired[str]
    command: NotRequired[str]
    description: str
    id: str
    name: NotRequired[str]
    server: NotRequired[str]
    status: str
    tool: NotRequired[str]
    type: str


class SessionCronSummary(TypedDict):
    id: str
    prompt: str
    recurring: bool
    schedule: str


class BaseHookInput(TypedDict):
    cwd: str
    effort: NotRequired[HookEffort]
    permission_mode: NotRequired[str]
    prompt_id: NotRequired[str]
    session_id: str
    transcript_path: str


class CwdChangedHookSpecificOutput(TypedDict):
    hookEventName: Literal["CwdChanged"]
    watchPaths: NotRequired[list[str]]


class ElicitationHookSpecificOutput(TypedDict):
    action: NotRequired[Literal["accept", "decline", "cancel"]]
    content: NotRequired[dict[str, Any]]
    hookEventName: Literal["Elicitation"]


class ElicitationResultHookSpecificOutput(TypedDict):
    action: NotRequired[Literal["accept", "decline", "cancel"]]
    content: NotRequired[dict[str, Any]]
    hookEventName: Literal["ElicitationResult"]


class FileChangedHookSpecificOutput(TypedDict):
    hookEventName: Literal["FileChanged"]
    watchPaths: NotRequired[list[str]]


class MessageDisplayHookSpecificOutput(TypedDict):
    displayContent: NotRequired[str]
    hookEventName: Literal["MessageDisplay"]


class NotificationHookInput(BaseHookInput):
    hook_event_name: Literal["Notification"]
    message: str
    notification_type: str
    title: NotRequired[str]


class NotificationHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["Notification"]


class PermissionDeniedHookSpecificOutput(TypedDict):
    hookEventName: Literal["PermissionDenied"]
    retry: NotRequired[bool]


class PermissionRequestHookInput(BaseHookInput):
    agent_id: NotRequired[str]
    agent_type: NotRequired[str]
    hook_event_name: Literal["PermissionRequest"]
    permission_suggestions: NotRequired[list[Any]]
    tool_input: dict[str, Any]
    tool_name: str


class PermissionRequestHookSpecificOutput(TypedDict):
    decision: dict[str, Any]
    hookEventName: Literal["PermissionRequest"]


class PostModelSwitchHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["PostModelSwitch"]


class PostToolBatchHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["PostToolBatch"]


class PostToolUseFailureHookInput(BaseHookInput):
    agent_id: NotRequired[str]
    agent_type: NotRequired[str]
    duration_ms: NotRequired[int]
    error: str
    hook_event_name: Literal["PostToolUseFailure"]
    is_interrupt: NotRequired[bool]
    tool_input: dict[str, Any]
    tool_name: str
    tool_use_id: str


class PostToolUseFailureHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["PostToolUseFailure"]


class PostToolUseHookInput(BaseHookInput):
    agent_id: NotRequired[str]
    agent_type: NotRequired[str]
    duration_ms: NotRequired[int]
    hook_event_name: Literal["PostToolUse"]
    tool_input: dict[str, Any]
    tool_name: str
    tool_response: Any
    tool_use_id: str


class PostToolUseHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["PostToolUse"]
    updatedMCPToolOutput: NotRequired[Any]
    updatedToolOutput: NotRequired[Any]


class PreCompactHookInput(BaseHookInput):
    custom_instructions: str | None
    hook_event_name: Literal["PreCompact"]
    trigger: Literal["manual", "auto"]


class PreModelSwitchHookSpecificOutput(TypedDict):
    hookEventName: Literal["PreModelSwitch"]
    permissionDecision: NotRequired[Literal["allow", "deny", "ask", "defer"]]
    permissionDecisionReason: NotRequired[str]


class PreToolUseHookInput(BaseHookInput):
    agent_id: NotRequired[str]
    agent_type: NotRequired[str]
    hook_event_name: Literal["PreToolUse"]
    tool_input: dict[str, Any]
    tool_name: str
    tool_use_id: str


class PreToolUseHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["PreToolUse"]
    permissionDecision: NotRequired[Literal["allow", "deny", "ask", "defer"]]
    permissionDecisionReason: NotRequired[str]
    updatedInput: NotRequired[dict[str, Any]]


class SessionStartHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["SessionStart"]
    initialUserMessage: NotRequired[str]
    reloadSkills: NotRequired[bool]
    sessionTitle: NotRequired[str]
    watchPaths: NotRequired[list[str]]


class StopHookInput(BaseHookInput):
    background_tasks: NotRequired[list[BackgroundTaskSummary]]
    hook_event_name: Literal["Stop"]
    last_assistant_message: NotRequired[str]
    session_crons: NotRequired[list[SessionCronSummary]]
    stop_hook_active: bool


class StopHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["Stop"]


class SubagentStartHookInput(BaseHookInput):
    agent_id: str
    agent_type: str
    hook_event_name: Literal["SubagentStart"]


class SubagentStartHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["SubagentStart"]


class SubagentStopHookInput(BaseHookInput):
    agent_id: str
    agent_transcript_path: str
    agent_type: str
    background_tasks: NotRequired[list[BackgroundTaskSummary]]
    hook_event_name: Literal["SubagentStop"]
    last_assistant_message: NotRequired[str]
    session_crons: NotRequired[list[SessionCronSummary]]
    stop_hook_active: bool


class SubagentStopHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["SubagentStop"]


class UserPromptExpansionHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["UserPromptExpansion"]
    suppressOriginalPrompt: NotRequired[bool]


class UserPromptSubmitHookInput(BaseHookInput):
    hook_event_name: Literal["UserPromptSubmit"]
    prompt: str


class UserPromptSubmitHookSpecificOutput(TypedDict):
    additionalContext: NotRequired[str]
    hookEventName: Literal["UserPromptSubmit"]
    sessionTitle: NotRequired[str]
    suppressOriginalPrompt: NotRequired[bool]


class WorktreeCreateHookSpecificOutput(TypedDict):
    hookEventName: Literal["WorktreeCreate"]
    worktreePath: str


HookInput = (
    PreToolUseHookInput
    | PostToolUseHookInput
    | PostToolUseFailureHookInput
    | UserPromptSubmitHookInput
    | StopHookInput
    | SubagentStopHookInput
    | PreCompactHookInput
    | NotificationHookInput
    | SubagentStartHookInput
    | PermissionRequestHookInput
)
HookSpecificOutput = (
    PreToolUseHookSpecificOutput
    | PostToolUseHookSpecificOutput
    | PostToolUseFailureHookSpecificOutput
    | PostToolBatchHookSpecificOutput
    | UserPromptSubmitHookSpecificOutput
    | UserPromptExpansionHookSpecificOutput
    | SessionStartHookSpecificOutput
    | StopHookSpecificOutput
    | SubagentStartHookSpecificOutput
    | SubagentStopHookSpecificOutput
    | NotificationHookSpecificOutput
    | PermissionRequestHookSpecificOutput
    | PermissionDeniedHookSpecificOutput
    | CwdChangedHookSpecificOutput
    | FileChangedHookSpecificOutput
    | ElicitationHookSpecificOutput
    | ElicitationResultHookSpecificOutput
    | MessageDisplayHookSpecificOutput
    | PreModelSwitchHookSpecificOutput
    | PostModelSwitchHookSpecificOutput
    | WorktreeCreateHookSpecificOutput
)


class AsyncHookJSONOutput(TypedDict):
    """Run the hook in the background; the CLI does not wait for it."""

    async_: Literal[True]
    asyncTimeout: NotRequired[int]


class SyncHookJSONOutput(TypedDict):
    """A hook's answer: whether to go on, a decision, messages, and the event's own output."""

    continue_: NotRequired[bool]
    suppressOutput: NotRequired[bool]
    stopReason: NotRequired[str]
    decision: NotRequired[Literal["block"]]
    systemMessage: NotRequired[str]
    reason: NotRequired[str]
    hookSpecificOutput: NotRequired[HookSpecificOutput]


HookJSONOutput = AsyncHookJSONOutput | SyncHookJSONOutput


class HookContext(TypedDict):
    """What a hook callback is given besides its input. `signal` is reserved (always None)."""

    signal: Any | None
