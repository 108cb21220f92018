"""No CLI outlives the program that started it: a `kill -9` of the SDK's process ends its `claude` too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from magistrate.sdk.scripted_model import Rule, Scenario, ScriptedModel, Turn
from tests._bounded import poll
from tests._harness import cli_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc")

_SCRIPT = textwrap.dedent(
    """
    import sys

    import anyio

    from magistrate.sdk import ClaudeCodeOptions, query


    async def main() -> None:
        options = ClaudeCodeOptions(cli_path=sys.argv[1], cwd=sys.argv[2], governed=sys.argv[4] == "governed")
        async for message in query(prompt="take your time", options=options):
            print(type(message).__name__, flush=True)


    anyio.run(main, backend=sys.argv[3])
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(("backend", "mode"), [("asyncio", "governed"), ("trio", "plain")])
def test_kill_9_of_the_sdk_process_ends_its_cli(
    backend: str, mode: str, claude_cli: Path, isolated_home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    # The model takes a minute to answer: without the watchdog the CLI would wait for it, orphaned.
    scenario = Scenario(rules=(Rule(contains="take your time", turns=(Turn(text="done", delay=60.0),)),))
    with ScriptedModel(scenario) as model:
        env = {**cli_env(model, isolated_home), "PYTHONPATH": os.pathsep.join(sys.path)}
        sdk = subprocess.Popen(
            [sys.executable, str(script), str(claude_cli), str(workspace), backend, mode],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert poll(lambda: bool(model.message_requests()) or sdk.poll() is not None, 60.0)
            assert sdk.poll() is None, sdk.stderr.read().decode() if sdk.stderr else ""
            cli = [pid for pid in _children(sdk.pid) if b"stream-json" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert len(cli) == 1
            sdk.send_signal(signal.SIGKILL)
            sdk.wait(timeout=10)
            assert poll(lambda: not _alive(cli[0]), 5.0), "the CLI outlived the SDK's process"
        finally:
            if sdk.poll() is None:
                sdk.kill()
                sdk.wait(timeout=10)
            if sdk.stderr is not None:
                sdk.stderr.close()
