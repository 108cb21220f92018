"""What makes an SDK run governed: the broker's hook session, the approval prompt, the bundled servers.

The CLI consults its permission prompt only for calls it would otherwise ask about; calls it auto-approves
(allowed tools, read-only commands, accept-edits, bypass mode) never reach it. A PreToolUse hook sees every
call, of the run and of its sub-agents, so the run registers the broker's hook path (`HookSession`, shared
with `magistrate hook`) for the tool events. An `ask` then reaches the approval prompt, which the run always
configures as `mcp__magistrate__approval_prompt`, served in-process.

Any failure on this path is a deny: the hook never lets an exception turn into silence.
"""

from __future__ import annotations

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
        return await self.answer(event)

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
