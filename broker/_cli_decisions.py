"""Calls the CLI decided alone, before any hook: seen in what it reports afterwards, and recorded as its own.

Claude Code 2.1.330 refuses some calls before its PreToolUse hook runs: a deny of its own settings
(`Read(./.env)` in `.claude/settings.json`), a tool removed by a deny rule (`Bas*`, `mcp__*`), a tool it does
not have, and managed (enterprise) settings. No hook sees them, yet they are the calls an auditor most wants
to see. What the CLI does report is the model's `tool_use` and then its error `tool_result` (with a
`permission_decision` beside it in the stream and the transcript). `Unhooked` pairs the two: a call that
got a result without ever reaching the hook was decided by the CLI, and its decision is recorded as the CLI's,
so every tool call of a governed run has exactly one decision record.

An SDK run sees the stream (`HookSession.observe`). A plain `claude` run under `magistrate settings` runs
`magistrate hook` at `Stop` and `SessionEnd` too, which reads the session's transcript and records the calls
that have no decision in the trail (`record_transcript`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from magistrate.broker._audit_records import DecisionRecord
from magistrate.broker._call import CallContext, ToolCall, permission_mode_of
from magistrate.broker._decision import Behavior, Decision, RuleRef, RuleSource

if TYPE_CHECKING:
    from magistrate.broker._trail import Trail

CLI_SOURCE = RuleSource("claude_code")
"""Where a decision the CLI made alone was written: the CLI's own permission handling."""


def require_cli_source(decision: Decision) -> None:
    """Refuse to record, as the CLI's, a decision that does not say the CLI made it; so a client of the shared
    broker cannot write a policy's allow into the trail."""
    if decision.rule is None or decision.rule.source.kind != "claude_code":
        raise ValueError("only a decision whose rule's source is claude_code can be recorded as the CLI's")


def _text(content: Any) -> str:
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
    else:
        text = ""
    return text.replace("<tool_use_error>", "").replace("</tool_use_error>", "").strip()


def cli_decision(
    tool_input: Mapping[str, Any], result: Mapping[str, Any], permission: Mapping[str, Any] | None
) -> Decision:
    """The decision the CLI made for a call that never reached the hook, from its tool_result block."""
    text = _text(result.get("content"))
    behavior: Behavior = "deny" if result.get("is_error") else "allow"
    if behavior == "allow":
        reason = "the CLI ran the call without asking the hook"
    elif text.startswith("Error: No such tool available"):
        reason = "the CLI has no such tool: unknown, or removed by a deny rule of its settings"
    elif permission is not None and "rule" in (permission.get("reason_type"), permission.get("reasonType")):
        # The stream says `reason_type`; the transcript says `reasonType` and which settings held the rule.
        where = permission.get("ruleSource")
        reason = "a deny rule of the CLI's own permission settings" + (f" ({where})" if where else "")
    else:
        reason = "the CLI refused the call before any hook ran"
    return Decision(
        behavior,
        dict(tool_input),
        message=text[:2000],
        rule=RuleRef("claude_code", reason, CLI_SOURCE, "deny" if behavior == "deny" else "allow"),
    )


@dataclass
class Unhooked:
    """Pairs the model's tool calls with their results, for the calls the hook never saw."""

    hooked: set[str] = field(default_factory=set)
    """tool_use_ids that reached the PreToolUse hook (or were already recorded): never recorded again."""
    _uses: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def see(self, message: Mapping[str, Any]) -> Iterator[tuple[ToolCall, Decision]]:
        """Feed one message (stream-json or transcript line); yields each call the CLI decided alone."""
        inner = message.get("message")
        content = inner.get("content") if isinstance(inner, Mapping) else None
        if not isinstance(content, list):
            return
        permissions = _permissions(message)
        for block in content:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "tool_use" and isinstance(block.get("id"), str):
                raw = block.get("input")
                self._uses[block["id"]] = (str(block.get("name") or ""), dict(raw) if isinstance(raw, Mapping) else {})
            elif block.get("type") == "tool_result" and isinstance(block.get("tool_use_id"), str):
                tool_use_id = block["tool_use_id"]
                use = self._uses.pop(tool_use_id, None)
                if use is None or tool_use_id in self.hooked or not use[0]:
                    continue
                self.hooked.add(tool_use_id)
                name, tool_input = use
                yield (
                    ToolCall(name, tool_input, tool_use_id),
                    cli_decision(tool_input, block, permissions.get(tool_use_id)),
                )


def _permissions(message: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The CLI's `permission_decision` per tool_use_id: `tool_result_meta` in the stream, `permissionDecision`
    on a transcript line (which holds one result)."""
    found: dict[str, Mapping[str, Any]] = {}
    meta = message.get("tool_result_meta")
    if isinstance(meta, list):
        for entry in meta:
            if isinstance(entry, Mapping) and isinstance(entry.get("permission_decision"), Mapping):
                found[str(entry.get("id"))] = entry["permission_decision"]
    single = message.get("permissionDecision")
    inner = message.get("message")
    content = inner.get("content") if isinstance(inner, Mapping) else None
    if isinstance(single, Mapping) and isinstance(content, list):
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "tool_result":
                found.setdefault(str(block.get("tool_use_id")), single)
    return found


def unhooked_in(lines: Iterable[Mapping[str, Any]], hooked: Iterable[str]) -> list[tuple[ToolCall, Decision]]:
    """The calls of a transcript that the CLI decided alone, leaving out those already `hooked`."""
    pairing = Unhooked(set(hooked))
    return [found for line in lines for found in pairing.see(line)]


class SessionHookInput(BaseModel):
    """What the CLI sends the `Stop` and `SessionEnd` hooks: where the session's transcript is."""

    model_config = ConfigDict(extra="allow")

    hook_event_name: Literal["Stop", "SessionEnd"]
    session_id: str = ""
    transcript_path: str = Field(min_length=1)
    cwd: str = ""
    permission_mode: str | None = None


def read_transcript(path: str | Path) -> list[dict[str, Any]]:
    """The transcript's JSON lines; a line that is not a JSON object (a partial last write) is skipped."""
    lines: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8", errors="replace") as transcript:
        for line in transcript:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                lines.append(value)
    return lines


async def record_transcript(trail: Trail, event: SessionHookInput) -> int:
    """Record, as the CLI's, every call of a plain `claude` session's transcript that has no decision in the
    trail yet (the command hook never saw it); returns how many. Run again, it records nothing twice."""
    import anyio.to_thread

    lines = await anyio.to_thread.run_sync(read_transcript, event.transcript_path)
    ids = {str(block.get("id")) for line in lines for block in _blocks(line) if block.get("type") == "tool_use"}
    hooked = {i for i in ids if await anyio.to_thread.run_sync(trail.decision_for, i) is not None}
    context = CallContext(
        session_id=event.session_id, cwd=event.cwd or ".", permission_mode=permission_mode_of(event.permission_mode)
    )
    found = unhooked_in(lines, hooked)
    for call, decision in found:
        await trail.append(DecisionRecord.of(call, context, decision))
    return len(found)


def _blocks(line: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    inner = line.get("message")
    content = inner.get("content") if isinstance(inner, Mapping) else None
    return [b for b in content if isinstance(b, Mapping)] if isinstance(content, list) else []
