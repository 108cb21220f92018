"""What `ClaudeAgentOptions` adds to a run: CLI flags, environment and fields of the `initialize` request.

The official SDK maps each option onto the CLI the same way (learnt from its behaviour on the pinned CLI):
`system_prompt=None` is an empty system prompt, a preset keeps Claude Code's own (its `append` goes to
`--append-system-prompt`), `sandbox` is merged into `--settings`, `agents` travel in `initialize`. An option
the pinned CLI cannot take is an `OptionsError` naming it, before anything starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from magistrate.sdk._agent_options import AgentDefinition, ClaudeAgentOptions
from magistrate.sdk._errors import OptionsError

_SETTING_SOURCES = ("user", "project", "local")


def _system_prompt(options: ClaudeAgentOptions) -> list[str]:
    prompt = options.system_prompt
    if prompt is None:
        return ["--system-prompt", ""]
    if isinstance(prompt, str):
        return ["--system-prompt", prompt]
    if not isinstance(prompt, Mapping):
        raise OptionsError(
            f"system_prompt must be a string or a preset/file dict, got {type(prompt).__name__}", "system_prompt"
        )
    kind = prompt.get("type")
    if kind == "file":
        path = prompt.get("path")
        if not isinstance(path, str) or not Path(path).expanduser().is_file():
            raise OptionsError(f"system_prompt file {path!r} does not exist", "system_prompt")
        return ["--system-prompt-file", path]
    if kind == "preset":
        if prompt.get("preset", "claude_code") != "claude_code":
            raise OptionsError(f"system_prompt preset {prompt.get('preset')!r}: only 'claude_code'", "system_prompt")
        append = prompt.get("append")
        if append is None:
            return []
        if not isinstance(append, str):
            raise OptionsError("system_prompt['append'] must be a string", "system_prompt")
        return ["--append-system-prompt", append]
    raise OptionsError(
        f"system_prompt type {kind!r} is not one of 'preset' or 'file' (or give a string)", "system_prompt"
    )


def _tools(options: ClaudeAgentOptions) -> list[str]:
    tools = options.tools
    if tools is None:
        return []
    if isinstance(tools, list):
        return ["--tools", ",".join(tools)]
    if isinstance(tools, Mapping) and tools.get("type") == "preset":
        return ["--tools", "default"]
    raise OptionsError(f"tools must be a list of tool names or the claude_code preset, got {tools!r}", "tools")


def skill_rules(options: ClaudeAgentOptions) -> list[str]:
    """The allow rules `skills` adds (`Skill` for "all", `Skill(name)` for each named one)."""
    skills = options.skills
    if skills is None:
        return []
    if skills == "all":
        return ["Skill"]
    if not isinstance(skills, list):
        raise OptionsError(f'skills must be a list of skill names or "all", got {skills!r}', "skills")
    for name in skills:
        if not isinstance(name, str) or not name.strip() or name != name.strip() or any(c in name for c in ",() "):
            raise OptionsError(f"skill name {name!r} cannot be written as a Skill(name) rule", "skills")
    return [f"Skill({name})" for name in skills]


def setting_sources(options: ClaudeAgentOptions) -> list[str] | None:
    sources = options.setting_sources
    if sources is None and options.skills is not None:
        return ["user", "project"]  # so the CLI finds installed skills
    if sources is None:
        return None
    bad = [source for source in sources if source not in _SETTING_SOURCES]
    if bad:
        raise OptionsError(
            f"setting_sources {bad!r}: each must be one of {', '.join(_SETTING_SOURCES)}", "setting_sources"
        )
    return list(sources)


def _settings(options: ClaudeAgentOptions) -> list[str]:
    if options.sandbox is None:
        return ["--settings", options.settings] if options.settings else []
    merged: dict[str, Any] = {}
    if options.settings:
        text = options.settings.strip()
        try:
            merged = json.loads(text) if text.startswith("{") else json.loads(Path(text).expanduser().read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise OptionsError(f"settings {text[:80]!r} cannot be merged with sandbox: {exc}", "settings") from exc
        if not isinstance(merged, dict):
            raise OptionsError("settings must hold a JSON object to be merged with sandbox", "settings")
    merged["sandbox"] = dict(options.sandbox)
    return ["--settings", json.dumps(merged)]


def _thinking(options: ClaudeAgentOptions) -> list[str]:
    thinking = options.thinking
    if thinking is None:
        tokens = options.max_thinking_tokens
        return [] if tokens is None else ["--max-thinking-tokens", str(tokens)]
    kind = thinking.get("type")
    if kind == "adaptive":
        out = ["--thinking", "adaptive"]
    elif kind == "enabled":
        out = ["--max-thinking-tokens", str(thinking.get("budget_tokens"))]
    elif kind == "disabled":
        return ["--thinking", "disabled"]
    else:
        raise OptionsError(f"thinking type {kind!r} is not adaptive, enabled or disabled", "thinking")
    display = thinking.get("display")
    return [*out, "--thinking-display", str(display)] if display else out


def _output_format(options: ClaudeAgentOptions) -> list[str]:
    wanted = options.output_format
    if wanted is None:
        return []
    if not isinstance(wanted, Mapping) or wanted.get("type") != "json_schema" or "schema" not in wanted:
        raise OptionsError(
            'output_format must be {"type": "json_schema", "schema": {...}}: the CLI takes only a JSON schema',
            "output_format",
        )
    return ["--json-schema", json.dumps(wanted["schema"])]


def _plugins(options: ClaudeAgentOptions) -> list[str]:
    out: list[str] = []
    for plugin in options.plugins:
        if plugin.get("type") != "local":
            raise OptionsError(
                f"plugin type {plugin.get('type')!r}: the CLI loads local plugin directories only", "plugins"
            )
        out += ["--plugin-dir", str(plugin["path"])]
    return out


def agent_flags(options: ClaudeAgentOptions) -> list[str]:
    """The flags only `ClaudeAgentOptions` has, in the order the official SDK passes them."""
    if options.verbatim_prompts:
        raise OptionsError("verbatim_prompts is not supported by the pinned Claude Code CLI", "verbatim_prompts")
    if options.max_budget_usd is not None and options.max_budget_usd <= 0:
        raise OptionsError(f"max_budget_usd must be positive, got {options.max_budget_usd}", "max_budget_usd")
    argv = [*_system_prompt(options), *_tools(options)]
    if options.max_budget_usd is not None:
        argv += ["--max-budget-usd", str(options.max_budget_usd)]
    if options.task_budget is not None:
        argv += ["--task-budget", str(options.task_budget["total"])]
    if options.fallback_model:
        argv += ["--fallback-model", options.fallback_model]
    if options.betas:
        argv += ["--betas", ",".join(options.betas)]
    if options.session_id:
        argv.append(f"--session-id={options.session_id}")
    argv += _settings(options)
    for flag, on in (
        ("--include-hook-events", options.include_hook_events),
        ("--strict-mcp-config", options.strict_mcp_config),
        ("--fork-session", options.fork_session),
    ):
        if on:
            argv.append(flag)
    if options.resume_session_at:
        argv.append(f"--resume-session-at={options.resume_session_at}")
    if options.resume_drops_turn is not None:
        argv.append(f"--resume-drops-turn={options.resume_drops_turn}")
    sources = setting_sources(options)
    if sources is not None:
        argv.append(f"--setting-sources={','.join(sources)}")
    argv += _plugins(options) + _thinking(options)
    if options.effort is not None:
        argv += ["--effort", options.effort]
    return argv + _output_format(options)


def agent_env(options: ClaudeAgentOptions) -> dict[str, str]:
    env: dict[str, str] = {"CLAUDE_CODE_ENTRYPOINT": "sdk-py"}
    if options.enable_file_checkpointing:
        env["CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING"] = "true"
    if options.client_app:
        env["CLAUDE_AGENT_SDK_CLIENT_APP"] = options.client_app
    return env


def _agent(name: str, agent: object) -> dict[str, Any]:
    """One sub-agent as the CLI reads it; a plain dict with the same keys is taken too."""
    if isinstance(agent, AgentDefinition):
        fields = asdict(agent)
    elif isinstance(agent, Mapping):
        fields = dict(agent)
    else:
        raise OptionsError(f"agents[{name!r}] must be an AgentDefinition, got {type(agent).__name__}", "agents")
    if not isinstance(fields.get("description"), str) or not isinstance(fields.get("prompt"), str):
        raise OptionsError(f"agents[{name!r}] needs a description and a prompt", "agents")
    return {key: value for key, value in fields.items() if value is not None}


def initialize_fields(options: ClaudeAgentOptions) -> dict[str, Any]:
    """What `initialize` carries besides the hooks: sub-agents, skills, sub-agent text, prompt sections."""
    out: dict[str, Any] = {}
    if options.agents:
        out["agents"] = {name: _agent(name, agent) for name, agent in options.agents.items()}
    if isinstance(options.skills, list):
        out["skills"] = list(options.skills)
    if options.forward_subagent_text:
        out["forwardSubagentText"] = True
    prompt = options.system_prompt
    if isinstance(prompt, Mapping) and prompt.get("type") == "preset" and "exclude_dynamic_sections" in prompt:
        out["excludeDynamicSections"] = bool(prompt.get("exclude_dynamic_sections"))
    return out
