"""Running the real Claude Code CLI offline against the scripted model, for end-to-end tests.

A pytest plugin (registered in tests/conftest.py). Tests that check how the CLI itself treats a policy
(`--allowedTools`, `--disallowedTools`, `--settings`, permission modes) run the real binary here, with a
throwaway HOME and an environment scrubbed of the developer's own ANTHROPIC_* and CLAUDE_* variables, so a
result never depends on the machine it runs on:

    def test_bash_is_allowed(scripted_model, isolated_home, tmp_path):
        call = {"name": "Bash", "input": {"command": "echo hi"}}
        model = scripted_model({"default": {"turns": [{"tool_calls": [call]}]}})
        run = run_cli("go", model=model, home=isolated_home, cwd=tmp_path, args=["--allowedTools", "Bash"])
        assert run.calls("Bash")[0].output == "hi"
        assert model.tool_results()[0].content == "hi"   # what came back to the model

Fixtures: `claude_cli` (the pinned binary), `isolated_home` (an empty HOME), `scripted_model` (a factory that
starts a model and stops it after the test). Helpers: `cli_env`, `run_cli` and the `CliRun` it returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from magistrate.broker import (
    Approval,
    ApprovalRecord,
    DecisionRecord,
    OutcomeRecord,
    TrailReader,
    TrailRecord,
    parse_record,
)
from magistrate.sdk.scripted_model import Scenario, ScriptedModel

REPO_ROOT = Path(__file__).resolve().parent.parent
CLAUDE = REPO_ROOT / "node_modules" / ".bin" / "claude"
# The only variables a run inherits: the developer's own ANTHROPIC_*, CLAUDE_* or proxy settings would change
# what the CLI does.
_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM")


@dataclass(frozen=True)
class CliToolCall:
    """One tool call the model made in a run, with what came back to it."""

    id: str
    name: str
    input: dict[str, Any]
    output: str | None
    """The tool_result's text; None when no result came back."""
    is_error: bool
    denied: bool
    """The CLI refused the call for lack of permission (it is in the result's `permission_denials`)."""


