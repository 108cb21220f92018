"""What makes an SDK run governed: the broker's hook session, the approval prompt, the bundled servers.

The CLI consults its permission prompt only for calls it would otherwise ask about; calls it auto-approves
(allowed tools, read-only commands, accept-edits, bypass mode) never reach it. A PreToolUse hook sees every
call, of the run and of its sub-agents, so the run registers the broker's hook path (`HookSession`, shared
with `magistrate hook`) for the tool events. An `ask` then reaches the approval prompt, which the run always
configures as `mcp__magistrate__approval_prompt`, served in-process.

A call's outcome needs no hook of its own: the stream carries every `tool_result` (and the CLI's word on
whether the call ran at all) to the SDK, so the run registers only PreToolUse and records outcomes from what
it observes, saving the CLI a round trip per call. `magistrate hook`, which sees no stream, keeps the Post
events.

Any failure on this path is a deny: the hook never lets an exception turn into silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from magistrate.broker import OUTCOME_EVENTS, HookInput, HookSession, deny_answer, get_logger
from magistrate.sdk._sdk_mcp import McpEndpoint

log = get_logger("magistrate.sdk.governance")


@dataclass
class Governance(HookSession):
    """The broker's side of one SDK run, and what the run opened for it."""

    closers: list[Any] = field(default_factory=list)
    """Things this run opened (the trail, the bundled servers' databases) and must close when it ends."""
    commit: Callable[[], Awaitable[None]] | None = None
    """Commits the records the run's own trail holds back (its outcomes); None when the trail is not the run's."""
    _let_through: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """tool_use_id -> (tool name, input) of calls the hook allowed or sent to the approver, until their result."""

    async def hook(self, hook_input: dict[str, Any]) -> dict[str, Any]:
        """Answer a governance hook callback. Input that does not parse is denied unless it is clearly a Post
        event, whose outcome is then lost and logged: when in doubt, deny."""
        try:
            event = HookInput.model_validate(hook_input)
        except ValidationError as exc:
            if hook_input.get("hook_event_name") in OUTCOME_EVENTS:
                log.error("outcome_not_parsed", error=str(exc.errors()[0]["msg"]))
                return {}
            return deny_answer(f"Denied: the hook input did not parse ({exc.errors()[0]['msg']}).")
        answer = await self.answer(event)
        behavior = answer.get("hookSpecificOutput", {}).get("permissionDecision")
        if event.hook_event_name == "PreToolUse" and event.tool_use_id and behavior in ("allow", "ask"):
            self._let_through[event.tool_use_id] = (event.tool_name, event.tool_input)
        return answer

    async def observe(self, message: Mapping[str, Any]) -> None:
        """See one streamed message: the calls the CLI decided alone (`HookSession.observe`), and the outcome
        of each call this run let through, from its `tool_result`. An outcome is queued, not committed: it
        rides in the next decision's commit, or the run's last."""
        await super().observe(message)
        for event in self._outcome_events(message):
            await self.answer(event)
        await self.flush_outcomes()

    def _outcome_events(self, message: Mapping[str, Any]) -> list[HookInput]:
        inner = message.get("message")
        content = inner.get("content") if message.get("type") == "user" and isinstance(inner, Mapping) else None
        if not isinstance(content, list) or not self._let_through:
            return []
        results = [b for b in content if isinstance(b, Mapping) and b.get("type") == "tool_result"]
        not_run = _not_run(message)
        events = []
        for block in results:
            tool_use_id = block.get("tool_use_id")
            call = self._let_through.pop(tool_use_id, None) if isinstance(tool_use_id, str) else None
            if call is None or tool_use_id in not_run:
                continue  # refused before it ran (the approver said no): a decision, no outcome
            # The structured result is the one a PostToolUse hook would get; it names one call only.
            response = message.get("tool_use_result") if len(results) == 1 else block.get("content")
            failed = bool(block.get("is_error"))
            events.append(
                HookInput(
                    hook_event_name="PostToolUseFailure" if failed else "PostToolUse",
                    tool_name=call[0],
                    tool_input=call[1],
                    tool_use_id=tool_use_id,
                    session_id=self.session_id or str(message.get("session_id") or ""),
                    tool_response=None if failed else response,
                    error=_text(block.get("content")) if failed else None,
                )
            )
        return events

    async def settle(self) -> None:
        """Commit the outcomes seen so far. Called once the CLI's input is closed and it is winding down, so
        the commit overlaps the CLI's exit instead of following it; anything seen later is committed by
        `close`, as before."""
        await self.flush_outcomes()
        if self.commit is not None:
            try:
                await self.commit()
            except Exception as exc:  # noqa: BLE001 - the calls ran; losing their outcomes is logged loudly
                log.error("outcomes_not_committed", error=repr(exc))

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


def _not_run(message: Mapping[str, Any]) -> set[str]:
    """The tool_use_ids the CLI says it did not execute (`tool_result_meta`: refused, or never started)."""
    meta = message.get("tool_result_meta")
    found: set[str] = set()
    for entry in meta if isinstance(meta, list) else []:
        if not isinstance(entry, Mapping):
            continue
        decision = entry.get("permission_decision")
        refused = isinstance(decision, Mapping) and decision.get("decision") == "reject"
        if entry.get("non_execution_kind") or refused:
            found.add(str(entry.get("id")))
    return found


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
    return str(content) if content is not None else ""
