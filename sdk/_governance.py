"""What makes a run governed: hooks that put every tool call before the broker, and the bundled servers.

The CLI consults its permission prompt only for calls it would otherwise ask about; calls it auto-approves
(allowed tools, read-only commands, accept-edits, bypass mode) never reach it. A PreToolUse hook sees every
call, of the run and of its sub-agents, so the broker decides there. An `ask` then reaches the approval
prompt, which the run always configures as `mcp__magistrate__approval_prompt`, served in-process. PostToolUse
and PostToolUseFailure record each call's outcome, linked to its decision; a call that was allowed and never
ran is recorded as such when the run closes.

Any failure on this path is a deny: the hook never lets an exception turn into silence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from magistrate.broker import Approver, PromptResolver
from magistrate.broker._call import CallContext, PermissionMode, ToolCall
from magistrate.broker._decision import Decision
from magistrate.broker._interfaces import Governor, ToolOutcome
from magistrate.broker._log import get_logger
from magistrate.sdk._run import GOVERNANCE_HOOKS
from magistrate.sdk._sdk_mcp import McpEndpoint

log = get_logger("magistrate.sdk.governance")

PRE_HOOK = GOVERNANCE_HOOKS["PreToolUse"]
POST_HOOK = GOVERNANCE_HOOKS["PostToolUse"]
FAILURE_HOOK = GOVERNANCE_HOOKS["PostToolUseFailure"]
_PERMISSION_MODES = {"default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"}


def _digest(value: Any) -> tuple[int, str]:
    data = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()
    return len(data), hashlib.sha256(data).hexdigest()


@dataclass
class Governance:
    """The broker's side of one run."""

    governor: Governor
    approver: Approver | None
    cwd: str
    additional_directories: tuple[str, ...] = ()
    permission_mode: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    approval_timeout: float = 300.0
    session_id: str = ""
    closers: list[Any] = field(default_factory=list)
    """Things this run opened (the trail) and must close when it ends."""
    _outcomes: list[ToolOutcome] = field(default_factory=list)
    """Outcomes answered but not yet written: the CLI need not wait for them (see `flush_outcomes`)."""
    _allowed: dict[str, str] = field(default_factory=dict)
    """tool_use_id -> tool name of calls allowed and not yet seen to finish."""
    resolver: PromptResolver = field(init=False)

    def __post_init__(self) -> None:
        self.resolver = PromptResolver(
            governor=self.governor, approver=self.approver, context=self._context, timeout=self.approval_timeout
        )

    def _context(self, hook_input: Mapping[str, Any] | None = None) -> CallContext:
        data = hook_input or {}
        mode = str(data.get("permission_mode") or self.permission_mode)
        session = str(data.get("session_id") or self.session_id)
        if session:
            self.session_id = session
        agent = data.get("agent_id")
        return CallContext(
            session_id=session,
            cwd=str(data.get("cwd") or self.cwd),
            additional_directories=self.additional_directories,
            permission_mode=permission_mode_of(mode),
            labels=dict(self.labels),
            agent_id=str(agent) if agent else None,
        )

    async def hook(self, callback_id: str, hook_input: dict[str, Any]) -> dict[str, Any]:
        if callback_id == PRE_HOOK:
            return await self.pre_tool_use(hook_input)
        if callback_id == POST_HOOK:
            await self._outcome(hook_input, failed=False)
        elif callback_id == FAILURE_HOOK:
            await self._outcome(hook_input, failed=True)
        return {}

    async def pre_tool_use(self, hook_input: Mapping[str, Any]) -> dict[str, Any]:
        tool_name = str(hook_input.get("tool_name") or "")
        raw_input = hook_input.get("tool_input")
        tool_input: dict[str, Any] = dict(raw_input) if isinstance(raw_input, Mapping) else {}
        tool_use_id = hook_input.get("tool_use_id")
        call = ToolCall(tool_name, tool_input, str(tool_use_id) if tool_use_id else None)
        try:
            decision = await self.governor.decide(call, self._context(hook_input))
        except Exception as exc:  # noqa: BLE001 - the governor promised not to raise; if it does, deny
            log.error("governor_failed", tool=tool_name, error=repr(exc))
            return _hook_answer("deny", f"Denied: the policy broker failed ({type(exc).__name__}).", None)
        if decision.behavior == "allow" and call.tool_use_id:
            self._allowed[call.tool_use_id] = tool_name
        if decision.behavior == "ask" and call.tool_use_id:
            self.resolver.known[call.tool_use_id] = (call, decision)
        return _hook_answer(decision.behavior, decision.message, decision)

    async def _outcome(self, hook_input: Mapping[str, Any], *, failed: bool) -> None:
        tool_use_id = str(hook_input.get("tool_use_id") or "")
        tool_name = str(hook_input.get("tool_name") or "")
        self._allowed.pop(tool_use_id, None)
        self.resolver.known.pop(tool_use_id, None)
        if failed:
            error = str(hook_input.get("error") or "the tool failed")
            size, sha = _digest(error)
            outcome = ToolOutcome(tool_use_id, tool_name, self.session_id, "error", size, sha, error[:2000])
        else:
            size, sha = _digest(hook_input.get("tool_response"))
            outcome = ToolOutcome(tool_use_id, tool_name, self.session_id, "success", size, sha)
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

    async def aclose(self) -> None:
        """Close what the run opened for governance (its trail), whatever happens to each."""
        closers, self.closers = self.closers, []
        for closer in closers:
            try:
                await closer.aclose()
            except Exception as exc:  # noqa: BLE001 - closing the rest matters more than one failure
                log.error("governance_close_failed", error=repr(exc))

    def approval_endpoint(self) -> McpEndpoint:
        from magistrate.sdk._bundled import ApprovalEndpoint

        return ApprovalEndpoint(self.resolver.answer)


def _hook_answer(behavior: str, message: str, decision: Decision | None) -> dict[str, Any]:
    specific: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": behavior}
    if message:
        specific["permissionDecisionReason"] = message
    if decision is not None and behavior in ("allow", "ask"):
        specific["updatedInput"] = dict(decision.input)
    return {"hookSpecificOutput": specific}


def permission_mode_of(value: str | None) -> PermissionMode:
    return value if value in _PERMISSION_MODES else "default"  # type: ignore[return-value]
