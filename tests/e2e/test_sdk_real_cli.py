"""The SDK against the real CLI and the scripted model: robustness, lifecycle, and the control protocol."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

from magistrate.sdk import (
    AssistantMessage,
    ClaudeCodeOptions,
    ClaudeSDKClient,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolPermissionContext,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)
from magistrate.sdk.scripted_model import ScriptedModel
from tests._bounded import poll, read_lines


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedModel]:
    scenario = {
        "rules": [
            {"contains": "slow", "turns": [{"text": "thinking slowly", "delay": 30}]},
            {
                "contains": "add numbers",
                "turns": [
                    {"tool_calls": [{"name": "mcp__calc__add", "input": {"a": 2, "b": 40}}]},
                    "The sum came back as {last_tool_result}",
                ],
            },
            {
                "contains": "list files",
                "turns": [
                    {"tool_calls": [{"name": "Bash", "input": {"command": "touch asked-for.txt"}}]},
                    "Got: {last_tool_result}",
                ],
            },
            {"contains": "remember", "turns": ["I will remember {prompt}"]},
        ],
        "default": {"turns": ["Answer to: {prompt}"]},
    }
    with ScriptedModel(scenario) as model:
        for key, value in model.env().items():
            monkeypatch.setenv(key, value)
        yield model


def _marker() -> str:
    return f"magistrate-test-{uuid.uuid4().hex}"


def _processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _options(tmp_path: Path, marker: str | None = None, **extra: Any) -> ClaudeCodeOptions:
    return ClaudeCodeOptions(cwd=tmp_path, append_system_prompt=marker, **extra)


@pytest.mark.anyio
async def test_a_twenty_megabyte_message_arrives_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x" * (20 * 1024 * 1024)
    with ScriptedModel({"default": {"turns": [big]}}) as model:
        for key, value in model.env().items():
            monkeypatch.setenv(key, value)
        with anyio.fail_after(120):
            texts = [
                block.text
                async for message in query(prompt="big", options=_options(tmp_path))
                if isinstance(message, AssistantMessage)
                for block in message.content
                if isinstance(block, TextBlock)
            ]
    assert texts == [big]


@pytest.mark.anyio
async def test_cancelling_a_run_leaves_no_cli_process(model_env: ScriptedModel, tmp_path: Path) -> None:
    marker = _marker()
    seen_init = False
    with anyio.move_on_after(60) as scope:
        async for message in query(prompt="slow please", options=_options(tmp_path, marker)):
            if isinstance(message, SystemMessage):
                seen_init = True
                assert _processes_with(marker), "the CLI should be running"
                scope.cancel()
    assert seen_init
    assert _processes_with(marker) == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio warns of a generator left without aclose()
async def test_breaking_out_of_a_query_mid_answer_leaves_no_cli_process(
    model_env: ScriptedModel, tmp_path: Path
) -> None:
    marker = _marker()
    with anyio.fail_after(60):
        async for message in query(prompt="slow please", options=_options(tmp_path, marker)):
            if isinstance(message, SystemMessage):
                assert _processes_with(marker), "the CLI should be running"
                break
        # The generator left behind is closed in a task of its own, which kills the CLI first.
        for _ in range(600):
            if not _processes_with(marker):
                break
            await anyio.sleep(0.05)
    assert _processes_with(marker) == []


@pytest.mark.anyio
async def test_leaving_async_with_early_leaves_no_cli_process(model_env: ScriptedModel, tmp_path: Path) -> None:
    marker = _marker()
    with anyio.fail_after(60):
        async with ClaudeSDKClient(_options(tmp_path, marker)) as client:
            await client.query("slow please")
            async for message in client.receive_messages():
                if isinstance(message, SystemMessage):
                    break
            assert _processes_with(marker)
    assert _processes_with(marker) == []


@pytest.mark.parametrize("landing", ["awaiting", "in_body"])
def test_keyboard_interrupt_leaves_no_cli_process(model_env: ScriptedModel, tmp_path: Path, landing: str) -> None:
    """Ctrl-C finds the program either waiting for the CLI, or running the loop's body, which leaves the query's
    generator behind mid-answer (on Python 3.10 asyncio then finalises it only while the loop winds down).
    `in_body` raises the signal from the body itself, so that it lands there whatever the machine's load."""
    marker = _marker()
    body = "signal.raise_signal(signal.SIGINT)" if landing == "in_body" else "pass"
    script = tmp_path / "agent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, signal, sys
            from pathlib import Path
            from magistrate.sdk import ClaudeCodeOptions, SystemMessage, query

            # Ctrl-C in a terminal finds SIGINT at Python's handler. A test run started as a background job of a
            # non-interactive shell inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored; restore
            # the handler a program started from a terminal has.
            signal.signal(signal.SIGINT, signal.default_int_handler)

            def cli_processes():
                return [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and holds_marker(p)]

            def holds_marker(entry):
                try:
                    return {marker.encode()!r} in (entry / "cmdline").read_bytes()
                except OSError:
                    return False

            async def main():
                options = ClaudeCodeOptions(cwd={str(tmp_path)!r}, append_system_prompt={marker!r})
                started = False
                async for message in query(prompt="slow please", options=options):
                    if isinstance(message, SystemMessage) and not started:
                        started = True
                        print("started", flush=True)
                        {body}

            try:
                asyncio.run(main())
            except KeyboardInterrupt:
                # The SDK's teardown has run by now: the CLI it started is gone, not left to the watchdog.
                print("interrupted, left:", *cli_processes(), flush=True)
                raise
            """
        )
    )
    with (tmp_path / "agent.err").open("w+b") as stderr:
        with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=stderr) as agent:
            try:
                assert agent.stdout is not None
                lines = read_lines(agent.stdout, 1, timeout=120)
                assert lines == [b"started\n"], stderr_text(stderr)
                if landing == "awaiting":
                    assert _processes_with(marker), "the CLI should be running"
                    agent.send_signal(signal.SIGINT)
                lines = read_lines(agent.stdout, 1, timeout=60)
                agent.wait(timeout=30)
            finally:
                agent.kill()
        assert lines == [b"interrupted, left:\n"], stderr_text(stderr)
        assert agent.returncode != 0
    # Anything the CLI left in its process group was sent SIGKILL; the kernel removes it a moment later.
    assert poll(lambda: _processes_with(marker) == [], timeout=10), _processes_with(marker)


def stderr_text(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    return stderr.read().decode(errors="replace")[-4000:]


@pytest.mark.anyio
async def test_many_clients_run_at_once_in_one_event_loop(model_env: ScriptedModel, tmp_path: Path) -> None:
    results: dict[int, str] = {}

    async def one(index: int) -> None:
        async for message in query(prompt=f"question {index}", options=_options(tmp_path)):
            if isinstance(message, ResultMessage):
                results[index] = message.result or ""

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for index in range(6):
                group.start_soon(one, index)
    assert results == {index: f"Answer to: question {index}" for index in range(6)}


@pytest.mark.anyio
async def test_a_conversation_keeps_its_session_across_queries(model_env: ScriptedModel, tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with ClaudeSDKClient(_options(tmp_path)) as client:
            sessions = []
            for prompt in ("remember the number 7", "what was it?"):
                await client.query(prompt)
                async for message in client.receive_response():
                    if isinstance(message, ResultMessage):
                        sessions.append(message.session_id)
    assert len(sessions) == 2
    assert sessions[0] == sessions[1]
    last = model_env.message_requests()[-1]
    user_texts = [m.prompt_text() for m in last.messages if m.role == "user"]
    assert any("remember the number 7" in text for text in user_texts)


@pytest.mark.anyio
async def test_interrupt_ends_a_slow_response(model_env: ScriptedModel, tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with ClaudeSDKClient(_options(tmp_path)) as client:
            await client.query("slow please")
            async for message in client.receive_messages():
                if isinstance(message, SystemMessage):
                    await client.interrupt()
                if isinstance(message, ResultMessage):
                    break
    assert isinstance(message, ResultMessage)


@pytest.mark.anyio
async def test_an_in_process_tool_gets_its_arguments_and_its_result_reaches_the_model(
    model_env: ScriptedModel, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    @tool("add", "Add two numbers", {"a": float, "b": float})
    async def add(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args)
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}

    options = _options(
        tmp_path, mcp_servers={"calc": create_sdk_mcp_server("calc", tools=[add])}, allowed_tools=["mcp__calc__add"]
    )
    with anyio.fail_after(60):
        result = [m async for m in query(prompt="add numbers", options=options) if isinstance(m, ResultMessage)]
    assert calls == [{"a": 2, "b": 40}]
    assert result[0].result == "The sum came back as 42"


@pytest.mark.anyio
async def test_an_ungoverned_run_asks_can_use_tool(model_env: ScriptedModel, tmp_path: Path) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    async def can_use_tool(
        name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        asked.append((name, tool_input))
        return PermissionResultAllow(updated_input={"command": "touch rewritten.txt"})

    options = _options(tmp_path, governed=False, can_use_tool=can_use_tool)
    with anyio.fail_after(60):
        messages = [m async for m in query(prompt="list files", options=options)]
    assert asked == [("Bash", {"command": "touch asked-for.txt"})]
    assert (tmp_path / "rewritten.txt").exists()
    assert not (tmp_path / "asked-for.txt").exists()
    assert any(isinstance(m, UserMessage) for m in messages)


@pytest.mark.anyio
async def test_set_model_and_permission_mode_reach_the_cli(model_env: ScriptedModel, tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with ClaudeSDKClient(_options(tmp_path)) as client:
            await client.set_model("claude-scripted-switch")
            await client.set_permission_mode("acceptEdits")
            await client.query("which model?")
            async for message in client.receive_response():
                if isinstance(message, AssistantMessage):
                    assert message.model == "claude-scripted-switch"
    assert model_env.message_requests()[-1].model == "claude-scripted-switch"
