"""Governed runs end to end: the real CLI, the scripted model, a Python policy, the broker and the trail.

The point of governance is that the policy decides calls the CLI would have let through on its own: a
read-only command it auto-approves, a tool in `allowed_tools`, an edit under `acceptEdits`. Each test runs
such calls and then reads the trail with `magistrate audit`, the way an auditor would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import AskRequest, Verdict
from magistrate.sdk import ClaudeCodeOptions, ResultMessage, UserMessage, query
from magistrate.sdk.scripted_model import ScriptedModel
from tests.e2e._cases import (
    ASK,
    AUTO_APPROVED,
    approvals_of,
    bash,
    decisions_of,
    magistrate,
    outcomes_of,
    trail_records,
)

POLICY = textwrap.dedent(
    """
    from magistrate.broker import Allow, Ask, Deny, RulePolicy

    policy = RulePolicy(
        default="allow",
        deny=["Bash(ls:*)", "Bash(cat:*)", "Edit(./locked.txt)"],
        ask=["Bash(touch:*)"],
    )

    @policy.rule("Bash")
    def rewrite_greetings(call, context):
        if call.input.command == "echo hello":
            return Allow(updated_input={**call.raw, "command": "echo hello from the policy"})
        if call.input.command == "echo explode":
            raise RuntimeError("this rule has a bug")
        return None
    """
)


SCENARIO = {
    "rules": [
        AUTO_APPROVED,
        {"contains": "rewrite", "turns": [{"tool_calls": [bash("echo hello")]}, "Got: {last_tool_result}"]},
        ASK,
        {"contains": "explode", "turns": [{"tool_calls": [bash("echo explode")]}, "done"]},
    ],
    "default": {"turns": ["nothing to do"]},
}


@pytest.fixture
def model(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedModel]:
    scenario = json.loads(json.dumps(SCENARIO).replace("{cwd}", str(workspace)))
    with ScriptedModel(scenario) as scripted:
        for key, value in scripted.env().items():
            monkeypatch.setenv(key, value)
        yield scripted


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.py"
    path.write_text(POLICY)
    return path


def audit(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return magistrate("audit", *args, "--db", str(db))


async def run(prompt: str, options: ClaudeCodeOptions) -> list[Any]:
    with anyio.fail_after(90):
        return [message async for message in query(prompt=prompt, options=options)]


def tool_results(messages: list[Any]) -> dict[str, Any]:
    return {
        block.tool_use_id: block
        for message in messages
        if isinstance(message, UserMessage) and not isinstance(message.content, str)
        for block in message.content
        if hasattr(block, "tool_use_id")
    }


@pytest.mark.anyio
async def test_calls_the_cli_would_auto_approve_are_decided_by_the_policy(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "trail.sqlite3"
    options = ClaudeCodeOptions(
        cwd=workspace,
        policy=policy_file,
        audit=db,
        allowed_tools=["Bash(cat:*)", "Edit"],
        permission_mode="acceptEdits",
    )
    messages = await run("auto-approved calls", options)
    results = {r.tool_use_id: r for r in model.tool_results()}
    assert len(results) == 4
    by_content = {r.content: r for r in results.values()}
    assert "fine" in by_content, by_content
    assert not by_content["fine"].is_error
    denied = [r for r in results.values() if r.is_error]
    assert len(denied) == 3
    assert not (workspace / "locked.txt").exists()
    assert isinstance(messages[-1], ResultMessage)

    trail = trail_records(db)
    decisions = {r.tool_use_id: r.decision for r in decisions_of(trail)}
    outcomes = outcomes_of(trail)
    assert set(decisions) == set(results)
    by_rule = {d.rule.text: d for d in decisions.values() if d.rule}
    assert by_rule["Bash(ls:*)"].behavior == "deny"
    assert by_rule["Bash(cat:*)"].behavior == "deny"
    assert by_rule["Edit(./locked.txt)"].behavior == "deny"
    allowed = [tid for tid, d in decisions.items() if d.behavior == "allow"]
    assert len(allowed) == 1
    assert outcomes[str(allowed[0])].status == "success"
    assert audit(db, "verify").returncode == 0


@pytest.mark.anyio
async def test_a_rule_rewrites_the_input_and_the_rewritten_command_runs(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "trail.sqlite3"
    messages = await run("rewrite it", ClaudeCodeOptions(cwd=workspace, policy=policy_file, audit=db))
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "Got: hello from the policy"
    [decision] = decisions_of(trail_records(db))
    assert decision.input["command"] == "echo hello"
    assert decision.decision.input["command"] == "echo hello from the policy"


@pytest.mark.anyio
async def test_an_ask_goes_to_the_approver_and_the_answer_is_recorded(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "trail.sqlite3"
    seen: list[AskRequest] = []

    def approver(ask: AskRequest) -> Verdict:
        seen.append(ask)
        return Verdict(approved=True, approver="reviewer:ana", note="ticket OPS-12")

    await run("ask first", ClaudeCodeOptions(cwd=workspace, policy=policy_file, audit=db, approver=approver))
    assert (workspace / "approved.txt").exists()
    assert [ask.rule for ask in seen] == ["Bash(touch:*)"]
    trail = trail_records(db)
    [approval] = approvals_of(trail)
    assert (approval.behavior, approval.approver, approval.note) == ("allow", "reviewer:ana", "ticket OPS-12")
    assert any(o.status == "success" for o in outcomes_of(trail).values())
    assert audit(db, "verify").returncode == 0


@pytest.mark.anyio
async def test_an_ask_with_no_approver_is_a_recorded_deny(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "trail.sqlite3"
    await run("ask first", ClaudeCodeOptions(cwd=workspace, policy=policy_file, audit=db, approver="none"))
    assert not (workspace / "approved.txt").exists()
    trail = trail_records(db)
    [approval] = approvals_of(trail)
    assert (approval.behavior, approval.approver) == ("deny", "none")
    assert not any(o.status == "success" for o in outcomes_of(trail).values())


@pytest.mark.anyio
async def test_a_rule_that_raises_is_a_deny_recorded_with_its_error(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "trail.sqlite3"
    await run("explode", ClaudeCodeOptions(cwd=workspace, policy=policy_file, audit=db))
    [result] = model.tool_results()
    assert result.is_error
    decision = decisions_of(trail_records(db))[0].decision
    assert decision.behavior == "deny"
    assert "this rule has a bug" in (decision.error or "")


def test_an_unchanged_script_runs_governed_from_the_environment(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "env-trail.sqlite3"
    script = tmp_path / "plain.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from magistrate.sdk import query

            async def main():
                async for message in query(prompt="auto-approved calls"):
                    pass

            asyncio.run(main())
            """
        )
    )
    env = {**os.environ, "MAGISTRATE_POLICY": str(policy_file), "MAGISTRATE_AUDIT": str(db)}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=workspace, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    decisions = [r.decision for r in decisions_of(trail_records(db))]
    assert len(decisions) == 4
    assert {d.rule.text for d in decisions if d.behavior == "deny" and d.rule} >= {"Bash(ls:*)", "Bash(cat:*)"}


@pytest.mark.anyio
async def test_concurrent_governed_runs_share_one_trail_that_verifies(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "shared.sqlite3"

    async def one() -> None:
        options = ClaudeCodeOptions(cwd=workspace, policy=policy_file, audit=db)
        async for _ in query(prompt="auto-approved calls", options=options):
            pass

    with anyio.fail_after(180):
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(one)
    trail = trail_records(db)
    decisions = decisions_of(trail)
    assert len(decisions) == 8 * 4
    assert len({d.session_id for d in decisions}) == 8
    assert audit(db, "verify").returncode == 0
