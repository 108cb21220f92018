"""`magistrate hook` at `Stop` and `SessionEnd`: the calls of a plain `claude` session the CLI decided alone.

The CLI refuses some calls before any PreToolUse hook runs (a deny of its own settings, a tool it does not
have), so the command hook never hears of them. At the end of each turn and of the session the hook reads the
session's transcript and records each call that has no decision in the trail as the CLI's own decision
(`magistrate.broker.record_transcript`). It prints nothing, so the CLI carries on; a failure is logged and
exits 1, which the CLI shows and ignores: the call was refused either way, only its record is missing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from magistrate.broker import SessionHookInput, get_logger

if TYPE_CHECKING:
    from magistrate.broker import Environment

log = get_logger("magistrate.cli.hook")

SESSION_EVENTS = ("Stop", "SessionEnd")


def record_session(raw: bytes, db: str | None, env: Environment) -> int:
    """Read the transcript named by the hook input and record the calls no hook saw; the exit code."""
    import anyio

    from magistrate.broker import Trail

    try:
        event = SessionHookInput.model_validate_json(raw)
    except ValidationError as exc:
        sys.stderr.write(f"magistrate hook: the session event could not be read ({exc.errors()[0]['msg']})\n")
        return 1

    async def record() -> int:
        async with await Trail.aopen(db, env=env) as trail:
            from magistrate.broker import record_transcript

            return await record_transcript(trail, event)

    try:
        count = anyio.run(record)
    except Exception as exc:  # noqa: BLE001 - the calls were refused either way; say what was not recorded
        log.error("hook_transcript_not_recorded", session=event.session_id, error=repr(exc))
        sys.stderr.write(f"magistrate hook: the CLI's own decisions were not recorded: {exc}\n")
        return 1
    log.info("hook_transcript_recorded", session=event.session_id, decisions=count)
    return 0
