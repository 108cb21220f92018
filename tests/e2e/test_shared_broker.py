"""Many runs, two broker processes, one policy and one PostgreSQL trail, and the trail verifies.

This is the deployment the README's "Beyond one machine" describes, on loopback: two
`magistrate serve approval --transport http` processes with the same policy file, the same signing key and
the same PostgreSQL `--db`; governed SDK runs of the real CLI on the scripted model, half through each
broker, all at once; then `magistrate audit export` and `magistrate audit verify`, as an auditor would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from magistrate.broker import RemoteBrokerError, RemoteGovernor, TrailRecord
from magistrate.broker._decision_wire import Health
from magistrate.sdk import ClaudeCodeOptions, ResultMessage, query
from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import exported_records
from tests.e2e._cases import decisions_of, outcomes_of

TOKEN = "shared-broker-token"
RUNS = 4
POLICY = textwrap.dedent(
    """
    from magistrate.broker import RulePolicy

    policy = RulePolicy(default="allow", deny=["Bash(ls:*)", "Bash(cat:*)"])
    """
)
SCENARIO = {
    "rules": [
        {
            "contains": "shared run",
            "turns": [
                {
                    "tool_calls": [
                        {"name": "Bash", "input": {"command": "echo allowed"}},
                        {"name": "Bash", "input": {"command": "ls"}},
                        {"name": "Bash", "input": {"command": "cat notes.txt"}},
                    ]
                },
                "done",
            ],
        }
    ],
    "default": {"turns": ["nothing to do"]},
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def magistrate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "trail.key"


@pytest.fixture
def broker_env(key: Path) -> dict[str, str]:
    """What every broker of the deployment shares: the signing key (and the redaction key beside it)."""
    return {**os.environ, "MAGISTRATE_TRAIL_KEY": str(key)}


@pytest.fixture
def brokers(
    tmp_path: Path, postgres_database: str, broker_env: dict[str, str]
) -> Iterator[list[tuple[str, subprocess.Popen[bytes], Path]]]:
    """Two broker processes on loopback over one PostgreSQL trail; stopped (SIGTERM, then SIGKILL) after."""
    policy = tmp_path / "policy.py"
    policy.write_text(POLICY)
    created = magistrate("audit", "key", env=broker_env)  # one key for the deployment, made before any broker
    assert created.returncode == 0, created.stderr
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for n in range(2):
            port = _free_port()
            log = tmp_path / f"broker{n}.log"
            with log.open("wb") as stderr:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "magistrate.cli", "serve", "approval", "--transport", "http",
                     "--port", str(port), "--db", postgres_database, "--policy", str(policy), "--token", TOKEN],
                    env=broker_env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=stderr, start_new_session=True,
                )  # fmt: skip
            started.append((f"http://127.0.0.1:{port}", proc, log))
        yield started
    finally:
        for _, proc, _ in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, _ in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


async def healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> Health:
    """Poll the broker's health until it answers, the process dies, or the deadline passes."""
    async with RemoteGovernor(url, token=TOKEN, timeout=5) as probe:
        with anyio.fail_after(60):
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"the broker at {url} exited {proc.returncode}:\n{log.read_text()[-4000:]}")
                try:
                    return await probe.health()
                except RemoteBrokerError:
                    await anyio.sleep(0.1)  # the poll interval; the deadline above bounds the wait


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedModel]:
    with ScriptedModel(SCENARIO) as scripted:
        for name, value in scripted.env().items():
            monkeypatch.setenv(name, value)
        yield scripted


def records(db: str, env: dict[str, str]) -> list[TrailRecord]:
    done = magistrate("audit", "export", "--db", db, env=env)
    assert done.returncode == 0, done.stderr
    return exported_records(done.stdout)


