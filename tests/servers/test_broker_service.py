"""The long-lived broker as a service: policy reload, health, `/metrics`, and a clean stop on SIGTERM.

Each test runs `magistrate broker run` as a user would, in a process of its own on a free loopback port, and
talks to it over HTTP with `RemoteGovernor` and urllib only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from magistrate.broker import CallContext, RemoteBrokerError, RemoteGovernor, ToolCall

pytestmark = pytest.mark.anyio

POLICY = 'from magistrate.broker import RulePolicy\npolicy = RulePolicy(default="allow", deny=["Bash(ls:*)"])\n'
EDITED = POLICY.replace('deny=["Bash(ls:*)"]', 'deny=["Bash(ls:*)", "Bash(rm:*)"]')


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """`magistrate broker run` with a policy file and a SQLite trail; SIGKILLed after if still running."""
    (tmp_path / "policy.py").write_text(POLICY)
    port, log = free_port(), tmp_path / "broker.log"
    argv = [sys.executable, "-m", "magistrate.cli", "broker", "run", "--port", str(port)]
    argv += ["--policy", str(tmp_path / "policy.py"), "--db", str(tmp_path / "trail.sqlite3")]
    env = {**os.environ, "MAGISTRATE_LOG_LEVEL": "info", "MAGISTRATE_LOG_FORMAT": "json"}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", proc, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _health(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"{url}/v1/health", timeout=5) as response:
            value: dict[str, object] = json.loads(response.read())
            return value
    except OSError:
        return None


async def health(
    url: str, proc: subprocess.Popen[bytes], log: Path, until: Callable[[dict[str, object]], bool] = bool
) -> dict[str, object]:
    """The broker's health once it answers and `until` holds for it (the caller bounds the wait)."""
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the broker exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        found = await anyio.to_thread.run_sync(_health, url)
        if found is not None and until(found):
            return found
        await anyio.sleep(0.1)


async def decide(governor: RemoteGovernor, command: str, n: int) -> tuple[str, str]:
    call = ToolCall("Bash", {"command": command}, f"toolu_{n}")
    decision = await governor.decide(call, CallContext(session_id="s1", cwd="/tmp"))
    return decision.behavior, decision.policy_version


async def test_an_edited_policy_is_in_force_without_a_restart_and_a_broken_edit_keeps_the_old_one(
    broker: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    url, proc, log = broker
    with anyio.fail_after(60):
        first = await health(url, proc, log)
        async with RemoteGovernor(url, timeout=10) as governor:
            assert await decide(governor, "rm x", 1) == ("allow", first["policy_version"])
            (tmp_path / "policy.py").write_text(EDITED)
            now = await health(url, proc, log, lambda h: h["policy_version"] != first["policy_version"])
            assert now["policy_error"] is None
            assert await decide(governor, "rm x", 2) == ("deny", now["policy_version"])

            (tmp_path / "policy.py").write_text("this is not python(\n")
            broken = await health(url, proc, log, lambda h: h["policy_error"] is not None)
            assert broken["policy_version"] == now["policy_version"]
            assert "policy.py" in str(broken["policy_error"])
            assert await decide(governor, "rm x", 3) == ("deny", now["policy_version"])
            assert await decide(governor, "echo ok", 4) == ("allow", now["policy_version"])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "policy_reloaded" in names
    assert "policy_reload_failed_old_policy_kept" in names
    assert names[-1] == "broker_stopped"
    verified = await anyio.run_process(
        [sys.executable, "-m", "magistrate.cli", "audit", "verify", "--db", str(tmp_path / "trail.sqlite3")],
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert b"OK: 4 records intact" in verified.stdout


def metric_lines(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_metrics_count_decisions_by_behavior_tool_and_rule_with_a_latency_histogram(
    broker: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, proc, log = broker
    with anyio.fail_after(60):
        await health(url, proc, log)
        async with RemoteGovernor(url, timeout=10) as governor:
            for n in range(3):
                await decide(governor, "ls", n)
            await decide(governor, "echo hi", 9)
    values = await anyio.to_thread.run_sync(metric_lines, url)
    assert values['magistrate_decisions_total{behavior="deny",tool="Bash",rule="Bash(ls:*)"}'] == 3
    assert values['magistrate_decisions_total{behavior="allow",tool="Bash",rule="default: allow"}'] == 1
    assert values["magistrate_decision_seconds_count"] == 4
    assert values['magistrate_decision_seconds_bucket{le="+Inf"}'] == 4
    assert values["magistrate_pending_asks"] == 0
    assert values["magistrate_trail_records"] == 4
    assert values["magistrate_policy_reload_error"] == 0


async def test_a_stopped_broker_leaves_its_clients_denied(broker: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, proc, log = broker
    with anyio.fail_after(60):
        await health(url, proc, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    async with RemoteGovernor(url, timeout=5) as governor:
        call = ToolCall("Bash", {"command": "echo hi"}, "toolu_x")
        decision = await governor.decide(call, CallContext(session_id="s", cwd="/tmp"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    with pytest.raises(RemoteBrokerError):
        await RemoteGovernor(url, timeout=5).health()


async def test_a_broker_with_an_idle_timeout_stops_by_itself_and_exits_0(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "magistrate.cli", "broker", "run", "--port", str(port), "--idle-timeout", "1"]
    argv += ["--db", str(tmp_path / "trail.sqlite3")]
    with anyio.fail_after(60):
        done = await anyio.run_process(argv, check=False)  # no policy: the CLI's own permissions, per directory
    assert done.returncode == 0, done.stderr
    state = Path(os.environ["XDG_STATE_HOME"]) / "magistrate" / f"broker-{port}.json"
    assert not state.exists()  # a broker that stopped leaves no state behind for `magistrate broker stop`
