"""`POST /hook`: the plain `claude` CLI's HTTP hooks, answered by a long-lived broker.

The settings `magistrate settings --install` writes point every hook of a plain run at this endpoint, so a
tool call costs one loopback round trip to a process that is already running, instead of a Python start:

- `PreToolUse`: decided by the policy, recorded before the answer, and always answered explicitly (an empty
  answer would leave the call to the CLI's own rules). An `ask` goes to the broker's approver when it has one
  (the approval queue, which can call a webhook), and the hook answers with the verdict; without one, the
  answer is `ask` and the CLI's own prompt asks the person at the terminal.
- `PostToolUse`, `PostToolUseFailure`: the outcome, written just after the answer. A call that was asked in
  the CLI's own prompt and then ran was allowed there: that answer is recorded as an approval by `cli-prompt`.
- `PermissionRequest`: the CLI is about to show its prompt; with an approver, the approver answers instead.
- `Stop`, `SessionEnd`: the calls the CLI refused before any hook are read from the transcript and recorded;
  an ask of the CLI's prompt that never ran by then was refused there, and is recorded so.

The hooks are registered with `onFailure: block`, so a broker that is down, slow or erring blocks the call.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError

from magistrate.broker import (
    OUTCOME_EVENTS,
    Approval,
    AskRequest,
    HookInput,
    HookSession,
    SessionHookInput,
    Verdict,
    deny_answer,
    get_logger,
    pre_tool_use_answer,
    record_transcript,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from magistrate.broker import Approver, Governor, Trail

_log = get_logger("magistrate.servers.hook_api")
HOOK_PATH = "/hook"
CLI_PROMPT = "cli-prompt"
"""The approver named in the trail when a person answered in the interactive CLI's own prompt."""
SESSION_LIMIT = 4096
MAX_HOOK_BYTES = 64 * 1024 * 1024


class PermissionRequestInput(BaseModel):
    """What the CLI sends the `PermissionRequest` hook: the call it is about to prompt for (no tool_use_id)."""

    model_config = ConfigDict(extra="allow")

    hook_event_name: str
    session_id: str = ""
    tool_name: str
    tool_input: dict[str, Any] = {}
    cwd: str = ""


@dataclass
class _Session:
    hooks: HookSession
    cli_asks: dict[str, str] = field(default_factory=dict)
    """tool_use_id -> tool name of asks left to the CLI's own prompt, not yet seen to run."""


