"""Permission callbacks and hooks, with the official SDK's names and shapes.

These are the plug-in points a user of the Claude Code SDK already knows. magistrate keeps them working
and puts its own broker in front: a user's callback can approve what the broker asks about, never what it
denied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

from magistrate.broker import PermissionMode

PermissionUpdateDestination = Literal["userSettings", "projectSettings", "localSettings", "session"]
PermissionBehavior = Literal["allow", "deny", "ask"]


@dataclass
class PermissionRuleValue:
    """One rule of a permission update."""

    tool_name: str
    rule_content: str | None = None


@dataclass
class PermissionUpdate:
    """A change to the session's permissions that an approval may carry."""

    type: Literal["addRules", "replaceRules", "removeRules", "setMode", "addDirectories", "removeDirectories"]
    rules: list[PermissionRuleValue] | None = None
    behavior: PermissionBehavior | None = None
    mode: PermissionMode | None = None
    directories: list[str] | None = None
    destination: PermissionUpdateDestination | None = None


@dataclass
class ToolPermissionContext:
    """What the CLI tells a permission callback besides the call itself."""

    signal: Any | None = None
    suggestions: list[PermissionUpdate] = field(default_factory=list)


@dataclass
class PermissionResultAllow:
    """Allow the call, optionally with a rewritten input."""

    behavior: Literal["allow"] = "allow"
    updated_input: dict[str, Any] | None = None
    updated_permissions: list[PermissionUpdate] | None = None


@dataclass
class PermissionResultDeny:
    """Deny the call; `message` goes back to the model."""

    behavior: Literal["deny"] = "deny"
    message: str = ""
    interrupt: bool = False


PermissionResult = PermissionResultAllow | PermissionResultDeny
CanUseTool = Callable[[str, dict[str, Any], ToolPermissionContext], Awaitable[PermissionResult]]

HookEvent = Literal["PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "SubagentStop", "PreCompact"]


class HookJSONOutput(TypedDict):
    """What a hook callback returns; see the CLI's hook documentation for each event's fields."""

    decision: NotRequired[Literal["block"]]
    systemMessage: NotRequired[str]
    hookSpecificOutput: NotRequired[Any]


@dataclass
class HookContext:
    """Context given to a hook callback."""

    signal: Any | None = None


HookCallback = Callable[[dict[str, Any], str | None, HookContext], Awaitable[HookJSONOutput]]


@dataclass
class HookMatcher:
    """Which tool names (a CLI matcher string, None for all) run which callbacks."""

    matcher: str | None = None
    hooks: list[HookCallback] = field(default_factory=list)
