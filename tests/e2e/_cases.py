"""What the governed-run tests share: the calls a policy must decide although the CLI would let them through,
and reading the trail the way an auditor does, with `magistrate audit`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from magistrate.broker import Approval, ApprovalRecord, DecisionRecord, OutcomeRecord, ToolOutcome, TrailRecord
from tests._harness import exported_records


def bash(command: str) -> dict[str, Any]:
    """A Bash tool call as a scenario writes it."""
    return {"name": "Bash", "input": {"command": command}}


AUTO_APPROVED = {
    "contains": "auto-approved",
    "turns": [
        {
            "tool_calls": [
                bash("ls"),
                bash("cat notes.txt"),
                {"name": "Write", "input": {"file_path": "{cwd}/locked.txt", "content": "x"}},
                bash("echo fine"),
            ]
        },
        "done",
    ],
}
"""A read-only command, a command in allowed_tools, and a Write under acceptEdits: the CLI runs all three by
itself; only the policy stops them. `{cwd}` is replaced with the workspace by the test."""

ASK = {"contains": "ask", "turns": [{"tool_calls": [bash("touch approved.txt")]}, "done"]}
"""One call that an ask rule (`Bash(touch:*)`) sends to the approver."""


def magistrate(*args: str) -> subprocess.CompletedProcess[str]:
    """The `magistrate` command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def trail_records(db: Path) -> list[TrailRecord]:
    """Every record of the trail at `db`, in order, from `magistrate audit export`, read through its model."""
    done = magistrate("audit", "export", "--db", str(db))
    assert done.returncode == 0, done.stderr
    return exported_records(done.stdout)


def decisions_of(trail: list[TrailRecord]) -> list[DecisionRecord]:
    return [r for r in trail if isinstance(r, DecisionRecord)]


def outcomes_of(trail: list[TrailRecord]) -> dict[str, ToolOutcome]:
    """The outcomes by the id of their call."""
    return {r.outcome.tool_use_id: r.outcome for r in trail if isinstance(r, OutcomeRecord)}


def approvals_of(trail: list[TrailRecord]) -> list[Approval]:
    return [r.approval for r in trail if isinstance(r, ApprovalRecord)]
