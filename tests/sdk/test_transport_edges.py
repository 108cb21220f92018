"""What the real CLI cannot be made to do on demand, played by a stand-in process.

Each test writes a small Python program that speaks the stream-json protocol the way a broken or newer
CLI might, and points `cli_path` at it. Everything that the real CLI can do is tested against the real CLI
in tests/e2e.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from magistrate.sdk import (
    AssistantMessage,
    ClaudeCodeOptions,
    ClaudeSDKClient,
    CLIJSONDecodeError,
    ControlTimeoutError,
    OptionsError,
    ProcessError,
    ResultMessage,
    SystemMessage,
    TextBlock,
    query,
)

PRELUDE = """
import json, sys
def out(obj):
    sys.stdout.write(json.dumps(obj) + "\\n"); sys.stdout.flush()
def read():
    line = sys.stdin.readline()
    return json.loads(line) if line else None
def answer_initialize():
    req = read()
    ok = {"subtype": "success", "request_id": req["request_id"], "response": {}}
    out({"type": "control_response", "response": ok})
RESULT = {"type": "result", "subtype": "success", "duration_ms": 1, "duration_api_ms": 1, "is_error": False,
          "num_turns": 1, "session_id": "s", "result": "ok"}
"""


def stand_in(tmp_path: Path, body: str) -> ClaudeCodeOptions:
    script = tmp_path / "fake-claude"
    script.write_text(f"#!{sys.executable}\n" + PRELUDE + textwrap.dedent(body))
    script.chmod(0o755)
    return ClaudeCodeOptions(cli_path=script, control_timeout=5)


async def _collect(options: ClaudeCodeOptions) -> list[object]:
    with anyio.fail_after(20):
        return [message async for message in query(prompt="hi", options=options)]


@pytest.mark.anyio
async def test_unknown_message_types_and_blocks_are_skipped(tmp_path: Path) -> None:
    options = stand_in(
        tmp_path,
        """
        answer_initialize(); read()
        out({"type": "hologram", "payload": 1})
        out({"type": "assistant", "message": {"model": "m", "content": [
            {"type": "text", "text": "kept"}, {"type": "sparkle", "x": 1}]}, "new_field": True})
        out({"type": "system", "subtype": "future_event", "anything": [1, 2]})
        out(RESULT)
        """,
    )
    messages = await _collect(options)
    assert [type(m) for m in messages] == [AssistantMessage, SystemMessage, ResultMessage]
    assistant = messages[0]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content == [TextBlock(text="kept")]


@pytest.mark.anyio
async def test_a_line_that_is_not_json_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    options = stand_in(
        tmp_path,
        """
        answer_initialize(); read()
        sys.stdout.write("Warning: this is not json\\n"); sys.stdout.flush()
        out(RESULT)
        """,
    )
    with pytest.raises(CLIJSONDecodeError) as caught:
        await _collect(options)
    assert caught.value.line == "Warning: this is not json"


@pytest.mark.anyio
async def test_a_crash_is_a_process_error_with_the_real_stderr(tmp_path: Path) -> None:
    options = stand_in(
        tmp_path,
        """
        answer_initialize(); read()
        sys.stderr.write("fatal: the model endpoint refused us\\n")
        sys.exit(3)
        """,
    )
    with pytest.raises(ProcessError) as caught:
        await _collect(options)
    assert caught.value.exit_code == 3
    assert caught.value.stderr is not None
    assert "the model endpoint refused us" in caught.value.stderr


@pytest.mark.anyio
async def test_an_unknown_option_is_an_options_error_naming_it(tmp_path: Path) -> None:
    options = stand_in(
        tmp_path,
        """
        sys.stderr.write("error: unknown option '--timeout'\\n")
        sys.exit(1)
        """,
    )
    with pytest.raises(OptionsError, match="--timeout") as caught:
        await _collect(options)
    assert caught.value.option == "--timeout"
    # Code written for the official SDK catches the failed CLI as a ProcessError, with its exit code and output.
    assert isinstance(caught.value, ProcessError)
    assert caught.value.exit_code == 1
    assert "unknown option '--timeout'" in (caught.value.stderr or "")
    assert str(caught.value).startswith("the CLI does not take the option '--timeout' (check extra_args)")


@pytest.mark.anyio
async def test_an_unanswered_control_request_times_out_with_a_typed_error(tmp_path: Path) -> None:
    options = stand_in(
        tmp_path,
        """
        answer_initialize()
        while read() is not None:
            pass
        """,
    )
    options.control_timeout = 0.5
    with anyio.fail_after(20):
        async with ClaudeSDKClient(options) as client:
            with pytest.raises(ControlTimeoutError, match="interrupt"):
                await client.interrupt()


@pytest.mark.anyio
async def test_closing_fails_pending_requests_instead_of_hanging(tmp_path: Path) -> None:
    options = stand_in(
        tmp_path,
        """
        answer_initialize()
        read()
        sys.exit(0)
        """,
    )
    with anyio.fail_after(20):
        async with ClaudeSDKClient(options) as client:
            with pytest.raises(Exception, match="exited"):
                await client.interrupt()


def test_a_refused_bypass_mode_is_an_options_error_and_a_process_error() -> None:
    from magistrate.sdk._session import _diagnose

    stderr = "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n"
    error = _diagnose(stderr, 1)
    assert isinstance(error, OptionsError)
    assert isinstance(error, ProcessError)
    assert (error.option, error.exit_code, error.stderr) == ("permission_mode", 1, stderr)
    assert "IS_SANDBOX=1" in str(error)
