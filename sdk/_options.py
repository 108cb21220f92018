"""`ClaudeCodeOptions`: every field of the Claude Code SDK, with its defaults, plus magistrate's own.

magistrate's additions are keyword fields with defaults that change nothing for code written for the official
SDK: `cli_path` (which CLI to run) and `control_timeout` (the bound on each control request).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

from magistrate.broker import DEFAULT_TIMEOUT, PermissionMode
from magistrate.sdk._hook_types import HookEvent
from magistrate.sdk._permissions import CanUseTool, HookMatcher


class McpStdioServerConfig(TypedDict):
    """An MCP server the CLI starts as a subprocess."""

    type: NotRequired[Literal["stdio"]]
    command: str
    args: NotRequired[list[str]]
    env: NotRequired[dict[str, str]]


class McpSSEServerConfig(TypedDict):
    """An MCP server reached over server-sent events."""

    type: Literal["sse"]
    url: str
    headers: NotRequired[dict[str, str]]


class McpHttpServerConfig(TypedDict):
    """An MCP server reached over streamable HTTP."""

    type: Literal["http"]
    url: str
    headers: NotRequired[dict[str, str]]


class McpSdkServerConfig(TypedDict):
    """An MCP server that runs inside this Python process (see `create_sdk_mcp_server`)."""

    type: Literal["sdk"]
    name: str
    instance: Any


McpServerConfig = McpStdioServerConfig | McpSSEServerConfig | McpHttpServerConfig | McpSdkServerConfig


@dataclass
class ClaudeCodeOptions:
    """How to run the agent; every field maps to a CLI flag or to the control protocol."""

    allowed_tools: list[str] = field(default_factory=list)
    max_thinking_tokens: int = 8000
    system_prompt: str | None = None
    append_system_prompt: str | None = None
    mcp_tools: list[str] = field(default_factory=list)
    mcp_servers: dict[str, McpServerConfig] | str | Path = field(default_factory=dict)
    permission_mode: PermissionMode | None = None
    continue_conversation: bool = False
    resume: str | None = None
    max_turns: int | None = None
    disallowed_tools: list[str] = field(default_factory=list)
    model: str | None = None
    permission_prompt_tool_name: str | None = None
    cwd: str | Path | None = None
    settings: str | None = None
    add_dirs: list[str | Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    extra_args: dict[str, str | None] = field(default_factory=dict)
    debug_stderr: Any = sys.stderr
    can_use_tool: CanUseTool | None = None
    hooks: dict[HookEvent, list[HookMatcher]] | None = None
    user: str | None = None
    include_partial_messages: bool = False
    # magistrate's additions
    cli_path: str | Path | None = None
    """The CLI to run; otherwise $MAGISTRATE_CLI_PATH, the project's node_modules/.bin/claude, then PATH."""
    control_timeout: float = 60.0
    """Seconds to wait for the CLI to answer a control request (initialize, interrupt, ...)."""
    governed: bool = True
    """Put every tool call before the broker and into the trail. False gives a plain, ungoverned run."""
    policy: Any = None
    """A policy object, or the path of a `policy.py` or Claude Code settings file; else $MAGISTRATE_POLICY;
    else the policy the CLI itself would apply (settings files plus allowed_tools / disallowed_tools)."""
    audit: str | Path | None = None
    """Where the trail is kept: a SQLite path or a postgresql:// URL; else $MAGISTRATE_AUDIT; else a per-user
    SQLite file under the XDG state directory."""
    approver: Any = None
    """Who answers asks: an object with `async approve(ask)`, a function `ask -> bool | Verdict`, or "terminal",
    "queue" or "none". By default: `can_use_tool` if given, else the terminal if there is one, else deny."""
    approval_timeout: float = DEFAULT_TIMEOUT
    """Seconds an approver may take; no answer in time is a deny."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels recorded with every decision and visible to rules (team, ticket, environment, ...)."""
    governor: Any = None
    """A ready `magistrate.broker.Governor` to use instead of building one from `policy` and `audit`."""
    broker: str | None = None
    """The URL of a shared broker (`magistrate serve approval --transport http`) that decides and records every
    call instead of a broker in this process; else $MAGISTRATE_BROKER. Its bearer token is read from
    $MAGISTRATE_BROKER_TOKEN. The broker's policy and trail apply, so `policy` and `audit` cannot be given too."""
