"""Permission callbacks and hooks, with the official SDK's names and shapes.

These are the plug-in points a user of the Claude Code SDK already knows. magistrate keeps them working
and puts its own broker in front: a user's callback can approve what the broker asks about, never what it
denied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from magistrate.broker import PermissionMode
from magistrate.sdk._hook_types import HookContext, HookJSONOutput

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
    tool_use_id: str | None = None
    agent_id: str | None = None
    """The sub-agent that made the call; None on the main thread."""
    blocked_path: str | None = None
    decision_reason: str | None = None
    title: str | None = None
    display_name: str | None = None
    description: str | None = None


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

HookCallback = Callable[[Any, str | None, HookContext], Awaitable[HookJSONOutput]]
"""`(input, tool_use_id, context) -> output`; the input is one of the `*HookInput` dicts, by its event."""


@dataclass
class HookMatcher:
    """Which tool names (a CLI matcher string, None for all) run which callbacks."""

    matcher: str | None = None
    hooks: list[HookCallback] = field(default_factory=list)
    timeout: float | None = None
    """Seconds the CLI waits for these callbacks (its default when None)."""
    on_failure: Literal["continue", "block"] | None = None
    """What a callback that raises or returns nothing means: "continue" (the default: no decision) or "block"
    (the call, prompt or stop it was asked about is blocked)."""


class _Context(dict[str, Any]):
    """A `HookContext` that code written for the older SDK can also read as `context.signal`."""

    @property
    def signal(self) -> Any | None:
        return self.get("signal")


def hook_context() -> HookContext:
    """The context a user's hook callback is given."""
    return _Context(signal=None)  # type: ignore[return-value]
