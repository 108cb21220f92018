"""The CLI as a subprocess: its own process group, stderr kept for errors, and a teardown that always ends it.

Three choices carry the robustness promises:
- the child gets a new session (its own process group), so the whole tree can be signalled at once and a
  Ctrl-C in the terminal reaches only Python, which then ends the child deliberately;
- stderr goes to an unlinked temporary file, so no task has to drain it and the real text is there when the
  process fails;
- `close()` is shielded from cancellation and bounded: close stdin, let the CLI finish, then SIGTERM the group,
  then SIGKILL it. Leaving an `async with` early, cancelling, or KeyboardInterrupt all end up here;
- a watchdog (`_watchdog.py`) kills the group when this process dies without reaching `close()`, `kill -9`
  included, so no CLI outlives the program that started it; it and a `close()` that must kill the CLI also
  kill the CLI's descendants in other sessions (its Bash tools' shells), found through `/proc`.
- `kill()` ends the group and its descendants at once, without awaiting, for a teardown that the event loop
  may never finish (a `query()` left mid-answer, finalised while `asyncio.run` winds down after Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from subprocess import PIPE
from typing import Any

import anyio
import anyio.abc

from magistrate.broker import get_logger
from magistrate.sdk._errors import CLIConnectionError, CLINotFoundError
from magistrate.sdk._framer import LineFramer
from magistrate.sdk._watchdog import Watchdog

log = get_logger("magistrate.sdk.process")

_STDERR_TAIL = 64 * 1024
_READ_SIZE = 1024 * 1024


def _descendants(root: int) -> list[int]:
    """Every process below `root` by parent id, whatever its session, read from `/proc` (empty without it).
    The caller has stopped `root`'s group, so the CLI forks no new ones during the walk."""
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_bytes().rsplit(b")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found: list[int] = []
    frontier = [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = children
    return found


def _exited(pid: int) -> bool:
    """Whether the child `pid` has exited, looked at without reaping it (not knowable without `waitid`)."""
    if not hasattr(os, "waitid"):  # macOS before Python 3.13
        return True
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


class CLIProcess:
    """A running CLI: write JSON lines to it, read lines from it, close it."""

    def __init__(self, process: anyio.abc.Process, stderr_file: Any, watchdog: Watchdog | None = None) -> None:
        self._process = process
        self._watchdog = watchdog or Watchdog(None, None)
        self._stderr_file = stderr_file
        self._framer = LineFramer()
        self._ready: list[bytes] = []
        self._eof = False
        self._write_lock = anyio.Lock()
        self._stdin_closed = False
        self._closed = False

    @classmethod
    async def start(
        cls, argv: Sequence[str], *, cwd: str | None, env: Mapping[str, str], user: str | None = None
    ) -> CLIProcess:
        stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process, closed in close()
        # The watchdog starts first, so that no moment passes in which the CLI runs unwatched.
        try:
            watchdog = await Watchdog.start()
        except BaseException:
            stderr_file.close()
            raise
        try:
            process = await anyio.open_process(
                list(argv),
                stdin=PIPE,
                stdout=PIPE,
                stderr=stderr_file,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                user=user,
            )
        except BaseException as exc:
            stderr_file.close()
            with anyio.CancelScope(shield=True):
                await watchdog.stop()
            if isinstance(exc, FileNotFoundError):
                raise CLINotFoundError("Claude Code CLI could not be started", argv[0]) from exc
            if isinstance(exc, OSError):
                raise CLIConnectionError(f"could not start the CLI {argv[0]!r}: {exc}") from exc
            raise
        watchdog.watch(process.pid)
        log.debug("cli_started", pid=process.pid, argv0=argv[0])
        return cls(process, stderr_file, watchdog)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def send(self, message: Mapping[str, Any]) -> None:
        """Write one JSON line; raises CLIConnectionError if the CLI has gone."""
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        stdin = self._process.stdin
        if stdin is None or self._stdin_closed:
            raise CLIConnectionError("the CLI's input is closed; no more messages can be sent")
        async with self._write_lock:
            try:
                await stdin.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise CLIConnectionError(f"the CLI stopped reading its input ({exc.__class__.__name__})") from exc

    async def end_input(self) -> None:
        """Close stdin: the CLI finishes what it is doing and exits."""
        if self._stdin_closed:
            return
        self._stdin_closed = True
        stdin = self._process.stdin
        if stdin is not None:
            async with self._write_lock:
                with contextlib.suppress(anyio.BrokenResourceError, OSError):
                    await stdin.aclose()

    async def receive_line(self) -> bytes | None:
        """The next complete line from stdout, or None at end of stream. Safe to cancel."""
        while not self._ready:
            if self._eof:
                return None
            stdout = self._process.stdout
            assert stdout is not None
            try:
                chunk = await stdout.receive(_READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._eof = True
                last = self._framer.finish()
                if last is not None:
                    self._ready.append(last)
                continue
            self._ready.extend(self._framer.feed(chunk))
        return self._ready.pop(0)

    async def wait(self) -> int:
        return await self._process.wait()

    def stderr_text(self) -> str:
        """The tail of what the CLI wrote to stderr."""
        if self._stderr_file.closed:
            return ""
        try:
            size = os.fstat(self._stderr_file.fileno()).st_size
            self._stderr_file.seek(max(0, size - _STDERR_TAIL))
            return str(self._stderr_file.read().decode("utf-8", "replace"))
        except (OSError, ValueError):
            return ""

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def _kill_tree(self) -> None:
        """SIGKILL the CLI's group and every descendant: killed, the CLI cannot end its tools' shells, which run
        in sessions of their own. The group is stopped first, so that nothing forks past the walk."""
        self._signal_group(signal.SIGSTOP)
        for pid in _descendants(self._process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._signal_group(signal.SIGKILL)

    def kill(self, *, timeout: float = 2.0) -> None:
        """End the CLI, its group and its descendants now, without awaiting anything: for a teardown that the
        event loop may not run to its end (a `query()` left mid-answer is finalised in another task, after
        Ctrl-C while `asyncio.run` winds down). Blocks until the CLI has exited, at most `timeout` seconds,
        without reaping it (the child watcher still does); `close()` is still to be called."""
        if self._process.returncode is not None:
            return
        self._watchdog.disarm()  # first: once the CLI is reaped, its id may be reused
        self._kill_tree()
        deadline = time.monotonic() + timeout
        while not _exited(self._process.pid) and time.monotonic() < deadline:
            time.sleep(0.005)

    async def close(self, *, grace: float = 5.0) -> None:
        """End the CLI for sure: stdin closed, `grace` seconds to exit, then SIGTERM, then SIGKILL."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self.end_input()
            if self._process.returncode is None:
                with anyio.move_on_after(grace):
                    await self._drain_and_wait()
            if self._process.returncode is None:
                self._signal_group(signal.SIGTERM)
                with anyio.move_on_after(3.0):
                    await self._drain_and_wait()
            if self._process.returncode is None:
                self._kill_tree()
                await self._process.wait()
            # The CLI may have left children in its group (shells, MCP servers); they go with it.
            self._signal_group(signal.SIGKILL)
            await self._watchdog.stop()
            if self._process.stdout is not None:
                await self._process.stdout.aclose()
            log.debug("cli_closed", pid=self._process.pid, returncode=self._process.returncode)

    async def _drain_and_wait(self) -> None:
        # A CLI blocked on a full stdout pipe would never exit; read and drop what it still says.
        while await self.receive_line() is not None:
            pass
        await self._process.wait()

    def release(self) -> None:
        """Free the stderr file once nobody needs its text."""
        self._stderr_file.close()
