"""A `kill -9` of the SDK's process in the middle of a governed tool call leaves nothing running: not the
`claude` CLI, and not the command its Bash tool started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from magistrate.sdk.scripted_model import Rule, Scenario, ScriptedModel, ToolCall, Turn
from tests._bounded import poll
from tests._harness import cli_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc")

_RUN = textwrap.dedent(
    """
    import sys

    import anyio

    from magistrate.sdk import ClaudeCodeOptions, query


    async def main() -> None:
        cli, cwd, policy, trail, backend = sys.argv[1:6]
        options = ClaudeCodeOptions(cli_path=cli, cwd=cwd, policy=policy, audit=trail)
        async for message in query(prompt="wait for the build", options=options):
            print(type(message).__name__, flush=True)


    anyio.run(main, backend=sys.argv[5])
    """
)

_POLICY = """from magistrate.broker import RulePolicy

policy = RulePolicy(default="deny", allow=["Bash(timeout:*)", "Bash(sleep:*)"])
"""


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_kill_9_during_a_long_bash_call_ends_the_cli_and_the_command(
    backend: str, claude_cli: Path, isolated_home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "run.py"
    script.write_text(_RUN)
    policy = tmp_path / "policy.py"
    policy.write_text(_POLICY)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    # A duration no other process on the machine uses, so the command can be found by its command line.
    seconds = f"{600 + uuid.uuid4().int % 10_000}.{uuid.uuid4().int % 1000:03d}"
    marker = seconds.encode()
    call = ToolCall(name="Bash", input={"command": f"timeout {seconds} sleep {seconds}", "description": "wait"})
    scenario = Scenario(rules=(Rule(contains="wait for the build", turns=(Turn(tool_calls=(call,)), Turn(text="ok"))),))
    with ScriptedModel(scenario) as model:
        env = {**cli_env(model, isolated_home), "PYTHONPATH": os.pathsep.join(sys.path)}
        trail = tmp_path / "trail.sqlite3"
        sdk = subprocess.Popen(
            [sys.executable, str(script), str(claude_cli), str(workspace), str(policy), str(trail), backend],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:

            def command_running() -> bool:
                return sdk.poll() is not None or any(marker in _cmdline(pid) for pid in _pids())

            assert poll(command_running, 90.0), "the Bash call never started"
            assert sdk.poll() is None, sdk.stderr.read().decode() if sdk.stderr else ""
            cli = [pid for pid in _pids() if _parent(pid) == sdk.pid and b"stream-json" in _cmdline(pid)]
            commands = [pid for pid in _pids() if marker in _cmdline(pid) and pid != sdk.pid]
            assert len(cli) == 1
            assert commands
            sdk.send_signal(signal.SIGKILL)
            sdk.wait(timeout=10)
            assert poll(lambda: not _alive(cli[0]), 10.0), "the CLI outlived the SDK's process"

            def left() -> list[int]:
                return [pid for pid in commands if _alive(pid)]

            assert poll(lambda: not left(), 10.0), f"the Bash command outlived the SDK's process: {left()}"
        finally:
            if sdk.poll() is None:
                sdk.kill()
                sdk.wait(timeout=10)
            if sdk.stderr is not None:
                sdk.stderr.close()
            for pid in _pids():  # never leave a sleeper behind, whatever the assertions said
                if marker in _cmdline(pid):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)


def test_a_cli_that_must_be_killed_takes_its_other_sessions_with_it(tmp_path: Path) -> None:
    """`close()` escalates to SIGKILL for a CLI that ignores SIGTERM; a tool shell that the CLI put in a
    session of its own (as the real CLI does for Bash) goes too, although no group signal reaches it."""
    import anyio

    from magistrate.sdk._process import CLIProcess

    seconds = f"{600 + uuid.uuid4().int % 10_000}.{uuid.uuid4().int % 1000:03d}"
    marker = seconds.encode()
    script = f"trap '' TERM; setsid sleep {seconds} & echo started; while :; do wait; done"

    async def main() -> list[int]:
        cli = await CLIProcess.start(["/bin/sh", "-c", script], cwd=str(tmp_path), env=dict(os.environ))
        try:
            with anyio.fail_after(30):
                assert await cli.receive_line() == b"started"
            assert poll(lambda: any(marker in _cmdline(pid) for pid in _pids()), 10.0)
            sleepers = [pid for pid in _pids() if marker in _cmdline(pid)]
            with anyio.fail_after(30):
                await cli.close(grace=0)
            return sleepers
        finally:
            await cli.close(grace=0)
            cli.release()

    try:
        sleepers = anyio.run(main)
        assert sleepers
        assert poll(lambda: not any(_alive(pid) for pid in sleepers), 10.0), "the other session outlived close()"
    finally:
        for pid in _pids():
            if marker in _cmdline(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