@pytest.mark.anyio
async def test_concurrent_runs_through_two_brokers_share_one_trail_that_verifies(
    brokers: list[tuple[str, subprocess.Popen[bytes], Path]],
    model: ScriptedModel,
    postgres_database: str,
    broker_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAGISTRATE_BROKER_TOKEN", TOKEN)
    health = [await healthy(url, proc, log) for url, proc, log in brokers]
    assert health[0].policy_version == health[1].policy_version
    assert health[0].log_id == health[1].log_id

    results: dict[int, ResultMessage] = {}

    async def one(index: int) -> None:
        workspace = tmp_path / f"ws{index}"
        workspace.mkdir()
        (workspace / "notes.txt").write_text("private\n")
        options = ClaudeCodeOptions(cwd=workspace, broker=brokers[index % 2][0])
        async for message in query(prompt=f"shared run {index}", options=options):
            if isinstance(message, ResultMessage):
                results[index] = message

    with anyio.fail_after(240):
        async with anyio.create_task_group() as group:
            for index in range(RUNS):
                group.start_soon(one, index)

    assert sorted(results) == list(range(RUNS))
    tool_results = model.tool_results()
    assert len(tool_results) == 3 * RUNS
    assert sum(not r.is_error for r in tool_results) == RUNS  # only `echo allowed` ran, in every run

    trail = records(postgres_database, broker_env)
    decided = {r.tool_use_id: r for r in decisions_of(trail)}
    decisions = {tid: r.decision for tid, r in decided.items()}
    outcomes = outcomes_of(trail)
    assert set(decisions) == {r.tool_use_id for r in tool_results}  # every call of every run was decided
    assert len({r.session_id for r in decided.values()}) == RUNS
    denied = [d.rule for d in decisions.values() if d.behavior == "deny"]
    assert len(denied) == 2 * RUNS
    assert {r.text for r in denied if r} == {"Bash(ls:*)", "Bash(cat:*)"}
    assert all(r is not None and r.source.path == str(tmp_path / "policy.py") for r in denied)
    assert {d.policy_version for d in decisions.values()} == {health[0].policy_version}
    allowed = [str(tid) for tid, d in decisions.items() if d.behavior == "allow"]
    assert len(allowed) == RUNS
    assert all(outcomes[tid].status == "success" for tid in allowed)

    verified = magistrate("audit", "verify", "--db", postgres_database, env=broker_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"OK: {len(trail)} records intact" in verified.stdout


EDITED = POLICY.replace('deny=["Bash(ls:*)", "Bash(cat:*)"]', 'deny=["Bash(ls:*)", "Bash(cat:*)", "Bash(rm:*)"]')
CLIENTS = 32


@dataclass
class Got:
    """One decision as a client received it."""

    tool_use_id: str
    command: str
    broker: int
    phase: str
    behavior: str
    policy_version: str
    error: str | None


@pytest.mark.anyio
async def test_load_through_two_brokers_survives_a_policy_edit_and_a_kill_9_and_the_trail_verifies(
    brokers: list[tuple[str, subprocess.Popen[bytes], Path]],
    postgres_database: str,
    broker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from magistrate.broker import CallContext, ToolCall

    before = [await healthy(url, proc, log) for url, proc, log in brokers]
    phase = {"name": "before"}
    finish = anyio.Event()
    got: list[Got] = []
    counts = {"before": 0, "after_edit": 0, "after_kill": 0}

    async def client(n: int) -> None:
        which = n % 2
        async with RemoteGovernor(brokers[which][0], token=TOKEN, timeout=5) as governor:
            i = 0
            while not finish.is_set():
                command = ("echo ok", "ls", "rm scratch")[i % 3]
                now = phase["name"]
                call = ToolCall("Bash", {"command": command}, f"toolu_{n}_{i}")
                decision = await governor.decide(call, CallContext(session_id=f"load-{n}", cwd=str(tmp_path)))
                got.append(
                    Got(call.tool_use_id or "", command, which, now, decision.behavior, decision.policy_version,
                        decision.error)
                )  # fmt: skip
                counts[now] += 1
                i += 1
                await anyio.lowlevel.checkpoint()

    async def conduct() -> None:
        while counts["before"] < 200:  # noqa: ASYNC110 - the clients count; this task only watches
            await anyio.sleep(0.05)
        (tmp_path / "policy.py").write_text(EDITED)
        for url, proc, log in brokers:
            while (await healthy(url, proc, log)).policy_version == before[0].policy_version:  # noqa: ASYNC110
                await anyio.sleep(0.1)
        phase["name"] = "after_edit"
        while counts["after_edit"] < 200:  # noqa: ASYNC110
            await anyio.sleep(0.05)
        os.killpg(brokers[1][1].pid, signal.SIGKILL)
        brokers[1][1].wait(timeout=10)
        phase["name"] = "after_kill"
        while counts["after_kill"] < 200:  # noqa: ASYNC110
            await anyio.sleep(0.05)
        finish.set()

    with anyio.fail_after(240):
        async with anyio.create_task_group() as group:
            for n in range(CLIENTS):
                group.start_soon(client, n)
            group.start_soon(conduct)

    new_version = (await healthy(*brokers[0])).policy_version
    assert new_version != before[0].policy_version
    # The broker that was killed: from then on its clients were denied, never allowed, and told why.
    from_dead = [g for g in got if g.broker == 1 and g.phase == "after_kill"]
    assert from_dead
    assert all(g.behavior == "deny" and g.error for g in from_dead)
    # After both brokers reported the edit, every decision was made under the new policy.
    for g in got:
        if g.phase != "before" and g.error is None:
            assert g.policy_version == new_version
            if g.command == "rm scratch":
                assert g.behavior == "deny"
    assert any(g.command == "rm scratch" and g.behavior == "allow" for g in got if g.phase == "before")

    trail = records(postgres_database, broker_env)
    decisions = {r.tool_use_id: r.decision for r in decisions_of(trail)}
    answered = [g for g in got if g.error is None]
    assert len(answered) > 600
    for g in answered:  # every answer a client got was durable in the trail first, as it was answered
        record = decisions[g.tool_use_id]
        assert (record.behavior, record.policy_version) == (g.behavior, g.policy_version)

    _, proc, _ = brokers[0]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0  # finished in-flight work, closed the trail, exited 0
    verified = magistrate("audit", "verify", "--db", postgres_database, env=broker_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