class HookEndpoint:
    """The hook events of every plain run of one broker, each session kept in memory while it is active."""

    def __init__(self, governor: Governor, trail: Trail, approver: Approver | None, *, approval_timeout: float) -> None:
        self.governor = governor
        self.trail = trail
        self.approver = approver
        self.approval_timeout = approval_timeout
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def _session(self, session_id: str, cwd: str, mode: str | None) -> _Session:
        found = self._sessions.get(session_id)
        if found is None:
            hooks = HookSession(
                governor=self.governor,
                approver=self.approver,
                cwd=cwd,
                permission_mode=mode or "default",
                approval_timeout=self.approval_timeout,
                session_id=session_id,
            )
            found = self._sessions[session_id] = _Session(hooks)
            while len(self._sessions) > SESSION_LIMIT:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(session_id)
        return found

    async def answer(self, raw: bytes) -> tuple[dict[str, Any], Callable[[], Any] | None]:
        """The hook's answer, and work to do once it has gone out (writing an outcome)."""
        try:
            name = json.loads(raw).get("hook_event_name", "")
        except (ValueError, AttributeError):
            name = ""
        if name in ("Stop", "SessionEnd"):
            return {}, lambda: self._end(raw, final=name == "SessionEnd")
        if name == "PermissionRequest":
            return await self._permission_request(raw), None
        try:
            event = HookInput.model_validate_json(raw)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()[:3])
            _log.error("hook_input_invalid", problem=problem)
            if name in OUTCOME_EVENTS:
                return {}, None
            return deny_answer(f"magistrate: the broker could not read the call ({problem}), so it is denied."), None
        session = self._session(event.session_id, event.cwd, event.permission_mode)
        if event.hook_event_name == "PreToolUse":
            return await self._pre_tool_use(session, event), None
        await session.hooks.answer(event)
        asked = session.cli_asks.pop(event.tool_use_id or "", None)
        return {}, lambda: self._after_outcome(session, event, asked)

    async def _pre_tool_use(self, session: _Session, event: HookInput) -> dict[str, Any]:
        answer = await session.hooks.answer(event)
        specific = answer.get("hookSpecificOutput", {})
        if specific.get("permissionDecision") == "ask" and event.tool_use_id:
            if self.approver is None:
                session.cli_asks[event.tool_use_id] = event.tool_name
            else:
                text = await session.hooks.resolver.answer(
                    {"tool_name": event.tool_name, "input": event.tool_input, "tool_use_id": event.tool_use_id}
                )
                answer = _prompt_to_hook(text)
        return answer

    async def _after_outcome(self, session: _Session, event: HookInput, asked: str | None) -> None:
        if asked is not None:
            await self._record_cli_answer(session, event.tool_use_id, asked, allowed=True)
        await session.hooks.flush_outcomes()

    async def _record_cli_answer(self, session: _Session, tool_use_id: str | None, tool: str, *, allowed: bool) -> None:
        note = "allowed in the CLI's own prompt" if allowed else "refused in the CLI's own prompt, or never answered"
        approval = Approval(
            tool_use_id=tool_use_id,
            tool_name=tool,
            session_id=session.hooks.session_id,
            behavior="allow" if allowed else "deny",
            approver=CLI_PROMPT,
            note=note,
        )
        try:
            await self.governor.record_approval(approval)
        except Exception as exc:  # noqa: BLE001 - the person already answered; the gap is logged loudly
            _log.error("cli_answer_not_recorded", tool=tool, tool_use_id=tool_use_id, error=repr(exc))

    async def _permission_request(self, raw: bytes) -> dict[str, Any]:
        """Without an approver the CLI's prompt asks (and the answer is recorded later); with one, it answers."""
        try:
            event = PermissionRequestInput.model_validate_json(raw)
        except ValidationError:
            return _permission("deny", "magistrate: the broker could not read the permission request.")
        if self.approver is None:
            return {}
        ask = AskRequest(
            tool_name=event.tool_name,
            input=event.tool_input,
            tool_use_id=None,
            session_id=event.session_id,
            reason="the CLI asks for permission",
            rule=None,
        )
        try:
            with anyio.fail_after(self.approval_timeout):
                verdict = await self.approver.approve(ask)
        except TimeoutError:
            verdict = Verdict(approved=False, approver="timeout", note=f"no answer within {self.approval_timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - an approver's failure is a deny, never an allow
            verdict = Verdict(approved=False, approver="error", note=f"{type(exc).__name__}: {exc}")
        approval = Approval(
            tool_use_id=None,
            tool_name=event.tool_name,
            session_id=event.session_id,
            behavior="allow" if verdict.approved else "deny",
            approver=verdict.approver,
            note=verdict.note,
        )
        try:
            await self.governor.record_approval(approval)
        except Exception as exc:  # noqa: BLE001 - an unrecorded approval must not run
            _log.error("approval_not_recorded", tool=event.tool_name, error=repr(exc))
            return _permission("deny", "magistrate: the approval could not be recorded, so the call is denied.")
        if verdict.approved:
            return _permission("allow", "")
        return _permission("deny", f"Denied by {verdict.approver}.")

    async def _end(self, raw: bytes, *, final: bool) -> None:
        try:
            event = SessionHookInput.model_validate_json(raw)
        except ValidationError as exc:
            _log.error("session_event_invalid", error=exc.errors()[0]["msg"])
            return
        session = self._sessions.get(event.session_id)
        if session is not None:
            await session.hooks.flush_outcomes()
            pending, session.cli_asks = session.cli_asks, {}
            for tool_use_id, tool in pending.items():
                await self._record_cli_answer(session, tool_use_id, tool, allowed=False)
        try:
            await record_transcript(self.trail, event)
        except Exception as exc:  # noqa: BLE001 - the calls were refused either way; say what was not recorded
            _log.error("transcript_not_recorded", session=event.session_id, error=repr(exc))
        if final and session is not None:
            self._sessions.pop(event.session_id, None)
            await session.hooks.close()


def _prompt_to_hook(text: str) -> dict[str, Any]:
    """The approval prompt's answer (allow with input, or deny with a message) as a PreToolUse answer."""
    try:
        value = json.loads(text)
    except ValueError:
        value = {}
    if isinstance(value, dict) and value.get("behavior") == "allow":
        return pre_tool_use_answer("allow", "approved", value.get("updatedInput") or {})
    message = value.get("message") if isinstance(value, dict) else None
    return deny_answer(str(message or "Denied."))


def _permission(behavior: str, message: str) -> dict[str, Any]:
    decision: dict[str, Any] = {"behavior": behavior}
    if message:
        decision["message"] = message
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}


def hook_route(endpoint: HookEndpoint, busy: Callable[[], Any]) -> Any:
    """The starlette route of `POST /hook`; `busy` is entered around each request (for a graceful stop)."""
    from starlette.background import BackgroundTask
    from starlette.responses import Response
    from starlette.routing import Route

    async def hook(request: Request) -> Response:
        with busy():
            body = await request.body()
            if len(body) > MAX_HOOK_BYTES:
                answer: dict[str, Any] = deny_answer("magistrate: the hook input is too large, so it is denied.")
                after = None
            else:
                try:
                    answer, after = await endpoint.answer(body)
                except Exception as exc:  # noqa: BLE001 - any failure here is a deny with the reason
                    _log.error("hook_failed", error=repr(exc))
                    answer = deny_answer(f"magistrate: the broker failed ({type(exc).__name__}), so it is denied.")
                    after = None
        task = None if after is None else BackgroundTask(_run_busy, after, busy)
        content = json.dumps(answer, ensure_ascii=False).encode()
        return Response(content, media_type="application/json", background=task)

    return Route(HOOK_PATH, hook, methods=["POST"])


async def _run_busy(work: Callable[[], Any], busy: Callable[[], Any]) -> None:
    with busy():
        try:
            await work()
        except Exception as exc:  # noqa: BLE001 - after the answer: nothing to deny, so say it
            _log.error("hook_after_answer_failed", error=repr(exc))
