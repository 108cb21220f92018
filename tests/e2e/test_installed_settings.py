"""A bare `claude`, governed by nothing but what `magistrate settings --install user` merged into its settings.

The real CLI runs with no magistrate flag at all, against the scripted model, from a throwaway HOME whose
`~/.claude/settings.json` holds the installed hooks. The first run starts the per-user broker through the
`SessionStart` hook; every call, the ones the CLI would approve by itself included, is decided by the broker
over the HTTP hook and recorded in the trail, with its outcome. With the broker down, every call is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.to_thread
import pytest

from magistrate.sdk.scripted_model import ScriptedModel
from magistrate.servers import ApprovalQueue
from tests._harness import CliRun, run_cli
from tests.e2e._cases import approvals_of, bash, decisions_of, magistrate, outcomes_of, trail_records

POLICY = textwrap.dedent(
    """
    from magistrate.broker import RulePolicy

    policy = RulePolicy(default="allow", deny=["Bash(ls:*)", "Read"], ask=["Bash(touch:*)"])
    """
)
CALLS = {
    "contains": "several calls",
    "turns": [
        {
            "tool_calls": [
                bash("ls"),
                {"name": "Read", "input": {"file_path": "{cwd}/notes.txt"}},
                bash("touch asked.txt"),
                bash("echo fine"),
            ]
        },
        "done",
    ],
}
ASK = {"contains": "ask first", "turns": [{"tool_calls": [bash("touch approved.txt")]}, "done"]}
SCENARIO = {"rules": [CALLS, ASK], "default": {"turns": ["nothing to do"]}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def xdg() -> dict[str, str]:
    """The test's private state and config directories: the broker's trail key and its state file."""
    return {name: os.environ[name] for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    """A free port for the per-user broker; whatever broker ran there is stopped after the test."""
    chosen = free_port()
    yield chosen
    stopped = magistrate("broker", "stop", "--port", str(chosen))
    if stopped.returncode != 0:
        state = Path(os.environ["XDG_STATE_HOME"]) / "magistrate" / f"broker-{chosen}.json"
        with contextlib.suppress(OSError, ValueError, KeyError, ProcessLookupError):
            os.kill(int(json.loads(state.read_text())["pid"]), signal.SIGKILL)


def installed(home: Path, tmp_path: Path, port: int, *extra: str) -> None:
    (tmp_path / "policy.py").write_text(POLICY)
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "settings", "--install", "user", "--port", str(port),
         "--policy", str(tmp_path / "policy.py"), "--db", str(tmp_path / "trail.sqlite3"), *extra],
        env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def bare_claude(prompt: str, model: ScriptedModel, home: Path, cwd: Path) -> CliRun:
    return run_cli(prompt, model=model, home=home, cwd=cwd, env=xdg(), timeout=120)


def scenario(workspace: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(SCENARIO).replace("{cwd}", str(workspace)))
    return loaded


def test_a_bare_claude_is_governed_by_the_installed_settings_and_its_broker_starts_on_demand(
    claude_cli: Path, isolated_home: Path, workspace: Path, tmp_path: Path, port: int
) -> None:
    installed(isolated_home, tmp_path, port)
    with ScriptedModel(scenario(workspace)) as model:
        run = bare_claude("several calls", model, isolated_home, workspace)
        results = {r.tool_use_id: r for r in model.tool_results()}
    assert run.returncode == 0, run.stderr
    calls = {c.input.get("command", c.name): c for c in run.calls()}
    assert set(calls) == {"ls", "Read", "touch asked.txt", "echo fine"}
    # `ls` and the Read are what the CLI approves by itself: only the policy stops them.
    for name in ("ls", "Read", "touch asked.txt"):
        assert results[calls[name].id].is_error
        assert "private notes" not in results[calls[name].id].content
    assert not (workspace / "asked.txt").exists()
    assert results[calls["echo fine"].id].content == "fine"

    status = magistrate("broker", "status", "--port", str(port))
    assert status.returncode == 0, status.stderr  # started by the run's SessionStart hook, still serving

    stopped = magistrate("broker", "stop", "--port", str(port))
    assert stopped.returncode == 0, stopped.stderr  # SIGTERM: in-flight work finished, the trail closed
    db = tmp_path / "trail.sqlite3"
    trail = trail_records(db)
    decisions = {r.tool_use_id: r for r in decisions_of(trail)}
    assert set(decisions) == {c.id for c in calls.values()}
    rules = {tid: d.decision.rule.text if d.decision.rule else None for tid, d in decisions.items()}
    assert (rules[calls["ls"].id], rules[calls["Read"].id]) == ("Bash(ls:*)", "Read")
    assert decisions[calls["touch asked.txt"].id].decision.behavior == "ask"
    assert {d.session_id for d in decisions.values()} == {run.result["session_id"]}
    fine = calls["echo fine"].id
    assert decisions[fine].decision.behavior == "allow"
    assert outcomes_of(trail)[fine].status == "success"
    # The ask went to the CLI's own flow; with no one to ask in `-p`, it was refused there, and that is recorded.
    [approval] = approvals_of(trail)
    assert (approval.tool_use_id, approval.behavior, approval.approver) == (
        calls["touch asked.txt"].id,
        "deny",
        "cli-prompt",
    )
    verified = magistrate("audit", "verify", "--db", str(db))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_with_the_broker_down_every_call_is_refused_with_how_to_start_it(
    claude_cli: Path, isolated_home: Path, workspace: Path, tmp_path: Path, port: int
) -> None:
    installed(isolated_home, tmp_path, port)
    (tmp_path / "policy.py").write_text("this does not load(\n")  # so the SessionStart hook cannot start it
    with ScriptedModel(scenario(workspace)) as model:
        run = bare_claude("several calls", model, isolated_home, workspace)
        results = model.tool_results()
    assert run.returncode == 0, run.stderr
    assert len(results) == 4
    for result in results:
        assert result.is_error
        assert "magistrate-broker-start" in result.content  # the hook's URL says what to run
        assert "private notes" not in result.content
    assert not (workspace / "asked.txt").exists()
    assert magistrate("broker", "status", "--port", str(port)).returncode == 1


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Webhook", (_Webhook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/asks", received
    finally:
        server.shutdown()
        server.server_close()


def start_broker(port: int, tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`magistrate broker run` in the foreground of its own process, as a user service would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "magistrate.cli", "broker", "run", "--port", str(port),
         "--policy", str(tmp_path / "policy.py"), "--db", str(tmp_path / "trail.sqlite3")],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


@pytest.mark.anyio
async def test_an_ask_waits_in_the_queue_calls_the_webhook_and_runs_once_approved(
    claude_cli: Path,
    isolated_home: Path,
    workspace: Path,
    tmp_path: Path,
    port: int,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    installed(isolated_home, tmp_path, port)
    queue = tmp_path / "asks.sqlite3"
    env = {**os.environ, "MAGISTRATE_APPROVAL_QUEUE": str(queue), "MAGISTRATE_ASK_WEBHOOK": url}
    broker = start_broker(port, tmp_path, env)
    runs: list[CliRun] = []
    try:
        with ScriptedModel(scenario(workspace)) as model, anyio.fail_after(150):
            while magistrate("broker", "status", "--port", str(port)).returncode != 0:
                assert broker.poll() is None
                await anyio.sleep(0.1)

            async def run() -> None:
                runs.append(await anyio.to_thread.run_sync(bare_claude, "ask first", model, isolated_home, workspace))

            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                while not received:  # noqa: ASYNC110 - the webhook's handler runs in another thread
                    await anyio.sleep(0.1)
                [notice] = received
                assert (notice["tool_name"], notice["input"], notice["rule"]) == (
                    "Bash",
                    {"command": "touch approved.txt"},
                    "Bash(touch:*)",
                )
                [pending] = ApprovalQueue(queue).list()
                assert notice["id"] == pending.id
                assert notice["approve"].startswith(f"magistrate approvals approve {pending.id} --db ")
                answered = await anyio.run_process(
                    [sys.executable, "-m", "magistrate.cli", "approvals", "approve", pending.id,
                     "--by", "ana", "--db", str(queue)],
                    check=False,
                )  # fmt: skip
                assert answered.returncode == 0, answered.stderr
    finally:
        broker.send_signal(signal.SIGTERM)
        code = broker.wait(timeout=30)
    assert code == 0
    [done] = runs
    assert done.returncode == 0, done.stderr
    assert (workspace / "approved.txt").exists()
    [call] = done.calls("Bash")
    trail = [r for r in trail_records(tmp_path / "trail.sqlite3") if r.tool_use_id == call.id]
    assert [r.kind for r in trail] == ["decision", "approval", "outcome"]
    [decision], [approval], outcomes = decisions_of(trail), approvals_of(trail), outcomes_of(trail)
    assert decision.decision.behavior == "ask"
    assert (approval.behavior, approval.approver) == ("allow", "queue:ana")
    assert outcomes[call.id].status == "success"
