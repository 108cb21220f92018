"""A watchdog that ends the CLI's process group when this process dies, even by `kill -9`.

The CLI runs in its own session, so nothing ends it when the SDK's process goes away: without help it would
finish its turn (seconds to minutes) and keep its shells and servers alive meanwhile. The watchdog is a tiny
`/bin/sh` in a session of its own whose stdin is a pipe only this process can write to. It waits on that pipe;
when every write end is gone, which the kernel guarantees however this process ends, it kills the CLI's group.

Why not `PR_SET_PDEATHSIG`: on Linux it fires when the *thread* that forked the child ends, not the process,
and trio (so anyio on trio) forks from a worker thread that exits after a few idle seconds, which would kill
a healthy CLI. A pipe is tied to the process, and works the same on macOS and the BSDs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import anyio
import anyio.abc

# `read` returns at end of file; nothing is ever written, so it returns only when this process is gone.
_SCRIPT = 'read _ignored; kill -s KILL -- "-$1"'


class Watchdog:
    """The running watchdog of one CLI process group; `stop()` ends it before the group is gone."""

    def __init__(self, process: anyio.abc.Process | None, write_fd: int | None) -> None:
        self._process = process
        self._write_fd = write_fd

    @classmethod
    async def start(cls, pgid: int) -> Watchdog:
        """Watch `pgid`; without a POSIX shell (Windows) this is a no-op watchdog."""
        if os.name != "posix" or not Path("/bin/sh").exists():
            return cls(None, None)
        read_fd, write_fd = os.pipe()  # both ends non-inheritable: only the watchdog gets the read end
        try:
            process = await anyio.open_process(
                ["/bin/sh", "-c", _SCRIPT, "magistrate-watchdog", str(pgid)],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            os.close(write_fd)
            return cls(None, None)
        finally:
            os.close(read_fd)
        return cls(process, write_fd)

    async def stop(self) -> None:
        """End the watchdog first, then close the pipe, so it can never signal a reused process group."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGKILL)
            await self._process.wait()
            self._process = None
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
