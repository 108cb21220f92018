"""The hook adapter: the CLI's hook input in, a decision or a recorded outcome, the hook's answer out.

There is one path for both ways a run is governed. The SDK receives hook input over the control protocol;
`magistrate hook` reads it on stdin as a command hook of a plain `claude` run. Both parse it into
`HookInput` and hand it to `HookSession.answer`, so a call is decided the same way whichever way it came.

PreToolUse is decided by the governor and answered with `permissionDecision` (and the input the decision
carries, which a rewrite changed). PostToolUse and PostToolUseFailure record the call's outcome, linked to
its decision; a call that was allowed and never reported one is recorded as `not_run` at `close`.

Any failure on this path is a deny: an exception never turns into silence, which the CLI would read as
"no opinion" and apply only its own rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from magistrate.broker._approval import Approver, PromptResolver
from magistrate.broker._call import CallContext, ToolCall, permission_mode_of
from magistrate.broker._cli_decisions import Unhooked
from magistrate.broker._decision import Behavior, Decision
from magistrate.broker._defaults import DEFAULT_TIMEOUT
from magistrate.broker._interfaces import Governor, ToolOutcome
from magistrate.broker._log import get_logger

log = get_logger("magistrate.broker.hooks")

ToolHookEvent = Literal["PreToolUse", "PostToolUse", "PostToolUseFailure"]
"""The tool events a governed run registers for; the SDK and `magistrate settings` register exactly these."""
TOOL_HOOK_EVENTS: tuple[ToolHookEvent, ...] = get_args(ToolHookEvent)
OUTCOME_EVENTS: tuple[ToolHookEvent, ...] = ("PostToolUse", "PostToolUseFailure")
"""The events that report a call's outcome; the other one decides it."""

ERROR_LIMIT = 2000
"""Characters of a failed tool's error kept in its outcome record."""


class HookInput(BaseModel):
    """What the CLI sends a hook for the tool events, on stdin or over the control protocol.

    Unknown fields are kept: the CLI adds fields between versions, and a hook must not refuse them.
    """

    model_config = ConfigDict(extra="allow")

    hook_event_name: ToolHookEvent
    """Which event this is."""
    tool_name: str = Field(min_length=1)
    """The tool the model called: `Bash`, `Read`, `mcp__server__tool`, ..."""
    tool_input: dict[str, Any] = Field(default_factory=dict)
    """The input the model gave it."""
    tool_use_id: str | None = None
    """The model's id for the call; links decision, approval and outcome in the trail."""
    session_id: str = ""
    """The CLI's session id; the trail groups records by it, and history is read back by it."""
    cwd: str = ""
    """The run's working directory; relative rule paths resolve against it."""
    permission_mode: str | None = None
    """The session's permission mode (`default`, `acceptEdits`, ...); an unknown one counts as `default`."""
    agent_id: str | None = None
    """Set when a sub-agent made the call."""
    tool_response: Any = None
    """PostToolUse: what the tool returned (recorded as its size and SHA-256)."""
    error: str | None = None
    """PostToolUseFailure: why the tool failed."""


