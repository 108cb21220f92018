"""The approval prompt's resolver and approvers, over a real broker, policy and trail.

Each test reads the trail back: an answer that is not recorded is not an answer.
"""

from __future__ import annotations

import json
import os
import select
import time
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from magistrate.broker import (
    Approval,
    AskRequest,
    Broker,
    CallbackApprover,
    CallContext,
    DecisionRecord,
    PromptResolver,
    RulePolicy,
    TerminalApprover,
    ToolCall,
    Trail,
    Verdict,
)
from magistrate.broker._decision import Decision
from magistrate.broker._interfaces import ToolOutcome
from magistrate.broker._trail_errors import AuditError
from tests._harness import last_approval, records

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def broker(trail: Trail) -> Broker:
    return Broker(RulePolicy(default="allow", deny=["Bash(rm:*)"], ask=["Bash(touch:*)"]), trail)


def request(command: str, tool_use_id: str = "toolu_1") -> dict[str, Any]:
    return {"tool_name": "Bash", "input": {"command": command}, "tool_use_id": tool_use_id}


@dataclass
class Counting:
    """An approver that answers as told and counts how often it was asked."""

    verdict: Verdict
    asked: int = 0

    async def approve(self, ask: AskRequest) -> Verdict:
        self.asked += 1
        return self.verdict


def resolver(broker: Broker, approver: Any, timeout: float = 10.0) -> PromptResolver:
    return PromptResolver(
        governor=broker, approver=approver, context=lambda: CallContext(session_id="s1"), timeout=timeout
    )


async def answer(resolver: PromptResolver, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(20):
        text = await resolver.answer(arguments)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


async def test_a_deny_stays_a_deny_whatever_the_approver(broker: Broker, trail: Trail) -> None:
    yes = Counting(Verdict(approved=True, approver="yes-man"))
    result = await answer(resolver(broker, yes), request("rm -rf /"))
    assert result["behavior"] == "deny"
    assert "Bash(rm:*)" in result["message"]
    assert yes.asked == 0
    assert [r.kind for r in records(trail)] == ["decision"]


async def test_an_undecided_call_is_decided_and_recorded_first(broker: Broker, trail: Trail) -> None:
    result = await answer(resolver(broker, None), request("echo hi"))
    assert result == {"behavior": "allow", "updatedInput": {"command": "echo hi"}}
    [decision] = records(trail)
    assert isinstance(decision, DecisionRecord)
    assert (decision.decision.behavior, decision.tool_use_id) == ("allow", "toolu_1")


async def test_a_call_the_hook_already_decided_is_not_decided_again(broker: Broker, trail: Trail) -> None:
    call = ToolCall("Bash", {"command": "touch f"}, "toolu_9")
    with anyio.fail_after(10):
        decision = await broker.decide(call, CallContext(session_id="s1"))
    prompt = resolver(broker, Counting(Verdict(approved=True, approver="ana")))
    prompt.known["toolu_9"] = (call, decision)
    result = await answer(prompt, request("touch f", "toolu_9"))
    assert result["behavior"] == "allow"
    assert [r.kind for r in records(trail)] == ["decision", "approval"]


async def test_an_ask_goes_to_the_approver_and_its_answer_is_recorded(broker: Broker, trail: Trail) -> None:
    seen: list[AskRequest] = []

    def approve(ask: AskRequest) -> Verdict:
        seen.append(ask)
        return Verdict(approved=True, approver="reviewer:ana", note="OPS-12", updated_input={"command": "touch g"})

    result = await answer(resolver(broker, CallbackApprover(approve)), request("touch f"))
    assert result == {"behavior": "allow", "updatedInput": {"command": "touch g"}}
    [ask] = seen
    assert (ask.tool_name, dict(ask.input), ask.rule, ask.session_id) == (
        "Bash",
        {"command": "touch f"},
        "Bash(touch:*)",
        "s1",
    )
    approval = last_approval(trail)
    assert (approval.behavior, approval.approver, approval.note) == ("allow", "reviewer:ana", "OPS-12")
    assert approval.updated_input == {"command": "touch g"}


async def test_an_approver_saying_no_is_a_recorded_deny(broker: Broker, trail: Trail) -> None:
    no = Counting(Verdict(approved=False, approver="reviewer:bo", note="not today"))
    result = await answer(resolver(broker, no), request("touch f"))
    assert result == {"behavior": "deny", "message": "Denied by reviewer:bo (not today)."}
    assert last_approval(trail).behavior == "deny"


async def test_no_approver_is_a_deny(broker: Broker, trail: Trail) -> None:
    result = await answer(resolver(broker, None), request("touch f"))
    assert result["behavior"] == "deny"
    assert last_approval(trail).approver == "none"


async def test_an_approver_that_does_not_answer_in_time_is_a_deny(broker: Broker, trail: Trail) -> None:
    class Silent:
        async def approve(self, ask: AskRequest) -> Verdict:
            await anyio.Event().wait()  # never set: only the resolver's timeout ends this
            raise AssertionError("unreachable")

    result = await answer(resolver(broker, Silent(), timeout=0.2), request("touch f"))
    assert result["behavior"] == "deny"
    assert "timeout" in result["message"]
    approval = last_approval(trail)
    assert (approval.behavior, approval.approver) == ("deny", "timeout")


async def test_an_approver_that_raises_is_a_deny(broker: Broker, trail: Trail) -> None:
    def explode(ask: AskRequest) -> bool:
        raise RuntimeError("the approver has a bug")

    result = await answer(resolver(broker, CallbackApprover(explode)), request("touch f"))
    assert result["behavior"] == "deny"
    approval = last_approval(trail)
    assert (approval.behavior, approval.approver) == ("deny", "error")
    assert "the approver has a bug" in approval.note


async def test_a_callback_returning_something_else_is_a_deny(broker: Broker) -> None:
    def untyped(ask: AskRequest) -> Any:
        return "yes"

    result = await answer(resolver(broker, CallbackApprover(untyped)), request("touch f"))
    assert result["behavior"] == "deny"


@dataclass
class ApprovalsFail:
    """A governor whose trail accepts decisions but not approvals."""

    broker: Broker

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        return await self.broker.decide(call, context)

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        await self.broker.record_outcome(outcome)

    async def record_approval(self, approval: Approval) -> None:
        raise AuditError("the disk is full")

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        await self.broker.record_cli_decision(call, context, decision)


async def test_an_approval_that_cannot_be_recorded_is_a_deny(broker: Broker) -> None:
    yes = Counting(Verdict(approved=True, approver="ana"))
    prompt = PromptResolver(governor=ApprovalsFail(broker), approver=yes)
    result = await answer(prompt, request("touch f"))
    assert yes.asked == 1
    assert result["behavior"] == "deny"
    assert "could not be recorded" in result["message"]


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"input": {"command": "ls"}},
        {"tool_name": "", "input": {}},
        {"tool_name": "Bash", "input": "ls"},
        {"tool_name": 3, "input": {}},
    ],
)
async def test_an_invalid_request_is_a_deny(broker: Broker, trail: Trail, arguments: dict[str, Any]) -> None:
    yes = Counting(Verdict(approved=True, approver="ana"))
    result = await answer(resolver(broker, yes), arguments)
    assert result["behavior"] == "deny"
    assert "invalid request" in result["message"]
    assert yes.asked == 0
    assert records(trail) == []


