"""`magistrate hook`: the command hook that puts every tool call of a plain `claude` run before the policy.

The CLI consults `--permission-prompt-tool` only for calls it would prompt for; a PreToolUse hook sees every
call, including the read-only commands it approves by itself. So the settings that `magistrate settings`
writes run this command once per tool call (PreToolUse) and once per outcome (PostToolUse,
PostToolUseFailure): it reads the hook's JSON on stdin, decides with a `Broker` over the policy and the
trail, and prints the hook's answer on stdout, which carries nothing else.

It is a process per call, so it imports only the broker and the SDK's hook logic (no `mcp`, no server), and
a Post event does not load the policy at all.

History: the broker's session memory dies with each process, but a `Broker` that meets a session it has
not seen reads the session's earlier decisions back from the trail (the last `HISTORY_LIMIT`, as recorded,
that is redacted). Python rules that read the history therefore see the whole session, across processes.

Fail closed: input that does not parse, a policy that does not load, a trail that does not open, any
exception, and no decision within `--timeout` seconds (the CLI does not block on its own hook timeout) is a
deny. A policy that fails to load is still recorded (as the broker's deny naming the
error) when the trail opens. If even printing the deny fails, the exit code is 2 with the reason on
stderr, which the CLI treats as a block.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from magistrate.broker import HISTORY_LIMIT, OUTCOME_EVENTS, HookInput, deny_answer, get_logger
from magistrate.cli._hook_session import SESSION_EVENTS, record_session
from magistrate.cli._settings import HOOK_TIMEOUT

if TYPE_CHECKING:
    from magistrate.broker import CallContext, Decision, Policy, ToolCall

log = get_logger("magistrate.cli.hook")

DEFAULT_BUDGET = HOOK_TIMEOUT / 2
"""Seconds a PreToolUse decision may take before the hook denies: half the CLI's hook timeout that
`magistrate settings` writes, so the deny comes well before the CLI gives up on the hook."""


class _UnloadablePolicy:
    """Stands in for a policy that did not load, so the broker records a deny that names the problem."""

    version = ""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        raise self.error


def _policy(args: argparse.Namespace, cwd: str) -> Policy:
    from magistrate.broker import resolve_policy

    try:
        return resolve_policy(args.policy or None, cwd=cwd, env=args.env)
    except Exception as exc:  # noqa: BLE001 - a policy that does not load denies every call, recorded
        log.error("hook_policy_not_loaded", policy=args.policy or args.env.policy, error=str(exc))
        return _UnloadablePolicy(exc)


async def handle(event: HookInput, args: argparse.Namespace) -> dict[str, Any]:
    """Decide (PreToolUse) or record the outcome (Post events); returns the hook's JSON answer."""
    import anyio
    import anyio.to_thread

    from magistrate.broker import HookSession, Trail

    pre = event.hook_event_name == "PreToolUse"
    cwd = event.cwd or os.getcwd()  # noqa: PTH109 - a string, as the hook input gives it
    db = args.db or args.env.trail
    try:
        trail = await anyio.to_thread.run_sync(lambda: Trail.open(db, env=args.env))
    except Exception as exc:
        log.error("hook_trail_not_opened", db=db, error=str(exc))
        if not pre:
            raise
        return deny_answer(f"magistrate: the audit trail could not be opened, so the call is denied ({exc}).")
    try:
        from magistrate.broker import Broker

        policy = _policy(args, cwd) if pre else _UnloadablePolicy(RuntimeError("an outcome needs no policy"))
        session = HookSession(
            governor=Broker(policy, trail, history_limit=HISTORY_LIMIT),
            approver=None,
            cwd=cwd,
            permission_mode=event.permission_mode or "default",
            session_id=event.session_id,
        )
        answer = await session.answer(event)
        # A Post event's outcome is queued by the session; this process ends here, so write it now.
        await session.flush_outcomes()
        return answer
    finally:
        with anyio.CancelScope(shield=True):
            await trail.aclose()


_answered = threading.Lock()
"""Taken by whoever writes the answer: the decision, or the watchdog's deny. Only one is ever written."""


def _emit(answer: dict[str, Any]) -> bool:
    """Write the answer unless one was already written; False when it was."""
    if not _answered.acquire(blocking=False):
        return False
    sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return True


def _watchdog(budget: float) -> None:
    """Deny and exit if no answer is written within `budget` seconds.

    The CLI's own hook timeout is not a block, so a decision stuck on a locked trail or a rule that never
    returns must not reach it: the deny is written first, and the process ends (the decision, if it was
    recorded as an allow, then shows in the trail with no outcome)."""

    def expire() -> None:
        try:
            if _emit(deny_answer(f"magistrate: no decision within {budget:g} s, so the call is denied.")):
                log.error("hook_timed_out", budget=budget)
        finally:
            os._exit(0)

    timer = threading.Timer(budget, expire)
    timer.daemon = True
    timer.start()


def _event_name(raw: bytes) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        return ""
    return str(value.get("hook_event_name", "")) if isinstance(value, dict) else ""


def run(args: argparse.Namespace) -> int:
    """One hook invocation: stdin in, the answer on stdout. Never lets a call through on error.

    Anything that is not clearly a Post event is answered as a PreToolUse: when in doubt, deny."""
    post = False
    try:
        raw = sys.stdin.buffer.read()
        name = _event_name(raw)
        if name in SESSION_EVENTS:
            return record_session(raw, args.db or args.env.trail, args.env)
        post = name in OUTCOME_EVENTS
        if not post:
            _watchdog(args.timeout)
        try:
            event = HookInput.model_validate_json(raw)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()[:3])
            log.error("hook_input_invalid", problem=problem)
            if post:
                sys.stderr.write(f"magistrate hook: the outcome could not be read ({problem})\n")
                return 1
            answer = deny_answer(f"magistrate: the hook could not read the call ({problem}), so it is denied.")
        else:
            import anyio

            answer = anyio.run(handle, event, args)
    except Exception as exc:  # noqa: BLE001 - anything unexpected on the governance path is a deny
        log.error("hook_failed", error=repr(exc))
        if post:
            sys.stderr.write(f"magistrate hook: the outcome was not recorded: {exc}\n")
            return 1
        answer = deny_answer(f"magistrate: the hook failed ({type(exc).__name__}: {exc}), so the call is denied.")
    try:
        _emit(answer)
    except Exception as exc:  # noqa: BLE001 - last resort: exit 2 is a block to the CLI
        sys.stderr.write(f"magistrate hook: could not answer ({exc}); blocking the call\n")
        return 2
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The command hook for the plain claude CLI (PreToolUse, PostToolUse, PostToolUseFailure): reads the "
        "hook's JSON on stdin, decides with the policy, records in the trail, prints the answer on stdout."
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="policy.py or settings JSON (default $MAGISTRATE_POLICY, else the permissions the CLI itself would apply)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="the audit trail: SQLite path or postgresql:// URL (default $MAGISTRATE_AUDIT, else the per-user trail)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"deny a call not decided in this time (default {DEFAULT_BUDGET:g}; keep it under the CLI's hook timeout)",
    )
    parser.set_defaults(func=run)
