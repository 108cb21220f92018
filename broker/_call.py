"""What the broker is asked about: one tool call and the session it happens in.

These are the in-process values every part shares (the SDK's hook builds them, the policy reads them, the
trail records them). They are frozen so a rule can't change what later rules or the trail see. They are
the wire format too: the decision API reads and writes them through pydantic, ignoring unknown fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeGuard, get_args

if TYPE_CHECKING:
    from pydantic import ConfigDict

PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]
"""The CLI's permission modes (`--permission-mode`); the one spelling every part uses."""

PERMISSION_MODES: frozenset[str] = frozenset(get_args(PermissionMode))


def is_permission_mode(value: object) -> TypeGuard[PermissionMode]:
    return value in PERMISSION_MODES


def permission_mode_of(value: str | None) -> PermissionMode:
    """A mode as the CLI reported it; one this version does not know counts as `default`, the strictest."""
    return value if is_permission_mode(value) else "default"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call as the CLI reports it, before it runs."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    tool_name: str
    """The CLI's tool name: `Bash`, `Read`, `mcp__documents__get_document`, ..."""
    tool_input: Mapping[str, Any]
    """The input the model gave, exactly as the CLI sent it."""
    tool_use_id: str | None = None
    """The model's id for this call; links the decision to the call's outcome."""


@dataclass(frozen=True, slots=True)
class PriorDecision:
    """A decision made earlier in the same session, as rules see it."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    tool_name: str
    tool_input: Mapping[str, Any]
    behavior: Literal["allow", "deny", "ask"]
    rule_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallContext:
    """The session around a call: where it runs, in which mode, and what was decided before it."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    session_id: str = ""
    cwd: str = "."
    """The working directory of the run; relative rule paths and relative file arguments resolve against it."""
    additional_directories: tuple[str, ...] = ()
    permission_mode: PermissionMode = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    """Free-form labels the caller set (team, ticket, environment); rules may read them."""
    history: tuple[PriorDecision, ...] = ()
    """Decisions made earlier in this session, oldest first."""
    agent_id: str | None = None
    """Set when the call comes from a sub-agent."""
