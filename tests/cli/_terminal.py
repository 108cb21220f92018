"""Run `magistrate` with its standard output on a pseudo-terminal, to see what a person at a terminal sees."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Sequence


def on_terminal(argv: Sequence[str], *, columns: int, timeout: float = 60) -> tuple[int, str]:
    """The exit code and what `magistrate ARGV` wrote to a terminal `columns` wide (stderr excluded)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns)}
    with subprocess.Popen(
        [sys.executable, "-m", "magistrate.cli", *argv], stdout=follower, stderr=subprocess.DEVNULL, env=env
    ) as child:
        os.close(follower)
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([leader], [], [], max(left, 0))
                if not ready:
                    child.kill()
                    raise AssertionError(f"no end of output within {timeout}s; got {data[-2000:]!r}")
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(leader)
        code = child.wait(timeout=timeout)
    return code, data.decode().replace("\r\n", "\n")