ASK = AskRequest("Bash", {"command": "touch f"}, "toolu_1", "s1", "the policy asks", "Bash(touch:*)")


async def test_callback_approvers_may_be_sync_or_async() -> None:
    async def later(ask: AskRequest) -> Verdict:
        await anyio.lowlevel.checkpoint()
        return Verdict(approved=True, approver="async-reviewer", note=ask.tool_name)

    def sync_no(ask: AskRequest) -> bool:
        return False

    with anyio.fail_after(5):
        assert await CallbackApprover(later).approve(ASK) == Verdict(True, "async-reviewer", "Bash")
        verdict = await CallbackApprover(sync_no, name="gate").approve(ASK)
    assert (verdict.approved, verdict.approver) == (False, "callback:gate")


def read_all(master: int) -> str:
    """Everything written to the terminal; with no slave left open, Linux ends the stream with EIO.

    A slave left open (an approver that leaks its terminal) would make a plain read wait forever: bounded here.
    """
    chunks: list[bytes] = []
    deadline = time.monotonic() + 10
    while True:
        ready, _, _ = select.select([master], [], [], max(deadline - time.monotonic(), 0))
        assert ready, f"the terminal was still open after 10s; it showed {b''.join(chunks)!r}"
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(("typed", "approved"), [("y\n", True), ("yes\n", True), ("n\n", False), ("\n", False)])
async def test_the_terminal_approver_asks_on_a_terminal(typed: str, approved: bool) -> None:
    master, slave = os.openpty()
    try:
        try:
            os.write(master, f"{typed}checked the ticket\n".encode())
            with anyio.fail_after(10):
                verdict = await TerminalApprover(tty_path=os.ttyname(slave)).approve(ASK)
        finally:
            os.close(slave)
        shown = read_all(master)
    finally:
        os.close(master)
    assert verdict.approved is approved
    assert verdict.note == "checked the ticket"
    assert verdict.approver.startswith("terminal:")
    assert "Bash" in shown
    assert "touch f" in shown
    assert "Bash(touch:*)" in shown
    assert "Allow? [y/N]" in shown
