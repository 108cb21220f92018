"""Options become the CLI's argv, and what the CLI would reject is caught first with a clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from magistrate.sdk import ClaudeCodeOptions, CLIConnectionError, OptionsError, create_sdk_mcp_server
from magistrate.sdk._command import build_argv, resolve_cwd


def _flag_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_streaming_control_protocol_flags_are_always_there() -> None:
    argv = build_argv("claude", ClaudeCodeOptions())
    assert argv[:6] == ["claude", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"]
    assert _flag_value(argv, "--max-thinking-tokens") == "8000"


def test_every_documented_option_maps_to_its_flag(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    options = ClaudeCodeOptions(
        system_prompt="sys",
        append_system_prompt="more",
        max_turns=5,
        model="claude-3-5-sonnet-20241022",
        max_thinking_tokens=12000,
        allowed_tools=["Bash", "Read"],
        disallowed_tools=["WebSearch", "Bash(rm*)"],
        continue_conversation=True,
        resume="550e8400-e29b-41d4-a716-446655440000",
        add_dirs=[extra],
        settings='{"theme": "dark"}',
        permission_mode="acceptEdits",
        permission_prompt_tool_name="mcp__approval_tool",
        include_partial_messages=True,
    )
    argv = build_argv("claude", options)
    assert _flag_value(argv, "--system-prompt") == "sys"
    assert _flag_value(argv, "--append-system-prompt") == "more"
    assert _flag_value(argv, "--max-turns") == "5"
    assert _flag_value(argv, "--model") == "claude-3-5-sonnet-20241022"
    assert _flag_value(argv, "--max-thinking-tokens") == "12000"
    assert _flag_value(argv, "--allowedTools") == "Bash,Read"
    assert _flag_value(argv, "--disallowedTools") == "WebSearch,Bash(rm*)"
    assert "--continue" in argv
    assert "--resume=550e8400-e29b-41d4-a716-446655440000" in argv
    assert _flag_value(argv, "--add-dir") == str(extra.resolve())
    assert _flag_value(argv, "--settings") == '{"theme": "dark"}'
    assert _flag_value(argv, "--permission-mode") == "acceptEdits"
    assert _flag_value(argv, "--permission-prompt-tool") == "mcp__approval_tool"
    assert "--include-partial-messages" in argv


@pytest.mark.parametrize("key", ["--verbose", "verbose"])
def test_extra_args_keys_work_with_or_without_dashes_and_are_not_doubled(key: str) -> None:
    argv = build_argv("claude", ClaudeCodeOptions(extra_args={key: None, "--debug-file": "/tmp/x"}))
    assert argv.count("--verbose") == 1
    assert _flag_value(argv, "--debug-file") == "/tmp/x"


def test_extra_args_cannot_break_the_protocol() -> None:
    with pytest.raises(OptionsError, match="output-format") as caught:
        build_argv("claude", ClaudeCodeOptions(extra_args={"--output-format": "text"}))
    assert caught.value.option == "extra_args"


def test_a_missing_cwd_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "project" / "root"  # a fresh tmp_path holds nothing, so this does not exist
    with pytest.raises(OptionsError, match=re.escape(f"cwd={str(missing)!r}: the directory does not exist")) as caught:
        resolve_cwd(ClaudeCodeOptions(cwd=missing))
    assert caught.value.option == "cwd"
    assert isinstance(caught.value, CLIConnectionError)  # what the official SDK raises for it


def test_a_cwd_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(CLIConnectionError, match="is not a directory") as caught:
        resolve_cwd(ClaudeCodeOptions(cwd=tmp_path / "f"))
    assert isinstance(caught.value, OptionsError)


def test_a_missing_added_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "shared" / "libs"
    with pytest.raises(
        OptionsError, match=re.escape(f"add_dirs={str(missing)!r}: the directory does not exist")
    ) as caught:
        build_argv("claude", ClaudeCodeOptions(add_dirs=[missing]))
    assert not isinstance(caught.value, CLIConnectionError)


def test_in_process_servers_are_passed_without_their_instance() -> None:
    servers = {"calc": create_sdk_mcp_server("calc"), "ext": {"command": "srv", "args": ["-x"]}}
    argv = build_argv("claude", ClaudeCodeOptions(mcp_servers=servers))  # type: ignore[arg-type]
    config = json.loads(_flag_value(argv, "--mcp-config"))
    assert config == {
        "mcpServers": {"calc": {"type": "sdk", "name": "calc"}, "ext": {"command": "srv", "args": ["-x"]}}
    }


def test_max_turns_below_one_is_refused() -> None:
    with pytest.raises(OptionsError, match="max_turns"):
        build_argv("claude", ClaudeCodeOptions(max_turns=0))
