"""A watchdog that ends the CLI's process group when this process dies, even by `kill -9`.

The CLI runs in its own session, so nothing ends it when the SDK's process goes away: without help it would
finish its turn (seconds to minutes) and keep its shells and servers alive meanwhile. The watchdog is a tiny
`/bin/sh` in a session of its own whose stdin is a pipe only this process can write to. It waits on that pipe;
when every write end is gone, which the kernel guarantees however this process ends, it kills the CLI's group.

Killing the group is not enough: the CLI starts each Bash tool's shell with a session of its own, which a
group signal misses and which outlives the CLI. So the watchdog first stops the CLI's group (no new
children), then walks the process tree down from the CLI through `/proc` (parent ids, whatever the session),
stopping each process it finds so none can fork past the walk, and then kills every one and its group.
Without `/proc` (macOS, the BSDs) it kills the group alone.

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

# The first line is the CLI's pid, written once it is started (none: the start failed, nothing to watch).
# The second `read` returns at end of file; nothing more is written, so it returns only when this process
# is gone. Then: stop the CLI's group, collect its descendants from /proc (field 2 after the command name is the
# parent id; the name may hold ") ", hence the longest match), stopping each, and kill them all.
_SCRIPT = r"""
read -r cli || exit 0
read _ignored
kill -s STOP -- "-$cli" 2>/dev/null
found=" $cli "
if [ -r /proc/self/stat ]; then
    grew=1
    while [ "$grew" = 1 ]; do
        grew=0
        for stat in /proc/[0-9]*/stat; do
            pid=${stat#/proc/}
            pid=${pid%/stat}
            case "$found" in *" $pid "*) continue ;; esac
            { read -r line < "$stat"; } 2>/dev/null || continue
            set -- ${line##*) }
            case "$found" in
                *" $2 "*) kill -s STOP "$pid" 2>/dev/null; found="$found$pid "; grew=1 ;;
            esac
        done
    done
fi
for pid in $found; do
    kill -s KILL -- "-$pid" 2>/dev/null
    kill -s KILL "$pid" 2>/dev/null
done
"""


class Watchdog:
    """The running watchdog of one CLI process group; `stop()` ends it before the group is gone."""

    def __init__(self, process: anyio.abc.Process | None, write_fd: int | None) -> None:
        self._process = process
        self._write_fd = write_fd

    @classmethod
    async def start(cls) -> Watchdog:
        """A watchdog ready to watch a group (`watch`); started before the CLI, so that the CLI is watched
        from the moment it exists. Without a POSIX shell (Windows) this is a no-op watchdog."""
        if os.name != "posix" or not Path("/bin/sh").exists():
            return cls(None, None)
        read_fd, write_fd = os.pipe()  # both ends non-inheritable: only the watchdog gets the read end
        try:
            process = await anyio.open_process(
                ["/bin/sh", "-c", _SCRIPT, "magistrate-watchdog"],
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

    def watch(self, pgid: int) -> None:
        """Kill `pgid` and its descendants once this process is gone; called right after the CLI starts."""
        if self._write_fd is not None:
            try:
                os.write(self._write_fd, f"{pgid}\n".encode())
            except OSError:  # the watchdog is gone (killed from outside): nothing watches, as without a shell
                os.close(self._write_fd)
                self._write_fd = None

    def disarm(self) -> None:
        """End the watchdog now, without waiting: called when the SDK kills the CLI itself outside `close()`, so
        that the watchdog cannot signal the CLI's group after the kernel may have reused its id. `stop()` reaps
        it later, if it gets to run."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGKILL)

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
