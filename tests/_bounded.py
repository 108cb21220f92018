"""Waits with a deadline, for tests that watch other processes: a hang becomes a failure that says what it waited for.

`read_lines` reads a child's pipe without `readline()`, which would block for as long as the child stays silent;
`poll` checks a condition until it holds or the deadline passes, for facts that become true a moment after the
event that causes them (a killed process leaving /proc), never to assert how long something took.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from typing import IO


def read_lines(stream: IO[bytes], count: int, timeout: float) -> list[bytes]:
    """The first `count` lines written to a pipe (fewer if it closes first); AssertionError after `timeout` s.

    Reads the file descriptor directly, so the stream's own buffer must not be used for this pipe as well.
    """
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while data.count(b"\n") < count:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            got = data.count(b"\n")
            raise AssertionError(f"{got} of {count} lines within {timeout}s; got {data[-2000:]!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data.splitlines(keepends=True)[:count]


def poll(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Whether `predicate()` holds within `timeout` seconds (checked once more at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
