"""The plain `claude` CLI under a policy, with nothing but the files `magistrate settings` writes.

The real CLI runs against the scripted model with the arguments `magistrate settings` printed: the command
hook decides every call (even those the CLI approves by itself) and records every outcome; an ask goes to the
approval server, which puts it in the approval queue, where `magistrate approvals approve` answers it from
another process. The trail is then read and verified with `magistrate audit`, as an auditor would.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from magistrate.sdk.scripted_model import ScriptedModel
from magistrate.servers._approval_queue import ApprovalQueue, QueuedAsk
from tests._harness import CliRun, run_cli
from tests.e2e._cases import (
    ASK,
    AUTO_APPROVED,
    approvals_of,
    decisions_of,
    magistrate,
    outcomes_of,
    trail_records,
)

pytestmark = pytest.mark.anyio

POLICY = textwrap.dedent(
    """
    from magistrate.broker import RulePolicy

    policy = RulePolicy(
        default="allow",
        deny=["Bash(ls:*)", "Bash(cat:*)", "Edit(./locked.txt)"],
        ask=["Bash(touch:*)"],
    )
    """
)


SCENARIO = {"rules": [AUTO_APPROVED, ASK], "default": {"turns": ["nothing to do"]}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def claude_args(tmp_path: Path) -> list[str]:
    """What `magistrate settings` prints, without the leading `claude`."""
    (tmp_path / "policy.py").write_text(POLICY)
    done = magistrate(
        "settings",
        "--policy",
        str(tmp_path / "policy.py"),
        "--db",
        str(tmp_path / "trail.sqlite3"),
        "--out",
        str(tmp_path / "cfg"),
        "--approval-queue",
        str(tmp_path / "asks.sqlite3"),
    )
    assert done.returncode == 0, done.stderr
    command, *args = shlex.split(done.stdout)
    assert command == "claude"
    return args


def plain_run(prompt: str, model: ScriptedModel, home: Path, cwd: Path, args: list[str], *extra: str) -> CliRun:
    # The hook and the server sign with the key this test's `magistrate audit` verifies with.
    env = {"XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"], "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}
    return run_cli(prompt, model=model, home=home, cwd=cwd, args=[*args, *extra], env=env, timeout=120)


def test_calls_the_cli_would_auto_approve_are_decided_by_the_policy_and_recorded(
    claude_cli: Path, isolated_home: Path, workspace: Path, tmp_path: Path, claude_args: list[str]
) -> None:
    db = tmp_path / "trail.sqlite3"
    scenario = json.loads(json.dumps(SCENARIO).replace("{cwd}", str(workspace)))
    with ScriptedModel(scenario) as model:
        run = plain_run(
            "auto-approved calls",
            model,
            isolated_home,
            workspace,
            claude_args,
            *("--allowedTools", "Bash(cat:*)", "--permission-mode", "acceptEdits"),
        )
        results = {r.tool_use_id: r for r in model.tool_results()}
    assert run.returncode == 0, run.stderr
    calls = {c.input["command"]: c for c in run.calls("Bash")}
    [write] = run.calls("Write")
    calls["write"] = write
    assert set(calls) == {"ls", "cat notes.txt", "write", "echo fine"}
    # `ls` is read-only, `cat` is in --allowedTools, the write falls under acceptEdits: the CLI alone would
    # have run all three.
    assert not (workspace / "locked.txt").exists()
    for command in ("ls", "cat notes.txt", "write"):
        result = results[calls[command].id]
        assert result.is_error
        assert "private notes" not in result.content
    assert not results[calls["echo fine"].id].is_error
    assert results[calls["echo fine"].id].content == "fine"

    trail = trail_records(db)
    decisions = {r.tool_use_id: r for r in decisions_of(trail)}
    outcomes = outcomes_of(trail)
    assert set(decisions) == {c.id for c in calls.values()}
    rules = {tid: d.decision.rule.text if d.decision.rule else None for tid, d in decisions.items()}
    assert (rules[calls["ls"].id], rules[write.id]) == ("Bash(ls:*)", "Edit(./locked.txt)")
    assert decisions[calls["cat notes.txt"].id].decision.behavior == "deny"
    assert {d.context.permission_mode for d in decisions.values()} == {"acceptEdits"}
    fine = calls["echo fine"].id
    assert decisions[fine].decision.behavior == "allow"
    assert decisions[fine].session_id == run.result["session_id"]
    assert set(outcomes) == {fine}
    assert outcomes[fine].status == "success"
    assert magistrate("audit", "verify", "--db", str(db)).returncode == 0


async def pending(queue: ApprovalQueue) -> list[QueuedAsk]:
    """The pending asks, once there are any (the caller bounds the wait)."""
    while True:
        rows = await anyio.to_thread.run_sync(queue.list)
        if rows:
            return rows
        await anyio.sleep(0.1)


async def test_an_ask_answered_through_the_approval_queue_runs(
    claude_cli: Path, isolated_home: Path, workspace: Path, tmp_path: Path, claude_args: list[str]
) -> None:
    db, queue = tmp_path / "trail.sqlite3", ApprovalQueue(tmp_path / "asks.sqlite3")
    runs: list[CliRun] = []
    with ScriptedModel(SCENARIO) as model:

        async def run_claude() -> None:
            call = functools.partial(plain_run, "ask first", model, isolated_home, workspace, claude_args)
            runs.append(await anyio.to_thread.run_sync(call))

        with anyio.fail_after(150):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_claude)
                [ask] = await pending(queue)
                assert (ask.tool_name, ask.input, ask.rule) == (
                    "Bash",
                    {"command": "touch approved.txt"},
                    "Bash(touch:*)",
                )
                # The reviewer answers from another terminal: another process.
                answered = await anyio.run_process(
                    [
                        sys.executable,
                        *("-m", "magistrate.cli", "approvals", "approve", ask.id),
                        *("--note", "ticket OPS-12", "--by", "ana", "--db", str(queue.path)),
                    ],
                    check=False,
                )
                assert answered.returncode == 0, answered.stderr
    [run] = runs
    assert run.returncode == 0, run.stderr
    assert (workspace / "approved.txt").exists()
    [call] = run.calls("Bash")
    assert not call.denied

    trail = trail_records(db)
    mine = [r for r in trail if r.tool_use_id == call.id]
    kinds = [r.kind for r in mine]
    # The hook decided the ask; the approval server found that decision instead of deciding again.
    assert kinds.count("decision") == 1
    assert kinds[0] == "decision"
    [decision] = decisions_of(mine)
    assert (decision.decision.behavior, decision.session_id) == ("ask", run.result["session_id"])
    [approval] = approvals_of(mine)
    assert (approval.behavior, approval.approver, approval.note) == ("allow", "queue:ana", "ticket OPS-12")
    assert approval.session_id == run.result["session_id"]
    assert outcomes_of(mine)[call.id].status == "success"
    assert magistrate("audit", "verify", "--db", str(db)).returncode == 0
