"""Outcomes of governed runs come from the stream, ride in the next decision's commit, and none is lost.

A governed run registers no PostToolUse hook: the stream carries every `tool_result`, and the CLI says there
whether a call ran at all. So each allowed call gets exactly one outcome (success or error), a call the
policy or the approver refused gets none, and many runs at once on one trail lose nothing.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from magistrate.broker import DecisionRecord, ToolOutcome
from magistrate.sdk import ClaudeCodeOptions, query
from magistrate.sdk.scripted_model import ScriptedModel
from tests.e2e._cases import approvals_of, bash, decisions_of, magistrate, outcomes_of, trail_records

POLICY = textwrap.dedent(
    """
    from magistrate.broker import RulePolicy

    policy = RulePolicy(default="allow", deny=["Bash(cat:*)"], ask=["Bash(touch:*)"])
    """
)

CALLS = [bash("echo fine"), bash("ls ./no-such-folder"), bash("cat notes.txt"), bash("touch asked.txt")]
"""Allowed and runs; allowed and fails; denied by the policy; asked, and refused (no approver)."""

SCENARIO = {
    "rules": [{"contains": "four calls", "turns": [{"tool_calls": CALLS}, "done"]}],
    "default": {"turns": ["nothing to do"]},
}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedModel]:
    with ScriptedModel(SCENARIO) as scripted:
        for key, value in scripted.env().items():
            monkeypatch.setenv(key, value)
        yield scripted


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.py"
    path.write_text(POLICY)
    return path


async def governed_run(workspace: Path, policy_file: Path, db: Path) -> None:
    options = ClaudeCodeOptions(cwd=workspace, policy=policy_file, audit=db, approver="none")
    async for _ in query(prompt="four calls", options=options):
        pass


def command_of(outcome: ToolOutcome, decisions: dict[str | None, DecisionRecord]) -> str:
    return str(decisions[outcome.tool_use_id].input["command"])


@pytest.mark.anyio
async def test_each_call_that_ran_has_one_outcome_and_a_refused_call_none(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "trail.sqlite3"
    with anyio.fail_after(120):
        await governed_run(workspace, policy_file, db)
    trail = trail_records(db)
    decisions = {r.tool_use_id: r for r in decisions_of(trail)}
    outcomes = list(outcomes_of(trail).values())
    assert sorted(d.decision.behavior for d in decisions.values()) == ["allow", "allow", "ask", "deny"]
    by_command = {command_of(o, decisions): o for o in outcomes}
    assert len(outcomes) == len(by_command) == 2
    assert by_command["echo fine"].status == "success"
    assert by_command["echo fine"].result_size > 0
    assert by_command["ls ./no-such-folder"].status == "error"
    assert "no-such-folder" in (by_command["ls ./no-such-folder"].error or "")
    assert not (workspace / "asked.txt").exists()
    # An outcome is recorded after its decision (it rides in a later commit), never before.
    order = [(r.kind, r.tool_use_id) for r in trail]
    for o in outcomes:
        assert order.index(("decision", o.tool_use_id)) < order.index(("outcome", o.tool_use_id))
    assert magistrate("audit", "verify", "--db", str(db)).returncode == 0


@pytest.mark.anyio
async def test_sixteen_governed_runs_at_once_lose_nothing(
    model: ScriptedModel, workspace: Path, policy_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "shared.sqlite3"
    runs = 16
    with anyio.fail_after(600):
        async with anyio.create_task_group() as group:
            for _ in range(runs):
                group.start_soon(governed_run, workspace, policy_file, db)
    trail = trail_records(db)
    decisions = {r.tool_use_id: r for r in decisions_of(trail)}
    outcomes = Counter(r.tool_use_id for r in trail if r.kind == "outcome")
    assert len(decisions) == runs * len(CALLS)
    assert len({d.session_id for d in decisions.values()}) == runs
    allowed = {tid for tid, d in decisions.items() if d.decision.behavior == "allow"}
    assert len(allowed) == runs * 2
    assert set(outcomes) == allowed, "every allowed call has its outcome, and only those"
    assert set(outcomes.values()) == {1}, "no outcome is recorded twice"
    assert len(approvals_of(trail)) == runs
    done = magistrate("audit", "verify", "--db", str(db))
    assert done.returncode == 0, done.stdout + done.stderr