@dataclass
class CliRun:
    """A finished `claude -p` run: its stream-json messages parsed, and helpers over them."""

    args: list[str]
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    unparsed: list[str] = field(default_factory=list)
    """stdout lines that were not JSON."""

    @property
    def result(self) -> dict[str, Any]:
        """The final `result` message; fails the test when there is none."""
        for message in self.messages[::-1]:
            if message.get("type") == "result":
                return message
        raise AssertionError(f"no result message (exit {self.returncode}); stderr:\n{self.stderr[-4000:]}")

    @property
    def text(self) -> str:
        """The result's text (the model's final words)."""
        return str(self.result.get("result", ""))

    def of_type(self, kind: str, subtype: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind and (subtype is None or m.get("subtype") == subtype)]

    def assistant_blocks(self, block_type: str | None = None) -> list[dict[str, Any]]:
        """Content blocks of the assistant messages, in order (optionally only one type)."""
        blocks = [b for m in self.of_type("assistant") for b in m.get("message", {}).get("content", [])]
        return [b for b in blocks if block_type is None or b.get("type") == block_type]

    def tool_result_blocks(self) -> dict[str, dict[str, Any]]:
        """tool_result blocks the CLI sent back, by tool_use_id."""
        out: dict[str, dict[str, Any]] = {}
        for message in self.of_type("user"):
            content = message.get("message", {}).get("content", [])
            for block in content if isinstance(content, list) else []:
                if block.get("type") == "tool_result":
                    out[str(block.get("tool_use_id"))] = block
        return out

    def denied_ids(self) -> set[str]:
        denials = {str(d.get("tool_use_id")) for d in self.result.get("permission_denials", []) or []}
        denials.update(str(m.get("tool_use_id")) for m in self.of_type("system", "permission_denied"))
        return denials

    def calls(self, name: str | None = None) -> list[CliToolCall]:
        """The tool calls of the run (optionally only those of one tool), each with its outcome."""
        results = self.tool_result_blocks()
        denied = self.denied_ids()
        out = []
        for block in self.assistant_blocks("tool_use"):
            if name is not None and block.get("name") != name:
                continue
            call_id = str(block.get("id"))
            result = results.get(call_id)
            out.append(
                CliToolCall(
                    id=call_id,
                    name=str(block.get("name")),
                    input=dict(block.get("input") or {}),
                    output=None if result is None else _result_text(result.get("content")),
                    is_error=bool(result and result.get("is_error")),
                    denied=call_id in denied,
                )
            )
        return out

    def tool_results(self, name: str) -> list[str]:
        """The outputs of the calls of tool `name` that came back (denied ones included, as their message)."""
        return [c.output for c in self.calls(name) if c.output is not None]

    def denied(self, name: str | None = None) -> bool:
        """Whether any call (of tool `name`) was refused for lack of permission."""
        return any(c.denied for c in self.calls(name))


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return "" if content is None else str(content)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def cli_env(model: ScriptedModel, home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for an offline run: PATH and locale kept, the model's variables, the given HOME."""
    env = {k: v for k, v in os.environ.items() if k in _KEPT}
    env.update(model.env())
    env["HOME"] = str(home)
    env.update(extra)
    return env


def run_cli(
    prompt: str,
    *,
    model: ScriptedModel,
    home: Path,
    cwd: Path,
    args: Sequence[str] = (),
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    claude: Path = CLAUDE,
) -> CliRun:
    """Run `claude -p PROMPT --output-format stream-json --verbose *args` to the end and parse its output.

    The CLI runs in its own process group, which is killed if the run outlasts `timeout` (a failed test,
    never a hung suite). `env` adds variables on top of `cli_env(model, home)`; `settings` is passed as
    `--settings JSON` (e.g. `{"permissions": {"deny": ["Bash(rm:*)"]}}`).
    """
    argv = [str(claude), "-p", prompt, "--output-format", "stream-json", "--verbose", *args]
    if settings is not None:
        argv += ["--settings", json.dumps(settings)]
    full_env = {**cli_env(model, home), **(env or {})}
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        stdout, stderr = proc.communicate(timeout=10)
        raise AssertionError(f"claude did not finish in {timeout}s: {argv}\nstderr:\n{stderr[-4000:]}") from None
    _kill_group(proc.pid)  # whatever the run left behind in the background
    messages: list[dict[str, Any]] = []
    unparsed: list[str] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            unparsed.append(line)
            continue
        if isinstance(value, dict):
            messages.append(value)
        else:
            unparsed.append(line)
    return CliRun(args=argv, returncode=proc.returncode, messages=messages, stderr=stderr, unparsed=unparsed)


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    """The project's pinned Claude Code CLI (`./dev setup` installs it)."""
    if not CLAUDE.exists():
        pytest.fail(f"the Claude Code CLI is not installed at {CLAUDE}; run ./dev setup")
    return CLAUDE


@pytest.fixture
def scripted_model() -> Iterator[Callable[[Scenario | dict[str, Any] | str | Path], ScriptedModel]]:
    """A factory that starts a `ScriptedModel` for a scenario and stops it when the test ends."""
    started: list[ScriptedModel] = []

    def start(scenario: Scenario | dict[str, Any] | str | Path) -> ScriptedModel:
        model = ScriptedModel(scenario).start()
        started.append(model)
        return model

    yield start
    for model in started:
        model.close()


@pytest.fixture
def isolated_home(tmp_path: Path) -> Path:
    """An empty HOME for one test, so no user settings, credentials or history leak in or out."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def exported_records(lines: str) -> list[DecisionRecord | OutcomeRecord | ApprovalRecord]:
    """The records of `magistrate audit export` (or `show --json`) output, read through the trail's own models,
    as any reader of an exported trail would."""
    return [
        parse_record(json.dumps(json.loads(line)["record"]).encode()) for line in lines.splitlines() if line.strip()
    ]


def records(trail: TrailReader) -> list[TrailRecord]:
    """Every record of `trail`, read through its model."""
    return [parse_record(r.body) for r in trail.records()]


def last_approval(trail: TrailReader) -> Approval:
    """The approval `trail` recorded last."""
    record = records(trail)[-1]
    assert isinstance(record, ApprovalRecord)
    return record.approval
