"""Typed views of the built-in tools' inputs, so Python rules read `call.input.command`, not dict keys.

The fields follow the CLI's own input schemas (`sdk-tools.d.ts` of the pinned CLI). Unknown fields are kept
(a newer CLI may add some), so a model never drops part of an input; a missing required field or a wrong type
is a validation error, which the policy turns into a deny, on every call, whatever the policy. Types are
strict, as the CLI's are: a bool is no number, a number no string, a null no path. MCP tools and tools
without a model keep their raw input. A rewritten input is validated against the same model before it may be allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from magistrate.broker._domains import hosts_of


class ToolInput(BaseModel):
    """Base of every typed tool input: frozen, and extra fields kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


class BashInput(ToolInput):
    command: StrictStr
    """The command line the shell runs."""
    timeout: StrictInt | StrictFloat | None = None
    """Milliseconds before the command is stopped."""
    description: StrictStr | None = None
    run_in_background: StrictBool | None = None
    dangerouslyDisableSandbox: StrictBool | None = None  # noqa: N815 - the CLI's field name


class ReadInput(ToolInput):
    file_path: StrictStr
    offset: StrictInt | None = None
    limit: StrictInt | None = None
    pages: StrictStr | None = None
    allow_large: StrictBool | None = None


class WriteInput(ToolInput):
    file_path: StrictStr
    content: StrictStr


class EditInput(ToolInput):
    file_path: StrictStr
    old_string: StrictStr
    new_string: StrictStr
    replace_all: StrictBool | None = None


