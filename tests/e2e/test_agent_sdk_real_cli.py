"""The claude_agent_sdk API on the real CLI and the scripted model: governed like the older API, its new
options reaching the CLI, the client's control methods answered, and the run's session readable afterwards."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from magistrate.sdk import (
    AgentDefinition,
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookContext,
    HookEventMessage,
    HookJSONOutput,
    HookMatcher,
    InMemorySessionStore,
    MirrorErrorMessage,
    PermissionResultAllow,
    ResultMessage,
    SessionKey,
    SessionStoreEntry,
    TextBlock,
    delete_session,
    fork_session,
    get_session_info,
    get_session_messages,
    get_session_messages_from_store,
    list_sessions,
    query,
    rename_session,
)
from magistrate.sdk.scripted_model import ScriptedModel
from tests.e2e._cases import bash, decisions_of, trail_records

SCENARIO = {
    "rules": [
        {"contains": "say hi", "turns": [{"tool_calls": [bash("echo hi")]}, "said: {last_tool_result}"]},
        {
            "contains": "as json",
            "turns": [{"tool_calls": [{"name": "StructuredOutput", "input": {"answer": 42}}]}, "ok"],
        },
        {"contains": "denied", "turns": [{"tool_calls": [bash("rm -rf ./notes.txt")]}, "after: {last_tool_result}"]},
    ],
    "default": {"turns": ["Scripted answer to: {prompt}"]},
}
POLICY = textwrap.dedent(
    """
    from magistrate.broker import RulePolicy

    policy = RulePolicy(default="ask", deny=["Bash(rm:*)"])
    """
)


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ScriptedModel]:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "config"))
    with ScriptedModel(SCENARIO) as scripted:
        for key, value in scripted.env().items():
            monkeypatch.setenv(key, value)
        yield scripted


async def run(prompt: str, options: ClaudeAgentOptions) -> list[Any]:
    with anyio.fail_after(90):
        return [message async for message in query(prompt=prompt, options=options)]


@pytest.mark.anyio
async def test_a_broker_deny_stays_a_deny_whatever_can_use_tool_and_the_hooks_say(
    model: ScriptedModel, workspace: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.py"
    policy.write_text(POLICY)
    db = tmp_path / "trail.sqlite3"
    asked: list[str] = []

    async def allow_everything(tool: str, tool_input: dict[str, Any], context: Any) -> PermissionResultAllow:
        asked.append(tool)
        return PermissionResultAllow()

    async def hook_allows(hook_input: Any, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}

    options = ClaudeAgentOptions(
        cwd=workspace,
        policy=policy,
        audit=db,
        can_use_tool=allow_everything,
        hooks={"PreToolUse": [HookMatcher(matcher="Bash", hooks=[hook_allows], timeout=30)]},
        permission_mode="bypassPermissions",
        env={"IS_SANDBOX": "1"},
    )
    messages = await run("this will be denied", options)
    assert (workspace / "notes.txt").exists()
    [result] = model.tool_results()
    assert result.is_error
    assert asked == []  # a deny never reaches the approver
    assert [d.decision.behavior for d in decisions_of(trail_records(db))] == ["deny"]
    assert isinstance(messages[-1], ResultMessage)


@pytest.mark.anyio
async def test_the_options_of_the_new_generation_reach_the_cli(model: ScriptedModel, workspace: Path) -> None:
    lines: list[str] = []
    options = ClaudeAgentOptions(
        cwd=workspace,
        governed=False,
        system_prompt={"type": "preset", "preset": "claude_code", "append": "Always be brief."},
        setting_sources=[],
        max_budget_usd=5.0,
        stderr=lines.append,
        extra_args={"debug-to-stderr": None},
    )
    messages = await run("hello", options)
    request = model.message_requests()[-1]
    system = str(request.system)
    assert "Always be brief." in system
    assert any(isinstance(m, AssistantMessage) for m in messages)
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "Scripted answer to: hello"
    assert lines  # the CLI's debug output reached the stderr callback


@pytest.mark.anyio
async def test_no_system_prompt_is_an_empty_one_as_in_the_official_sdk(model: ScriptedModel, workspace: Path) -> None:
    await run("hello", ClaudeAgentOptions(cwd=workspace, governed=False))
    request = model.message_requests()[-1]
    assert "Claude Code" not in str(request.system)


@pytest.mark.anyio
async def test_the_client_control_methods_are_answered_by_the_cli(model: ScriptedModel, workspace: Path) -> None:
    with anyio.fail_after(90):
        async with ClaudeSDKClient(ClaudeAgentOptions(cwd=workspace)) as client:
            assert isinstance((await client.get_mcp_status())["mcpServers"], list)
            usage = await client.get_context_usage()
            assert usage["maxTokens"] > 0
            await client.set_permission_mode("acceptEdits")
            await client.set_model(None)
            await client.query("first")
            texts = [
                block.text
                async for message in client.receive_response()
                if isinstance(message, AssistantMessage)
                for block in message.content
                if isinstance(block, TextBlock)
            ]
            assert texts == ["Scripted answer to: first"]
            # The CLI connects in-process servers with the first turn; then they are listed, with their tools.
            status = await client.get_mcp_status()
            servers = {server["name"]: server for server in status["mcpServers"]}
            assert servers["magistrate"]["status"] == "connected"
            await client.toggle_mcp_server("documents", False)
            await client.interrupt()


@pytest.mark.anyio
async def test_the_run_s_session_is_read_back_from_the_cli_s_own_files(model: ScriptedModel, workspace: Path) -> None:
    messages = await run("remember me", ClaudeAgentOptions(cwd=workspace, governed=False))
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    sessions = list_sessions(workspace)
    assert [s.session_id for s in sessions] == [result.session_id]
    assert sessions[0].first_prompt == "remember me"
    history = get_session_messages(result.session_id, workspace)
    assert [m.type for m in history] == ["user", "assistant"]
    rename_session(result.session_id, "Kept", workspace)
    info = get_session_info(result.session_id, workspace)
    assert info is not None
    assert info.summary == "Kept"


@pytest.mark.anyio
async def test_a_governed_run_answers_in_the_json_schema_it_was_given(model: ScriptedModel, workspace: Path) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    options = ClaudeAgentOptions(cwd=workspace, output_format={"type": "json_schema", "schema": schema})
    messages = await run("give the answer as json", options)
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.structured_output == {"answer": 42}


@pytest.mark.anyio
async def test_hook_events_of_the_cli_s_own_hooks_arrive_as_hook_event_messages(
    model: ScriptedModel, workspace: Path
) -> None:
    settings = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]}}
    options = ClaudeAgentOptions(
        cwd=workspace, include_hook_events=True, allowed_tools=["Bash(echo:*)"], settings=json.dumps(settings)
    )
    messages = await run("say hi", options)
    events = [(m.subtype, m.hook_event_name) for m in messages if isinstance(m, HookEventMessage)]
    assert ("hook_started", "PreToolUse") in events
    assert ("hook_response", "PreToolUse") in events
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "said: hi"


@pytest.mark.anyio
async def test_a_forked_session_resumes_in_the_cli_with_the_conversation_so_far(
    model: ScriptedModel, workspace: Path
) -> None:
    first = (await run("the code word is plum", ClaudeAgentOptions(cwd=workspace, governed=False)))[-1]
    assert isinstance(first, ResultMessage)
    fork = fork_session(first.session_id, workspace, title="Plum branch")
    assert fork.session_id != first.session_id
    second = await run(
        "what was the code word?", ClaudeAgentOptions(cwd=workspace, governed=False, resume=fork.session_id)
    )
    assert isinstance(second[-1], ResultMessage)
    prompts = [m.prompt_text() for m in model.message_requests()[-1].messages if m.role == "user"]
    assert any("the code word is plum" in p for p in prompts), prompts
    titles = {s.session_id: s.summary for s in list_sessions(workspace)}
    assert titles[fork.session_id] == "Plum branch"
    delete_session(fork.session_id, workspace)
    assert get_session_info(fork.session_id, workspace) is None


@pytest.mark.anyio
@pytest.mark.parametrize(("on_failure", "blocked"), [("block", True), (None, False)])
async def test_a_failing_hook_blocks_the_call_only_when_on_failure_says_block(
    model: ScriptedModel, workspace: Path, on_failure: Literal["block"] | None, blocked: bool
) -> None:
    async def broken(hook_input: Any, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
        raise RuntimeError("the hook has a bug")

    matcher = HookMatcher(matcher="Bash", hooks=[broken], on_failure=on_failure)
    options = ClaudeAgentOptions(
        cwd=workspace, governed=False, allowed_tools=["Bash(echo:*)"], hooks={"PreToolUse": [matcher]}
    )
    messages = await run("say hi", options)
    [result] = model.tool_results()
    assert result.is_error == blocked, result
    assert isinstance(messages[-1], ResultMessage)


@pytest.mark.anyio
async def test_a_permission_request_hook_cannot_approve_what_the_approver_refuses(
    model: ScriptedModel, workspace: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.py"
    policy.write_text("from magistrate.broker import RulePolicy\n\npolicy = RulePolicy(default='ask')\n")
    seen: list[str] = []

    async def approve_everything(hook_input: Any, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
        seen.append(str(hook_input.get("hook_event_name")))
        return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}

    options = ClaudeAgentOptions(
        cwd=workspace,
        policy=policy,
        audit=tmp_path / "trail.sqlite3",
        approver="none",
        hooks={"PermissionRequest": [HookMatcher(hooks=[approve_everything])]},
    )
    await run("say hi", options)
    [result] = model.tool_results()
    assert result.is_error
    assert "no approver" in result.content
    assert seen == ["PermissionRequest"]  # the hook was asked, and its allow changed nothing


@pytest.mark.anyio
async def test_the_cli_takes_every_flag_the_new_options_pass(model: ScriptedModel, workspace: Path) -> None:
    session = "3f2b8c1e-9a4d-4c6e-8b7f-1d2e3f4a5b6c"
    options = ClaudeAgentOptions(
        cwd=workspace,
        tools=["Read", "Grep"],
        session_id=session,
        max_budget_usd=10.0,
        task_budget={"total": 50000},
        fallback_model="haiku",
        effort="high",
        thinking={"type": "adaptive", "display": "summarized"},
        betas=["context-1m-2025-08-07"],
        strict_mcp_config=True,
        include_hook_events=True,
        sandbox={"enabled": False},
        agents={"helper": AgentDefinition(description="Helps", prompt="Help briefly.")},
    )
    messages = await run("hello", options)
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert (result.session_id, result.result) == (session, "Scripted answer to: hello")
    again = await run("hello again", ClaudeAgentOptions(cwd=workspace, resume=session, fork_session=True))
    assert isinstance(again[-1], ResultMessage)
    assert again[-1].session_id != session


class RefusingStore(InMemorySessionStore):
    """A store whose backend is down."""

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        raise ConnectionError("the store is down")


@pytest.mark.anyio
async def test_a_store_that_refuses_the_transcript_is_reported_in_the_stream_and_the_run_goes_on(
    model: ScriptedModel, workspace: Path
) -> None:
    messages = await run("hello", ClaudeAgentOptions(cwd=workspace, governed=False, session_store=RefusingStore()))
    errors = [m for m in messages if isinstance(m, MirrorErrorMessage)]
    assert errors
    assert "the store is down" in errors[0].error
    assert any(isinstance(m, ResultMessage) and m.result == "Scripted answer to: hello" for m in messages)


@pytest.mark.anyio
async def test_the_store_gets_the_transcript_from_the_config_dir_the_run_was_given(
    model: ScriptedModel, workspace: Path, tmp_path: Path
) -> None:
    store = InMemorySessionStore()
    own = {"CLAUDE_CONFIG_DIR": str(tmp_path / "run-config")}
    options = ClaudeAgentOptions(cwd=workspace, governed=False, session_store=store, env=own)
    result = (await run("mirror me", options))[-1]
    assert isinstance(result, ResultMessage)
    history = await get_session_messages_from_store(store, result.session_id, workspace)
    assert [m.type for m in history] == ["user", "assistant"]
