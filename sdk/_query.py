"""`query()`: one prompt in, its messages out, and the CLI gone when the loop ends."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

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
    finished = False
    try:
        expected = await run.send_prompt(prompt)
        results = 0
        while (message := await run.next_message()) is not None:
            yield message
            if isinstance(message, ResultMessage):
                results += 1
                if results >= expected:
                    # Every prompt has its answer: let the CLI finish and exit on its own.
                    await run.end_input()
        finished = True
    finally:
        await run.close(grace=5.0 if finished else 0.5)