class EditOperation(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    old_string: StrictStr
    new_string: StrictStr
    replace_all: StrictBool | None = None


class MultiEditInput(ToolInput):
    file_path: StrictStr
    edits: tuple[EditOperation, ...]


class NotebookEditInput(ToolInput):
    notebook_path: StrictStr
    new_source: StrictStr
    cell_id: StrictStr | None = None
    cell_type: Literal["code", "markdown"] | None = None
    edit_mode: Literal["replace", "insert", "delete"] | None = None


class GlobInput(ToolInput):
    pattern: StrictStr
    path: StrictStr | None = None


class GrepInput(ToolInput):
    pattern: StrictStr
    path: StrictStr | None = None
    glob: StrictStr | None = None
    output_mode: Literal["content", "files_with_matches", "count"] | None = None
    before: StrictInt | None = Field(None, alias="-B")
    after: StrictInt | None = Field(None, alias="-A")
    around: StrictInt | None = Field(None, alias="-C")
    context: StrictInt | None = None
    line_numbers: StrictBool | None = Field(None, alias="-n")
    ignore_case: StrictBool | None = Field(None, alias="-i")
    only_matching: StrictBool | None = Field(None, alias="-o")
    type: StrictStr | None = None
    head_limit: StrictInt | None = None
    offset: StrictInt | None = None
    multiline: StrictBool | None = None


class WebFetchInput(ToolInput):
    url: StrictStr
    prompt: StrictStr
    offset: StrictInt | None = None

    @field_validator("url")
    @classmethod
    def _has_a_host(cls, url: str) -> str:
        """A URL in which the CLI's own parser finds no host reaches nothing a rule could vouch for."""
        if hosts_of(url) is None:
            raise ValueError("the URL names no host the fetch could reach (read as Node's URL parser reads it)")
        return url


class WebSearchInput(ToolInput):
    query: StrictStr
    allowed_domains: tuple[StrictStr, ...] | None = None
    blocked_domains: tuple[StrictStr, ...] | None = None


class AgentInput(ToolInput):
    description: StrictStr
    prompt: StrictStr
    subagent_type: StrictStr | None = None
    model: Literal["sonnet", "opus", "haiku", "fable"] | None = None
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    run_in_background: StrictBool | None = None
    name: StrictStr | None = None
    team_name: StrictStr | None = None
    mode: Literal["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"] | None = None
    isolation: Literal["worktree", "remote"] | None = None


class Todo(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    content: StrictStr
    status: Literal["pending", "in_progress", "completed"]
    activeForm: StrictStr  # noqa: N815 - the CLI's field name


class TodoWriteInput(ToolInput):
    todos: tuple[Todo, ...]


class TaskStopInput(ToolInput):
    task_id: StrictStr | None = None
    shell_id: StrictStr | None = None


class ListMcpResourcesInput(ToolInput):
    server: StrictStr | None = None


class ReadMcpResourceInput(ToolInput):
    server: StrictStr
    uri: StrictStr


class CronCreateInput(ToolInput):
    cron: StrictStr
    prompt: StrictStr
    recurring: StrictBool | None = None
    durable: StrictBool | None = None


class CronDeleteInput(ToolInput):
    id: StrictStr


class ScheduleWakeupInput(ToolInput):
    delaySeconds: StrictInt | StrictFloat | None = None  # noqa: N815 - the CLI's field name
    reason: StrictStr | None = None
    prompt: StrictStr | None = None
    stop: StrictBool | None = None
    noop: StrictBool | None = None


class MonitorSocket(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    url: StrictStr
    protocols: tuple[StrictStr, ...] | None = None


class MonitorInput(ToolInput):
    description: StrictStr
    timeout_ms: StrictInt | StrictFloat
    command: StrictStr | None = None
    ws: MonitorSocket | None = None


class EnterWorktreeInput(ToolInput):
    name: StrictStr | None = None
    path: StrictStr | None = None


class ExitWorktreeInput(ToolInput):
    action: Literal["keep", "remove"]
    discard_changes: StrictBool | None = None


INPUT_MODELS: dict[str, type[ToolInput]] = {
    "Bash": BashInput,
    "Read": ReadInput,
    "Write": WriteInput,
    "Edit": EditInput,
    "MultiEdit": MultiEditInput,
    "NotebookEdit": NotebookEditInput,
    "Glob": GlobInput,
    "Grep": GrepInput,
    "WebFetch": WebFetchInput,
    "WebSearch": WebSearchInput,
    "Agent": AgentInput,
    "Task": AgentInput,
    "TodoWrite": TodoWriteInput,
    "TaskStop": TaskStopInput,
    "ListMcpResourcesTool": ListMcpResourcesInput,
    "ReadMcpResourceTool": ReadMcpResourceInput,
    "CronCreate": CronCreateInput,
    "CronDelete": CronDeleteInput,
    "ScheduleWakeup": ScheduleWakeupInput,
    "Monitor": MonitorInput,
    "EnterWorktree": EnterWorktreeInput,
    "ExitWorktree": ExitWorktreeInput,
}

SCHEMA_NAMES: dict[str, str] = {
    "Agent": "AgentInput",
    "Task": "AgentInput",
    "Bash": "BashInput",
    "Edit": "FileEditInput",
    "Read": "FileReadInput",
    "Write": "FileWriteInput",
    "Glob": "GlobInput",
    "Grep": "GrepInput",
    "NotebookEdit": "NotebookEditInput",
    "TodoWrite": "TodoWriteInput",
    "WebFetch": "WebFetchInput",
    "WebSearch": "WebSearchInput",
    "TaskStop": "TaskStopInput",
    "ListMcpResourcesTool": "ListMcpResourcesInput",
    "ReadMcpResourceTool": "ReadMcpResourceInput",
    "CronCreate": "CronCreateInput",
    "CronDelete": "CronDeleteInput",
    "ScheduleWakeup": "ScheduleWakeupInput",
    "Monitor": "MonitorInput",
    "EnterWorktree": "EnterWorktreeInput",
    "ExitWorktree": "ExitWorktreeInput",
}
"""The interface of the CLI's `sdk-tools.d.ts` each model follows (a test holds the fields to it)."""


def parse_input(tool_name: str, tool_input: Mapping[str, Any]) -> ToolInput | Mapping[str, Any]:
    """The typed view of an input, or the raw mapping for tools without a model (MCP and the rest).

    Raises pydantic's ValidationError when a built-in tool's input does not fit its schema.
    """
    model = INPUT_MODELS.get(tool_name)
    if model is None:
        return tool_input
    return model.model_validate(dict(tool_input))


def input_error(tool_name: str, tool_input: Mapping[str, Any]) -> str | None:
    """Why a built-in tool's input does not fit the CLI's schema for it, or None when it fits (or has no model).

    Checked on every call, whatever the policy: a malformed input is a deny, never a guess at what the tool
    will make of it (`{"command": [...]}` is no command any rule can judge).
    """
    model = INPUT_MODELS.get(tool_name)
    if model is None:
        return None
    try:
        model.model_validate(dict(tool_input))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "input"
        return f"the input does not fit the {tool_name} tool's schema ({where}: {first.get('msg', 'invalid')})"
    return None
