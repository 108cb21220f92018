"""`query()`: one prompt in, its messages out, and the CLI gone when the loop ends."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import anyio

from magistrate.sdk._agent_options import AnyOptions
from magistrate.sdk._events import Message
from magistrate.sdk._options import ClaudeCodeOptions
from magistrate.sdk._run import Run
from magistrate.sdk._transport import Transport
from magistrate.sdk._types import ResultMessage


async def query(
    *,
    prompt: str | AsyncIterable[dict[str, Any]],
    options: AnyOptions | None = None,
    transport: Transport | None = None,
) -> AsyncIterator[Message]:
    """Run one prompt (or a stream of user messages) and yield every message until the CLI is done.

    Stopping the loop early (a `break`, an exception, a cancellation) ends the CLI process.
    """
    run = await Run.start(options or ClaudeCodeOptions(), transport)
    finished = answered = False
    reader = _task_id()
    try:
        expected = await run.send_prompt(prompt)
        results = 0
        while (message := await run.next_message()) is not None:
            yield message
            reader = _task_id()
            if isinstance(message, ResultMessage):
                results += 1
                if results >= expected:
                    # Every prompt has its answer: let the CLI finish and exit on its own.
                    answered = True
                    await run.end_input()
        finished = True
    finally:
        if not answered and _task_id() != reader:
            # Left mid-answer without `aclose()` (a `break`, an exception or Ctrl-C in the loop's body): the
            # generator is finalised later in another task, which may never finish: after Ctrl-C, Python 3.10's
            # `asyncio.run` starts that task while winding down and closes the loop under it. So the CLI is
            # ended now, before KeyboardInterrupt reaches the caller; the orderly close below still runs.
            run.session.process.kill()
        await run.close(grace=5.0 if finished else 0.5)


def _task_id() -> int | None:
    try:
        return anyio.get_current_task().id
    except RuntimeError:  # no async library running: the generator is closed by the garbage collector
        return None