def pre_tool_use_answer(
    behavior: Behavior, message: str, updated_input: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The PreToolUse answer; plain dicts only, so a deny can be built when nothing else works."""
    specific: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": behavior}
    if message:
        specific["permissionDecisionReason"] = message
    if updated_input is not None and behavior in ("allow", "ask"):
        specific["updatedInput"] = dict(updated_input)
    return {"hookSpecificOutput": specific}


def deny_answer(reason: str) -> dict[str, Any]:
    """The PreToolUse answer that blocks the call."""
    return pre_tool_use_answer("deny", reason)


def _digest(value: Any) -> tuple[int, str]:
    data = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()
    return len(data), hashlib.sha256(data).hexdigest()


@dataclass
class HookSession:
    """The broker's side of one governed session: decides its calls and records their outcomes."""

    governor: Governor
    approver: Approver | None
    cwd: str
    additional_directories: tuple[str, ...] = ()
    permission_mode: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    approval_timeout: float = DEFAULT_TIMEOUT
    session_id: str = ""
    _outcomes: list[ToolOutcome] = field(default_factory=list)
    """Outcomes answered but not yet written: the CLI need not wait for them (see `flush_outcomes`)."""
    _allowed: dict[str, str] = field(default_factory=dict)
    """tool_use_id -> tool name of calls allowed and not yet seen to finish."""
    resolver: PromptResolver = field(init=False)
    """Answers the approval prompt for this session's asks, reusing the hook's decisions."""
    _unhooked: Unhooked = field(default_factory=Unhooked)
    """Pairs the model's calls with their results, to find the calls the CLI decided before the hook."""

    def __post_init__(self) -> None:
        self.resolver = PromptResolver(
            governor=self.governor, approver=self.approver, context=self.context, timeout=self.approval_timeout
        )

    def context(self, event: HookInput | None = None) -> CallContext:
        """The session around a call; what the hook input says wins over what the session was opened with."""
        if event is not None and event.session_id:
            self.session_id = event.session_id
        mode = (event.permission_mode if event else None) or self.permission_mode
        return CallContext(
            session_id=self.session_id,
            cwd=(event.cwd if event else "") or self.cwd,
            additional_directories=self.additional_directories,
            permission_mode=permission_mode_of(mode),
            labels=dict(self.labels),
            agent_id=(event.agent_id if event else None) or None,
        )

    async def answer(self, event: HookInput) -> dict[str, Any]:
        """The hook's answer to one event: a decision for PreToolUse, `{}` once an outcome is queued."""
        if event.hook_event_name == "PreToolUse":
            return await self._pre_tool_use(event)
        self._outcome(event, failed=event.hook_event_name == "PostToolUseFailure")
        return {}

    async def observe(self, message: Mapping[str, Any]) -> None:
        """See one message the CLI streamed. A call that got its result without reaching the PreToolUse hook
        was decided by the CLI alone (its own settings, a tool it does not have): that decision is recorded
        as the CLI's, so every call of the run has exactly one decision record."""
        for call, decision in self._unhooked.see(message):
            try:
                await self.governor.record_cli_decision(call, self.context(), decision)
            except Exception as exc:  # noqa: BLE001 - the CLI already refused the call; the gap is logged loudly
                log.error(
                    "cli_decision_not_recorded", tool=call.tool_name, tool_use_id=call.tool_use_id, error=repr(exc)
                )

    async def _pre_tool_use(self, event: HookInput) -> dict[str, Any]:
        call = ToolCall(event.tool_name, event.tool_input, event.tool_use_id or None)
        if call.tool_use_id:
            self._unhooked.hooked.add(call.tool_use_id)
        try:
            decision = await self.governor.decide(call, self.context(event))
        except Exception as exc:  # noqa: BLE001 - the governor promised not to raise; if it does, deny
            log.error("governor_failed", tool=call.tool_name, error=repr(exc))
            return deny_answer(f"Denied: the policy broker failed ({type(exc).__name__}).")
        if decision.behavior == "allow" and call.tool_use_id:
            self._allowed[call.tool_use_id] = call.tool_name
        if decision.behavior == "ask" and call.tool_use_id:
            self.resolver.known[call.tool_use_id] = (call, decision)
        return _decision_answer(decision)

    def _outcome(self, event: HookInput, *, failed: bool) -> None:
        tool_use_id = event.tool_use_id or ""
        self._allowed.pop(tool_use_id, None)
        self.resolver.known.pop(tool_use_id, None)
        if failed:
            error = event.error or "the tool failed"
            size, sha = _digest(error)
            outcome = ToolOutcome(
                tool_use_id, event.tool_name, self.session_id, "error", size, sha, error[:ERROR_LIMIT]
            )
        else:
            size, sha = _digest(event.tool_response)
            outcome = ToolOutcome(tool_use_id, event.tool_name, self.session_id, "success", size, sha)
        self._outcomes.append(outcome)

    async def flush_outcomes(self) -> None:
        """Write the outcomes answered so far. Only a decision must be durable before its answer; an outcome is
        written right after the hook's answer has gone out, while the CLI carries on."""
        pending, self._outcomes = self._outcomes, []
        for outcome in pending:
            try:
                await self.governor.record_outcome(outcome)
            except Exception as exc:  # noqa: BLE001 - the call already ran; losing its outcome is logged loudly
                log.error(
                    "outcome_not_recorded", tool=outcome.tool_name, tool_use_id=outcome.tool_use_id, error=repr(exc)
                )

    async def close(self) -> None:
        """Write queued outcomes, then record every allowed call that never reported one (the run ended, or the
        CLI refused it)."""
        await self.flush_outcomes()
        pending, self._allowed = self._allowed, {}
        for tool_use_id, tool_name in pending.items():
            outcome = ToolOutcome(tool_use_id, tool_name, self.session_id, "not_run", error="allowed but never ran")
            try:
                await self.governor.record_outcome(outcome)
            except Exception as exc:  # noqa: BLE001 - closing must go on; the gap is logged
                log.error("outcome_not_recorded", tool=tool_name, tool_use_id=tool_use_id, error=repr(exc))


def _decision_answer(decision: Decision) -> dict[str, Any]:
    return pre_tool_use_answer(decision.behavior, decision.message, decision.input)
