"""`ClaudeAgentOptions`: the options of the current SDK generation (`claude_agent_sdk`), plus magistrate's own.

Code written for `claude_agent_sdk` builds these by keyword, so every field and default is the official one
(tests/sdk/test_agent_sdk_surface.py holds them to a snapshot of the package). magistrate's additions come
after the official fields and are the same as on `ClaudeCodeOptions`, so both generations are governed alike.
The values of the nested options (sandbox, thinking, plugins, ...) are the official TypedDicts and aliases.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from magistrate.broker import DEFAULT_TIMEOUT, PermissionMode
from magistrate.sdk._hook_types import HookEvent
from magistrate.sdk._options import ClaudeCodeOptions, McpServerConfig
from magistrate.sdk._permissions import CanUseTool, HookMatcher
from magistrate.sdk._session_store import SessionStore

SettingSource = Literal["user", "project", "local"]
"""Which settings files the CLI loads: `~/.claude/settings.json`, `.claude/settings.json`,
`.claude/settings.local.json`."""
SdkBeta = Literal["context-1m-2025-08-07"]
EffortLevel = Literal["low", "medium", "high", "xhigh", "max"]
SessionStoreFlushMode = Literal["batched", "eager"]
ThinkingDisplay = Literal["summarized", "omitted"]


class SystemPromptPreset(TypedDict):
    """Claude Code's own system prompt, optionally with text appended."""

    type: Literal["preset"]
    preset: Literal["claude_code"]
    append: NotRequired[str]
    exclude_dynamic_sections: NotRequired[bool]


class SystemPromptFile(TypedDict):
    """A system prompt read from a file."""

    type: Literal["file"]
    path: str


class ToolsPreset(TypedDict):
    """Claude Code's default set of built-in tools."""

    type: Literal["preset"]
    preset: Literal["claude_code"]


class TaskBudget(TypedDict):
    """A token budget the model is told about, so it can pace itself."""

    total: int


class ThinkingConfigAdaptive(TypedDict):
    type: Literal["adaptive"]
    display: NotRequired[ThinkingDisplay]


class ThinkingConfigEnabled(TypedDict):
    type: Literal["enabled"]
    budget_tokens: int
    display: NotRequired[ThinkingDisplay]


class ThinkingConfigDisabled(TypedDict):
    type: Literal["disabled"]


ThinkingConfig = ThinkingConfigAdaptive | ThinkingConfigEnabled | ThinkingConfigDisabled


class SdkPluginConfig(TypedDict):
    """A plugin loaded for this run only; the CLI loads local directories (`--plugin-dir`)."""

    type: Literal["local"]
    path: str


class SandboxNetworkConfig(TypedDict, total=False):
    allowedDomains: list[str]
    deniedDomains: list[str]
    allowManagedDomainsOnly: bool
    allowUnixSockets: list[str]
    allowAllUnixSockets: bool
    allowLocalBinding: bool
    allowMachLookup: list[str]
    httpProxyPort: int
    socksProxyPort: int


SandboxIgnoreViolations = dict[str, list[str]]
"""Violations to ignore, by kind (`file`, `network`), each a list of patterns."""


class SandboxSettings(TypedDict, total=False):
    """The CLI's `sandbox` setting for Bash, merged into `--settings`."""

    enabled: bool
    autoAllowBashIfSandboxed: bool
    excludedCommands: list[str]
    allowUnsandboxedCommands: bool
    network: SandboxNetworkConfig
    ignoreViolations: SandboxIgnoreViolations
    enableWeakerNestedSandbox: bool


@dataclass
class AgentDefinition:
    """A sub-agent the main agent can hand work to; sent to the CLI at `initialize` under its name.

    Field names are the CLI's (camelCase), as in the official SDK."""

    description: str
    prompt: str
    tools: list[str] | None = None
    disallowedTools: list[str] | None = None  # noqa: N815 - the CLI's and the official SDK's spelling
    model: str | None = None
    skills: list[str] | None = None
    memory: str | None = None
    mcpServers: list[str | dict[str, Any]] | None = None  # noqa: N815
    initialPrompt: str | None = None  # noqa: N815
    maxTurns: int | None = None  # noqa: N815
    background: bool | None = None
    effort: EffortLevel | int | None = None
    permissionMode: PermissionMode | None = None  # noqa: N815


@dataclass
class ClaudeAgentOptions:
    """How to run the agent, as `claude_agent_sdk` spells it; each field maps to a CLI flag, the environment or
    the `initialize` request. A field the pinned CLI cannot honour is an `OptionsError` when the run starts."""

    tools: list[str] | ToolsPreset | None = None
    allowed_tools: list[str] = field(default_factory=list)
    system_prompt: str | SystemPromptPreset | SystemPromptFile | None = None
    """None is an empty system prompt (as in the official SDK); a preset keeps Claude Code's, with `append`."""
    mcp_servers: dict[str, McpServerConfig] | str | Path = field(default_factory=dict)
    strict_mcp_config: bool = False
    permission_mode: PermissionMode | None = None
    continue_conversation: bool = False
    resume: str | None = None
    session_id: str | None = None
    max_turns: int | None = None
    max_budget_usd: float | None = None
    disallowed_tools: list[str] = field(default_factory=list)
    model: str | None = None
    fallback_model: str | None = None
    betas: list[SdkBeta] = field(default_factory=list)
    permission_prompt_tool_name: str | None = None
    cwd: str | Path | None = None
    cli_path: str | Path | None = None
    settings: str | None = None
    add_dirs: list[str | Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    extra_args: dict[str, str | None] = field(default_factory=dict)
    max_buffer_size: int | None = None
    """Accepted for compatibility; magistrate frames lines of any size."""
    debug_stderr: Any = sys.stderr
    """Deprecated in the official SDK and not read; use `stderr`."""
    stderr: Callable[[str], None] | None = None
    """Called with each line the CLI writes to stderr."""
    can_use_tool: CanUseTool | None = None
    hooks: dict[HookEvent, list[HookMatcher]] | None = None
    user: str | None = None
    include_partial_messages: bool = False
    include_hook_events: bool = False
    forward_subagent_text: bool = False
    verbatim_prompts: bool = False
    fork_session: bool = False
    resume_session_at: str | None = None
    resume_drops_turn: str | None = None
    agents: dict[str, AgentDefinition] | None = None
    setting_sources: list[SettingSource] | None = None
    """None: the CLI's default (all of them); []: no settings files at all."""
    skills: list[str] | Literal["all"] | None = None
    sandbox: SandboxSettings | None = None
    plugins: list[SdkPluginConfig] = field(default_factory=list)
    max_thinking_tokens: int | None = None
    thinking: ThinkingConfig | None = None
    effort: EffortLevel | None = None
    output_format: dict[str, Any] | None = None
    """`{"type": "json_schema", "schema": {...}}`: the result's `structured_output` follows the schema."""
    enable_file_checkpointing: bool = False
    session_store: SessionStore | None = None
    session_store_flush: SessionStoreFlushMode = "batched"
    load_timeout_ms: int = 60000
    task_budget: TaskBudget | None = None
    client_app: str | None = None
    # magistrate's additions, as on ClaudeCodeOptions (see there)
    control_timeout: float = 60.0
    governed: bool = True
    policy: Any = None
    audit: str | Path | None = None
    approver: Any = None
    approval_timeout: float = DEFAULT_TIMEOUT
    labels: dict[str, str] = field(default_factory=dict)
    governor: Any = None
    broker: str | None = None


AnyOptions = ClaudeCodeOptions | ClaudeAgentOptions
"""Either generation's options; a run takes both, and governs both alike."""
