"""The approval queue: an ask waits in the database until a person answers it with `magistrate approvals`.

The answers come from another process (the real command), as they would from a reviewer's terminal; every
test runs on a SQLite file and on a PostgreSQL database (reviewers on other machines).
"""

from __future__ import annotations

import json
import sys

import anyio
import pytest

from magistrate.broker import (
    AskRequest,
    Broker,
    CallContext,
    PromptResolver,
    RulePolicy,
    Trail,
    Verdict,
)
from magistrate.servers._approval_queue import ApprovalQueue, QueueApprover, QueuedAsk
from tests._harness import last_approval

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def queue(db_location: str) -> ApprovalQueue:
    return ApprovalQueue(db_location)


def prompt(trail: Trail, queue: ApprovalQueue, timeout: float = 30.0) -> PromptResolver:
    broker = Broker(RulePolicy(default="allow", ask=["Bash(touch:*)"]), trail)
    return PromptResolver(
        governor=broker,
        approver=QueueApprover(queue, poll_interval=0.02),
        context=lambda: CallContext(session_id="s1"),
        timeout=timeout,
    )


async def pending(queue: ApprovalQueue) -> QueuedAsk:
    """The one pending ask, once it arrives (bounded by the caller's fail_after)."""
    while True:
        rows = await anyio.to_thread.run_sync(queue.list)
        if rows:
            [row] = rows
            return row
        await anyio.sleep(0.02)


async def approvals(queue: ApprovalQueue, *args: str) -> tuple[int, str, str]:
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "magistrate.cli", "approvals", *args, "--db", queue.location], check=False
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_an_ask_is_approved_from_another_process_with_a_note(trail: Trail, queue: ApprovalQueue) -> None:
    resolver = prompt(trail, queue)
    answers: list[str] = []

    async def ask() -> None:
        answers.append(
            await resolver.answer({"tool_name": "Bash", "input": {"command": "touch f"}, "tool_use_id": "t1"})
        )

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            row = await pending(queue)
            assert (row.tool_name, row.input, row.rule, row.session_id) == (
                "Bash",
                {"command": "touch f"},
                "Bash(touch:*)",
                "s1",
            )
            code, out, _ = await approvals(queue, "list")
            assert code == 0
            assert row.id in out
            assert "touch f" in out
            code, out, err = await approvals(queue, "approve", row.id, "--note", "change CHG-7", "--by", "ana")
            assert code == 0, err
            assert f"{row.id} approved by ana" in out
    assert json.loads(answers[0]) == {"behavior": "allow", "updatedInput": {"command": "touch f"}}
    approval = last_approval(trail)
    assert (approval.behavior, approval.approver, approval.note) == ("allow", "queue:ana", "change CHG-7")
    answered = queue.get(row.id)
    assert answered is not None
    assert answered.status == "approved"


async def test_a_denial_from_the_queue_is_a_deny(trail: Trail, queue: ApprovalQueue) -> None:
    resolver = prompt(trail, queue)
    answers: list[str] = []

    async def ask() -> None:
        answers.append(await resolver.answer({"tool_name": "Bash", "input": {"command": "touch f"}}))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            row = await pending(queue)
            code, _, err = await approvals(queue, "deny", row.id, "--note", "not in prod")
            assert code == 0, err
    answer = json.loads(answers[0])
    assert answer["behavior"] == "deny"
    assert "not in prod" in answer["message"]


async def test_a_timeout_expires_the_ask_so_it_cannot_be_approved_late(trail: Trail, queue: ApprovalQueue) -> None:
    resolver = prompt(trail, queue, timeout=0.3)
    with anyio.fail_after(30):
        answer = json.loads(await resolver.answer({"tool_name": "Bash", "input": {"command": "touch f"}}))
    assert answer["behavior"] == "deny"
    assert last_approval(trail).approver == "timeout"
    [row] = queue.list(None)
    assert row.status == "expired"
    code, _, err = await approvals(queue, "approve", row.id)
    assert code == 1
    assert "already expired" in err
    still = queue.get(row.id)
    assert still is not None
    assert still.status == "expired"


async def test_an_ask_is_answered_once(queue: ApprovalQueue) -> None:
    ask_id = queue.submit(AskRequest("Bash", {"command": "touch f"}, None, "s1", "asks", None))
    assert (await approvals(queue, "approve", ask_id))[0] == 0
    code, _, err = await approvals(queue, "deny", ask_id)
    assert code == 1
    assert "already approved" in err
    code, _, err = await approvals(queue, "approve", "no-such-id")
    assert code == 1
    assert "no ask with id" in err


def _ask() -> AskRequest:
    return AskRequest("Bash", {"command": "touch f"}, "t9", "s1", "asks", "Bash(touch:*)")


async def test_a_queue_approver_with_a_timeout_denies_and_expires_the_unanswered_ask(queue: ApprovalQueue) -> None:
    approver = QueueApprover(queue, poll_interval=0.02, timeout=0.2)
    with anyio.fail_after(30):
        verdict = await approver.approve(_ask())
    assert (verdict.approved, verdict.approver) == (False, "queue:timeout")
    assert "no answer within 0.2 s" in verdict.note
    [row] = queue.list(None)
    assert (row.status, row.decided_by) == ("expired", None)
    with pytest.raises(LookupError, match="already expired"):
        queue.decide(row.id, approve=True, by="late")


async def test_a_queue_approver_returns_the_answer_given_before_its_timeout(queue: ApprovalQueue) -> None:
    approver = QueueApprover(queue, poll_interval=0.02, timeout=60)
    verdicts: list[Verdict] = []

    async def wait() -> None:
        verdicts.append(await approver.approve(_ask()))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            row = await pending(queue)
            await anyio.to_thread.run_sync(lambda: queue.decide(row.id, approve=False, by="ana", note="no"))
    assert verdicts == [Verdict(approved=False, approver="queue:ana", note="no")]
    answered = queue.get(row.id)
    assert answered is not None
    assert answered.status == "denied"


async def test_a_cancelled_wait_expires_its_ask(queue: ApprovalQueue) -> None:
    approver = QueueApprover(queue, poll_interval=0.02)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(approver.approve, _ask())
            await pending(queue)
            tg.cancel_scope.cancel()
    [row] = queue.list(None)
    assert row.status == "expired"
