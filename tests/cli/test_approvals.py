"""`magistrate approvals list|approve|deny` over the approval queue, as a reviewer runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from magistrate.broker import AskRequest
from magistrate.servers._approval_queue import ApprovalQueue, default_queue_path


def approvals(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "approvals", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def ask(command: str, reason: str = "Rule Bash(touch:*) asks for approval") -> AskRequest:
    return AskRequest("Bash", {"command": command}, "toolu_1", "s1", reason, "Bash(touch:*)")


@pytest.fixture
def queue(tmp_path: Path) -> ApprovalQueue:
    return ApprovalQueue(tmp_path / "asks.sqlite3")


def test_list_shows_pending_asks_with_their_reason(queue: ApprovalQueue) -> None:
    assert approvals("list", "--db", str(queue.path)).stdout == "no pending asks\n"
    first = queue.submit(ask("touch a"))
    second = queue.submit(ask("touch " + "b" * 200))
    done = approvals("list", "--db", str(queue.path))
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith(first)
    assert '{"command": "touch a"}  pending' in lines[0]
    assert lines[1] == "    why: Rule Bash(touch:*) asks for approval"
    assert lines[2].startswith(second)
    assert "..." in lines[2]


def test_a_postgres_queue_is_reached_by_its_url(postgres_database: str) -> None:
    waiting = ApprovalQueue(postgres_database).submit(ask("touch a"))
    done = approvals("list", env={"MAGISTRATE_APPROVAL_QUEUE": postgres_database})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(waiting)
    done = approvals("approve", waiting, "--by", "ana", "--db", postgres_database)
    assert (done.returncode, done.stdout) == (0, f"{waiting} approved by ana\n")


def test_approve_and_deny_record_who_and_why(queue: ApprovalQueue) -> None:
    yes, no = queue.submit(ask("touch a")), queue.submit(ask("touch b"))
    done = approvals("approve", yes, "--note", "CHG-1", "--by", "ana", "--db", str(queue.path))
    assert (done.returncode, done.stdout) == (0, f"{yes} approved by ana\n")
    done = approvals("deny", no, "--note", "not now", "--db", str(queue.path))
    assert done.returncode == 0
    approved, denied = queue.get(yes), queue.get(no)
    assert approved is not None
    assert (approved.status, approved.decided_by, approved.note) == ("approved", "ana", "CHG-1")
    assert denied is not None
    assert (denied.status, denied.note) == ("denied", "not now")
    assert denied.decided_by  # the reviewer's user name by default
    assert approvals("list", "--db", str(queue.path)).stdout == "no pending asks\n"
    listed = approvals("list", "--all", "--json", "--db", str(queue.path)).stdout.splitlines()
    assert [json.loads(line)["status"] for line in listed] == ["approved", "denied"]


def test_an_ask_that_is_no_longer_pending_cannot_be_answered(queue: ApprovalQueue) -> None:
    ask_id = queue.submit(ask("touch a"))
    queue.expire(ask_id)
    done = approvals("approve", ask_id, "--db", str(queue.path))
    assert done.returncode == 1
    assert done.stderr == f"magistrate approvals: ask {ask_id} is already expired\n"
    done = approvals("deny", "nope", "--db", str(queue.path))
    assert done.returncode == 1
    assert "no ask with id 'nope'" in done.stderr


def test_the_queue_comes_from_the_environment_or_the_per_user_default(tmp_path: Path) -> None:
    env_queue = ApprovalQueue(tmp_path / "from-env.sqlite3")
    ask_id = env_queue.submit(ask("touch a"))
    assert ask_id in approvals("list", env={"MAGISTRATE_APPROVAL_QUEUE": str(env_queue.path)}).stdout
    default = ApprovalQueue(default_queue_path())  # under this test's private XDG_STATE_HOME
    other = default.submit(ask("touch b"))
    listed = approvals("list").stdout
    assert other in listed
    assert ask_id not in listed
