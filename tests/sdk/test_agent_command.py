"""How ClaudeAgentOptions become the CLI's argv, environment and initialize request (no CLI needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magistrate.sdk import AgentDefinition, ClaudeAgentOptions, ClaudeCodeOptions, OptionsError
from magistrate.sdk._agent_command import agent_env, initialize_fields
from magistrate.sdk._command import build_argv


def argv(**fields: object) -> list[str]:
    return build_argv("claude", ClaudeAgentOptions(**fields))  # type: ignore[arg-type]


def value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_no_system_prompt_is_an_empty_one_and_a_preset_appends() -> None:
    assert value(argv(), "--system-prompt") == ""
    preset = argv(system_prompt={"type": "preset", "preset": "claude_code", "append": "Be brief."})
    assert "--system-prompt" not in preset
    assert value(preset, "--append-system-prompt") == "Be brief."
    assert "--system-prompt" not in argv(system_prompt={"type": "preset", "preset": "claude_code"})
    assert value(argv(system_prompt="You are terse."), "--system-prompt") == "You are terse."


def test_a_system_prompt_dict_of_an_unknown_kind_is_an_options_error() -> None:
    with pytest.raises(OptionsError, match="system_prompt"):
        argv(system_prompt={"type": "mystery"})
    with pytest.raises(OptionsError, match="does not exist"):
        argv(system_prompt={"type": "file", "path": "/no/such/prompt.md"})


def test_setting_sources_none_is_the_cli_default_and_empty_loads_none() -> None:
    assert not any(a.startswith("--setting-sources") for a in argv())
    assert "--setting-sources=" in argv(setting_sources=[])
    assert "--setting-sources=user,project" in argv(setting_sources=["user", "project"])
    with pytest.raises(OptionsError, match="setting_sources"):
        argv(setting_sources=["team"])


def test_structured_output_budget_tools_and_thinking_map_to_their_flags() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    args = argv(
        output_format={"type": "json_schema", "schema": schema},
        max_budget_usd=0.5,
        tools=["Read", "Grep"],
        thinking={"type": "adaptive"},
        effort="high",
        betas=["context-1m-2025-08-07"],
        fork_session=True,
        resume="abc",
        plugins=[{"type": "local", "path": "/plugins/demo"}],
    )
    assert json.loads(value(args, "--json-schema")) == schema
    assert value(args, "--max-budget-usd") == "0.5"
    assert value(args, "--tools") == "Read,Grep"
    assert value(args, "--thinking") == "adaptive"
    assert value(args, "--effort") == "high"
    assert value(args, "--betas") == "context-1m-2025-08-07"
    assert value(args, "--plugin-dir") == "/plugins/demo"
    assert "--fork-session" in args
    assert value(argv(tools=[]), "--tools") == ""
    assert value(argv(max_thinking_tokens=2000), "--max-thinking-tokens") == "2000"


def test_what_the_cli_cannot_take_is_an_options_error_naming_the_option() -> None:
    with pytest.raises(OptionsError, match="output_format"):
        argv(output_format={"type": "regex", "pattern": ".*"})
    with pytest.raises(OptionsError, match="plugin"):
        argv(plugins=[{"type": "remote", "path": "x"}])
    with pytest.raises(OptionsError, match="verbatim_prompts"):
        argv(verbatim_prompts=True)


def test_sandbox_is_merged_into_the_settings(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"permissions": {"deny": ["Read(./.env)"]}}))
    merged = json.loads(value(argv(settings=str(settings), sandbox={"enabled": True}), "--settings"))
    assert merged == {"permissions": {"deny": ["Read(./.env)"]}, "sandbox": {"enabled": True}}


def test_agents_skills_and_checkpointing_travel_in_initialize_and_the_environment() -> None:
    options = ClaudeAgentOptions(
        agents={"reviewer": AgentDefinition(description="Reviews", prompt="Review code", tools=["Read"])},
        skills=["pdf"],
        enable_file_checkpointing=True,
    )
    fields = initialize_fields(options)
    assert fields["agents"] == {"reviewer": {"description": "Reviews", "prompt": "Review code", "tools": ["Read"]}}
    assert fields["skills"] == ["pdf"]
    assert agent_env(options)["CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING"] == "true"
    args = build_argv("claude", options)
    assert value(args, "--allowedTools") == "Skill(pdf)"
    assert "--setting-sources=user,project" in args


def test_the_older_options_keep_their_argv() -> None:
    args = build_argv("claude", ClaudeCodeOptions(system_prompt="x"))
    assert value(args, "--system-prompt") == "x"
    assert value(args, "--max-thinking-tokens") == "8000"


def test_a_sub_agent_may_be_a_dict_but_not_anything_else() -> None:
    options = ClaudeAgentOptions(agents={"w": {"description": "Writes", "prompt": "Write"}})  # type: ignore[dict-item]
    assert initialize_fields(options)["agents"] == {"w": {"description": "Writes", "prompt": "Write"}}
    with pytest.raises(OptionsError, match="needs a description"):
        initialize_fields(ClaudeAgentOptions(agents={"w": {"prompt": "x"}}))  # type: ignore[dict-item]
    with pytest.raises(OptionsError, match="must be an AgentDefinition"):
        initialize_fields(ClaudeAgentOptions(agents={"w": "writer"}))  # type: ignore[dict-item]


def test_an_extra_arg_whose_value_starts_with_a_dash_stays_bound_to_its_flag() -> None:
    args = argv(extra_args={"append-system-prompt": "--dangerously-skip-permissions"})
    assert "--append-system-prompt=--dangerously-skip-permissions" in args
    assert "--dangerously-skip-permissions" not in args
