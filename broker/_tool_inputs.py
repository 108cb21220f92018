"""Typed views of the built-in tools' inputs, so Python rules read `call.input.command`, not dict keys.

The fields follow the CLI's own input schemas (`sdk-tools.d.ts` of the pinned CLI). Unknown fields are kept
(a newer CLI may add some), so a model never drops part of an input; a missing required field or a wrong type
is a validation error, which the policy turns into a deny. MCP tools and tools without a model keep their
raw input. A rewritten input is validated against the same model before it may be allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ToolInput(BaseModel):
    """Base of every typed tool input: frozen, and extra fields kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class BashInput(ToolInput):
    command: str
    """The command line the shell runs."""
    timeout: int | None = None
    """Milliseconds before the command is stopped."""
    description: str | None = None
    run_in_background: bool | None = None
    dangerouslyDisableSandbox: bool | None = None  # noqa: N815 - the CLI's field name


class ReadInput(ToolInput):
    file_path: str
    offset: int | None = None
    limit: int | None = None
    pages: str | None = None
    allow_large: bool | None = None


class WriteInput(ToolInput):
    file_path: str
    content: str


class EditInput(ToolInput):
    file_path: str
    old_string: str
    new_string: str
    replace_all: bool | None = None


class EditOperation(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    old_string: str
    new_string: str
    replace_all: bool | None = None


class MultiEditInput(ToolInput):
    file_path: str
    edits: tuple[EditOperation, ...]


class NotebookEditInput(ToolInput):
    notebook_path: str
    new_source: str
    cell_id: str | None = None
    cell_type: Literal["code", "markdown"] | None = None
    edit_mode: Literal["replace", "insert", "delete"] | None = None


class GlobInput(ToolInput):
    pattern: str
    path: str | None = None


class GrepInput(ToolInput):
    pattern: str
    path: str | None = None
    glob: str | None = None
    output_mode: Literal["content", "files_with_matches", "count"] | None = None
    before: int | None = Field(None, alias="-B")
    after: int | None = Field(None, alias="-A")
    around: int | None = Field(None, alias="-C")
    context: int | None = None
    line_numbers: bool | None = Field(None, alias="-n")
    ignore_case: bool | None = Field(None, alias="-i")
    only_matching: bool | None = Field(None, alias="-o")
    type: str | None = None
    head_limit: int | None = None
    offset: int | None = None
    multiline: bool | None = None


class WebFetchInput(ToolInput):
    url: str
    prompt: str
    offset: int | None = None


class WebSearchInput(ToolInput):
    query: str
    allowed_domains: tuple[str, ...] | None = None
    blocked_domains: tuple[str, ...] | None = None


class AgentInput(ToolInput):
    description: str
    prompt: str
    subagent_type: str | None = None
    model: str | None = None
    run_in_background: bool | None = None
    name: str | None = None


class Todo(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    content: str
    status: Literal["pending", "in_progress", "completed"]
    activeForm: str  # noqa: N815 - the CLI's field name


class TodoWriteInput(ToolInput):
    todos: tuple[Todo, ...]


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
}


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
