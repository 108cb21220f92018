"""Turning options into the CLI's argv, and catching what the CLI would reject before it starts.

The reference documentation predates today's CLI in places: `extra_args` keys are written with and without
`--`, and a `cwd` that does not exist made the old SDK fail deep inside the subprocess module. Each such case
becomes an `OptionsError` that names the option, raised before any process is spawned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from magistrate.sdk._agent_options import AnyOptions, ClaudeAgentOptions
from magistrate.sdk._errors import OptionsError, WorkingDirectoryError

# Flags magistrate sets itself because the control protocol depends on them.
_FIXED = ("--output-format", "stream-json", "--verbose", "--input-format", "stream-json")
_RESERVED = {"output-format", "input-format", "print", "p"}


def _normalise_flag(key: str) -> str:
    name = key.lstrip("-")
    if not name or name != name.strip() or " " in name:
        raise OptionsError(f"extra_args key {key!r} is not a CLI flag name", option="extra_args")
    return name


def _check_dir(value: str | Path, option: str) -> str:
    path = Path(value).expanduser()
    if not path.is_dir():
        reason = "is not a directory" if path.exists() else "does not exist"
        message = f"{option}={str(value)!r}: the directory {reason}"
        raise WorkingDirectoryError(message) if option == "cwd" else OptionsError(message, option=option)
    return str(path.resolve())


def resolve_cwd(options: AnyOptions) -> str | None:
    """The working directory for the CLI, validated; None means the caller's."""
    return None if options.cwd is None else _check_dir(options.cwd, "cwd")


def mcp_config_json(servers: Mapping[str, Any]) -> str:
    """The `--mcp-config` JSON; in-process servers go as `{"type": "sdk", "name": ...}` without the instance."""
    out: dict[str, Any] = {}
    for name, config in servers.items():
        if not isinstance(config, Mapping):
            raise OptionsError(f"mcp_servers[{name!r}] must be a mapping, got {type(config).__name__}", "mcp_servers")
        if config.get("type") == "sdk":
            out[name] = {"type": "sdk", "name": name}
        else:
            out[name] = dict(config)
    return json.dumps({"mcpServers": out})


def build_argv(
    cli: str, options: AnyOptions, *, mcp_servers: Mapping[str, Any] | str | Path | None = None
) -> list[str]:
    """The full argv; `mcp_servers` overrides `options.mcp_servers` when the caller merged in its own."""
    argv = [cli, *_FIXED]
    allowed = list(options.allowed_tools)
    if isinstance(options, ClaudeAgentOptions):
        from magistrate.sdk._agent_command import agent_flags, skill_rules

        argv += agent_flags(options)
        allowed += [rule for rule in skill_rules(options) if rule not in allowed]
    else:
        if options.system_prompt is not None:
            argv += ["--system-prompt", options.system_prompt]
        if options.append_system_prompt is not None:
            argv += ["--append-system-prompt", options.append_system_prompt]
        argv += ["--max-thinking-tokens", str(options.max_thinking_tokens)]
    if options.max_turns is not None:
        if options.max_turns < 1:
            raise OptionsError(f"max_turns must be at least 1, got {options.max_turns}", "max_turns")
        argv += ["--max-turns", str(options.max_turns)]
    if options.model:
        argv += ["--model", options.model]
    if allowed:
        argv += ["--allowedTools", ",".join(allowed)]
    if options.disallowed_tools:
        argv += ["--disallowedTools", ",".join(options.disallowed_tools)]
    if options.permission_mode:
        argv += ["--permission-mode", options.permission_mode]
    if options.permission_prompt_tool_name:
        argv += ["--permission-prompt-tool", options.permission_prompt_tool_name]
    if options.continue_conversation:
        argv.append("--continue")
    if options.resume:
        argv.append(f"--resume={options.resume}")
    if options.settings:
        argv += ["--settings", options.settings]
    for directory in options.add_dirs:
        argv += ["--add-dir", _check_dir(directory, "add_dirs")]
    servers = options.mcp_servers if mcp_servers is None else mcp_servers
    if isinstance(servers, (str, Path)):
        argv += ["--mcp-config", str(servers)]
    elif servers:
        argv += ["--mcp-config", mcp_config_json(servers)]
    if options.include_partial_messages:
        argv.append("--include-partial-messages")
    argv += _extra_args(options.extra_args, already=set(argv))
    return argv


def _extra_args(extra: Mapping[str, str | None], *, already: set[str]) -> list[str]:
    out: list[str] = []
    for key, value in extra.items():
        name = _normalise_flag(key)
        if name in _RESERVED:
            raise OptionsError(
                f"extra_args cannot set --{name}: magistrate needs stream-json in and out for the control protocol",
                option="extra_args",
            )
        flag = f"--{name}"
        if value is None:
            if flag not in already:
                out.append(flag)
        elif str(value).startswith("-"):
            out.append(f"{flag}={value}")  # two tokens would let the CLI read a dash-led value as another flag
        else:
            out += [flag, str(value)]
    return out
