"""The approval prompt: how an `ask` becomes an allow or a deny, and who answered it.

The CLI calls its `--permission-prompt-tool` for every call it would prompt a person about. magistrate's
answer never trusts that path blindly: a call the broker has not decided is decided first, a deny stays a
deny, and only an ask reaches an approver (a Python callback, the terminal, or the approval queue that a
person answers with `magistrate approvals`). A timeout, an error or no approver at all is a deny. Every
answer is recorded.

Nothing here imports `mcp`: the SDK answers the prompt in-process on every run, and the standalone server
(`_approval_server`) wraps the same function.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import Decision
from magistrate.broker._defaults import DEFAULT_TIMEOUT
from magistrate.broker._interfaces import Approval, Governor
from magistrate.broker._log import get_logger

log = get_logger("magistrate.broker.approval")


TOOL_DESCRIPTION = (
    "Decide whether a tool call may run: the broker's policy decides, and an `ask` goes to an approver. "
    'Returns {"behavior":"allow","updatedInput":{...}} or {"behavior":"deny","message":"..."}.'
)
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tool_name": {"type": "string", "description": "The tool the model wants to call."},
        "input": {"type": "object", "description": "The input the model gave it."},
        "tool_use_id": {"type": "string", "description": "The model's id for the call."},
    },
    "required": ["tool_name", "input"],
}


class PromptRequest(BaseModel):
    """What the CLI sends to its permission prompt tool."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    tool_name: str = Field(min_length=1)
    """The tool the model wants to call."""
    input: dict[str, Any]
    """The input the model gave it."""
    tool_use_id: str | None = None
    """The model's id for the call; links the answer to the broker's decision."""


@dataclass(frozen=True, slots=True)
class AskRequest:
    """What an approver is shown."""

    tool_name: str
    input: Mapping[str, Any]
    tool_use_id: str | None
    session_id: str
    reason: str
    """Why the policy asks (the deciding rule's message)."""
    rule: str | None
    """The text of the rule that asked, if any."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """An approver's answer."""

    approved: bool
    approver: str
    note: str = ""
    updated_input: Mapping[str, Any] | None = None


class Approver(Protocol):
    """Answers asks. Raising, or taking longer than the timeout, counts as a deny."""

    async def approve(self, ask: AskRequest) -> Verdict: ...


ApprovalCallback = Callable[[AskRequest], bool | Verdict | Awaitable[bool | Verdict]]


@dataclass
class CallbackApprover:
    """A Python function decides: return True/False or a Verdict (sync or async)."""

    callback: ApprovalCallback
    name: str = ""

    async def approve(self, ask: AskRequest) -> Verdict:
        who = f"callback:{self.name or getattr(self.callback, '__qualname__', 'callback')}"
        answer = self.callback(ask)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, Verdict):
            return answer
        if isinstance(answer, bool):
            return Verdict(approved=answer, approver=who)
        raise TypeError(f"an approval callback must return bool or Verdict, got {type(answer).__name__}")


def prompt_text(behavior: str, *, updated_input: Mapping[str, Any] | None = None, message: str = "") -> str:
    """The one text block the CLI accepts from a permission prompt tool."""
    if behavior == "allow":
        return json.dumps({"behavior": "allow", "updatedInput": dict(updated_input or {})})
    return json.dumps({"behavior": "deny", "message": message or "Denied by policy."})


@dataclass(frozen=True, slots=True)
class Recalled:
    """A decision found in the trail: the call it was for, the decision, and the session that made it."""

    call: ToolCall
    decision: Decision
    session_id: str


@dataclass
class PromptResolver:
    """Answers the prompt for one run or one server: decide if needed, ask if asked, record the answer."""

    governor: Governor
    approver: Approver | None
    context: Callable[[], CallContext] = CallContext
    timeout: float = DEFAULT_TIMEOUT
    known: dict[str, tuple[ToolCall, Decision]] = field(default_factory=dict)
    """Asks the run's PreToolUse hook already decided, by tool_use_id, so they are not decided twice."""
    recall: Callable[[str], Awaitable[Recalled | None]] | None = None
    """Finds a decision another process made for a tool_use_id (the plain CLI's command hook), in the trail."""

    async def answer(self, arguments: Mapping[str, Any]) -> str:
        try:
            request = PromptRequest.model_validate(arguments)
        except ValidationError as exc:
            return prompt_text(
                "deny", message=f"Denied: the permission prompt got an invalid request ({exc.errors()[0]['msg']})."
            )
        context = self.context()
        session_id = context.session_id
        known = self.known.pop(request.tool_use_id, None) if request.tool_use_id else None
        if known is None and request.tool_use_id and self.recall is not None:
            recalled = await self.recall(request.tool_use_id)
            # Trusted only for the very call it was made for; anything else is decided afresh.
            same_call = recalled is not None and recalled.call.tool_name == request.tool_name
            if recalled is not None and same_call and dict(recalled.decision.input) == request.input:
                known = (recalled.call, recalled.decision)
                session_id = recalled.session_id
        if known is not None:
            call, decision = known
        else:
            call = ToolCall(request.tool_name, request.input, request.tool_use_id)
            decision = await self.governor.decide(call, context)
        if decision.behavior == "deny":
            return prompt_text("deny", message=decision.message)
        if decision.behavior == "allow":
            return prompt_text("allow", updated_input=decision.input)
        ask = AskRequest(
            tool_name=call.tool_name,
            input=decision.input,
            tool_use_id=call.tool_use_id,
            session_id=session_id,
            reason=decision.message,
            rule=decision.rule.text if decision.rule else None,
        )
        verdict = await self._ask(ask)
        final_input = verdict.updated_input if verdict.approved and verdict.updated_input is not None else ask.input
        approval = Approval(
            tool_use_id=ask.tool_use_id,
            tool_name=ask.tool_name,
            session_id=ask.session_id,
            behavior="allow" if verdict.approved else "deny",
            approver=verdict.approver,
            note=verdict.note,
            updated_input=final_input if verdict.approved else None,
        )
        try:
            await self.governor.record_approval(approval)
        except Exception as exc:  # noqa: BLE001 - an unrecorded approval must not run
            log.error("approval_not_recorded", tool=ask.tool_name, error=repr(exc))
            return prompt_text("deny", message="Denied: the approval could not be recorded in the audit trail.")
        if not verdict.approved:
            note = f" ({verdict.note})" if verdict.note else ""
            return prompt_text("deny", message=f"Denied by {verdict.approver}{note}.")
        return prompt_text("allow", updated_input=final_input)

    async def _ask(self, ask: AskRequest) -> Verdict:
        if self.approver is None:
            return Verdict(approved=False, approver="none", note="no approver is configured")
        try:
            with anyio.fail_after(self.timeout):
                return await self.approver.approve(ask)
        except TimeoutError:
            return Verdict(approved=False, approver="timeout", note=f"no answer within {self.timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - an approver's failure is a deny, never an allow
            log.warning("approver_failed", tool=ask.tool_name, error=repr(exc))
            return Verdict(approved=False, approver="error", note=f"{type(exc).__name__}: {exc}")
